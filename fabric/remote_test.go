package fabric

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Two "processes" in one test: two Networks holding the same topology —
// ESXi host esx-a, CVM A on its private segment and the public VLAN, CVM
// B on the VLAN and a private segment of its own, both 192.168.5.2 — the
// host's run by one, the CVMs by the other, joined over loopback TCP.

const nfs = 2049

// remoteProc is one process of the pair.
type remoteProc struct {
	t    testing.TB
	nw   *Network
	ln   *killableListener
	addr string
	host *Node
	rt   *RouteTable
	cvmA *Node
	cvmB *Node
}

// buildRemoteTopo adds the pair's topology to nw.
func buildRemoteTopo(t testing.TB, nw *Network) *remoteProc {
	t.Helper()
	p := &remoteProc{t: t, nw: nw}
	add := func(cfg NodeConfig, ifs ...InterfaceConfig) *Node {
		n, err := nw.AddNode(cfg)
		require.NoError(t, err)
		for _, c := range ifs {
			_, err := n.AddInterface(c)
			require.NoError(t, err)
		}
		return n
	}
	p.host = add(NodeConfig{Name: "esx-a"},
		InterfaceConfig{Name: "vmk0", Addr: pfx("192.168.1.24/24"), MAC: mac(0x10), Segment: "public"},
		InterfaceConfig{Name: "vmk1", Addr: pfx("192.168.5.1/24"), MAC: mac(0x11), Segment: "a/vSwitchNutanix"},
	)
	p.rt = NewRouteTable(p.host.Interfaces, p.host.Reevaluate)
	p.host.SetRouter(p.rt)
	p.cvmA = add(NodeConfig{Name: "cvm-a", AcceptAny: true},
		InterfaceConfig{Name: "eth0", Addr: pfx("192.168.1.27/24"), MAC: mac(0x27), Segment: "public"},
		InterfaceConfig{Name: "eth1", Addr: pfx("192.168.5.2/24"), MAC: mac(0x52), Segment: "a/vSwitchNutanix"},
	)
	p.cvmB = add(NodeConfig{Name: "cvm-b", AcceptAny: true},
		InterfaceConfig{Name: "eth0", Addr: pfx("192.168.1.28/24"), MAC: mac(0x28), Segment: "public"},
		InterfaceConfig{Name: "eth1", Addr: pfx("192.168.5.2/24"), MAC: mac(0x62), Segment: "b/vSwitchNutanix"},
	)
	return p
}

// serve starts the process's fabric listener, at addr if given.
func (p *remoteProc) serve(addr string) {
	p.t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(p.t, err)
	p.ln = &killableListener{Listener: ln, conns: map[*trackedConn]struct{}{},
		accepted: make(chan struct{}, 64), closed: make(chan struct{}, 64)}
	p.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- p.nw.ServeFabric(p.ln) }()
	p.t.Cleanup(func() {
		p.ln.kill()
		require.NoError(p.t, <-done)
	})
}

// remotePair returns the host's process and the CVMs' process.
func remotePair(t testing.TB) (h, c *remoteProc) {
	t.Helper()
	h, c = buildRemoteTopo(t, New()), buildRemoteTopo(t, New())
	h.serve("")
	c.serve("")
	h.cvmA.SetRemote(c.addr)
	h.cvmB.SetRemote(c.addr)
	c.host.SetRemote(h.addr)
	return h, c
}

// killableListener is a fabric listener whose process can "die": kill
// closes it and every connection it accepted, abruptly (RST, no frame).
type killableListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*trackedConn]struct{} // accepted and not closed
	// accepted signals every connection accepted, closed every one
	// closed (if there is room).
	accepted, closed chan struct{}
}

// trackedConn is an accepted connection that tells its listener when the
// fabric closes it.
type trackedConn struct {
	*net.TCPConn
	k    *killableListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.k.mu.Lock()
		delete(c.k.conns, c)
		c.k.mu.Unlock()
		select {
		case c.k.closed <- struct{}{}:
		default:
		}
	})
	return c.TCPConn.Close()
}

