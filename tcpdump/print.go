package tcpdump

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The printer writes one line per frame as tcpdump 4.9 does: the same
// decoders in the same order, with the same words, flags and counters
// (print-ether.c, print-ip.c, print-tcp.c, print-udp.c, print-icmp.c,
// print-arp.c, print-sll.c, print-nfs.c). gopacket decodes the headers;
// the printer only formats them.

// PrintOptions are the command-line switches that change the lines.
type PrintOptions struct {
	// Numeric is -n: no host or port names.
	Numeric bool
	// Link is -e: the link-level header.
	Link bool
	// Verbose is the number of -v.
	Verbose int
	// Hosts names addresses when Numeric is off (the node's /etc/hosts).
	Hosts *Hosts
	// LinkType is the frames' link-layer type (LinkEthernet by default).
	LinkType int
	// Location is the time zone of the timestamps (UTC by default).
	Location *time.Location
	// TFlag is the number of -t: 0 time of day, 1 none, 2 Unix time,
	// 3 delta from the previous packet, 4 date and time, 5 delta from
	// the first packet.
	TFlag int
	// AbsSeq is -S: absolute TCP sequence numbers.
	AbsSeq bool
	// NoChecksum is -K: checksums are not verified.
	NoChecksum bool
}

// Printer formats frames. It remembers what tcpdump remembers between
// packets: the initial sequence numbers of TCP conversations (for
// relative numbering) and the procedures of outstanding NFS calls (to
// name their replies). It is not safe for concurrent use.
type Printer struct {
	o    PrintOptions
	tcp  map[tcpConv]*tcpISN
	xids []xidEntry
	xidN int
	ref  time.Time // -ttt / -ttttt reference

	eth  layers.Ethernet
	sll  layers.LinuxSLL
	ip4  layers.IPv4
	ip6  layers.IPv6
	arp  layers.ARP
	tcpL layers.TCP
	udp  layers.UDP
	icmp layers.ICMPv4
}

