package fabric

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const nfsPort = 2049

func TestDialModelledAddresses(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(l *testLab)
		dst      netip.Addr
		srv      func(l *testLab) *Node
		src      netip.Addr
		egress   string
		nextHop  string
		target   string
		ingressA netip.Addr // what the server sees as its local address
	}{
		{
			name: "local CVM over vmk1", dst: cvmPriv,
			srv: func(l *testLab) *Node { return l.cvmA },
			src: aVmk1, egress: "vmk1", nextHop: "192.168.5.2", target: "cvm-a",
		},
		{
			name:  "seed 001: vmk0 to CVM B, source 192.168.1.24",
			setup: func(l *testLab) { require.NoError(l.t, l.rt.Add(host32, cvmBPub)) },
			dst:   cvmPriv,
			srv:   func(l *testLab) *Node { return l.cvmB },
			src:   aVmk0, egress: "vmk0", nextHop: "192.168.1.28", target: "cvm-b",
		},
		{
			name: "CVM A's public address", dst: cvmAPub,
			srv: func(l *testLab) *Node { return l.cvmA },
			src: aVmk0, egress: "vmk0", nextHop: "192.168.1.27", target: "cvm-a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLab(t)
			if tt.setup != nil {
				tt.setup(l)
			}
			c, s := l.pair(tt.dst, tt.srv(l), nfsPort)
			roundTrip(t, c, s, "NULL call")
			roundTrip(t, s, c, "NULL reply")

			local := c.LocalAddr().(*net.TCPAddr).AddrPort()
			require.Equal(t, tt.src, local.Addr())
			require.GreaterOrEqual(t, local.Port(), uint16(ephemeralFirst))
			require.Equal(t, netip.AddrPortFrom(tt.dst, nfsPort), c.RemoteAddr().(*net.TCPAddr).AddrPort())
			require.Equal(t, local, s.RemoteAddr().(*net.TCPAddr).AddrPort(), "server sees the egress address")
			require.Equal(t, netip.AddrPortFrom(tt.dst, nfsPort), s.LocalAddr().(*net.TCPAddr).AddrPort())

			require.Equal(t, []FlowInfo{{
				Local: local, Remote: netip.AddrPortFrom(tt.dst, nfsPort),
				Egress: tt.egress, NextHop: tt.nextHop, Target: tt.target,
			}}, l.host.Flows())
			require.NoError(t, c.Close())
			require.Empty(t, l.host.Flows())
		})
	}
}

func TestDialErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(l *testLab)
		dst   netip.AddrPort
		opt   func(l *testLab) DialOptions
		err   error
	}{
		{
			name: "nobody listens: RST",
			dst:  netip.AddrPortFrom(cvmAPub, 22),
			err:  ErrConnRefused,
		},
		{
			name:  "no route",
			setup: func(l *testLab) { require.NoError(l.t, l.rt.Delete(pfx("0.0.0.0/0"), netip.Addr{})) },
			dst:   netip.AddrPortFrom(ip("8.8.8.8"), 53),
			err:   ErrNetUnreachable,
		},
		{
			name:  "forced egress down",
			setup: func(l *testLab) { l.host.Interface("vmk1").SetUp(false) },
			dst:   netip.AddrPortFrom(cvmPriv, nfsPort),
			opt:   func(l *testLab) DialOptions { return DialOptions{Iface: l.host.Interface("vmk1")} },
			err:   ErrNetDown,
		},
		{
			name:  "powered-off sender",
			setup: func(l *testLab) { l.host.SetPowered(false) },
			dst:   netip.AddrPortFrom(cvmAPub, nfsPort),
			err:   ErrPoweredOff,
		},
		{
			name: "interface of another node",
			dst:  netip.AddrPortFrom(cvmAPub, nfsPort),
			opt:  func(l *testLab) DialOptions { return DialOptions{Iface: l.cvmB.Interface("eth0")} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLab(t)
			echoServer(t, l.cvmA, nfsPort)
			if tt.setup != nil {
				tt.setup(l)
			}
			var o DialOptions
			if tt.opt != nil {
				o = tt.opt(l)
			}
			c, err := l.host.Dial(testCtx(t), tt.dst, o)
			require.Error(t, err)
			require.Nil(t, c)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
			}
			require.Empty(t, l.host.Flows())
		})
	}
}

