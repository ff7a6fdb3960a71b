package fabric

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacketSegment is a segment's frame as fabric built it before
// tcpframe.go: by gopacket's SerializeLayers.
func gopacketSegment(s tcpSeg, payload []byte) []byte {
	t := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), Seq: s.seq, Window: window,
		FIN: s.flags&flagFIN != 0, SYN: s.flags&flagSYN != 0, RST: s.flags&flagRST != 0, PSH: s.flags&flagPSH != 0, ACK: s.flags&flagACK != 0}
	if t.ACK {
		t.Ack = s.ack
	}
	if t.SYN {
		t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{byte(s.mss >> 8), byte(s.mss)}}}
	}
	if t.RST {
		t.Window = 0
	}
	p := ipv4{src: netip.AddrFrom4(s.src), dst: netip.AddrFrom4(s.dst), ttl: s.ttl, id: s.id, df: true,
		proto: layers.IPProtocolTCP, l4: t, payload: payload}
	mac := func(b []byte) net.HardwareAddr { return net.HardwareAddr(b) }
	eth := &layers.Ethernet{SrcMAC: mac(s.srcMAC), DstMAC: mac(s.dstMAC), EthernetType: layers.EthernetTypeIPv4}
	ip := p.header(p.ttl)
	t.SetNetworkLayerForChecksum(ip)
	return serialize(eth, ip, t, gopacket.Payload(payload))
}

func handSegment(s tcpSeg, payload []byte) []byte {
	f := make([]byte, tcpFrameLen(s.flags, len(payload)))
	s.put(f, payload)
	return f
}

// laidOutSegments are segments' frames as send builds them: one after the
// other in a scratch buffer that held earlier frames (here: garbage), so
// that put must write every byte.
func laidOutSegments(ss []tcpSeg, payloads [][]byte) [][]byte {
	n := 0
	for k, s := range ss {
		n += tcpFrameLen(s.flags, len(payloads[k]))
	}
	buf := bytes.Repeat([]byte{0xa5}, n)
	var out [][]byte
	for k, s := range ss {
		n := tcpFrameLen(s.flags, len(payloads[k]))
		s.put(buf[:n:n], payloads[k])
		out = append(out, buf[:n:n])
		buf = buf[n:]
	}
	return out
}

