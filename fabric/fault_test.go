package fabric

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withRouter adds a forwarding node between the public VLAN and the
// filer's storage network, and routes the host's storage traffic through
// it.
func (l *testLab) withRouter() *Node {
	l.t.Helper()
	r := l.node(NodeConfig{Name: "router", Forwarding: true},
		InterfaceConfig{Name: "ge0", Addr: pfx("192.168.1.254/24"), MAC: mac(0xfe), Segment: "public"},
		InterfaceConfig{Name: "ge1", Addr: pfx("10.0.0.1/24"), MAC: mac(0xf1), Segment: "storage"},
	)
	r.SetRouter(NewRouteTable(r.Interfaces, r.Reevaluate))
	require.NoError(l.t, l.rt.Add(pfx("10.0.0.0/24"), ip("192.168.1.254")))
	return r
}

// blackholed asserts what a blackholing fault does to the host's traffic
// to dst: the open flow (c, s) stalls both ways while what is written
// waits, an echo gets no reply, and a dial attempt neither fails nor
// connects: it waits for a network change, without an ARP timer.
func (l *testLab) blackholed(c, s net.Conn, dst netip.Addr) {
	l.t.Helper()
	_, err := c.Write([]byte("during"))
	require.NoError(l.t, err, "a stalled flow buffers, as TCP does")
	_, err = s.Write([]byte("reply"))
	require.NoError(l.t, err)
	l.stalled(s, time.Minute)
	l.stalled(c, time.Minute)
	require.Len(l.t, l.host.Flows(), 1, "no RST, no FIN: the flow stays open")

	got, err := l.host.Echo(EchoRequest{Dst: dst})
	require.NoError(l.t, err, "the request leaves")
	require.Nil(l.t, got, "nothing comes back")

	conn, w, err := l.host.dial(testCtx(l.t), netip.AddrPortFrom(dst, nfsPort), DialOptions{})
	require.NoError(l.t, err)
	require.Nil(l.t, conn)
	require.NotNil(l.t, w.changed, "the dial waits for the network to change")
	require.False(l.t, w.arp, "no ARP timeout: the dial waits for its context")
}

// healed asserts that the stalled flow delivers what blackholed wrote, and
// carries on.
func (l *testLab) healed(c, s net.Conn) {
	l.t.Helper()
	for _, x := range []struct {
		r    net.Conn
		want string
	}{{s, "during"}, {c, "reply"}} {
		buf := make([]byte, len(x.want))
		_, err := io.ReadFull(x.r, buf)
		require.NoError(l.t, err)
		require.Equal(l.t, x.want, string(buf))
	}
	roundTrip(l.t, c, s, "after")
	roundTrip(l.t, s, c, "after, back")
}