func TestDialCancelledContext(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmAPub, nfsPort), DialOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

// TestDialARPFailure: nobody owns the next hop and it is not cached; Dial
// reports Host is down once ARP gives up, on the network's clock.
func TestDialARPFailure(t *testing.T) {
	l := newTestLab(t)
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		_, err := l.host.Dial(ctx, netip.AddrPortFrom(nobody, nfsPort), DialOptions{})
		done <- err
	}()
	require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
	l.clk.Advance(arpTimeout - time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Dial returned before the ARP timeout: %v", err)
	default:
	}
	l.clk.Advance(time.Millisecond)
	require.ErrorIs(t, <-done, ErrHostDown)

	// ctx cuts the ARP wait short, and the timer is released.
	ctx2, cancel := context.WithCancel(ctx)
	go func() {
		_, err := l.host.Dial(ctx2, netip.AddrPortFrom(nobody, nfsPort), DialOptions{})
		done <- err
	}()
	require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, l.clk.BlockUntilContext(ctx, 0))
}

// TestDialPoweredOffTarget: the host still has the CVM's MAC cached, so the
// SYN leaves and nothing answers; only ctx ends the wait. Behind a router the
// same happens with no cache at all.
func TestDialPoweredOffTarget(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)
	c := l.dial(cvmPriv, nfsPort)
	require.NoError(t, c.Close())
	l.cvmA.SetPowered(false)

	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmPriv, nfsPort), DialOptions{})
		done <- err
	}()
	// No clock timer is involved: the ARP timeout does not apply.
	l.clk.Advance(time.Hour)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Empty(t, l.host.Flows())

	// Once the cache entry expires, ARP fails instead.
	ctx = testCtx(t)
	go func() {
		_, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmPriv, nfsPort), DialOptions{})
		done <- err
	}()
	require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
	l.clk.Advance(arpTimeout)
	require.ErrorIs(t, <-done, ErrHostDown)
}

func TestDialThroughRouterToDeadTarget(t *testing.T) {
	l := newTestLab(t)
	r := l.node(NodeConfig{Name: "router", Forwarding: true},
		InterfaceConfig{Name: "ge0", Addr: pfx("192.168.1.254/24"), MAC: mac(0xfe), Segment: "public"},
		InterfaceConfig{Name: "ge1", Addr: pfx("10.0.0.1/24"), MAC: mac(0xf1), Segment: "storage"},
	)
	r.SetRouter(NewRouteTable(r.Interfaces, r.Reevaluate))
	require.NoError(t, l.rt.Add(pfx("10.0.0.0/24"), ip("192.168.1.254")))
	echoServer(t, l.filer, nfsPort)

	c := l.dial(filerSt, nfsPort)
	require.Equal(t, "router", c.(*Conn).path.hop.node.name)
	require.Equal(t, "filer", c.(*Conn).path.target.name)

	l.filer.SetPowered(false)
	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Millisecond)
	defer cancel()
	_, err := l.host.Dial(ctx, netip.AddrPortFrom(filerSt, nfsPort), DialOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestEphemeralPorts(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)

	l.host.mu.Lock()
	l.host.ports = 65535
	l.host.mu.Unlock()
	a := l.dial(cvmPriv, nfsPort)
	b := l.dial(cvmPriv, nfsPort)
	require.Equal(t, 65535, a.LocalAddr().(*net.TCPAddr).Port)
	require.Equal(t, ephemeralFirst, b.LocalAddr().(*net.TCPAddr).Port, "wraps to the start of the range")

	// A port still held by an open flow is skipped.
	l.host.mu.Lock()
	l.host.ports = 65535
	l.host.mu.Unlock()
	c := l.dial(cvmPriv, nfsPort)
	require.Equal(t, ephemeralFirst+1, c.LocalAddr().(*net.TCPAddr).Port)

	// A closed flow gives its port back.
	require.NoError(t, a.Close())
	l.host.mu.Lock()
	l.host.ports = 65535
	l.host.mu.Unlock()
	d := l.dial(cvmPriv, nfsPort)
	require.Equal(t, 65535, d.LocalAddr().(*net.TCPAddr).Port)
}