// NewPrinter returns a printer with no conversation seen.
func NewPrinter(o PrintOptions) *Printer {
	if o.LinkType == 0 {
		o.LinkType = LinkEthernet
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	return &Printer{o: o, tcp: map[tcpConv]*tcpISN{}, xids: make([]xidEntry, xidMapSize)}
}

// Line formats one frame: its timestamp, then what tcpdump prints for it,
// without the newline. data holds the captured bytes, wire the length on
// the wire.
func (p *Printer) Line(ts time.Time, data []byte, wire int) string {
	var b strings.Builder
	p.tsPrint(&b, ts)
	if p.o.LinkType == LinkLinuxSLL {
		p.sllPrint(&b, data, wire)
	} else {
		p.etherPrint(&b, data, wire)
	}
	return b.String()
}

// tsPrint is ts_print.
func (p *Printer) tsPrint(b *out, ts time.Time) {
	ts = ts.In(p.o.Location)
	clock := func(d time.Duration) string {
		s := int64(d / time.Second)
		return fmt.Sprintf("%02d:%02d:%02d.%06d", s/3600, s%3600/60, s%60, int64(d%time.Second/time.Microsecond))
	}
	switch p.o.TFlag {
	case 0:
		b.WriteString(ts.Format("15:04:05.000000 "))
	case 1:
	case 2:
		fmt.Fprintf(b, "%d.%06d ", ts.Unix(), ts.Nanosecond()/1000)
	case 3, 5:
		if p.ref.IsZero() {
			p.ref = ts
		}
		d := ts.Sub(p.ref)
		sign := " "
		if d < 0 {
			sign, d = "-", -d
		}
		b.WriteString(sign + clock(d) + " ")
		if p.o.TFlag == 3 {
			p.ref = ts
		}
	default:
		b.WriteString(ts.Format("2006-01-02 15:04:05.000000 "))
	}
}

// out is a line under construction.
type out = strings.Builder

func (p *Printer) macString(mac []byte) string {
	if len(mac) != 6 {
		return linkAddrString(mac)
	}
	if !p.o.Numeric && isBroadcast(mac) {
		return "Broadcast"
	}
	s := net.HardwareAddr(mac).String()
	if !p.o.Numeric {
		// tcpdump names the OUIs of its small table (oui.c); every
		// other vendor, VMware's 00:50:56 and 00:0c:29 included, is
		// Unknown.
		name, ok := ouiNames[uint32(mac[0])<<16|uint32(mac[1])<<8|uint32(mac[2])]
		if !ok {
			name = "Unknown"
		}
		s += " (oui " + name + ")"
	}
	return s
}

// ouiNames is tcpdump 4.9's oui_values.
var ouiNames = map[uint32]string{
	0x000000: "Ethernet", 0x00000c: "Cisco", 0x00005e: "IANA", 0x000081: "Nortel Networks SONMP",
	0x0000f8: "Cisco bridged", 0x0080c2: "Ethernet bridged", 0x00a03e: "ATM Forum",
	0x00e02f: "DOCSIS Spanning Tree", 0x080007: "Appletalk", 0x009069: "Juniper", 0x080009: "Hewlett-Packard",
	0x00120f: "IEEE 802.3 Private", 0x0012bb: "ANSI/TIA", 0x001b21: "DCBX", 0x002320: "Nicira Networks",
	0x5c16c7: "Big Switch Networks", 0xb0d2f5: "Vello Systems", 0x002481: "HP", 0x0004ea: "HP-Labs",
	0x748771: "Infoblox Inc", 0xa42305: "Open Networking Lab", 0x00049f: "Freescale", 0x0015ad: "Netronome",
}

func isBroadcast(mac []byte) bool {
	for _, b := range mac {
		if b != 0xff {
			return false
		}
	}
	return true
}

func linkAddrString(a []byte) string {
	parts := make([]string, len(a))
	for k, b := range a {
		parts[k] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

func (p *Printer) ipString(a net.IP) string {
	addr, ok := netip.AddrFromSlice(a)
	if !ok {
		return a.String()
	}
	addr = addr.Unmap()
	if !p.o.Numeric {
		if n, ok := p.o.Hosts.Name(addr); ok {
			return n
		}
	}
	return addr.String()
}

var ethertypeNames = map[uint16]string{
	0x0800: "IPv4", 0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x86dd: "IPv6", 0x8100: "802.1Q",
	0x9100: "802.1Q-9100", 0x88a8: "802.1Q-QinQ", 0x9200: "802.1Q-9200", 0x0200: "PUP", 0x0806: "ARP",
	0x8035: "Reverse ARP", 0x6001: "MOP DL", 0x6002: "MOP RC", 0x6003: "DN", 0x6004: "LAT", 0x6007: "SCA",
	0x6558: "TEB", 0x809b: "Appletalk", 0x80f3: "Appletalk ARP", 0x8137: "IPX", 0x880b: "PPP",
	0x8808: "MPCP", 0x8809: "Slow Protocols", 0x8863: "PPPoE D", 0x8864: "PPPoE S", 0x888e: "EAPOL",
	0x8870: "Jumbo", 0x9000: "Loopback", 0x88cc: "LLDP", 0x88a2: "AoE",
}

func ethertypeName(t uint16, unknown string) string {
	if n, ok := ethertypeNames[t]; ok {
		return n
	}
	return unknown
}

// etherPrint is ether_print.
func (p *Printer) etherPrint(b *out, data []byte, wire int) {
	if len(data) < 14 || wire < 14 {
		b.WriteString("[|ether]")
		return
	}
	if err := p.eth.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		b.WriteString("[|ether]")
		return
	}
	et := binary.BigEndian.Uint16(data[12:14])
	hdr := func() {
		fmt.Fprintf(b, "%s > %s", p.macString(p.eth.SrcMAC), p.macString(p.eth.DstMAC))
		length := wire
		if et <= 1500 {
			b.WriteString(", 802.3")
			length = int(et)
		} else {
			fmt.Fprintf(b, ", ethertype %s (0x%04x)", ethertypeName(et, "Unknown"), et)
		}
		fmt.Fprintf(b, ", length %d: ", length)
	}
	if p.o.Link {
		hdr()
	}
	payload, length := data[14:], wire-14
	if et <= 1500 {
		// 802.3 with LLC: not sent by the fabric; tcpdump would decode
		// the LLC header.
		if !p.o.Link {
			hdr()
		}
		b.WriteString("LLC")
		return
	}
	if !p.ethertypePrint(b, et, payload, length) && !p.o.Link {
		hdr()
	}
}

// sllPrint is sll_if_print: a Linux cooked header (tcpdump -i any).
func (p *Printer) sllPrint(b *out, data []byte, wire int) {
	if len(data) < 16 {
		b.WriteString("[|sll]")
		return
	}
	if err := p.sll.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		b.WriteString("[|sll]")
		return
	}
	et := uint16(p.sll.EthernetType)
	if p.o.Link {
		fmt.Fprintf(b, "%3s ", sllTypeName(uint16(p.sll.PacketType)))
		if p.sll.AddrLen == 6 {
			b.WriteString(p.macString(p.sll.Addr) + " ")
		}
		if et <= 1500 {
			b.WriteString("802.3")
		} else {
			fmt.Fprintf(b, "ethertype %s (0x%04x), length %d: ", ethertypeName(et, "Unknown"), et, wire)
		}
	}
	p.ethertypePrint(b, et, data[16:], wire-16)
}

func sllTypeName(t uint16) string {
	switch t {
	case sllHost:
		return "In"
	case sllBroadcast:
		return "B"
	case sllMulticast:
		return "M"
	case sllOtherHost:
		return "P"
	case sllOutgoing:
		return "Out"
	}
	return "?"
}

// ethertypePrint is ethertype_print: false for a type it does not know.
func (p *Printer) ethertypePrint(b *out, et uint16, data []byte, length int) bool {
	switch et {
	case etherIPv4:
		p.ipPrint(b, data, length)
	case etherIPv6:
		p.ip6Print(b, data, length)
	case etherARP, etherRARP:
		p.arpPrint(b, data, length)
	default:
		return false
	}
	return true
}

var ipprotoNames = map[uint8]string{
	0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 8: "EGP", 9: "IGRP", 17: "UDP", 33: "DCCP",
	41: "IPv6", 43: "Routing", 44: "Fragment", 46: "RSVP", 47: "GRE", 50: "ESP", 51: "AH", 55: "Mobile IP",
	58: "ICMPv6", 62: "Mobile IP (old)", 88: "EIGRP", 89: "OSPF", 103: "PIM", 108: "Compressed IP",
	112: "VRRP", 113: "PGM", 132: "SCTP", 135: "Mobility",
}

// netdbProtos is /etc/protocols' name for a protocol number.
func netdbProto(n uint8) (string, bool) {
	for name, v := range ipProtocols {
		if v == uint32(n) && name != "ip" {
			if n == 58 {
				return "ipv6-icmp", true
			}
			return name, true
		}
	}
	return "", false
}

// ipPrint is ip_print.
func (p *Printer) ipPrint(b *out, data []byte, length int) {
	if len(data) < 1 {
		b.WriteString("[|ip]")
		return
	}
	if v := data[0] >> 4; v != 4 {
		if v == 6 {
			b.WriteString("IP6, wrong link-layer encapsulation ")
		} else {
			fmt.Fprintf(b, "IP%d ", v)
		}
		return
	}
	if !p.o.Link {
		b.WriteString("IP ")
	}
	if len(data) < 20 {
		b.WriteString("[|ip]")
		return
	}
	if length < 20 {
		fmt.Fprintf(b, "truncated-ip %d", length)
		return
	}
	hlen := int(data[0]&0x0f) * 4
	if hlen < 20 {
		fmt.Fprintf(b, "bad-hlen %d", hlen)
		return
	}
	ipLen := int(binary.BigEndian.Uint16(data[2:4]))
	if length < ipLen {
		fmt.Fprintf(b, "truncated-ip - %d bytes missing! ", ipLen-length)
	}
	if ipLen < hlen {
		fmt.Fprintf(b, "bad-len %d", ipLen)
		return
	}
	if err := p.ip4.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		b.WriteString("[|ip]")
		return
	}
	ip := &p.ip4
	off := binary.BigEndian.Uint16(data[6:8])
	payloadLen := ipLen - hlen
	if p.o.Verbose > 0 {
		fmt.Fprintf(b, "(tos 0x%x", ip.TOS)
		switch ip.TOS & 3 {
		case 1:
			b.WriteString(",ECT(1)")
		case 2:
			b.WriteString(",ECT(0)")
		case 3:
			b.WriteString(",CE")
		}
		if ip.TTL >= 1 {
			fmt.Fprintf(b, ", ttl %d", ip.TTL)
		}
		var flags []string
		if off&0x8000 != 0 {
			flags = append(flags, "rsvd")
		}
		if off&0x4000 != 0 {
			flags = append(flags, "DF")
		}
		if off&0x2000 != 0 {
			flags = append(flags, "+")
		}
		fs := strings.Join(flags, ", ")
		if fs == "" {
			fs = "none"
		}
		name, ok := ipprotoNames[uint8(ip.Protocol)]
		if !ok {
			name = "unknown"
		}
		fmt.Fprintf(b, ", id %d, offset %d, flags [%s], proto %s (%d), length %d",
			ip.Id, int(off&0x1fff)*8, fs, name, uint8(ip.Protocol), ipLen)
		if hlen > 20 {
			b.WriteString(", options (")
			ipOptPrint(b, data[20:hlen])
			b.WriteString(")")
		}
		if hlen <= len(data) && !p.o.NoChecksum {
			if sum := checksum(data[:hlen]); sum != 0 {
				got := binary.BigEndian.Uint16(data[10:12])
				fmt.Fprintf(b, ", bad cksum %x (->%x)!", got, shouldBe(got, sum))
			}
		}
		b.WriteString(")\n    ")
	}
	// The snapshot ends at the end of the IP payload.
	seg := data[min(hlen, len(data)):min(ipLen, len(data))]
	src, dst := p.ipString(ip.SrcIP), p.ipString(ip.DstIP)
	if off&0x1fff != 0 {
		fmt.Fprintf(b, "%s > %s:", src, dst)
		if name, ok := netdbProto(uint8(ip.Protocol)); ok && !p.o.Numeric {
			b.WriteString(" " + name)
		} else {
			fmt.Fprintf(b, " ip-proto-%d", uint8(ip.Protocol))
		}
		return
	}
	fragmented := off&0x3fff != 0
	switch uint8(ip.Protocol) {
	case protoTCP:
		p.tcpPrint(b, seg, payloadLen, ipEnds{src: src, dst: dst, v4: ip}, fragmented)
	case protoUDP:
		p.udpPrint(b, seg, payloadLen, ipEnds{src: src, dst: dst, v4: ip}, fragmented)
	case protoICMP:
		fmt.Fprintf(b, "%s > %s: ", src, dst)
		p.icmpPrint(b, seg, payloadLen, fragmented)
	default:
		fmt.Fprintf(b, "%s > %s: ", src, dst)
		if name, ok := netdbProto(uint8(ip.Protocol)); ok && !p.o.Numeric {
			b.WriteString(" " + name)
		} else {
			fmt.Fprintf(b, " ip-proto-%d", uint8(ip.Protocol))
		}
		fmt.Fprintf(b, " %d", payloadLen)
	}
}

