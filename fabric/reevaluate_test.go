package fabric

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRouteChangeResets is seed 001's injected route: the host's NFS flow to
// the local CVM is reset by the remote CVM that now receives its packets,
// and the client's reconnect leaves vmk0 with source 192.168.1.24.
func TestRouteChangeResets(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	lnB, err := l.cvmB.Listen(nfsPort)
	require.NoError(t, err)
	defer lnB.Close()
	roundTrip(t, c, s, "WRITE")

	require.NoError(t, l.rt.Add(host32, cvmBPub))
	require.ErrorIs(t, readErr(c), ErrConnReset)
	require.ErrorIs(t, readErr(s), ErrConnReset)
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, ErrConnReset)
	require.Empty(t, l.host.Flows(), "a reset flow is forgotten")

	c2 := l.dial(cvmPriv, nfsPort)
	s2, err := lnB.Accept()
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, "192.168.1.24", s2.RemoteAddr().(*net.TCPAddr).IP.String())
	roundTrip(t, c2, s2, "WRITE again")

	// Deleting the route moves the flow back to CVM A: reset again.
	require.NoError(t, l.rt.Delete(host32, cvmBPub))
	require.ErrorIs(t, readErr(c2), ErrConnReset)
}

// TestReevaluate covers the fates of a flow from the host to the local CVM
// under changes anywhere in the network.
func TestReevaluate(t *testing.T) {
	tests := []struct {
		name   string
		change func(l *testLab)
		undo   func(l *testLab) // nil: the flow is reset by change
	}{
		{
			name:   "host's vmk1 down and up: stall, resume",
			change: func(l *testLab) { l.host.Interface("vmk1").SetUp(false) },
			undo:   func(l *testLab) { l.host.Interface("vmk1").SetUp(true) },
		},
		{
			name:   "CVM's eth1 down and up: another node's change stalls the flow",
			change: func(l *testLab) { l.cvmA.Interface("eth1").SetUp(false) },
			undo:   func(l *testLab) { l.cvmA.Interface("eth1").SetUp(true) },
		},
		{
			name: "route to a dead gateway and back",
			change: func(l *testLab) {
				require.NoError(l.t, l.rt.Add(host32, ip("192.168.1.77")))
			},
			undo: func(l *testLab) {
				require.NoError(l.t, l.rt.Delete(host32, ip("192.168.1.77")))
			},
		},
		{
			name: "route to a gateway that does not forward, and back",
			change: func(l *testLab) {
				require.NoError(l.t, l.rt.Add(host32, gwAddr))
			},
			undo: func(l *testLab) {
				require.NoError(l.t, l.rt.Delete(host32, gwAddr))
			},
		},
		{
			name: "CVM's address moves away and back",
			change: func(l *testLab) {
				l.cvmA.Interface("eth1").SetAddr(pfx("192.168.5.3/24"))
			},
			undo: func(l *testLab) {
				l.cvmA.Interface("eth1").SetAddr(pfx("192.168.5.2/24"))
			},
		},
		{
			name: "host's interface removed and re-created: stall, then a new egress resets",
			change: func(l *testLab) {
				require.NoError(l.t, l.host.RemoveInterface("vmk1"))
				// The default route's gateway does not forward: a stall.
				l.stalled(l.host.flowList()[0], time.Second)
				_, err := l.host.AddInterface(InterfaceConfig{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "a/vSwitchNutanix"})
				require.NoError(l.t, err)
			},
		},
		{
			name:   "host's source address changes: the CVM sees a stranger",
			change: func(l *testLab) { l.host.Interface("vmk1").SetAddr(pfx("192.168.5.9/24")) },
		},
		{
			name: "an alias takes over the address on the same segment",
			change: func(l *testLab) {
				l.cvmA.Interface("eth1").SetAddr(pfx("192.168.5.3/24"))
				l.cvmB.Interface("eth0").SetAddr(pfx("192.168.5.2/24"))
				_, err := l.cvmB.AddInterface(InterfaceConfig{Name: "eth9", Addr: pfx("192.168.5.2/24"), Segment: "a/vSwitchNutanix"})
				require.NoError(l.t, err)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLab(t)
			c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
			roundTrip(t, c, s, "before")
			tt.change(l)
			if tt.undo == nil {
				require.ErrorIs(t, readErr(c), ErrConnReset)
				require.ErrorIs(t, readErr(s), ErrConnReset)
				return
			}
			_, err := c.Write([]byte("during"))
			require.NoError(t, err, "a stalled flow buffers, as TCP does")
			l.stalled(s, time.Minute)
			l.stalled(c, time.Minute)
			require.Len(t, l.host.Flows(), 1, "a stalled flow stays open")

			tt.undo(l)
			buf := make([]byte, len("during"))
			_, err = io.ReadFull(s, buf)
			require.NoError(t, err)
			require.Equal(t, "during", string(buf))
			roundTrip(t, s, c, "after")
		})
	}
}