func (k *killableListener) Accept() (net.Conn, error) {
	c, err := k.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{TCPConn: c.(*net.TCPConn), k: k}
	k.mu.Lock()
	k.conns[tc] = struct{}{}
	k.mu.Unlock()
	select {
	case k.accepted <- struct{}{}:
	default:
	}
	return tc, nil
}

// open is how many accepted connections the fabric has not closed.
func (k *killableListener) open() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.conns)
}

// drained waits until the fabric has closed every accepted connection.
func (k *killableListener) drained(t testing.TB) {
	t.Helper()
	for k.open() > 0 {
		select {
		case <-k.closed:
		case <-testCtx(t).Done():
			t.Fatalf("%d connections still open", k.open())
		}
	}
}

func (k *killableListener) kill() {
	k.Listener.Close()
	k.mu.Lock()
	conns := k.conns
	k.conns = map[*trackedConn]struct{}{}
	k.mu.Unlock()
	for c := range conns {
		_ = c.SetLinger(0)
		c.TCPConn.Close()
	}
}

// remoteFlow dials from the host to dst:port and returns both ends; the
// server end is accepted from ln.
func remoteFlow(t testing.TB, h *remoteProc, ln *Listener, dst netip.Addr, port uint16) (client, server net.Conn) {
	t.Helper()
	client, err := h.host.Dial(testCtx(t), netip.AddrPortFrom(dst, port), DialOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	return client, server
}

func listen(t testing.TB, n *Node, port uint16) *Listener {
	t.Helper()
	ln, err := n.Listen(port)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// linkOf is the in-memory link under a Conn (a bridged one's too).
func linkOf(c net.Conn) *link { return c.(*Conn).carrier.(*memEnd).l }

// waitLink waits until cond holds on c's link; it re-checks on every
// change of the link.
func waitLink(t testing.TB, c net.Conn, cond func(l *link) bool) {
	t.Helper()
	l := linkOf(c)
	done := make(chan struct{})
	go func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for !cond(l) {
			l.cond.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-testCtx(t).Done():
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
		t.Fatal("link condition not reached")
	}
}

// stalls asserts that a read on c finds nothing — no data, no EOF, no
// reset — until its (wall-clock) deadline. Call it once whatever would
// arrive has had its chance (see the callers).
func stalls(t testing.TB, c net.Conn) {
	t.Helper()
	require.Zero(t, readable(c), "something arrived")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err := c.Read(make([]byte, 16))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetReadDeadline(time.Time{}))
}

// powerEvents reports n's power changes.
func powerEvents(t testing.TB, n *Node) <-chan bool {
	ch := make(chan bool, 16)
	t.Cleanup(n.OnPower(func(on bool) { ch <- on }))
	return ch
}

func nextPower(t testing.TB, ch <-chan bool) bool {
	t.Helper()
	select {
	case on := <-ch:
		return on
	case <-testCtx(t).Done():
		t.Fatal("no power change")
		return false
	}
}

func TestRemoteDialDataFINRST(t *testing.T) {
	h, c := remotePair(t)
	ln := listen(t, c.cvmA, nfs)

	cl, sv := remoteFlow(t, h, ln, cvmPriv, nfs)
	// The modelled addresses on both sides; the path is the host's.
	require.Equal(t, "192.168.5.2:2049", sv.LocalAddr().String())
	require.Equal(t, cl.LocalAddr().String(), sv.RemoteAddr().String())
	require.Equal(t, aVmk1, netip.MustParseAddrPort(sv.RemoteAddr().String()).Addr())
	info := cl.(*Conn).Info()
	require.Equal(t, "vmk1", info.Egress)
	require.Equal(t, "cvm-a", info.Target)
	require.Equal(t, []FlowInfo{info}, h.host.Flows())

	roundTrip(t, cl, sv, "NULL call")
	roundTrip(t, sv, cl, "reply")

	// The server's FIN: data, then EOF; a write to the closed end is
	// answered with RST.
	_, err := sv.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, sv.Close())
	got, err := io.ReadAll(cl)
	require.NoError(t, err)
	require.Equal(t, "bye", string(got))
	_, err = cl.Write([]byte("more"))
	require.ErrorIs(t, err, ErrConnReset)
	require.NoError(t, cl.Close())

	// The client's FIN the same way.
	cl, sv = remoteFlow(t, h, ln, cvmPriv, nfs)
	roundTrip(t, cl, sv, "x")
	require.NoError(t, cl.Close())
	got, err = io.ReadAll(sv)
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = sv.Write([]byte("late"))
	require.ErrorIs(t, err, ErrConnReset)
	require.Empty(t, h.host.Flows(), "a closed flow holds no port")

	// RST from either end fails the other.
	cl, sv = remoteFlow(t, h, ln, cvmPriv, nfs)
	roundTrip(t, cl, sv, "x")
	cl.(*Conn).Reset()
	require.ErrorIs(t, readErr(sv), ErrConnReset)
	_, err = sv.Write([]byte("x"))
	require.ErrorIs(t, err, ErrConnReset)

	cl, sv = remoteFlow(t, h, ln, cvmPriv, nfs)
	roundTrip(t, sv, cl, "x")
	sv.(*Conn).Reset()
	require.ErrorIs(t, readErr(cl), ErrConnReset)
}