// TestBlackholingFaults: a carrier loss anywhere on the path, 100% loss,
// and a partition (also through a router) stall flows without a word, make
// dials wait and echoes go unanswered, and leave the routes alone; undoing
// the fault resumes the flow with what was written meanwhile.
func TestBlackholingFaults(t *testing.T) {
	tests := []struct {
		name   string
		router bool // the flow goes to the filer through a router
		dst    netip.Addr
		srv    func(l *testLab) *Node
		fault  func(l *testLab) (undo func())
	}{
		{
			name: "host's egress loses carrier",
			dst:  cvmPriv, srv: func(l *testLab) *Node { return l.cvmA },
			fault: func(l *testLab) func() {
				i := l.host.Interface("vmk1")
				i.SetCarrier(false)
				require.False(l.t, i.Carrier())
				require.True(l.t, i.Up(), "the interface stays administratively up")
				return func() { i.SetCarrier(true) }
			},
		},
		{
			name: "the CVM's ingress loses carrier",
			dst:  cvmPriv, srv: func(l *testLab) *Node { return l.cvmA },
			fault: func(l *testLab) func() {
				l.cvmA.Interface("eth1").SetCarrier(false)
				return func() { l.cvmA.Interface("eth1").SetCarrier(true) }
			},
		},
		{
			name: "the router's far side loses carrier", router: true,
			dst: filerSt, srv: func(l *testLab) *Node { return l.filer },
			fault: func(l *testLab) func() {
				l.nw.Node("router").Interface("ge1").SetCarrier(false)
				return func() { l.nw.Node("router").Interface("ge1").SetCarrier(true) }
			},
		},
		{
			name: "100% loss on the host's egress",
			dst:  cvmAPub, srv: func(l *testLab) *Node { return l.cvmA },
			fault: func(l *testLab) func() {
				l.host.Interface("vmk0").SetLoss(100)
				return func() { l.host.Interface("vmk0").SetLoss(0) }
			},
		},
		{
			name: "partition between neighbours",
			dst:  cvmPriv, srv: func(l *testLab) *Node { return l.cvmA },
			fault: func(l *testLab) func() {
				heal, err := l.nw.Partition("esx-a", "cvm-a")
				require.NoError(l.t, err)
				return heal
			},
		},
		{
			name: "partition between the ends of a routed path", router: true,
			dst: filerSt, srv: func(l *testLab) *Node { return l.filer },
			fault: func(l *testLab) func() {
				heal, err := l.nw.Partition("filer", "esx-a")
				require.NoError(l.t, err)
				return heal
			},
		},
		{
			name: "partition from the router", router: true,
			dst: filerSt, srv: func(l *testLab) *Node { return l.filer },
			fault: func(l *testLab) func() {
				heal, err := l.nw.Partition("esx-a", "router")
				require.NoError(l.t, err)
				return heal
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLab(t)
			if tt.router {
				l.withRouter()
			}
			c, s := l.pair(tt.dst, tt.srv(l), nfsPort)
			roundTrip(t, c, s, "before")
			routes := l.rt.Routes()
			egress, err := l.rt.Lookup(tt.dst)
			require.NoError(t, err)

			undo := tt.fault(l)
			require.Equal(t, routes, l.rt.Routes(), "no route is removed")
			got, err := l.rt.Lookup(tt.dst)
			require.NoError(t, err)
			require.Equal(t, egress, got, "traffic still chooses the same egress")
			l.blackholed(c, s, tt.dst)

			// A dial waiting for its context completes when the fault
			// goes, as a retransmitted SYN does.
			done := make(chan error, 1)
			go func() {
				c, err := l.host.Dial(testCtx(t), netip.AddrPortFrom(tt.dst, nfsPort), DialOptions{})
				if err == nil {
					c.Close()
				}
				done <- err
			}()
			undo()
			l.healed(c, s)
			require.NoError(t, <-done)
			got2, err := l.host.Echo(EchoRequest{Dst: tt.dst})
			require.NoError(t, err)
			require.NotNil(t, got2)
		})
	}
}

// TestCarrierForcedEgress: vmkping -I through an interface without carrier
// gets no reply; the administrative state still fails at once.
func TestCarrierForcedEgress(t *testing.T) {
	l := newTestLab(t)
	vmk1 := l.host.Interface("vmk1")
	vmk1.SetCarrier(false)
	got, err := l.host.Echo(EchoRequest{Dst: cvmPriv, Iface: vmk1})
	require.NoError(t, err)
	require.Nil(t, got)
	vmk1.SetUp(false)
	_, err = l.host.Echo(EchoRequest{Dst: cvmPriv, Iface: vmk1})
	require.ErrorIs(t, err, ErrNetDown)
}

// TestCarrierAliasTakesOver: of two interfaces with one address on a
// segment, the one with a link answers ARP.
func TestCarrierAliasTakesOver(t *testing.T) {
	l := newTestLab(t)
	_, err := l.cvmB.AddInterface(InterfaceConfig{Name: "eth9", Addr: pfx("192.168.5.2/24"), MAC: mac(0x99), Segment: "a/vSwitchNutanix"})
	require.NoError(t, err)
	echoServer(t, l.cvmA, nfsPort)
	echoServer(t, l.cvmB, nfsPort)
	target := func() string {
		c := l.dial(cvmPriv, nfsPort)
		defer c.Close()
		return c.(*Conn).Info().Target
	}
	require.Equal(t, "cvm-a", target())
	l.cvmA.Interface("eth1").SetCarrier(false)
	require.Equal(t, "cvm-b", target())
}

// TestEchoLatency: injected latency is in the RTT once per crossing, both
// ways; only echoes through the interface see it.
func TestEchoLatency(t *testing.T) {
	l := newTestLab(t)
	oneHop := 2*DefaultHopLatency + 40*time.Microsecond + 56*time.Nanosecond
	rtt := func(dst netip.Addr) time.Duration {
		got, err := l.host.Echo(EchoRequest{Dst: dst})
		require.NoError(t, err)
		require.NotNil(t, got)
		return got.RTT
	}
	l.host.Interface("vmk0").SetLatency(50 * time.Millisecond)
	require.Equal(t, 50*time.Millisecond, l.host.Interface("vmk0").Latency())
	assert.Equal(t, oneHop+100*time.Millisecond, rtt(cvmAPub))
	assert.Equal(t, oneHop, rtt(cvmPriv), "vmk1 is not delayed")
	l.cvmA.Interface("eth0").SetLatency(10 * time.Millisecond)
	assert.Equal(t, oneHop+120*time.Millisecond, rtt(cvmAPub))
	assert.Equal(t, oneHop+100*time.Millisecond, rtt(cvmBPub))

	// Through a router: each interface crossed counts.
	r := l.withRouter()
	r.Interface("ge1").SetLatency(time.Millisecond)
	got, err := l.host.Echo(EchoRequest{Dst: filerSt})
	require.NoError(t, err)
	assert.Equal(t, 2*(2*DefaultHopLatency+51*time.Millisecond)+40*time.Microsecond+56*time.Nanosecond, got.RTT)
}