// ipOptPrint is ip_optprint for the options a packet may carry.
func ipOptPrint(b *out, opts []byte) {
	names := map[byte]string{0: "EOL", 1: "NOP", 7: "RR", 68: "TS", 130: "security", 131: "LSRR", 137: "SSRR", 148: "RA"}
	for len(opts) > 0 {
		t := opts[0]
		name, ok := names[t]
		if !ok {
			name = fmt.Sprintf("unknown %d", t)
		}
		b.WriteString(name)
		if t == 0 || t == 1 {
			opts = opts[1:]
			if len(opts) > 0 {
				b.WriteString(",")
			}
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			b.WriteString(" [bad length]")
			return
		}
		opts = opts[opts[1]:]
		if len(opts) > 0 {
			b.WriteString(",")
		}
	}
}

// ip6Print is a short ip6_print: the fabric carries no IPv6, but a file
// read with -r may.
func (p *Printer) ip6Print(b *out, data []byte, length int) {
	if !p.o.Link {
		b.WriteString("IP6 ")
	}
	if err := p.ip6.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil || len(data) < 40 {
		b.WriteString("[|ip6]")
		return
	}
	ip := &p.ip6
	if p.o.Verbose > 0 {
		fmt.Fprintf(b, "(hlim %d, next-header %s (%d) payload length: %d) ",
			ip.HopLimit, ipprotoNames[uint8(ip.NextHeader)], uint8(ip.NextHeader), ip.Length)
	}
	src, dst := p.ipString(ip.SrcIP), p.ipString(ip.DstIP)
	seg := data[40:min(len(data), 40+int(ip.Length))]
	switch uint8(ip.NextHeader) {
	case protoTCP:
		p.tcpPrint(b, seg, int(ip.Length), ipEnds{src: src, dst: dst}, false)
	case protoUDP:
		p.udpPrint(b, seg, int(ip.Length), ipEnds{src: src, dst: dst}, false)
	default:
		fmt.Fprintf(b, "%s > %s: ip-proto-%d %d", src, dst, uint8(ip.NextHeader), ip.Length)
	}
}

