package fabric

import (
	"encoding/binary"
	"math/bits"
)

// TCP segments are the bulk of what a capture sees (an NFS READ of 64 KiB
// is 45 of them), so they are built by hand rather than by gopacket: the
// same bytes gopacket's SerializeLayers gives for Ethernet II, IPv4 (no
// options, DF) and TCP (an MSS option on a SYN), padded to Ethernet's
// 60-byte minimum, with the checksums summed 8 bytes at a time, the payload's as it is
// copied. The frames of one write are built into the flow's scratch buffer,
// reused from one write to the next: a capture sees a frame only during its
// callback (Packet.Data). tcpframe_test.go proves the equivalence with
// gopacket.

// tcpSeg is one TCP segment on its first link.
type tcpSeg struct {
	srcMAC, dstMAC []byte // 6 bytes each
	src, dst       [4]byte
	ttl            int
	id             uint16
	sport, dport   uint16
	seq, ack       uint32 // ack is written only with flagACK
	flags          int
	mss            int // written as an option with flagSYN
}

// tcpFrameLen is the length of the frame of a segment: Ethernet, IPv4 and
// TCP headers (an MSS option on a SYN), the payload, and the padding to 60
// bytes.
func tcpFrameLen(flags, payload int) int {
	return max(tcpHeadersLen(flags)+payload, 60)
}

// tcpHeadersLen is the length of a segment's Ethernet, IPv4 and TCP
// headers.
func tcpHeadersLen(flags int) int {
	if flags&flagSYN != 0 {
		return 14 + 20 + 24
	}
	return 14 + 20 + 20
}

// put writes the segment's frame into f, which is tcpFrameLen bytes:
// headers, payload and padding, every byte of it (f may hold an earlier
// frame). The payload is copied and summed in one pass (copySum).
func (s *tcpSeg) put(f []byte, payload []byte) {
	_ = f[59]
	hl := 20
	if s.flags&flagSYN != 0 {
		hl = 24
	}
	clear(f[:34+hl])
	copy(f[0:6], s.dstMAC)
	copy(f[6:12], s.srcMAC)
	f[12], f[13] = 0x08, 0x00 // IPv4
	// IPv4.
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+hl+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], s.id)
	ip[6] = 0x40 // DF
	ip[8] = uint8(max(s.ttl, 1))
	ip[9] = 6 // TCP
	copy(ip[12:16], s.src[:])
	copy(ip[16:20], s.dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^csumFold(csumAdd(ip, 0)))
	// TCP.
	t := f[34 : 34+hl]
	binary.BigEndian.PutUint16(t[0:], s.sport)
	binary.BigEndian.PutUint16(t[2:], s.dport)
	binary.BigEndian.PutUint32(t[4:], s.seq)
	if s.flags&flagACK != 0 {
		binary.BigEndian.PutUint32(t[8:], s.ack)
	}
	binary.BigEndian.PutUint16(t[12:], uint16(hl/4)<<12|uint16(s.flags&0x1f))
	if s.flags&flagRST == 0 {
		binary.BigEndian.PutUint16(t[14:], window)
	}
	if hl == 24 {
		t[20], t[21] = 2, 4 // MSS
		binary.BigEndian.PutUint16(t[22:], uint16(s.mss))
	}
	// The payload, summed as it is copied (it starts at an even offset:
	// hl is), and the padding.
	ps := copySum(f[34+hl:], payload)
	clear(f[34+hl+len(payload):])
	// The checksum: the pseudo-header, the header, the payload.
	c := uint64(binary.BigEndian.Uint32(s.src[:])) + uint64(binary.BigEndian.Uint32(s.dst[:])) +
		6 + uint64(hl+len(payload)) + ps
	c = csumAdd(t, c)
	binary.BigEndian.PutUint16(t[16:], ^csumFold(c))
}

// copySum copies src to the start of dst and returns src's ones'-complement
// sum as csumAdd(src, 0) would, folded to 16 bits. It sums the words as
// they are loaded, in the machine's little-endian order, and swaps the
// folded sum's bytes at the end: a ones'-complement sum does not depend on
// the byte order (RFC 1071, 2.B).
func copySum(dst, src []byte) uint64 {
	dst = dst[:len(src)]
	var c, carry uint64
	for len(src) >= 32 && len(dst) >= 32 {
		v0 := binary.LittleEndian.Uint64(src[0:])
		v1 := binary.LittleEndian.Uint64(src[8:])
		v2 := binary.LittleEndian.Uint64(src[16:])
		v3 := binary.LittleEndian.Uint64(src[24:])
		binary.LittleEndian.PutUint64(dst[0:], v0)
		binary.LittleEndian.PutUint64(dst[8:], v1)
		binary.LittleEndian.PutUint64(dst[16:], v2)
		binary.LittleEndian.PutUint64(dst[24:], v3)
		c, carry = bits.Add64(c, v0, carry)
		c, carry = bits.Add64(c, v1, carry)
		c, carry = bits.Add64(c, v2, carry)
		c, carry = bits.Add64(c, v3, carry)
		src, dst = src[32:], dst[32:]
	}
	for len(src) >= 8 && len(dst) >= 8 {
		v := binary.LittleEndian.Uint64(src)
		binary.LittleEndian.PutUint64(dst, v)
		c, carry = bits.Add64(c, v, carry)
		src, dst = src[8:], dst[8:]
	}
	// The last 0 to 7 bytes: byte i is bits 8i to 8i+7 of a
	// little-endian word.
	copy(dst, src)
	var v uint64
	for i, b := range src {
		v |= uint64(b) << (8 * i)
	}
	c, carry = bits.Add64(c, v, carry)
	c, carry = bits.Add64(c, 0, carry)
	c += carry
	return uint64(bits.ReverseBytes16(csumFold(c)))
}

// csumAdd adds b, as big-endian 16-bit words (an odd last byte the high half
// of one), to the ones'-complement sum c, 8 bytes at a time. Any 64-bit
// value is a valid partial sum: csumFold makes it 16 bits.
func csumAdd(b []byte, c uint64) uint64 {
	var carry uint64
	for len(b) >= 32 {
		c, carry = bits.Add64(c, binary.BigEndian.Uint64(b[0:]), carry)
		c, carry = bits.Add64(c, binary.BigEndian.Uint64(b[8:]), carry)
		c, carry = bits.Add64(c, binary.BigEndian.Uint64(b[16:]), carry)
		c, carry = bits.Add64(c, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		c, carry = bits.Add64(c, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	if len(b) >= 4 {
		c, carry = bits.Add64(c, uint64(binary.BigEndian.Uint32(b)), carry)
		b = b[4:]
	}
	if len(b) >= 2 {
		c, carry = bits.Add64(c, uint64(binary.BigEndian.Uint16(b)), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		c, carry = bits.Add64(c, uint64(b[0])<<8, carry)
	}
	// End-around carry.
	c, carry = bits.Add64(c, 0, carry)
	return c + carry
}

// csumFold reduces a ones'-complement sum to 16 bits. A nonzero sum stays
// nonzero (0xffff, not 0, is its "zero"), as gopacket's folding keeps it.
func csumFold(c uint64) uint16 {
	c = (c >> 32) + (c & 0xffffffff)
	c = (c >> 32) + (c & 0xffffffff)
	c = (c >> 16) + (c & 0xffff)
	c = (c >> 16) + (c & 0xffff)
	c = (c >> 16) + (c & 0xffff)
	return uint16(c)
}