// arrivesAfter asserts that nothing is readable on r before d of the fake
// clock has passed, and that want is read once it has.
func (l *testLab) arrivesAfter(r net.Conn, d time.Duration, want string) {
	l.t.Helper()
	if d > time.Nanosecond {
		l.stalled(r, d-time.Nanosecond)
	}
	l.clk.Advance(time.Nanosecond)
	buf := make([]byte, len(want))
	_, err := io.ReadFull(r, buf)
	require.NoError(l.t, err)
	require.Equal(l.t, want, string(buf))
}

// TestFlowLatency: with latency on the path a dial completes one round
// trip later and every write arrives one way later, in order, with the
// FIN behind the data; a real clock would just wait.
func TestFlowLatency(t *testing.T) {
	l := newTestLab(t)
	ln, err := l.cvmA.Listen(nfsPort)
	require.NoError(t, err)
	defer ln.Close()
	const d = 50 * time.Millisecond
	l.host.Interface("vmk0").SetLatency(d)

	ctx := testCtx(t)
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmAPub, nfsPort), DialOptions{})
		assert.NoError(t, err)
		dialed <- c
	}()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
	l.clk.Advance(2*d - time.Nanosecond)
	select {
	case <-dialed:
		t.Fatal("the dial completed before the SYN-ACK was back")
	default:
	}
	l.clk.Advance(time.Nanosecond)
	c := <-dialed
	require.NotNil(t, c)
	defer c.Close()

	_, err = c.Write([]byte("call"))
	require.NoError(t, err)
	l.arrivesAfter(s, d, "call")
	_, err = s.Write([]byte("reply"))
	require.NoError(t, err)
	l.arrivesAfter(c, d, "reply")

	// Bytes written after the latency is gone do not overtake those
	// still on the wire.
	_, err = c.Write([]byte("a"))
	require.NoError(t, err)
	l.host.Interface("vmk0").SetLatency(0)
	_, err = c.Write([]byte("b"))
	require.NoError(t, err)
	l.arrivesAfter(s, d, "ab")
	roundTrip(t, c, s, "no delay now")

	// The FIN follows the data.
	l.host.Interface("vmk0").SetLatency(d)
	_, err = c.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	l.arrivesAfter(s, d, "bye")
	_, err = s.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}

// TestFlowLatencyDialCancelled: a dial cancelled while its set-up is
// delayed resets the flow.
func TestFlowLatencyDialCancelled(t *testing.T) {
	l := newTestLab(t)
	ln, err := l.cvmA.Listen(nfsPort)
	require.NoError(t, err)
	defer ln.Close()
	l.host.Interface("vmk0").SetLatency(time.Second)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmAPub, nfsPort), DialOptions{})
		done <- err
	}()
	s, err := ln.Accept()
	require.NoError(t, err)
	require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.ErrorIs(t, readErr(s), ErrConnReset)
	require.Empty(t, l.host.Flows())
}

// TestEchoLoss: the drops follow a PRNG seeded per interface, so a test
// sees the same ones on every run; the rate is about the one set.
func TestEchoLoss(t *testing.T) {
	l := newTestLab(t)
	vmk0 := l.host.Interface("vmk0")
	pattern := func() []bool {
		vmk0.SetLoss(30)
		var lost []bool
		for range 200 {
			got, err := l.host.Echo(EchoRequest{Dst: cvmAPub})
			require.NoError(t, err)
			lost = append(lost, got == nil)
		}
		return lost
	}
	first := pattern()
	require.Equal(t, first, pattern(), "the same drops after setting the loss again")
	n := 0
	for _, x := range first {
		if x {
			n++
		}
	}
	assert.InDelta(t, 60, n, 25, "about 30%% of 200")
	assert.Equal(t, 30.0, vmk0.Loss())

	got, err := l.host.Echo(EchoRequest{Dst: cvmPriv})
	require.NoError(t, err)
	require.NotNil(t, got, "vmk1 loses nothing")
	vmk0.SetLoss(0)
	for range 50 {
		got, err := l.host.Echo(EchoRequest{Dst: cvmAPub})
		require.NoError(t, err)
		require.NotNil(t, got)
	}
}