// ipEnds is what the transport printers need of the IP header.
type ipEnds struct {
	src, dst string
	v4       *layers.IPv4 // nil for IPv6
}

var tcpFlagLetters = []struct {
	bit    byte
	letter string
}{{0x01, "F"}, {0x02, "S"}, {0x04, "R"}, {0x08, "P"}, {0x10, "."}, {0x20, "U"}, {0x40, "E"}, {0x80, "W"}}

// tcpConv is a TCP conversation in tcpdump's collating order.
type tcpConv struct {
	src, dst [16]byte
	port     uint32
}

// tcpISN is what tcpdump's tcp_seq_hash keeps: the initial sequence
// numbers of both sides.
type tcpISN struct{ seq, ack uint32 }

// tcpPrint is tcp_print.
func (p *Printer) tcpPrint(b *out, seg []byte, length int, ip ipEnds, fragmented bool) {
	if len(seg) < 4 {
		fmt.Fprintf(b, "%s > %s: [|tcp]", ip.src, ip.dst)
		return
	}
	sport, dport := binary.BigEndian.Uint16(seg[0:2]), binary.BigEndian.Uint16(seg[2:4])
	fmt.Fprintf(b, "%s.%s > %s.%s: ", ip.src, portName(sport, protoTCP, p.o.Numeric), ip.dst, portName(dport, protoTCP, p.o.Numeric))
	if len(seg) < 20 {
		b.WriteString("[|tcp]")
		return
	}
	hlen := int(seg[12]>>4) * 4
	if hlen < 20 {
		fmt.Fprintf(b, " tcp %d [bad hdr length %d - too short, < 20]", length-hlen, hlen)
		return
	}
	t := &p.tcpL
	if err := t.DecodeFromBytes(seg, gopacket.NilDecodeFeedback); err != nil {
		// gopacket refuses malformed or cut options; tcpdump prints
		// them as [bad opt] or [|tcp], which the option printer below
		// does from the bytes. The fixed header is all there.
		t.Seq, t.Ack = binary.BigEndian.Uint32(seg[4:8]), binary.BigEndian.Uint32(seg[8:12])
		t.Window, t.Urgent = binary.BigEndian.Uint16(seg[14:16]), binary.BigEndian.Uint16(seg[18:20])
	}
	flags := seg[13]
	var fl strings.Builder
	for _, f := range tcpFlagLetters {
		if flags&f.bit != 0 {
			fl.WriteString(f.letter)
		}
	}
	if fl.Len() == 0 {
		fl.WriteString("none")
	}
	fmt.Fprintf(b, "Flags [%s]", fl.String())

	seq, ack := t.Seq, t.Ack
	var thseq, thack uint32
	rev := false
	if flags&0x10 != 0 && !p.o.AbsSeq {
		var key tcpConv
		var srcB, dstB []byte
		if ip.v4 != nil {
			srcB, dstB = ip.v4.SrcIP.To4(), ip.v4.DstIP.To4()
		} else {
			srcB, dstB = p.ip6.SrcIP.To16(), p.ip6.DstIP.To16()
		}
		if sport > dport || (sport == dport && string(srcB) > string(dstB)) {
			rev = true
		}
		if rev {
			copy(key.src[:], dstB)
			copy(key.dst[:], srcB)
			key.port = uint32(dport)<<16 | uint32(sport)
		} else {
			copy(key.src[:], srcB)
			copy(key.dst[:], dstB)
			key.port = uint32(sport)<<16 | uint32(dport)
		}
		th, seen := p.tcp[key]
		if !seen || flags&0x02 != 0 {
			if !seen {
				th = &tcpISN{}
				p.tcp[key] = th
			}
			if rev {
				th.ack, th.seq = seq, ack-1
			} else {
				th.seq, th.ack = seq, ack-1
			}
		} else if rev {
			seq -= th.ack
			ack -= th.seq
		} else {
			seq -= th.seq
			ack -= th.ack
		}
		thseq, thack = th.seq, th.ack
	}
	if hlen > length {
		fmt.Fprintf(b, " [bad hdr length %d - too long, > %d]", hlen, length)
		return
	}
	if p.o.Verbose > 0 && !p.o.NoChecksum && !fragmented && ip.v4 != nil && len(seg) >= length {
		sum := tcpChecksum(ip.v4, seg[:length])
		got := binary.BigEndian.Uint16(seg[16:18])
		fmt.Fprintf(b, ", cksum 0x%04x", got)
		if sum != 0 {
			fmt.Fprintf(b, " (incorrect -> 0x%04x)", shouldBe(got, sum))
		} else {
			b.WriteString(" (correct)")
		}
	}
	length -= hlen
	if p.o.Verbose > 1 || length > 0 || flags&0x07 != 0 {
		fmt.Fprintf(b, ", seq %d", seq)
		if length > 0 {
			fmt.Fprintf(b, ":%d", seq+uint32(length))
		}
	}
	if flags&0x10 != 0 {
		fmt.Fprintf(b, ", ack %d", ack)
	}
	fmt.Fprintf(b, ", win %d", t.Window)
	if flags&0x20 != 0 {
		fmt.Fprintf(b, ", urg %d", t.Urgent)
	}
	if hlen > 20 {
		if !tcpOptPrint(b, seg[20:min(hlen, len(seg))], hlen-20, rev, thseq, thack) {
			return
		}
	}
	fmt.Fprintf(b, ", length %d", length)
	if length <= 0 {
		return
	}
	data := seg[min(hlen, len(seg)):]
	if flags&0x04 != 0 && p.o.Verbose > 0 {
		b.WriteString(" [RST")
		if len(data) > 0 {
			b.WriteString(" ")
			for _, c := range data[:min(len(data), length)] {
				if c >= 0x20 && c < 0x7f {
					b.WriteByte(c)
				} else {
					b.WriteByte('.')
				}
			}
		}
		b.WriteString("]")
		return
	}
	if (sport == 2049 || dport == 2049) && length >= 4 && len(data) >= 4 {
		fraglen := int(binary.BigEndian.Uint32(data) & 0x7fffffff)
		if fraglen > length-4 {
			fraglen = length - 4
		}
		p.nfsPrint(b, data[4:], fraglen, sport, dport, ip, true)
	}
}