func TestRemoteRefused(t *testing.T) {
	h, c := remotePair(t)
	listen(t, c.cvmA, nfs)
	_, err := h.host.Dial(testCtx(t), netip.AddrPortFrom(cvmPriv, 111), DialOptions{})
	require.ErrorIs(t, err, ErrConnRefused)
	require.Empty(t, h.host.Flows())

	// A listener closed with flows in its queue resets them.
	ln := listen(t, c.cvmA, 2050)
	cl, err := h.host.Dial(testCtx(t), netip.AddrPortFrom(cvmPriv, 2050), DialOptions{})
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, ln.Close())
	require.ErrorIs(t, readErr(cl), ErrConnReset)
}

// TestRemoteRouteChange: seed 001 across processes. The CVMs' process
// models 192.168.5.2 twice; the header's target name picks the node, its
// ingress the interface (CVM B accepts its private address on eth0:
// AcceptAny).
func TestRemoteRouteChange(t *testing.T) {
	h, c := remotePair(t)
	lnA := listen(t, c.cvmA, nfs)
	lnB := listen(t, c.cvmB, nfs)

	cl, sv := remoteFlow(t, h, lnA, cvmPriv, nfs)
	roundTrip(t, cl, sv, "on CVM A")

	// Seed 001's operator command on host A: its flow's path moves to
	// CVM B, which never saw it and answers RST; CVM A's end is gone too.
	require.NoError(t, h.rt.Add(host32, cvmBPub))
	require.ErrorIs(t, readErr(cl), ErrConnReset)
	require.ErrorIs(t, readErr(sv), ErrConnReset)
	require.Empty(t, h.host.Flows())

	cl, sv = remoteFlow(t, h, lnB, cvmPriv, nfs)
	require.Equal(t, "vmk0", cl.(*Conn).Info().Egress)
	require.Equal(t, "cvm-b", cl.(*Conn).Info().Target)
	require.Equal(t, aVmk0, netip.MustParseAddrPort(sv.RemoteAddr().String()).Addr())
	require.Equal(t, "eth0", sv.(*Conn).path.ingress.Name())
	roundTrip(t, cl, sv, "on CVM B")
	roundTrip(t, sv, cl, "from CVM B")
}