func TestFixedLocalPort(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)
	echoServer(t, l.cvmA, 111)
	ctx := testCtx(t)
	dst := netip.AddrPortFrom(cvmPriv, nfsPort)
	c, err := l.host.Dial(ctx, dst, DialOptions{LocalPort: 800})
	require.NoError(t, err)
	require.Equal(t, netip.AddrPortFrom(aVmk1, 800), c.LocalAddr().(*net.TCPAddr).AddrPort())

	_, err = l.host.Dial(ctx, dst, DialOptions{LocalPort: 800})
	require.ErrorIs(t, err, ErrAddrInUse, "same 4-tuple")

	c2, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmPriv, 111), DialOptions{LocalPort: 800})
	require.NoError(t, err, "another remote port makes another 4-tuple")
	require.NoError(t, c2.Close())

	require.NoError(t, c.Close())
	c, err = l.host.Dial(ctx, dst, DialOptions{LocalPort: 800})
	require.NoError(t, err, "the port is free again after Close")
	require.NoError(t, c.Close())
}

func TestListen(t *testing.T) {
	l := newTestLab(t)
	ln, err := l.cvmA.Listen(nfsPort)
	require.NoError(t, err)
	_, err = l.cvmA.Listen(nfsPort)
	require.ErrorIs(t, err, ErrAddrInUse)
	require.Equal(t, "0.0.0.0:2049", ln.Addr().String())
	require.NoError(t, ln.Close())
	_, err = ln.Accept()
	require.ErrorIs(t, err, ErrClosed)
	ln, err = l.cvmA.Listen(nfsPort)
	require.NoError(t, err, "the port is free after Close")
	require.NoError(t, ln.Close())

	l.cvmA.SetPowered(false)
	_, err = l.cvmA.Listen(nfsPort)
	require.ErrorIs(t, err, ErrPoweredOff)
}

// TestAcceptQueueFull: a full backlog drops SYNs (the client waits) rather
// than refusing them; room in the queue lets the next one in.
func TestAcceptQueueFull(t *testing.T) {
	l := newTestLab(t)
	ln, err := l.cvmA.Listen(nfsPort)
	require.NoError(t, err)
	var conns []net.Conn
	for range acceptBacklog {
		conns = append(conns, l.dial(cvmAPub, nfsPort))
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		c, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmAPub, nfsPort), DialOptions{})
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Len(t, l.host.Flows(), acceptBacklog)

	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	extra := l.dial(cvmAPub, nfsPort)

	// Closing the listener resets what it queued and did not accept.
	require.NoError(t, ln.Close())
	require.ErrorIs(t, readErr(conns[1]), ErrConnReset)
	require.ErrorIs(t, readErr(extra), ErrConnReset)
	roundTrip(t, conns[0], s, "accepted before the close")
	require.Len(t, l.host.Flows(), 1)
}