// tcpOptPrint prints the options; false when it ended in [bad opt] or
// [|tcp], which ends the line.
func tcpOptPrint(b *out, opts []byte, hlen int, rev bool, thseq, thack uint32) bool {
	names := map[byte]string{0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 6: "echo",
		7: "echoreply", 8: "TS", 11: "cc", 12: "ccnew", 13: "", 19: "md5", 20: "scps", 27: "qs", 28: "uto",
		29: "tcp-ao", 30: "mptcp", 34: "tfo", 253: "exp", 254: "exp"}
	b.WriteString(", options [")
	cp := 0
	sep := ""
	bad := func() bool {
		b.WriteString("[bad opt]")
		if sep != "" {
			b.WriteString(">")
		}
		return false
	}
	trunc := func() bool {
		b.WriteString("[|tcp]")
		if sep != "" {
			b.WriteString(">")
		}
		return false
	}
	for hlen > 0 {
		b.WriteString(sep)
		if cp >= len(opts) {
			return trunc()
		}
		opt := opts[cp]
		cp++
		length := 1
		if opt != 0 && opt != 1 {
			if cp >= len(opts) {
				return trunc()
			}
			length = int(opts[cp])
			cp++
			if length < 2 || length > hlen {
				return bad()
			}
			hlen--
		}
		hlen--
		name, ok := names[opt]
		if !ok {
			name = fmt.Sprintf("unknown-%d", opt)
		}
		b.WriteString(name)
		datalen := 0
		need := func(n int) bool { return n <= hlen && cp+n <= len(opts) }
		switch opt {
		case 2:
			datalen = 2
			if !need(2) {
				return bad()
			}
			fmt.Fprintf(b, " %d", binary.BigEndian.Uint16(opts[cp:]))
		case 3:
			datalen = 1
			if !need(1) {
				return bad()
			}
			fmt.Fprintf(b, " %d", opts[cp])
		case 5:
			datalen = length - 2
			if datalen%8 != 0 {
				b.WriteString(" invalid sack")
			} else {
				fmt.Fprintf(b, " %d ", datalen/8)
				for i := 0; i < datalen; i += 8 {
					if !need(i + 8) {
						return bad()
					}
					s, e := binary.BigEndian.Uint32(opts[cp+i:]), binary.BigEndian.Uint32(opts[cp+i+4:])
					if rev {
						s -= thseq
						e -= thseq
					} else {
						s -= thack
						e -= thack
					}
					fmt.Fprintf(b, "{%d:%d}", s, e)
				}
			}
		case 6, 7, 11, 12, 13:
			datalen = 4
			if !need(4) {
				return bad()
			}
			fmt.Fprintf(b, " %d", binary.BigEndian.Uint32(opts[cp:]))
		case 8:
			datalen = 8
			if !need(8) {
				return bad()
			}
			fmt.Fprintf(b, " val %d ecr %d", binary.BigEndian.Uint32(opts[cp:]), binary.BigEndian.Uint32(opts[cp+4:]))
		case 0, 1, 4:
		case 28:
			datalen = 2
			if !need(2) {
				return bad()
			}
			v := binary.BigEndian.Uint16(opts[cp:])
			fmt.Fprintf(b, " 0x%x", v)
			if v&1 != 0 {
				v = (v >> 1) * 60
			} else {
				v >>= 1
			}
			fmt.Fprintf(b, " %d", v)
		default:
			datalen = length - 2
			if datalen > 0 {
				b.WriteString(" 0x")
			}
			for i := 0; i < datalen; i++ {
				if !need(i + 1) {
					return bad()
				}
				fmt.Fprintf(b, "%02x", opts[cp+i])
			}
		}
		cp += datalen
		hlen -= datalen
		datalen++
		if opt != 0 && opt != 1 {
			datalen++
		}
		if datalen != length {
			fmt.Fprintf(b, "[len %d]", length)
		}
		sep = ","
		if opt == 0 {
			break
		}
	}
	b.WriteString("]")
	return true
}