// TestRemoteFaultStall: a fault on the sending side stalls a remote flow
// (both ways) and it resumes with what was written; so does one on the
// receiving side, which only that process knows about.
func TestRemoteFaultStall(t *testing.T) {
	h, c := remotePair(t)
	ln := listen(t, c.cvmA, nfs)
	cl, sv := remoteFlow(t, h, ln, cvmPriv, nfs)
	roundTrip(t, cl, sv, "x")

	// The host's vmk1 loses its carrier: its process holds the bytes.
	h.host.Interface("vmk1").SetCarrier(false)
	_, err := cl.Write([]byte("held"))
	require.NoError(t, err)
	_, err = sv.Write([]byte("held back"))
	require.NoError(t, err)
	// What the server wrote reaches the host's process, not its reader.
	waitLink(t, cl, func(l *link) bool { return l.buf[1].Len() == len("held back") })
	stalls(t, cl)
	stalls(t, sv)
	h.host.Interface("vmk1").SetCarrier(true)
	buf := make([]byte, 4)
	_, err = io.ReadFull(sv, buf)
	require.NoError(t, err)
	require.Equal(t, "held", string(buf))
	buf = make([]byte, 9)
	_, err = io.ReadFull(cl, buf)
	require.NoError(t, err)
	require.Equal(t, "held back", string(buf))

	// CVM A's eth1 loses its carrier in the CVMs' process: the host's
	// process does not know, the CVMs' holds the flow.
	c.cvmA.Interface("eth1").SetCarrier(false)
	_, err = cl.Write([]byte("wait"))
	require.NoError(t, err)
	waitLink(t, sv, func(l *link) bool { return l.buf[1].Len() == 4 })
	stalls(t, sv)
	stalls(t, cl)
	c.cvmA.Interface("eth1").SetCarrier(true)
	roundTrip(t, sv, cl, "resumed")
	buf = make([]byte, 4)
	_, err = io.ReadFull(sv, buf)
	require.NoError(t, err)
	require.Equal(t, "wait", string(buf))
}

