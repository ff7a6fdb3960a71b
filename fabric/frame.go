package fabric

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frames as a capture sees them: Ethernet II, IPv4, TCP, ICMP and ARP
// built by gopacket with lengths and checksums computed, so that
// Wireshark decodes them without a complaint.

// hop is one link a packet crosses: out sends it, in receives it.
type hop struct{ out, in *Interface }

// hopsOf pairs a path's interfaces (path.ifaces: sender, receiver, ...).
func hopsOf(ifaces []*Interface) []hop {
	hs := make([]hop, 0, len(ifaces)/2)
	for k := 0; k+1 < len(ifaces); k += 2 {
		hs = append(hs, hop{ifaces[k], ifaces[k+1]})
	}
	return hs
}

// back is the way a path's answers take: the same links, the other way.
func back(hs []hop) []hop {
	out := make([]hop, len(hs))
	for k, h := range hs {
		out[len(hs)-1-k] = hop{h.in, h.out}
	}
	return out
}

func watchedHops(hs []hop) bool {
	for _, h := range hs {
		if h.out.watched() || h.in.watched() {
			return true
		}
	}
	return false
}

// window is the receive window every modelled TCP end advertises:
// Linux's initial one for a 1460-byte MSS, unscaled so that a capture
// that misses the SYN reads it right too.
const window = 64240

// ipv4 is one IPv4 packet to put on the links of a path.
type ipv4 struct {
	src, dst netip.Addr
	ttl      int
	id       uint16
	df       bool
	// l4 is the transport layer; payload follows it.
	l4      gopacket.SerializableLayer
	proto   layers.IPProtocol
	payload []byte
}

var serializeOpts = gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}

func (p *ipv4) header(ttl int) *layers.IPv4 {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: uint8(max(ttl, 1)), Id: p.id, Protocol: p.proto,
		SrcIP: p.src.AsSlice(), DstIP: p.dst.AsSlice()}
	if p.df {
		ip.Flags = layers.IPv4DontFragment
	}
	return ip
}

// deliveries appends the packet's crossing of every hop: on each link the
// sender sees it leave and the receiver arrive; each router on the way
// takes one off the TTL and puts its own MACs on it. A packet bigger than
// the first link's MTU leaves in fragments (vmkping -s 8972 without -d).
func (p *ipv4) deliveries(hs []hop, ds []delivery) []delivery {
	if len(hs) == 0 {
		return ds
	}
	frames := p.frames(hs[0])
	for k, h := range hs {
		for _, f := range frames {
			if k > 0 {
				f = rehop(f, h, p.ttl-k)
			}
			ds = append(ds, delivery{iface: h.out, out: true, data: f}, delivery{iface: h.in, out: false, data: f})
		}
	}
	return ds
}

// frames builds the packet's frames on its first link.
func (p *ipv4) frames(h hop) [][]byte {
	eth := &layers.Ethernet{SrcMAC: hwAddr(h.out), DstMAC: hwAddr(h.in), EthernetType: layers.EthernetTypeIPv4}
	ip := p.header(p.ttl)
	if t, ok := p.l4.(*layers.TCP); ok {
		// The TCP checksum covers the IP addresses.
		t.SetNetworkLayerForChecksum(ip)
	}
	mtu := h.out.MTU()
	if p.df || 20+8+len(p.payload) <= mtu {
		return [][]byte{serialize(eth, ip, p.l4, gopacket.Payload(p.payload))}
	}
	// Fragment the transport message: its checksum covers all of it.
	msg := serialize(p.l4, gopacket.Payload(p.payload))
	step := (mtu - 20) &^ 7
	var out [][]byte
	for off := 0; off < len(msg); off += step {
		end := min(off+step, len(msg))
		fip := p.header(p.ttl)
		fip.FragOffset = uint16(off / 8)
		if end < len(msg) {
			fip.Flags |= layers.IPv4MoreFragments
		}
		out = append(out, serialize(eth, fip, gopacket.Payload(msg[off:end])))
	}
	return out
}

func serialize(ls ...gopacket.SerializableLayer) []byte {
	n := 0
	for _, l := range ls {
		if p, ok := l.(gopacket.Payload); ok {
			n += len(p)
		}
	}
	// Layers are prepended, the payload first; Ethernet appends the
	// padding of a short frame.
	buf := gopacket.NewSerializeBufferExpectedSize(64+n, 16)
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		// Only a malformed layer fails, and every layer here is ours.
		panic("fabric: building a frame: " + err.Error())
	}
	return buf.Bytes()
}

// rehop is a frame forwarded by a router: the router's MACs and a TTL one
// less, with the IP header checksum fixed (the transport checksum does not
// cover the TTL).
func rehop(f []byte, h hop, ttl int) []byte {
	g := append([]byte(nil), f...)
	copy(g[0:6], hwAddr(h.in))
	copy(g[6:12], hwAddr(h.out))
	ip := g[14:34]
	ip[8] = uint8(max(ttl, 1))
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], gopacket.FoldChecksum(gopacket.ComputeChecksum(ip, 0)))
	return g
}

// rehopInto is rehop into g, which is len(f) bytes.
func rehopInto(g, f []byte, h hop, ttl int) {
	copy(g, f)
	copy(g[0:6], hwAddr(h.in))
	copy(g[6:12], hwAddr(h.out))
	ip := g[14:34]
	ip[8] = uint8(max(ttl, 1))
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], ^csumFold(csumAdd(ip, 0)))
}

// arpFrames are the ARP exchange of out resolving addr: a broadcast
// request every interface of the segment receives, and, when target
// answers, its unicast reply.
func arpFrames(out *Interface, addr netip.Addr, target *Interface) []delivery {
	seg := out.Segment()
	if seg == nil {
		return nil
	}
	sender := netip.IPv4Unspecified()
	if a := out.Addr(); a.IsValid() {
		sender = a.Addr()
	}
	me := hwAddr(out)
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	req := arp(me, bcast, layers.ARPRequest, me, sender, make(net.HardwareAddr, 6), addr)
	ds := []delivery{{iface: out, out: true, data: req}}
	// Once per NIC: an alias (eth1:1) shares its interface's MAC and
	// wire, and hears the broadcast as the interface does.
	type nic struct {
		node *Node
		mac  string
	}
	heard := map[nic]bool{{out.node, string(me)}: true}
	for _, i := range seg.Interfaces() {
		k := nic{i.node, string(hwAddr(i))}
		if !heard[k] && i.Up() && i.node.Powered() && !i.blackholes() {
			heard[k] = true
			ds = append(ds, delivery{iface: i, data: req})
		}
	}
	if target != nil {
		them := hwAddr(target)
		rep := arp(them, me, layers.ARPReply, them, addr, me, sender)
		ds = append(ds, delivery{iface: target, out: true, data: rep}, delivery{iface: out, data: rep})
	}
	return ds
}

func arp(src, dst net.HardwareAddr, op uint16, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeARP}
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: sha, SourceProtAddress: spa.AsSlice(), DstHwAddress: tha, DstProtAddress: tpa.AsSlice()}
	return serialize(eth, a)
}

// hwAddr is the interface's MAC as a frame carries it: all zeros for an
// interface the model gave none.
func hwAddr(i *Interface) net.HardwareAddr {
	if m := i.MAC(); len(m) == 6 {
		return m
	}
	return make(net.HardwareAddr, 6)
}