// udpPrint is udp_print for what the lab sends: NFS over UDP and the
// plain "UDP, length N".
func (p *Printer) udpPrint(b *out, seg []byte, length int, ip ipEnds, fragmented bool) {
	if len(seg) < 4 {
		fmt.Fprintf(b, "%s > %s: [|udp]", ip.src, ip.dst)
		return
	}
	sport, dport := binary.BigEndian.Uint16(seg[0:2]), binary.BigEndian.Uint16(seg[2:4])
	addrs := func() {
		fmt.Fprintf(b, "%s.%s > %s.%s: ", ip.src, portName(sport, protoUDP, p.o.Numeric), ip.dst, portName(dport, protoUDP, p.o.Numeric))
	}
	if length < 8 {
		addrs()
		fmt.Fprintf(b, "truncated-udp %d", length)
		return
	}
	if len(seg) < 8 {
		addrs()
		b.WriteString("[|udp]")
		return
	}
	ulen := int(binary.BigEndian.Uint16(seg[4:6]))
	if err := p.udp.DecodeFromBytes(seg, gopacket.NilDecodeFeedback); err == nil {
		ulen = int(p.udp.Length)
	}
	if ulen < 8 {
		addrs()
		fmt.Fprintf(b, "truncated-udplength %d", ulen)
		return
	}
	ulen -= 8
	length -= 8
	if ulen < length {
		length = ulen
	}
	addrs()
	data := seg[8:]
	if len(data) >= 8 {
		dir := binary.BigEndian.Uint32(data[4:8])
		if (dport == 2049 && dir == rpcCall) || (sport == 2049 && dir == rpcReply) {
			p.nfsPrint(b, data, length, sport, dport, ip, false)
			return
		}
	}
	if p.o.Verbose > 1 && !p.o.NoChecksum && !fragmented && ip.v4 != nil {
		sum := binary.BigEndian.Uint16(seg[6:8])
		switch {
		case sum == 0:
			b.WriteString("[no cksum] ")
		case len(data) >= length:
			if c := udpChecksum(ip.v4, seg[:8+length]); c != 0 {
				fmt.Fprintf(b, "[bad udp cksum 0x%04x -> 0x%04x!] ", sum, shouldBe(sum, c))
			} else {
				b.WriteString("[udp sum ok] ")
			}
		}
	}
	fmt.Fprintf(b, "UDP, length %d", ulen)
}