// TestRemotePowerOffInOwnModel: the CVM powered off in its own process
// (which keeps running): its flows stall there, a new dial gets no answer,
// and power-on resets them, as in process.
func TestRemotePowerOffInOwnModel(t *testing.T) {
	h, c := remotePair(t)
	ln := listen(t, c.cvmA, nfs)
	cl, sv := remoteFlow(t, h, ln, cvmPriv, nfs)
	roundTrip(t, cl, sv, "x")

	c.cvmA.SetPowered(false)
	_, err := cl.Write([]byte("into the void"))
	require.NoError(t, err)
	waitLink(t, sv, func(l *link) bool { return l.buf[1].Len() > 0 })
	stalls(t, sv)
	_, err = sv.Write([]byte("never"))
	require.NoError(t, err)
	stalls(t, cl)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = h.host.Dial(ctx, netip.AddrPortFrom(cvmPriv, nfs), DialOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	c.cvmA.SetPowered(true)
	require.ErrorIs(t, readErr(cl), ErrConnReset)
	require.ErrorIs(t, readErr(sv), ErrConnReset)

	// Listeners vanish with power: the service listens again.
	ln = listen(t, c.cvmA, nfs)
	// A SYN the target does not answer (its eth1 is down there) is held
	// there, and answered when the interface comes back.
	c.cvmA.Interface("eth1").SetUp(false)
	for len(c.ln.accepted) > 0 {
		<-c.ln.accepted
	}
	type dialed struct {
		c   net.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := h.host.Dial(testCtx(t), netip.AddrPortFrom(cvmPriv, nfs), DialOptions{})
		done <- dialed{c, err}
	}()
	select {
	case <-c.ln.accepted:
	case <-testCtx(t).Done():
		t.Fatal("the SYN did not reach the CVMs' process")
	}
	c.cvmA.Interface("eth1").SetUp(true)
	var d dialed
	select {
	case d = <-done:
	case <-testCtx(t).Done():
		t.Fatal("held dial did not complete")
	}
	require.NoError(t, d.err)
	defer d.c.Close()
	sv, err = ln.Accept()
	require.NoError(t, err)
	defer sv.Close()
	roundTrip(t, d.c, sv, "back")
}

// TestRemoteProcessDies: the CVMs' process stops (its fabric listener and
// every real connection gone, no frame): the host's flow stalls — no
// error, no EOF — and WatchPeers powers the CVMs off in the host's model;
// the process comes back, WatchPeers powers them on, the old flow is
// reset and a new dial works.
func TestRemoteProcessDies(t *testing.T) {
	h, c := remotePair(t)
	ln := listen(t, c.cvmA, nfs)
	cl, sv := remoteFlow(t, h, ln, cvmPriv, nfs)
	roundTrip(t, cl, sv, "x")
	rep, err := h.host.Echo(EchoRequest{Dst: cvmPriv})
	require.NoError(t, err)
	require.NotNil(t, rep)

	power := powerEvents(t, h.cvmA)
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { h.nw.WatchPeers(ctx, 20*time.Millisecond); close(watched) }()
	t.Cleanup(func() { cancel(); <-watched })

	c.ln.kill()
	waitLink(t, cl, func(l *link) bool { return l.detached[1] })
	_, err = cl.Write([]byte("into the void"))
	require.NoError(t, err)
	stalls(t, cl)

	require.False(t, nextPower(t, power))
	require.False(t, h.cvmA.Powered())
	require.False(t, h.cvmB.Powered())
	stalls(t, cl)
	rep, err = h.host.Echo(EchoRequest{Dst: cvmPriv})
	require.Nil(t, rep)
	require.ErrorIs(t, err, ErrHostDown)
	dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer dcancel()
	_, err = h.host.Dial(dctx, netip.AddrPortFrom(cvmPriv, nfs), DialOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The process starts again, from scratch, at the same address.
	c2 := buildRemoteTopo(t, New())
	c2.host.SetRemote(h.addr)
	ln2 := listen(t, c2.cvmA, nfs)
	c2.serve(c.addr)
	require.True(t, nextPower(t, power))
	require.ErrorIs(t, readErr(cl), ErrConnReset, "the rebooted CVM answers RST")

	cl, sv = remoteFlow(t, h, ln2, cvmPriv, nfs)
	roundTrip(t, cl, sv, "again")
	roundTrip(t, sv, cl, "back")
	rep, err = h.host.Echo(EchoRequest{Dst: cvmPriv})
	require.NoError(t, err)
	require.NotNil(t, rep)
}

// TestRemoteDialerGivesUp: a dial held by the target's process ends with
// the caller's context, and the target's process lets it go.
func TestRemoteDialerGivesUp(t *testing.T) {
	h, c := remotePair(t)
	c.cvmA.SetPowered(false)
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		_, err := h.host.Dial(ctx, netip.AddrPortFrom(cvmPriv, nfs), DialOptions{})
		cancel()
		require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	}
	require.Empty(t, h.host.Flows())
	// The CVMs' process lets every held SYN go (a SYN still on its way
	// would reach a listener, which would get it reset, as in TCP).
	c.ln.drained(t)
	c.cvmA.SetPowered(true)
	ln := listen(t, c.cvmA, nfs)
	cl, sv := remoteFlow(t, h, ln, cvmPriv, nfs)
	roundTrip(t, cl, sv, "x")
}

// TestRemoteHeldDialFollowsRoute: a dial the target's process holds (CVM A
// is off there) is not disturbed by a change of the host's network that
// leaves its path alone, and tries again along the new path when one
// moves it — to CVM B, which answers.
func TestRemoteHeldDialFollowsRoute(t *testing.T) {
	h, c := remotePair(t)
	c.cvmA.SetPowered(false)
	lnB := listen(t, c.cvmB, nfs)
	type dialed struct {
		c   net.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := h.host.Dial(testCtx(t), netip.AddrPortFrom(cvmPriv, nfs), DialOptions{})
		done <- dialed{c, err}
	}()
	select {
	case <-c.ln.accepted:
	case <-testCtx(t).Done():
		t.Fatal("the SYN did not reach the CVMs' process")
	}
	require.NoError(t, h.rt.Add(pfx("10.0.0.0/8"), cvmAPub)) // elsewhere
	require.NoError(t, h.rt.Add(host32, cvmBPub))
	var d dialed
	select {
	case d = <-done:
	case <-testCtx(t).Done():
		t.Fatal("the dial did not follow the route")
	}
	require.NoError(t, d.err)
	defer d.c.Close()
	require.Equal(t, "cvm-b", d.c.(*Conn).Info().Target)
	sv, err := lnB.Accept()
	require.NoError(t, err)
	defer sv.Close()
	roundTrip(t, d.c, sv, "x")
	require.Len(t, c.ln.accepted, 1, "one SYN to CVM A, held, then one to CVM B")
}
