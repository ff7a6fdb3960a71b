package tcpdump

import "encoding/binary"

// Link-layer header types of the captures and files this package handles.
const (
	LinkEthernet = 1   // DLT_EN10MB
	LinkLinuxSLL = 113 // DLT_LINUX_SLL, tcpdump -i any on Linux
)

// Ethertypes and IP protocols the filter and the printer know by name.
const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherRARP = 0x8035
	etherIPv6 = 0x86dd
	etherVLAN = 0x8100

	protoICMP   = 1
	protoIGMP   = 2
	protoTCP    = 6
	protoIGRP   = 9
	protoUDP    = 17
	protoICMPv6 = 58
	protoAH     = 51
	protoESP    = 50
	protoPIM    = 103
	protoVRRP   = 112
	protoSCTP   = 132
)

// Linux SLL packet types (the first field of the cooked header).
const (
	sllHost      = 0
	sllBroadcast = 1
	sllMulticast = 2
	sllOtherHost = 3
	sllOutgoing  = 4
)

// pkt is a frame as the filter sees it: its bytes at fixed offsets, as a
// BPF program would read them.
type pkt struct {
	data []byte
	wire int  // original length: BPF's len
	link int  // linktype
	out  bool // sent by the interface (live captures only)
	live bool // direction known: a live capture, not a file
	// oob is set when a load falls outside the captured bytes: a BPF
	// program rejects the packet then, whatever the rest of the filter
	// says.
	oob bool
}

// linkLen is the length of the link-layer header.
func (p *pkt) linkLen() int {
	if p.link == LinkLinuxSLL {
		return 16
	}
	return 14
}

// load reads size bytes (1, 2 or 4) at off, big-endian; out of bounds it
// marks the packet rejected.
func (p *pkt) load(off, size int) uint32 {
	if off < 0 || off+size > len(p.data) {
		p.oob = true
		return 0
	}
	switch size {
	case 1:
		return uint32(p.data[off])
	case 2:
		return uint32(binary.BigEndian.Uint16(p.data[off:]))
	}
	return binary.BigEndian.Uint32(p.data[off:])
}

// ethertype is the frame's type field; 802.3 frames (a length, ≤ 1500)
// carry none.
func (p *pkt) ethertype() uint32 {
	return p.load(p.linkLen()-2, 2)
}

// isEther reports whether the frame's ethertype is t.
func (p *pkt) isEther(t uint32) bool { return p.ethertype() == t }

// nl is the offset of the network-layer header.
func (p *pkt) nl() int { return p.linkLen() }

// ipProto reports an IPv4 packet of protocol proto.
func (p *pkt) ipProto(proto uint32) bool {
	return p.isEther(etherIPv4) && p.load(p.nl()+9, 1) == proto
}

// ip6Proto reports an IPv6 packet whose first next header is proto.
func (p *pkt) ip6Proto(proto uint32) bool {
	return p.isEther(etherIPv6) && p.load(p.nl()+6, 1) == proto
}

// firstFrag reports an IPv4 packet that is not a second or later
// fragment: its transport header is there.
func (p *pkt) firstFrag() bool { return p.load(p.nl()+6, 2)&0x1fff == 0 }

// tl is the offset of an IPv4 packet's transport header.
func (p *pkt) tl() int { return p.nl() + int(p.load(p.nl(), 1)&0x0f)*4 }