// TestResendDelay: a lost segment waits an RTO of 200 ms, doubling while
// the resends are lost too, capped.
func TestResendDelay(t *testing.T) {
	l := newTestLab(t)
	vmk0 := l.host.Interface("vmk0")
	p := path{ifaces: []*Interface{vmk0, l.cvmA.Interface("eth0")}}
	require.Zero(t, p.resendDelay(rtoMin), "no loss, no delay")

	vmk0.SetLoss(50)
	seen := map[time.Duration]int{}
	var seq []time.Duration
	for range 400 {
		d := p.resendDelay(rtoMin)
		seq = append(seq, d)
		seen[d]++
	}
	for d := range seen {
		k := d / rtoMin
		require.Equal(t, d, k*rtoMin)
		require.Zero(t, (k+1)&k, "%v is 200 ms × (2^k − 1)", d)
	}
	require.Positive(t, seen[0])
	require.Positive(t, seen[rtoMin], "lost once")
	require.Positive(t, seen[3*rtoMin], "lost twice: 200 + 400 ms")
	vmk0.SetLoss(50)
	for _, want := range seq {
		require.Equal(t, want, p.resendDelay(rtoMin), "reproducible")
	}

	// Every send lost (the seed's first 15 draws at 99.99%): the RTO
	// doubles up to its cap.
	vmk0.SetLoss(99.99)
	want := rtoMin * (1<<10 - 1) // 200 ms … 102.4 s
	want += (maxResends - 10) * rtoMax
	require.Equal(t, want, p.resendDelay(rtoMin))
}

// TestFlowLoss: a write through a lossy interface arrives after the
// resend delay its draws make.
func TestFlowLoss(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmAPub, l.cvmA, nfsPort)
	vmk0 := l.host.Interface("vmk0")
	vmk0.SetLoss(90)
	d := c.(*Conn).path.resendDelay(rtoMin)
	require.Positive(t, d, "the seed's first draw is a loss at 90%")
	vmk0.SetLoss(90) // the same draws again, for the write
	_, err := c.Write([]byte("late"))
	require.NoError(t, err)
	l.arrivesAfter(s, d, "late")
}

func TestPartitionErrors(t *testing.T) {
	l := newTestLab(t)
	_, err := l.nw.Partition("esx-a", "nosuch")
	require.ErrorContains(t, err, `no node "nosuch"`)
	_, err = l.nw.Partition("nosuch", "esx-a")
	require.ErrorContains(t, err, `no node "nosuch"`)
	_, err = l.nw.Partition("esx-a", "esx-a")
	require.Error(t, err)
}

// TestPartitionBothWays: flows the CVM originates stall too; other nodes
// are unaffected; two partitions of one pair heal one at a time, and heal
// is idempotent.
func TestPartitionBothWays(t *testing.T) {
	l := newTestLab(t)
	cvmRT := NewRouteTable(l.cvmA.Interfaces, l.cvmA.Reevaluate)
	l.cvmA.SetRouter(cvmRT)
	lnHost, err := l.host.Listen(22)
	require.NoError(t, err)
	defer lnHost.Close()
	fromCVM, err := l.cvmA.Dial(testCtx(t), netip.AddrPortFrom(aVmk0, 22), DialOptions{})
	require.NoError(t, err)
	defer fromCVM.Close()
	atHost, err := lnHost.Accept()
	require.NoError(t, err)
	defer atHost.Close()
	toB, atB := l.pair(cvmBPub, l.cvmB, nfsPort)

	heal1, err := l.nw.Partition("cvm-a", "esx-a")
	require.NoError(t, err)
	heal2, err := l.nw.Partition("esx-a", "cvm-a")
	require.NoError(t, err)
	_, err = fromCVM.Write([]byte("ssh"))
	require.NoError(t, err)
	l.stalled(atHost, time.Second)
	roundTrip(t, toB, atB, "CVM B is not cut off")

	heal1()
	heal1()
	l.stalled(atHost, time.Second)
	heal2()
	buf := make([]byte, 3)
	_, err = io.ReadFull(atHost, buf)
	require.NoError(t, err)
	require.Equal(t, "ssh", string(buf))
}

