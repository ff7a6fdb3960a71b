package fabric

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
)

// testLab is seed 001's cluster, cut down: ESXi host A with vmk0 on the
// public VLAN and vmk1 on its private vSwitchNutanix, its local CVM A, a
// remote CVM B (both "act as a router": AcceptAny), the VLAN's gateway (an
// SVI: answers with TTL 255, forwards nothing) and a plain filer that
// accepts only its ingress interface's address.
type testLab struct {
	t     testing.TB
	nw    *Network
	clk   *clockwork.FakeClock
	host  *Node
	rt    *RouteTable
	cvmA  *Node
	cvmB  *Node
	gw    *Node
	filer *Node
}

var (
	aVmk0   = netip.MustParseAddr("192.168.1.24")
	aVmk1   = netip.MustParseAddr("192.168.5.1")
	gwAddr  = netip.MustParseAddr("192.168.1.1")
	cvmAPub = netip.MustParseAddr("192.168.1.27")
	cvmBPub = netip.MustParseAddr("192.168.1.28")
	cvmPriv = netip.MustParseAddr("192.168.5.2")
	filerIP = netip.MustParseAddr("192.168.1.50")
	filerSt = netip.MustParseAddr("10.0.0.50")
	nobody  = netip.MustParseAddr("192.168.1.99")
	host32  = netip.MustParsePrefix("192.168.5.2/32")
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func mac(b byte) net.HardwareAddr { return net.HardwareAddr{0x00, 0x50, 0x56, 0, 0, b} }

func newTestLab(t testing.TB) *testLab {
	t.Helper()
	clk := clock.NewFake()
	nw := New(WithClock(clk), WithTransport(MemTransport{Clock: clk}))
	l := &testLab{t: t, nw: nw, clk: clk}
	l.host = l.node(NodeConfig{Name: "esx-a"},
		InterfaceConfig{Name: "vmk0", Addr: pfx("192.168.1.24/24"), MAC: mac(0x10), Segment: "public"},
		InterfaceConfig{Name: "vmk1", Addr: pfx("192.168.5.1/24"), MAC: mac(0x11), Segment: "a/vSwitchNutanix"},
	)
	l.rt = NewRouteTable(l.host.Interfaces, l.host.Reevaluate)
	l.host.SetRouter(l.rt)
	l.cvmA = l.node(NodeConfig{Name: "cvm-a", AcceptAny: true},
		InterfaceConfig{Name: "eth0", Addr: pfx("192.168.1.27/24"), MAC: mac(0x27), Segment: "public"},
		InterfaceConfig{Name: "eth1", Addr: pfx("192.168.5.2/24"), MAC: mac(0x52), Segment: "a/vSwitchNutanix"},
		InterfaceConfig{Name: "eth1:1", Addr: pfx("192.168.5.254/24"), MAC: mac(0x52), Segment: "a/vSwitchNutanix"},
	)
	l.cvmB = l.node(NodeConfig{Name: "cvm-b", AcceptAny: true},
		InterfaceConfig{Name: "eth0", Addr: pfx("192.168.1.28/24"), MAC: mac(0x28), Segment: "public"},
		InterfaceConfig{Name: "eth1", Addr: pfx("192.168.5.2/24"), MAC: mac(0x62), Segment: "b/vSwitchNutanix"},
	)
	l.gw = l.node(NodeConfig{Name: "gw", TTL: 255},
		InterfaceConfig{Name: "vlan1", Addr: pfx("192.168.1.1/24"), MAC: mac(0x01), Segment: "public"},
	)
	l.filer = l.node(NodeConfig{Name: "filer"},
		InterfaceConfig{Name: "eth0", Addr: pfx("192.168.1.50/24"), MAC: mac(0x50), Segment: "public"},
		InterfaceConfig{Name: "eth1", Addr: pfx("10.0.0.50/24"), MAC: mac(0x51), Segment: "storage"},
	)
	require.NoError(t, l.rt.SetDefault(gwAddr))
	return l
}

func (l *testLab) node(cfg NodeConfig, ifs ...InterfaceConfig) *Node {
	l.t.Helper()
	n, err := l.nw.AddNode(cfg)
	require.NoError(l.t, err)
	for _, c := range ifs {
		_, err := n.AddInterface(c)
		require.NoError(l.t, err)
	}
	return n
}

// ctx returns a context that bounds a test's waits on other goroutines;
// it never decides an outcome.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// echoServer listens on port and echoes every accepted flow until it ends.
func echoServer(t testing.TB, n *Node, port uint16) *Listener {
	t.Helper()
	ln, err := n.Listen(port)
	require.NoError(t, err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dial opens a flow from the host to dst:port over its routing table.
func (l *testLab) dial(dst netip.Addr, port uint16) net.Conn {
	l.t.Helper()
	c, err := l.host.Dial(testCtx(l.t), netip.AddrPortFrom(dst, port), DialOptions{})
	require.NoError(l.t, err)
	l.t.Cleanup(func() { c.Close() })
	return c
}

// accept opens a flow from the host to dst:port and returns both ends.
func (l *testLab) pair(dst netip.Addr, srv *Node, port uint16) (client, server net.Conn) {
	l.t.Helper()
	ln, err := srv.Listen(port)
	require.NoError(l.t, err)
	l.t.Cleanup(func() { ln.Close() })
	client = l.dial(dst, port)
	server, err = ln.Accept()
	require.NoError(l.t, err)
	l.t.Cleanup(func() { server.Close() })
	return client, server
}

// roundTrip writes msg on a and reads it back on b.
func roundTrip(t testing.TB, a, b net.Conn, msg string) {
	t.Helper()
	_, err := a.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

// readErr reads once from c and returns the error. It is for reads that
// must fail at once; a read that blocks fails the test after a while rather
// than hanging it.
func readErr(c net.Conn) error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 64))
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		c.(*Conn).carrier.Reset() // unblock the reader
		<-done
		return errors.New("read blocked")
	}
}

// stalled asserts that nothing arrives on c within d of the fake clock:
// nothing is readable before or after, and a read with a deadline times
// out instead of returning data or EOF. The read alone would prove
// nothing: a deadline already past fails a read before it looks at the
// data.
func (l *testLab) stalled(c net.Conn, d time.Duration) {
	l.t.Helper()
	require.Zero(l.t, readable(c), "something arrived")
	defer func() { require.Zero(l.t, readable(c), "something arrived") }()
	require.NoError(l.t, c.SetReadDeadline(l.clk.Now().Add(d)))
	done := make(chan error, 1)
	go func() { done <- readErr(c) }()
	l.clk.Advance(d)
	select {
	case err := <-done:
		require.ErrorIs(l.t, err, os.ErrDeadlineExceeded)
	case <-testCtx(l.t).Done():
		l.t.Fatal("read did not time out")
	}
	require.NoError(l.t, c.SetReadDeadline(time.Time{}))
}

func netipPort(a netip.Addr, p uint16) netip.AddrPort { return netip.AddrPortFrom(a, p) }

// readable is how many bytes a read on c would return now, without
// reading them: none while the flow is paused or reset, nor while they are
// still on the wire; -1 for the EOF of a peer that closed.
func readable(c net.Conn) int {
	e := c.(*Conn).carrier.(*memEnd)
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.paused, l.reset, l.closed[e.side]:
		return 0
	case l.buf[e.other()].Len() > 0:
		return l.arrivedLocked(e.other())
	case l.closed[e.other()]:
		return -1
	}
	return 0
}