// The hand-built frames are gopacket's, byte for byte.
func TestTCPFrameMatchesGopacket(t *testing.T) {
	base := tcpSeg{srcMAC: []byte{0x00, 0x50, 0x56, 0x6a, 0x01, 0x02}, dstMAC: []byte{0x50, 0x6b, 0x8d, 0x11, 0x22, 0x33},
		src: [4]byte{192, 168, 5, 1}, dst: [4]byte{192, 168, 5, 2}, ttl: 64, id: 0x1234,
		sport: 869, dport: 2049, seq: 0xdeadbeef, ack: 0x01020304, mss: 1460}
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31 + 7)
		}
		return b
	}
	ones := bytes.Repeat([]byte{0xff}, 1460)
	cases := []struct {
		name    string
		mod     func(*tcpSeg)
		flags   int
		payload []byte
	}{
		{"syn-mss", nil, flagSYN, nil},
		{"syn-ack-jumbo-mss", func(s *tcpSeg) { s.mss = 8960 }, flagSYN | flagACK, nil},
		{"ack", nil, flagACK, nil},
		{"data", nil, flagACK, payload(1460)},
		{"data-psh", nil, flagACK | flagPSH, payload(1000)},
		{"data-odd", nil, flagACK | flagPSH, payload(1459)},
		{"data-1", nil, flagACK | flagPSH, payload(1)},
		{"data-7", nil, flagACK | flagPSH, payload(7)},
		{"data-ones", nil, flagACK, ones},
		{"data-jumbo", nil, flagACK | flagPSH, payload(8960)},
		{"fin-ack", nil, flagFIN | flagACK, nil},
		{"rst", nil, flagRST, nil},
		{"rst-ack", nil, flagRST | flagACK, nil},
		{"ttl-0", func(s *tcpSeg) { s.ttl = 0 }, flagACK, nil},
		{"zero-addrs-macs", func(s *tcpSeg) {
			s.srcMAC, s.dstMAC, s.src, s.dst, s.sport, s.dport, s.seq, s.ack, s.id = make([]byte, 6), make([]byte, 6), [4]byte{}, [4]byte{}, 0, 0, 0, 0, 0
		}, flagACK, nil},
		{"max-fields", func(s *tcpSeg) {
			s.src, s.dst, s.sport, s.dport, s.seq, s.ack, s.id, s.ttl = [4]byte{255, 255, 255, 255}, [4]byte{255, 255, 255, 255}, 65535, 65535, ^uint32(0), ^uint32(0), 65535, 255
		}, flagACK | flagPSH, ones[:1459]},
	}
	var all []tcpSeg
	var allPayloads, allWant [][]byte
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base
			if c.mod != nil {
				c.mod(&s)
			}
			s.flags = c.flags
			want := gopacketSegment(s, c.payload)
			got := handSegment(s, c.payload)
			if !bytes.Equal(got, want) {
				t.Fatalf("frames differ\n got %x\nwant %x", got, want)
			}
			all, allPayloads, allWant = append(all, s), append(allPayloads, c.payload), append(allWant, want)
		})
	}
	// Laid out together, as a write's segments are.
	for k, got := range laidOutSegments(all, allPayloads) {
		if !bytes.Equal(got, allWant[k]) {
			t.Fatalf("laid out %s: frames differ\n got %x\nwant %x", cases[k].name, got, allWant[k])
		}
	}
	// And at random: every length, flags, fields and contents.
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		s := base
		s.src = [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
		s.dst = [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
		s.sport, s.dport, s.id = uint16(r.Uint32()), uint16(r.Uint32()), uint16(r.Uint32())
		s.seq, s.ack, s.ttl, s.mss = r.Uint32(), r.Uint32(), r.IntN(256), 536+r.IntN(9000)
		s.flags = r.IntN(32)
		p := make([]byte, i%1600)
		for k := range p {
			if r.IntN(4) == 0 {
				p[k] = 0xff
			} else {
				p[k] = byte(r.Uint32())
			}
		}
		want := gopacketSegment(s, p)
		if got := handSegment(s, p); !bytes.Equal(got, want) {
			t.Fatalf("case %d (flags %#x, %d bytes): frames differ\n got %x\nwant %x", i, s.flags, len(p), got, want)
		}
		if got := laidOutSegments([]tcpSeg{s, s}, [][]byte{p, p}); !bytes.Equal(got[0], want) || !bytes.Equal(got[1], want) {
			t.Fatalf("case %d (flags %#x, %d bytes): laid-out frames differ\n got %x\nwant %x", i, s.flags, len(p), got[1], want)
		}
	}
}

// csumAdd folds to gopacket's sum, whatever the length and contents.
func TestCsumAddMatchesGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 300 {
		for _, fill := range []func() byte{func() byte { return 0 }, func() byte { return 0xff }, func() byte { return byte(r.Uint32()) }} {
			b := make([]byte, n)
			for k := range b {
				b[k] = fill()
			}
			init := uint64(r.Uint32() & 0xffff)
			want := gopacket.FoldChecksum(gopacket.ComputeChecksum(b, uint32(init)))
			if got := ^csumFold(csumAdd(b, init)); got != want {
				t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
			}
		}
	}
}

// copySum copies and sums as copy and csumAdd do, whatever the length and
// contents.
func TestCopySumMatchesCsumAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 300 {
		for _, fill := range []func() byte{func() byte { return 0 }, func() byte { return 0xff }, func() byte { return byte(r.Uint32()) }} {
			b := make([]byte, n)
			for k := range b {
				b[k] = fill()
			}
			dst := bytes.Repeat([]byte{0xa5}, n+3)
			init := uint64(r.Uint32() & 0xffff)
			want := ^csumFold(csumAdd(b, init))
			if got := ^csumFold(copySum(dst, b) + init); got != want {
				t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
			}
			if !bytes.Equal(dst[:n], b) || !bytes.Equal(dst[n:], []byte{0xa5, 0xa5, 0xa5}) {
				t.Fatalf("%d bytes: copied %x", n, dst)
			}
		}
	}
}

func BenchmarkTCPFrame(b *testing.B) {
	s := tcpSeg{srcMAC: make([]byte, 6), dstMAC: make([]byte, 6), ttl: 64, flags: flagACK | flagPSH, mss: 1460}
	p := make([]byte, 1460)
	b.Run("hand", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			handSegment(s, p)
		}
	})
	b.Run("gopacket", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			gopacketSegment(s, p)
		}
	})
}