// TestClearFaults: everything goes at once and flows resume; with nothing
// broken, ClearFaults does not even re-evaluate.
func TestClearFaults(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	vmk0, vmk1, eth0 := l.host.Interface("vmk0"), l.host.Interface("vmk1"), l.cvmB.Interface("eth0")
	vmk1.SetCarrier(false)
	vmk0.SetLatency(time.Second)
	eth0.SetLoss(100)
	heal, err := l.nw.Partition("esx-a", "gw")
	require.NoError(t, err)
	_, err = c.Write([]byte("during"))
	require.NoError(t, err)
	l.stalled(s, time.Second)

	l.nw.ClearFaults()
	assert.True(t, vmk1.Carrier())
	assert.Zero(t, vmk0.Latency())
	assert.Zero(t, eth0.Loss())
	assert.False(t, l.nw.partitioned(l.host, l.gw))
	buf := make([]byte, 6)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	for _, dst := range []netip.Addr{cvmAPub, cvmBPub, gwAddr} {
		got, err := l.host.Echo(EchoRequest{Dst: dst})
		require.NoError(t, err)
		require.NotNil(t, got, dst)
		require.Less(t, got.RTT, time.Millisecond, dst)
	}

	// A heal after ClearFaults must not undo a newer partition.
	heal2, err := l.nw.Partition("esx-a", "gw")
	require.NoError(t, err)
	heal()
	assert.True(t, l.nw.partitioned(l.host, l.gw))
	heal2()

	changed := l.nw.changed
	l.nw.ClearFaults()
	require.Equal(t, changed, l.nw.changed, "nothing was broken: no re-evaluation")
}

func BenchmarkClearFaults(b *testing.B) {
	l := newTestLab(b)
	echoServer(b, l.cvmA, nfsPort)
	for range 16 {
		l.dial(cvmAPub, nfsPort)
	}
	b.Run("nothing", func(b *testing.B) {
		for b.Loop() {
			l.nw.ClearFaults()
		}
	})
	b.Run("link down", func(b *testing.B) {
		for b.Loop() {
			l.host.Interface("vmk1").SetCarrier(false)
			l.nw.ClearFaults()
		}
	})
}

// TestBatch: changes that cancel out inside a batch leave the flows alone;
// a net change is applied once, at the end.
func TestBatch(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	changed := l.nw.changed
	l.nw.Batch(func() {
		require.NoError(t, l.rt.Add(host32, cvmBPub))
		l.nw.Batch(func() { l.host.Interface("vmk1").SetUp(false) })
		require.Equal(t, changed, l.nw.changed, "nothing re-evaluated inside the batch")
		l.host.Interface("vmk1").SetUp(true)
		require.NoError(t, l.rt.Delete(host32, cvmBPub))
	})
	require.NotEqual(t, changed, l.nw.changed, "re-evaluated at the end")
	roundTrip(t, c, s, "the flow never saw the route")

	l.nw.Batch(func() {
		require.NoError(t, l.rt.Add(host32, cvmBPub))
		roundTrip(t, c, s, "not yet")
	})
	require.ErrorIs(t, readErr(c), ErrConnReset)
}

// TestInterfaceSeq: an interface re-created with its old creation order is
// again the first-created egress of its subnet, and listed in its place.
func TestInterfaceSeq(t *testing.T) {
	l := newTestLab(t)
	vmk0 := l.host.Interface("vmk0")
	seq := vmk0.Seq()
	_, err := l.host.AddInterface(InterfaceConfig{Name: "vmk2", Addr: pfx("192.168.1.30/24"), Segment: "public"})
	require.NoError(t, err)
	require.NoError(t, l.host.RemoveInterface("vmk0"))
	r, err := l.rt.Lookup(cvmAPub)
	require.NoError(t, err)
	require.Equal(t, "vmk2", r.Iface.Name())

	again, err := l.host.AddInterface(InterfaceConfig{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "public", Seq: seq})
	require.NoError(t, err)
	require.Equal(t, seq, again.Seq())
	r, err = l.rt.Lookup(cvmAPub)
	require.NoError(t, err)
	require.Equal(t, "vmk0", r.Iface.Name())
	var names []string
	for _, i := range l.host.Interfaces() {
		names = append(names, i.Name())
	}
	require.Equal(t, []string{"vmk0", "vmk1", "vmk2"}, names)

	// A Seq never handed out is ignored: the interface comes last.
	i, err := l.host.AddInterface(InterfaceConfig{Name: "vmk3", Segment: "public", Seq: 1000})
	require.NoError(t, err)
	require.Greater(t, i.Seq(), l.host.Interface("vmk2").Seq())
}
