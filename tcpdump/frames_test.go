package tcpdump

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frames for the tests, built with gopacket as the fabric builds them:
// lengths and checksums computed.

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

var (
	macVmk0  = mustMAC("00:50:56:6e:8f:b3") // host A's vmk0
	macVmk1  = mustMAC("00:50:56:6a:01:01") // host A's vmk1
	macCVMA1 = mustMAC("00:0c:29:aa:bb:cc") // CVM A's eth1
	macCVMB0 = mustMAC("00:0c:29:bb:00:01") // CVM B's eth0
	macGW    = mustMAC("00:1c:73:00:00:01")
	macBcast = mustMAC("ff:ff:ff:ff:ff:ff")
)

var serialize = gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}

func frameOf(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serialize, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// seg describes one TCP segment.
type seg struct {
	srcMAC, dstMAC net.HardwareAddr
	src, dst       string
	sport, dport   uint16
	flags          string // S, A, P, F, R, U letters
	seq, ack       uint32
	win            uint16
	payload        []byte
	opts           []layers.TCPOption
	id             uint16
	ttl            uint8
	noDF           bool
}

func tcpFrame(t testing.TB, s seg) []byte {
	t.Helper()
	if s.srcMAC == nil {
		s.srcMAC, s.dstMAC = macVmk1, macCVMA1
	}
	if s.win == 0 {
		s.win = 64240
	}
	if s.ttl == 0 {
		s.ttl = 64
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: s.ttl, Id: s.id, Protocol: layers.IPProtocolTCP,
		SrcIP: net.ParseIP(s.src).To4(), DstIP: net.ParseIP(s.dst).To4()}
	if !s.noDF {
		ip.Flags = layers.IPv4DontFragment
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: s.seq, Ack: s.ack,
		Window: s.win, Options: s.opts}
	for _, f := range s.flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'P':
			tcp.PSH = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		case 'U':
			tcp.URG = true
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: s.srcMAC, DstMAC: s.dstMAC, EthernetType: layers.EthernetTypeIPv4}
	return frameOf(t, eth, ip, tcp, gopacket.Payload(s.payload))
}

func icmpFrame(t testing.TB, srcMAC, dstMAC net.HardwareAddr, src, dst string, typ uint8, id, seqn uint16, size int) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, Id: 0x1c46,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: id, Seq: seqn}
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}
	return frameOf(t, eth, ip, icmp, gopacket.Payload(make([]byte, size)))
}

func udpFrame(t testing.TB, src, dst string, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: macVmk0, DstMAC: macGW, EthernetType: layers.EthernetTypeIPv4}
	return frameOf(t, eth, ip, udp, gopacket.Payload(payload))
}

func arpFrame(t testing.TB, op uint16, sha net.HardwareAddr, spa string, tha net.HardwareAddr, tpa string, dst net.HardwareAddr) []byte {
	t.Helper()
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6,
		ProtAddressSize: 4, Operation: op, SourceHwAddress: sha, SourceProtAddress: net.ParseIP(spa).To4(),
		DstHwAddress: tha, DstProtAddress: net.ParseIP(tpa).To4()}
	eth := &layers.Ethernet{SrcMAC: sha, DstMAC: dst, EthernetType: layers.EthernetTypeARP}
	return frameOf(t, eth, arp)
}

func ip6TCPFrame(t testing.TB, src, dst string, sport, dport uint16) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, Seq: 1, Window: 64800}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: macVmk0, DstMAC: macGW, EthernetType: layers.EthernetTypeIPv6}
	return frameOf(t, eth, ip, tcp)
}

// rpcCall is an ONC RPC call with AUTH_UNIX credentials, as ESXi sends
// them, and its TCP record marker.
func rpcCallRecord(xid, prog, vers, proc uint32, args []byte) []byte {
	var b []byte
	w := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	w(xid)
	w(rpcCall)
	w(2)
	w(prog)
	w(vers)
	w(proc)
	// AUTH_UNIX: stamp, machine name "NTNX-BLOCK1-A" (13 bytes, padded), uid, gid, no gids.
	cred := []byte{0, 0, 0, 0, 0, 0, 0, 13}
	cred = append(cred, []byte("NTNX-BLOCK1-A\x00\x00\x00")...)
	cred = append(cred, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	w(1)
	w(uint32(len(cred)))
	b = append(b, cred...)
	w(0) // verifier AUTH_NONE
	w(0)
	b = append(b, args...)
	return append(binary.BigEndian.AppendUint32(nil, 0x80000000|uint32(len(b))), b...)
}

func rpcReplyRecord(xid uint32, results []byte) []byte {
	var b []byte
	w := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	w(xid)
	w(rpcReply)
	w(0) // MSG_ACCEPTED
	w(0) // verifier AUTH_NONE
	w(0)
	w(0) // SUCCESS
	b = append(b, results...)
	return append(binary.BigEndian.AppendUint32(nil, 0x80000000|uint32(len(b))), b...)
}

// fhArg is an NFSv3 file handle argument.
func fhArg(fh []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(fh)))
	b = append(b, fh...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// at is a fixed time of day for the golden lines.
var at = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
