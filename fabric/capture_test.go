package fabric

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder keeps what a capture saw.
type recorder struct {
	nw   *Network // synced before a take, when set
	mu   sync.Mutex
	pkts []Packet
}

func (r *recorder) add(p Packet) {
	p.Data = slices.Clone(p.Data) // valid only during the callback
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pkts = append(r.pkts, p)
}

// take returns what was seen since the last take, up to now: the frames
// still in the capture pipeline are waited for.
func (r *recorder) take() []Packet {
	if r.nw != nil {
		r.nw.SyncCaptures()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.pkts
	r.pkts = nil
	return out
}

func capture(t testing.TB, i *Interface) *recorder {
	r := &recorder{nw: i.node.net}
	t.Cleanup(i.Capture(r.add))
	return r
}

// decoded is a frame taken apart, its checksums checked.
type decoded struct {
	Packet
	eth  *layers.Ethernet
	ip   *layers.IPv4
	tcp  *layers.TCP
	icmp *layers.ICMPv4
	arp  *layers.ARP
	data []byte
}

func decode(t testing.TB, p Packet) decoded {
	t.Helper()
	pk := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.Default)
	require.Nil(t, pk.ErrorLayer(), "a malformed frame: %v", pk)
	d := decoded{Packet: p}
	d.eth, _ = pk.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	d.ip, _ = pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	d.tcp, _ = pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
	d.icmp, _ = pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	d.arp, _ = pk.Layer(layers.LayerTypeARP).(*layers.ARP)
	require.NotNil(t, d.eth)
	if p.Out {
		// Captured before the NIC pads it, as Linux and ESXi do.
		require.Equal(t, unpadded(p.Data), p.Data, "an outgoing frame is not padded")
	} else {
		require.GreaterOrEqual(t, len(p.Data), 60, "Ethernet pads to 60 bytes on the wire")
	}
	require.Equal(t, len(p.Data), p.Len)
	if d.ip != nil {
		hdr := p.Data[14 : 14+int(d.ip.IHL)*4]
		require.Equal(t, uint16(0xffff), sum(0, hdr), "IP header checksum")
		l4 := p.Data[14+int(d.ip.IHL)*4 : 14+int(d.ip.Length)]
		switch {
		case d.tcp != nil:
			d.data = d.tcp.Payload
			pseudo := append(append(append([]byte{}, d.ip.SrcIP.To4()...), d.ip.DstIP.To4()...), 0, 6, byte(len(l4)>>8), byte(len(l4)))
			require.Equal(t, uint16(0xffff), sum(uint32(sum(0, pseudo)), l4), "TCP checksum")
		case d.icmp != nil && d.ip.Flags&layers.IPv4MoreFragments == 0 && d.ip.FragOffset == 0:
			d.data = d.icmp.Payload
			require.Equal(t, uint16(0xffff), sum(0, l4), "ICMP checksum")
		}
	}
	return d
}