func TestConcurrentDials(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)
	echoServer(t, l.cvmB, nfsPort)

	const n = 128
	var wg sync.WaitGroup
	ports := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			dst := cvmAPub
			if i%2 == 1 {
				dst = cvmPriv
			}
			c, err := l.host.Dial(testCtx(t), netip.AddrPortFrom(dst, nfsPort), DialOptions{})
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			msg := []byte("hello")
			_, err = c.Write(msg)
			assert.NoError(t, err)
			buf := make([]byte, len(msg))
			_, err = io.ReadFull(c, buf)
			assert.NoError(t, err)
			assert.Equal(t, msg, buf)
			ports <- c.LocalAddr().(*net.TCPAddr).Port
		})
	}
	// Re-evaluations that change nothing race with the dials harmlessly.
	for range 8 {
		wg.Go(l.host.Reevaluate)
	}
	wg.Wait()
	close(ports)
	seen := map[int]bool{}
	for p := range ports {
		require.False(t, seen[p], "port %d used twice", p)
		seen[p] = true
	}
	require.Len(t, seen, n)
	require.Empty(t, l.host.Flows())
}

// TestConcurrentDialsWithRouteFlaps races dials and traffic with a route
// that comes and goes. Every flow either works or is reset; none hangs, and
// none is left registered after it is closed.
func TestConcurrentDialsWithRouteFlaps(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)
	echoServer(t, l.cvmB, nfsPort)

	const n = 64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := l.host.Dial(testCtx(t), netip.AddrPortFrom(cvmPriv, nfsPort), DialOptions{})
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			msg := []byte("hello")
			if _, err := c.Write(msg); err != nil {
				assert.ErrorIs(t, err, ErrConnReset)
				return
			}
			buf := make([]byte, len(msg))
			if _, err := io.ReadFull(c, buf); err != nil {
				assert.ErrorIs(t, err, ErrConnReset)
				return
			}
			assert.Equal(t, msg, buf)
		})
	}
	wg.Go(func() {
		for range 20 {
			assert.NoError(t, l.rt.Add(host32, cvmBPub))
			assert.NoError(t, l.rt.Delete(host32, cvmBPub))
		}
	})
	wg.Wait()
	require.Empty(t, l.host.Flows())
}

// TestDialRetriesOnNetworkChange: a dial that nothing can answer (the local
// CVM powered off, its MAC still cached) completes as soon as seed 001's
// route sends it to a live CVM — a retransmitted SYN takes the new path —
// instead of waiting for its context.
func TestDialRetriesOnNetworkChange(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)
	echoServer(t, l.cvmB, nfsPort)
	c := l.dial(cvmPriv, nfsPort)
	require.NoError(t, c.Close())
	l.cvmA.SetPowered(false)

	ctx := testCtx(t)
	done := make(chan net.Conn, 1)
	go func() {
		c, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmPriv, nfsPort), DialOptions{})
		assert.NoError(t, err)
		done <- c
	}()
	select {
	case c := <-done:
		t.Fatalf("Dial to a dead CVM completed: %v", c)
	default:
	}
	require.NoError(t, l.rt.Add(pfx("192.168.5.2/32"), cvmBPub))
	c = <-done
	require.NotNil(t, c)
	assert.Equal(t, "cvm-b", c.(*Conn).Info().Target)
	assert.Equal(t, "192.168.1.24", c.LocalAddr().(*net.TCPAddr).IP.String())
	require.NoError(t, c.Close())
}

// TestDialARPRetriesOnPowerOn: while ARP for a dead next hop is pending,
// the node powering on makes the next attempt succeed before ARP gives up.
func TestDialARPRetriesOnPowerOn(t *testing.T) {
	l := newTestLab(t)
	echoServer(t, l.cvmA, nfsPort)
	l.cvmA.SetPowered(false) // nothing cached: ARP fails
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		c, err := l.host.Dial(ctx, netip.AddrPortFrom(cvmPriv, nfsPort), DialOptions{})
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	require.NoError(t, l.clk.BlockUntilContext(ctx, 1))
	l.cvmA.SetPowered(true)
	// Powered on, the CVM has no listener yet (its services restart):
	// the SYN is answered with RST.
	require.ErrorIs(t, <-done, ErrConnRefused)
}