var icmpTypeNames = map[uint8]string{0: "echo reply", 4: "source quench", 8: "echo request", 10: "router solicitation",
	13: "time stamp request", 14: "time stamp reply", 15: "information request", 16: "information reply",
	17: "address mask request"}

var unreachFormats = map[uint8]string{0: "net %s unreachable", 1: "host %s unreachable",
	5: "%s unreachable - source route failed", 6: "net %s unreachable - unknown",
	7: "host %s unreachable - unknown", 8: "%s unreachable - source host isolated",
	9: "net %s unreachable - admin prohibited", 10: "host %s unreachable - admin prohibited",
	11: "net %s unreachable - tos prohibited", 12: "host %s unreachable - tos prohibited",
	13: "host %s unreachable - admin prohibited filter", 14: "host %s unreachable - host precedence violation",
	15: "host %s unreachable - precedence cutoff"}

// icmpPrint is icmp_print.
func (p *Printer) icmpPrint(b *out, seg []byte, plen int, fragmented bool) {
	if len(seg) < 2 {
		b.WriteString("[|icmp]")
		return
	}
	typ, code := seg[0], seg[1]
	decoded := len(seg) >= 8 && p.icmp.DecodeFromBytes(seg, gopacket.NilDecodeFeedback) == nil
	u16 := func(off int) (uint16, bool) {
		if off+2 > len(seg) {
			return 0, false
		}
		return binary.BigEndian.Uint16(seg[off:]), true
	}
	innerDst := func() (string, bool) {
		if len(seg) < 28 {
			return "", false
		}
		return p.ipString(net.IP(seg[24:28])), true
	}
	var str string
	switch typ {
	case 0, 8:
		if !decoded {
			b.WriteString("[|icmp]")
			return
		}
		id, sq := p.icmp.Id, p.icmp.Seq
		kind := "reply"
		if typ == 8 {
			kind = "request"
		}
		str = fmt.Sprintf("echo %s, id %d, seq %d", kind, id, sq)
	case 3:
		dst, ok := innerDst()
		if !ok {
			b.WriteString("[|icmp]")
			return
		}
		switch code {
		case 2:
			str = fmt.Sprintf("%s protocol %d unreachable", dst, seg[17])
		case 3:
			ihl := int(seg[8]&0x0f) * 4
			if len(seg) < 8+ihl+4 {
				b.WriteString("[|icmp]")
				return
			}
			dp := binary.BigEndian.Uint16(seg[8+ihl+2:])
			switch seg[17] {
			case protoTCP:
				str = fmt.Sprintf("%s tcp port %s unreachable", dst, portName(dp, protoTCP, p.o.Numeric))
			case protoUDP:
				str = fmt.Sprintf("%s udp port %s unreachable", dst, portName(dp, protoUDP, p.o.Numeric))
			default:
				str = fmt.Sprintf("%s protocol %d port %d unreachable", dst, seg[17], dp)
			}
		case 4:
			mtu, _ := u16(6)
			if mtu != 0 {
				str = fmt.Sprintf("%s unreachable - need to frag (mtu %d)", dst, mtu)
			} else {
				str = fmt.Sprintf("%s unreachable - need to frag", dst)
			}
		default:
			f, ok := unreachFormats[code]
			if !ok {
				f = fmt.Sprintf("#%d %%s unreachable", code)
			}
			str = fmt.Sprintf(f, dst)
		}
	case 5:
		dst, ok := innerDst()
		if !ok {
			b.WriteString("[|icmp]")
			return
		}
		gw := p.ipString(net.IP(seg[4:8]))
		f := map[uint8]string{0: "redirect %s to net %s", 1: "redirect %s to host %s",
			2: "redirect-tos %s to net %s", 3: "redirect-tos %s to host %s"}[code]
		if f == "" {
			f = fmt.Sprintf("redirect-#%d %%s to net %%s", code)
		}
		str = fmt.Sprintf(f, dst, gw)
	case 11:
		if _, ok := innerDst(); !ok {
			b.WriteString("[|icmp]")
			return
		}
		switch code {
		case 0:
			str = "time exceeded in-transit"
		case 1:
			str = "ip reassembly time exceeded"
		default:
			str = fmt.Sprintf("time exceeded-#%d", code)
		}
	default:
		if n, ok := icmpTypeNames[typ]; ok {
			str = n
		} else {
			str = fmt.Sprintf("type-#%d", typ)
		}
	}
	fmt.Fprintf(b, "ICMP %s, length %d", str, plen)
	if p.o.Verbose > 0 && !p.o.NoChecksum && !fragmented && len(seg) >= plen {
		if sum := checksum(seg[:plen]); sum != 0 {
			got := binary.BigEndian.Uint16(seg[2:4])
			fmt.Fprintf(b, " (wrong icmp cksum %x (->%x)!)", got, shouldBe(got, sum))
		}
	}
	if p.o.Verbose > 0 && (typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12) && len(seg) >= 8+4 {
		b.WriteString("\n\t")
		inner := seg[8:]
		p.ipPrint(b, inner, int(binary.BigEndian.Uint16(inner[2:4])))
	}
}