// sum is the ones' complement sum of b added to s.
func sum(s uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// dump renders frames as tcpdump -e -n would, shortly, with sequence
// numbers relative to each direction's first one (its SYN, if seen).
type dump struct{ base map[string]uint32 }

func lines(t testing.TB, ps []Packet) []string { return (&dump{}).lines(t, ps) }

func (dm *dump) lines(t testing.TB, ps []Packet) []string {
	t.Helper()
	if dm.base == nil {
		dm.base = map[string]uint32{}
	}
	base := dm.base
	var out []string
	for _, p := range ps {
		d := decode(t, p)
		dir := map[bool]string{true: "out", false: "in"}[p.Out]
		l := fmt.Sprintf("%s %s %s>%s ", p.Iface, dir, d.eth.SrcMAC, d.eth.DstMAC)
		switch {
		case d.arp != nil && d.arp.Operation == layers.ARPRequest:
			l += fmt.Sprintf("arp who-has %s tell %s", net.IP(d.arp.DstProtAddress), net.IP(d.arp.SourceProtAddress))
		case d.arp != nil:
			l += fmt.Sprintf("arp reply %s is-at %s", net.IP(d.arp.SourceProtAddress), net.HardwareAddr(d.arp.SourceHwAddress))
		case d.tcp != nil:
			fwd := fmt.Sprintf("%s.%d>%s.%d", d.ip.SrcIP, d.tcp.SrcPort, d.ip.DstIP, d.tcp.DstPort)
			rev := fmt.Sprintf("%s.%d>%s.%d", d.ip.DstIP, d.tcp.DstPort, d.ip.SrcIP, d.tcp.SrcPort)
			if _, ok := base[fwd]; !ok {
				base[fwd] = d.tcp.Seq
			}
			l += fmt.Sprintf("%s ttl %d [%s] seq %d", fwd, d.ip.TTL, flags(d.tcp), d.tcp.Seq-base[fwd])
			if _, ok := base[rev]; d.tcp.ACK && ok {
				l += fmt.Sprintf(" ack %d", d.tcp.Ack-base[rev])
			} else if d.tcp.ACK {
				l += fmt.Sprintf(" ack %d(abs)", d.tcp.Ack)
			}
			l += fmt.Sprintf(" len %d", len(d.data))
			for _, o := range d.tcp.Options {
				if o.OptionType == layers.TCPOptionKindMSS {
					l += fmt.Sprintf(" mss %d", binary.BigEndian.Uint16(o.OptionData))
				}
			}
			require.True(t, d.ip.Flags&layers.IPv4DontFragment != 0, "TCP sets DF")
		case d.icmp != nil:
			l += fmt.Sprintf("%s>%s ttl %d icmp %s id %d seq %d len %d", d.ip.SrcIP, d.ip.DstIP, d.ip.TTL, d.icmp.TypeCode, d.icmp.Id, d.icmp.Seq, len(d.data))
		case d.ip != nil:
			l += fmt.Sprintf("%s>%s ttl %d frag %d", d.ip.SrcIP, d.ip.DstIP, d.ip.TTL, int(d.ip.FragOffset)*8)
		}
		out = append(out, l)
	}
	return out
}

func flags(t *layers.TCP) string {
	var s string
	for _, f := range []struct {
		on bool
		c  string
	}{{t.SYN, "S"}, {t.FIN, "F"}, {t.RST, "R"}, {t.PSH, "P"}, {t.ACK, "."}} {
		if f.on {
			s += f.c
		}
	}
	return s
}

const (
	hostVmk0MAC = "00:50:56:00:00:10"
	hostVmk1MAC = "00:50:56:00:00:11"
	cvmAEth1MAC = "00:50:56:00:00:52"
	cvmBEth0MAC = "00:50:56:00:00:28"
)

// TestCaptureFlow: a flow's life on both ends of its link — the handshake
// with its MSS, data split at the MSS with PSH on a write's last segment
// and ACKed by the receiver, and the FIN exchange — seen leaving one end
// and reaching the other, with the interfaces' real MACs.
func TestCaptureFlow(t *testing.T) {
	l := newTestLab(t)
	host, cvm := capture(t, l.host.Interface("vmk1")), capture(t, l.cvmA.Interface("eth1"))
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	msg := strings.Repeat("x", 3000)
	roundTrip(t, c, s, msg)
	roundTrip(t, s, c, "ok")
	require.NoError(t, c.Close())
	require.NoError(t, s.Close())

	port := c.LocalAddr().(*net.TCPAddr).Port
	up := fmt.Sprintf("192.168.5.1.%d>192.168.5.2.2049", port)
	down := fmt.Sprintf("192.168.5.2.2049>192.168.5.1.%d", port)
	out := "vmk1 out " + hostVmk1MAC + ">" + cvmAEth1MAC + " " + up + " ttl 64 "
	in := "vmk1 in " + cvmAEth1MAC + ">" + hostVmk1MAC + " " + down + " ttl 64 "
	want := []string{
		"vmk1 out " + hostVmk1MAC + ">ff:ff:ff:ff:ff:ff arp who-has 192.168.5.2 tell 192.168.5.1",
		"vmk1 in " + cvmAEth1MAC + ">" + hostVmk1MAC + " arp reply 192.168.5.2 is-at " + cvmAEth1MAC,
		out + "[S] seq 0 len 0 mss 1460",
		in + "[S.] seq 0 ack 1 len 0 mss 1460",
		out + "[.] seq 1 ack 1 len 0",
		out + "[.] seq 1 ack 1 len 1460",
		out + "[.] seq 1461 ack 1 len 1460",
		out + "[P.] seq 2921 ack 1 len 80",
		in + "[.] seq 1 ack 3001 len 0",
		in + "[P.] seq 1 ack 3001 len 2",
		out + "[.] seq 3001 ack 3 len 0",
		out + "[F.] seq 3001 ack 3 len 0",
		in + "[.] seq 3 ack 3002 len 0",
		in + "[F.] seq 3 ack 3002 len 0",
		out + "[.] seq 3002 ack 4 len 0",
	}
	require.Equal(t, want, lines(t, host.take()))

	// The CVM's end sees the same frames the other way round; the ARP
	// request reaches it as the broadcast it is.
	mirror := make([]string, len(want))
	for k, w := range want {
		if rest, ok := strings.CutPrefix(w, "vmk1 out "); ok {
			mirror[k] = "eth1 in " + rest
		} else {
			mirror[k] = "eth1 out " + strings.TrimPrefix(w, "vmk1 in ")
		}
	}
	require.Equal(t, mirror, lines(t, cvm.take()))
}

// TestCaptureBytes: the payload is in the frames, a write larger than the
// window is ACKed every ackEvery segments, and the sequence numbers are
// those of the bytes.
func TestCaptureBytes(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	roundTrip(t, c, s, "before the capture")
	r := capture(t, l.cvmA.Interface("eth1"))
	msg := make([]byte, 100_000)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	roundTrip(t, c, s, string(msg))

	var got []byte
	acks := 0
	var first uint32
	for k, p := range r.take() {
		d := decode(t, p)
		require.NotNil(t, d.tcp)
		if k == 0 {
			first = d.tcp.Seq
		}
		if p.Out {
			acks++
			continue
		}
		require.Equal(t, first+uint32(len(got)), d.tcp.Seq, "contiguous")
		require.LessOrEqual(t, len(d.data), 1460)
		got = append(got, d.data...)
	}
	require.Equal(t, msg, got)
	require.Equal(t, 2, acks, "69 segments: one ACK after 40, one at the end")
}

// TestCaptureSeed001: after the injected route, the host's stale NFS flow
// reaches CVM B, which answers with RST — seen on vmk0 coming from CVM B's
// eth0 — and the reconnection leaves vmk0 with source 192.168.1.24 to CVM
// B's MAC.
func TestCaptureSeed001(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	roundTrip(t, c, s, "WRITE")
	lnB, err := l.cvmB.Listen(nfsPort)
	require.NoError(t, err)
	defer lnB.Close()
	vmk0, vmk1 := capture(t, l.host.Interface("vmk0")), capture(t, l.host.Interface("vmk1"))
	port := c.LocalAddr().(*net.TCPAddr).Port

	require.NoError(t, l.rt.Add(host32, cvmBPub))
	require.ErrorIs(t, readErr(c), ErrConnReset)
	got := vmk0.take()
	require.Len(t, got, 2)
	// The host's next segment of the stale flow leaves vmk0 for CVM B,
	// which knows nothing of it.
	probe, rst := decode(t, got[0]), decode(t, got[1])
	require.Equal(t, fmt.Sprintf("vmk0 out %s>%s 192.168.5.1.%d>192.168.5.2.2049 [.] len 0", hostVmk0MAC, cvmBEth0MAC, port),
		fmt.Sprintf("%s out %s>%s %s.%d>%s.%d [%s] len %d", probe.Iface, probe.eth.SrcMAC, probe.eth.DstMAC, probe.ip.SrcIP, probe.tcp.SrcPort, probe.ip.DstIP, probe.tcp.DstPort, flags(probe.tcp), len(probe.data)))
	require.Equal(t, fmt.Sprintf("vmk0 in %s>%s 192.168.5.2.2049>192.168.5.1.%d [R] len 0", cvmBEth0MAC, hostVmk0MAC, port),
		fmt.Sprintf("%s in %s>%s %s.%d>%s.%d [%s] len %d", rst.Iface, rst.eth.SrcMAC, rst.eth.DstMAC, rst.ip.SrcIP, rst.tcp.SrcPort, rst.ip.DstIP, rst.tcp.DstPort, flags(rst.tcp), len(rst.data)))
	require.False(t, rst.Out)
	require.Equal(t, probe.tcp.Ack, rst.tcp.Seq, "the RST takes the ACK it answers")
	require.Empty(t, vmk1.take(), "the old path sees nothing")

	c2 := l.dial(cvmPriv, nfsPort)
	s2, err := lnB.Accept()
	require.NoError(t, err)
	defer s2.Close()
	roundTrip(t, c2, s2, "WRITE again")
	port2 := c2.LocalAddr().(*net.TCPAddr).Port
	out := fmt.Sprintf("vmk0 out %s>%s 192.168.1.24.%d>192.168.5.2.2049 ttl 64 ", hostVmk0MAC, cvmBEth0MAC, port2)
	require.Equal(t, []string{
		"vmk0 out " + hostVmk0MAC + ">ff:ff:ff:ff:ff:ff arp who-has 192.168.1.28 tell 192.168.1.24",
		"vmk0 in " + cvmBEth0MAC + ">" + hostVmk0MAC + " arp reply 192.168.1.28 is-at " + cvmBEth0MAC,
		out + "[S] seq 0 len 0 mss 1460",
		fmt.Sprintf("vmk0 in %s>%s 192.168.5.2.2049>192.168.1.24.%d ttl 64 [S.] seq 0 ack 1 len 0 mss 1460", cvmBEth0MAC, hostVmk0MAC, port2),
		out + "[.] seq 1 ack 1 len 0",
		out + "[P.] seq 1 ack 1 len 11",
		fmt.Sprintf("vmk0 in %s>%s 192.168.5.2.2049>192.168.1.24.%d ttl 64 [.] seq 1 ack 12 len 0", cvmBEth0MAC, hostVmk0MAC, port2),
	}, lines(t, vmk0.take()))
}

// TestCaptureResets: an abort is RST from the end that aborts; a dial to a
// port nobody listens on is a SYN and the target's RST; a write to a peer
// that closed is answered by RST; a server that rebooted answers with RST.
func TestCaptureResets(t *testing.T) {
	l := newTestLab(t)
	r := capture(t, l.host.Interface("vmk1"))
	var dm dump
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	dm.short(t, r.take())
	s.(*Conn).Reset()
	require.Equal(t, []string{"[R.] seq 1 ack 1 len 0 from 192.168.5.2"}, dm.short(t, r.take()))

	_, err := l.host.Dial(testCtx(t), netip.AddrPortFrom(cvmPriv, 9), DialOptions{})
	require.ErrorIs(t, err, ErrConnRefused)
	require.Equal(t, []string{"[S] seq 0 len 0 mss 1460 from 192.168.5.1", "[R.] seq 0 ack 1 len 0 from 192.168.5.2"}, dm.short(t, r.take()))

	c, s = l.pair(cvmPriv, l.cvmA, 2050)
	dm.short(t, r.take())
	require.NoError(t, s.Close())
	_, err = c.Write([]byte("late"))
	require.ErrorIs(t, err, ErrConnReset)
	require.Equal(t, []string{
		"[F.] seq 1 ack 1 len 0 from 192.168.5.2", "[.] seq 1 ack 2 len 0 from 192.168.5.1",
		"[P.] seq 1 ack 2 len 4 from 192.168.5.1", "[R.] seq 2 ack 5 len 0 from 192.168.5.2",
	}, dm.short(t, r.take()), "data to a closed end is answered by RST")

	c, _ = l.pair(cvmPriv, l.cvmA, 2051)
	dm.short(t, r.take())
	l.cvmA.SetPowered(false)
	_, err = c.Write([]byte("into the void"))
	require.NoError(t, err)
	require.Empty(t, r.take(), "a powered-off target's flow is blackholed: nothing at all")
	l.cvmA.SetPowered(true)
	require.Equal(t, []string{"[.] seq 1 ack 1 len 0 from 192.168.5.1", "[R] seq 1 len 0 from 192.168.5.2"}, dm.short(t, r.take()),
		"the rebooted CVM answers the retransmission with RST")
}

// short renders TCP frames leaving or reaching one interface.
func (dm *dump) short(t testing.TB, ps []Packet) []string {
	var out []string
	for k, l := range dm.lines(t, ps) {
		if decode(t, ps[k]).tcp == nil {
			out = append(out, l)
			continue
		}
		_, rest, _ := strings.Cut(l, " ttl ")
		_, rest, _ = strings.Cut(rest, " ")
		out = append(out, rest+" from "+decode(t, ps[k]).ip.SrcIP.String())
	}
	return out
}

// TestCaptureEcho: vmkping's ARP, request and reply with its id, sequence
// and size; through a router the TTL drops and the MACs change hop by hop;
// a request too big for the link leaves in fragments.
func TestCaptureEcho(t *testing.T) {
	l := newTestLab(t)
	router := l.withRouter()
	vmk0, ge0, ge1 := capture(t, l.host.Interface("vmk0")), capture(t, router.Interface("ge0")), capture(t, router.Interface("ge1"))
	filer := capture(t, l.filer.Interface("eth1"))

	got, err := l.host.Echo(EchoRequest{Dst: gwAddr, ID: 4242, Seq: 7, Size: 100})
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Equal(t, []string{
		"vmk0 out " + hostVmk0MAC + ">ff:ff:ff:ff:ff:ff arp who-has 192.168.1.1 tell 192.168.1.24",
		"vmk0 in 00:50:56:00:00:01>" + hostVmk0MAC + " arp reply 192.168.1.1 is-at 00:50:56:00:00:01",
		"vmk0 out " + hostVmk0MAC + ">00:50:56:00:00:01 192.168.1.24>192.168.1.1 ttl 64 icmp EchoRequest id 4242 seq 7 len 100",
		"vmk0 in 00:50:56:00:00:01>" + hostVmk0MAC + " 192.168.1.1>192.168.1.24 ttl 255 icmp EchoReply id 4242 seq 7 len 100",
	}, lines(t, vmk0.take()))
	require.Len(t, lines(t, ge0.take()), 1, "the router's ge0 hears the broadcast, nothing more")
	require.Empty(t, filer.take())

	_, err = l.host.Echo(EchoRequest{Dst: filerSt, ID: 1, Seq: 2})
	require.NoError(t, err)
	require.Len(t, vmk0.take(), 4, "ARP for the router, then the request and the reply")
	var routed []string
	for _, x := range [][]Packet{ge0.take(), ge1.take(), filer.take()} {
		for _, s := range lines(t, x) {
			if strings.Contains(s, "icmp") {
				routed = append(routed, s)
			}
		}
	}
	require.Equal(t, []string{
		"ge0 in " + hostVmk0MAC + ">00:50:56:00:00:fe 192.168.1.24>10.0.0.50 ttl 64 icmp EchoRequest id 1 seq 2 len 56",
		"ge0 out 00:50:56:00:00:fe>" + hostVmk0MAC + " 10.0.0.50>192.168.1.24 ttl 63 icmp EchoReply id 1 seq 2 len 56",
		"ge1 out 00:50:56:00:00:f1>00:50:56:00:00:51 192.168.1.24>10.0.0.50 ttl 63 icmp EchoRequest id 1 seq 2 len 56",
		"ge1 in 00:50:56:00:00:51>00:50:56:00:00:f1 10.0.0.50>192.168.1.24 ttl 64 icmp EchoReply id 1 seq 2 len 56",
		"eth1 in 00:50:56:00:00:f1>00:50:56:00:00:51 192.168.1.24>10.0.0.50 ttl 63 icmp EchoRequest id 1 seq 2 len 56",
		"eth1 out 00:50:56:00:00:51>00:50:56:00:00:f1 10.0.0.50>192.168.1.24 ttl 64 icmp EchoReply id 1 seq 2 len 56",
	}, routed)

	_, err = l.host.Echo(EchoRequest{Dst: gwAddr, Size: 3000})
	require.NoError(t, err)
	ps := vmk0.take()
	frags := lines(t, ps)
	require.Len(t, frags, 6, "3008 bytes of ICMP in 1480-byte fragments, each way")
	var msg []byte
	for k, off := range []string{"frag 0", "frag 1480", "frag 2960"} {
		assert.Contains(t, frags[k], "192.168.1.24>192.168.1.1 ttl 64 "+off)
		assert.Contains(t, frags[k+3], "192.168.1.1>192.168.1.24 ttl 255 "+off)
		d := decode(t, ps[k])
		msg = append(msg, d.ip.Payload...)
	}
	require.Len(t, msg, 3008)
	require.Equal(t, uint16(0xffff), sum(0, msg), "the reassembled ICMP message's checksum")

	// Nothing answers the second ARP: the request goes unanswered.
	_, err = l.host.Echo(EchoRequest{Dst: nobody})
	require.ErrorIs(t, err, ErrHostDown)
	require.Equal(t, []string{"vmk0 out " + hostVmk0MAC + ">ff:ff:ff:ff:ff:ff arp who-has 192.168.1.99 tell 192.168.1.24"}, lines(t, vmk0.take()))
}

// TestCaptureBlackholes: a flow through a blackholing fault shows nothing
// at all, on either end.
func TestCaptureBlackholes(t *testing.T) {
	for _, f := range []struct {
		name string
		do   func(l *testLab) func()
	}{
		{"carrier down", func(l *testLab) func() {
			l.cvmA.Interface("eth1").SetCarrier(false)
			return func() { l.cvmA.Interface("eth1").SetCarrier(true) }
		}},
		{"partition", func(l *testLab) func() {
			heal, err := l.nw.Partition("esx-a", "cvm-a")
			require.NoError(l.t, err)
			return heal
		}},
		{"host's vmk1 down", func(l *testLab) func() {
			l.host.Interface("vmk1").SetUp(false)
			return func() { l.host.Interface("vmk1").SetUp(true) }
		}},
	} {
		t.Run(f.name, func(t *testing.T) {
			l := newTestLab(t)
			c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
			host, cvm := capture(t, l.host.Interface("vmk1")), capture(t, l.cvmA.Interface("eth1"))
			undo := f.do(l)
			_, err := c.Write([]byte("during"))
			require.NoError(t, err)
			_, err = s.Write([]byte("reply"))
			require.NoError(t, err)
			require.Empty(t, host.take())
			require.Empty(t, cvm.take())
			undo()
			for _, x := range []struct {
				r    net.Conn
				want string
			}{{s, "during"}, {c, "reply"}} {
				buf := make([]byte, len(x.want))
				_, err := io.ReadFull(x.r, buf)
				require.NoError(t, err)
				require.Equal(t, x.want, string(buf), "delivered, unseen")
			}
			roundTrip(t, c, s, "after")
			require.Len(t, host.take(), 2, "the flow shows again once healed")
			require.Len(t, cvm.take(), 2)
		})
	}
}

// TestCaptureSubscriptions: a node's capture sees every interface, those
// added later too; stop works from the callback; nothing is built when
// nobody captures.
func TestCaptureSubscriptions(t *testing.T) {
	l := newTestLab(t)
	all := recorder{nw: l.nw}
	stopAll := l.cvmA.Capture(all.add)
	require.True(t, l.nw.capturing())
	n := 0
	var stop func()
	stop = l.cvmA.Interface("eth1").Capture(func(Packet) {
		if n++; n == 2 {
			stop()
		}
	})
	_, err := l.cvmA.AddInterface(InterfaceConfig{Name: "eth2", Addr: pfx("10.9.0.2/24"), MAC: mac(0x92), Segment: "extra"})
	require.NoError(t, err)
	_, err = l.host.AddInterface(InterfaceConfig{Name: "vmk2", Addr: pfx("10.9.0.1/24"), MAC: mac(0x91), Segment: "extra"})
	require.NoError(t, err)

	_, err = l.host.Echo(EchoRequest{Dst: cvmPriv})
	require.NoError(t, err)
	_, err = l.host.Echo(EchoRequest{Dst: ip("10.9.0.2")})
	require.NoError(t, err)
	l.nw.SyncCaptures()
	require.Equal(t, 2, n, "stopped from its own callback")
	var ifaces []string
	for _, p := range all.take() {
		ifaces = append(ifaces, p.Iface)
	}
	require.Equal(t, []string{"eth1", "eth1", "eth1", "eth1", "eth2", "eth2", "eth2", "eth2"}, ifaces)

	stopAll()
	stopAll()
	require.False(t, l.nw.capturing(), "nobody captures: the data path checks one counter")
}

// TestCaptureDeterministic: two runs on fake clocks see the same bytes.
func TestCaptureDeterministic(t *testing.T) {
	run := func() [][]byte {
		l := newTestLab(t)
		r := capture(t, l.host.Interface("vmk1"))
		c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
		roundTrip(t, c, s, "same every time")
		var out [][]byte
		for _, p := range r.take() {
			out = append(out, p.Data)
		}
		return out
	}
	require.Equal(t, run(), run())
}

// BenchmarkFlowTransfer1MiB moves 1 MiB one way through a dialled flow in
// 64 KiB writes: with nobody capturing, with a capture elsewhere on the
// network, and with a capture on the flow's interface.
func BenchmarkFlowTransfer1MiB(b *testing.B) {
	for _, mode := range []string{"none", "elsewhere", "on-path"} {
		b.Run("capture="+mode, func(b *testing.B) {
			l := newTestLab(b)
			ln, err := l.cvmA.Listen(nfsPort)
			require.NoError(b, err)
			defer ln.Close()
			c := l.dial(cvmPriv, nfsPort)
			s, err := ln.Accept()
			require.NoError(b, err)
			defer s.Close()
			var seen int
			switch mode {
			case "elsewhere":
				defer l.cvmB.Capture(func(Packet) { seen++ })()
			case "on-path":
				defer l.host.Interface("vmk1").Capture(func(Packet) { seen++ })()
			}
			const total = 1 << 20
			chunk := make([]byte, 64<<10)
			done := make(chan error)
			go func() {
				buf := make([]byte, total)
				for {
					_, err := io.ReadFull(s, buf)
					done <- err
					if err != nil {
						return
					}
				}
			}()
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				for range total / len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			if mode == "on-path" && seen == 0 {
				b.Fatal("the capture saw nothing")
			}
		})
	}
}