// TestStalledFlowResetWhenNewPathIsLive: a flow stalls, then a route gives
// it a live new target: it is reset rather than resumed.
func TestStalledFlowResetWhenNewPathIsLive(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	l.cvmA.Interface("eth1").SetUp(false)
	l.stalled(c, time.Second)
	require.NoError(t, l.rt.Add(host32, cvmBPub))
	require.ErrorIs(t, readErr(c), ErrConnReset)
	require.ErrorIs(t, readErr(s), ErrConnReset)
}

// TestPowerOffBlackholes is seed 001's CVM failure: no FIN, no RST; both
// ends find out only by their own timeouts. Power-on resets the flow, as the
// rebooted CVM answers RST.
func TestPowerOffBlackholes(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	roundTrip(t, c, s, "before")

	l.cvmA.SetPowered(false)
	_, err := c.Write([]byte("lost"))
	require.NoError(t, err)
	l.stalled(c, 30*time.Second)
	l.stalled(s, 30*time.Second)
	require.NoError(t, s.Close(), "the dead node's process closing its socket sends nothing")
	l.stalled(c, 30*time.Second)

	// Genesis's autopath route gives the flow a live new target: reset.
	require.NoError(t, l.rt.Add(host32, cvmBPub))
	require.ErrorIs(t, readErr(c), ErrConnReset)
}

// TestPowerCycle: power-on resets the flows that were stalled towards the
// node and the node's own flows; flows that only passed through it resume.
func TestPowerCycle(t *testing.T) {
	l := newTestLab(t)
	r := l.node(NodeConfig{Name: "router", Forwarding: true},
		InterfaceConfig{Name: "ge0", Addr: pfx("192.168.1.254/24"), MAC: mac(0xfe), Segment: "public"},
		InterfaceConfig{Name: "ge1", Addr: pfx("10.0.0.1/24"), MAC: mac(0xf1), Segment: "storage"},
	)
	r.SetRouter(NewRouteTable(r.Interfaces, r.Reevaluate))
	require.NoError(t, l.rt.Add(pfx("10.0.0.0/24"), ip("192.168.1.254")))

	toCVM, atCVM := l.pair(cvmPriv, l.cvmA, nfsPort)
	viaRouter, atFiler := l.pair(filerSt, l.filer, nfsPort)

	// The CVM's own outgoing flow (its SSH to the host, say).
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
	roundTrip(t, fromCVM, atHost, "ssh")

	l.cvmA.SetPowered(false)
	r.SetPowered(false)
	l.stalled(toCVM, time.Second)
	l.stalled(viaRouter, time.Second)
	l.stalled(atHost, time.Second)

	r.SetPowered(true)
	roundTrip(t, viaRouter, atFiler, "a router keeps no connection state")

	l.cvmA.SetPowered(true)
	require.ErrorIs(t, readErr(toCVM), ErrConnReset)
	require.ErrorIs(t, readErr(atCVM), ErrConnReset)
	require.ErrorIs(t, readErr(atHost), ErrConnReset)
	require.ErrorIs(t, readErr(fromCVM), ErrConnReset)
	require.Empty(t, l.cvmA.Flows())
	require.Len(t, l.host.Flows(), 1)
}

// TestPoweredOffNodeStaysDark: re-evaluation (a route change elsewhere) must
// not revive the flows of a powered-off node.
func TestPoweredOffNodeStaysDark(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	l.host.SetPowered(false)
	l.host.Interface("vmk0").SetUp(false)
	l.cvmB.Reevaluate()
	_, err := s.Write([]byte("reply"))
	require.NoError(t, err)
	l.stalled(s, time.Second)
	l.stalled(c, time.Second)
}