var arpOps = map[uint16]string{1: "Request", 2: "Reply", 3: "Reverse Request", 4: "Reverse Reply",
	8: "Inverse Request", 9: "Inverse Reply", 10: "NACK Reply"}

var arpHardware = map[uint16]string{1: "Ethernet", 6: "TokenRing", 15: "FrameRelay", 19: "ATM",
	24: "IEEE1394", 32: "Infiniband"}

// arpPrint is arp_print.
func (p *Printer) arpPrint(b *out, data []byte, length int) {
	if len(data) < 8 {
		b.WriteString("[|ARP]")
		return
	}
	hrd, pro := binary.BigEndian.Uint16(data[0:2]), binary.BigEndian.Uint16(data[2:4])
	hln, pln := int(data[4]), int(data[5])
	op := binary.BigEndian.Uint16(data[6:8])
	if len(data) < 8+2*hln+2*pln {
		b.WriteString("[|ARP]")
		return
	}
	if err := p.arp.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
		b.WriteString("[|ARP]")
		return
	}
	a := &p.arp
	sha, spa, tha, tpa := a.SourceHwAddress, a.SourceProtAddress, a.DstHwAddress, a.DstProtAddress
	if !p.o.Link {
		b.WriteString("ARP, ")
	}
	if (pro != etherIPv4 && pro != 0x1000) || pln != 4 || hln == 0 || p.o.Verbose > 0 {
		hw, ok := arpHardware[hrd]
		if !ok {
			hw = fmt.Sprintf("Unknown Hardware (%d)", hrd)
		}
		fmt.Fprintf(b, "%s (len %d), %s (len %d)", hw, hln, ethertypeName(pro, fmt.Sprintf("Unknown Protocol (0x%04x)", pro)), pln)
		if p.o.Verbose == 0 {
			fmt.Fprintf(b, ", length %d", length)
			return
		}
	}
	sep := ""
	if p.o.Verbose > 0 {
		sep = ", "
	}
	opName, ok := arpOps[op]
	if !ok {
		opName = fmt.Sprintf("Unknown (%d)", op)
	}
	fmt.Fprintf(b, "%s%s ", sep, opName)
	paddr := func(a []byte) string {
		if pro != etherIPv4 && pro != 0x1000 || len(a) != 4 {
			return "<wrong proto type>"
		}
		return p.ipString(net.IP(a))
	}
	lladdr := func(a []byte) string {
		if len(a) == 6 {
			return p.macString(a)
		}
		return linkAddrString(a)
	}
	switch op {
	case 1:
		b.WriteString("who-has " + paddr(tpa))
		if !allZero(tha) {
			b.WriteString(" (" + lladdr(tha) + ")")
		}
		b.WriteString(" tell " + paddr(spa))
	case 2:
		b.WriteString(paddr(spa) + " is-at " + lladdr(sha))
	case 3, 8:
		fmt.Fprintf(b, "who-is %s tell %s", lladdr(tha), lladdr(sha))
	case 4:
		fmt.Fprintf(b, "%s at %s", lladdr(tha), paddr(tpa))
	case 9:
		fmt.Fprintf(b, "%s at %s", lladdr(sha), paddr(spa))
	default:
		return
	}
	fmt.Fprintf(b, ", length %d", length)
}

func allZero(a []byte) bool {
	for _, c := range a {
		if c != 0 {
			return false
		}
	}
	return true
}

// checksum is the Internet checksum of data; 0 when data carries a valid
// one.
func checksum(data ...[]byte) uint16 {
	var sum uint32
	odd := false
	var carry byte
	for _, d := range data {
		for _, c := range d {
			if odd {
				sum += uint32(carry)<<8 | uint32(c)
			} else {
				carry = c
			}
			odd = !odd
		}
	}
	if odd {
		sum += uint32(carry) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// shouldBe is in_cksum_shouldbe: the checksum the field should hold.
func shouldBe(field, computed uint16) uint16 {
	s := uint32(field) + uint32(computed)
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return uint16(s)
}

func pseudoHeader(ip *layers.IPv4, proto byte, length int) []byte {
	h := make([]byte, 12)
	copy(h[0:4], ip.SrcIP.To4())
	copy(h[4:8], ip.DstIP.To4())
	h[9] = proto
	binary.BigEndian.PutUint16(h[10:], uint16(length))
	return h
}

func tcpChecksum(ip *layers.IPv4, seg []byte) uint16 {
	return checksum(pseudoHeader(ip, protoTCP, len(seg)), seg)
}

func udpChecksum(ip *layers.IPv4, seg []byte) uint16 {
	return checksum(pseudoHeader(ip, protoUDP, len(seg)), seg)
}

// quoteName is fn_printn: a file name with control and high bytes made
// visible.
func quoteName(s []byte) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 0x80 {
			b.WriteString("M-")
			c &= 0x7f
		}
		if c < 0x20 || c == 0x7f {
			b.WriteByte('^')
			c ^= 0x40
		}
		b.WriteByte(c)
	}
	return b.String()
}
