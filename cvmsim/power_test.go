package cvmsim

import (
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
)

func ping(n *fabric.Node, dst string) error {
	rep, err := n.Echo(fabric.EchoRequest{Dst: netip.MustParseAddr(dst)})
	if err != nil {
		return err
	}
	if rep == nil {
		return errors.New("no reply")
	}
	return nil
}

// Power-off is abrupt: the host's open NFS flow hears nothing (no FIN, no
// RST: its read times out), pings fail, Stargate's sessions are gone.
func TestPowerOffBlackholes(t *testing.T) {
	l := newLab(t)
	a, host := l.cvms[0], l.hosts[0]
	ev := events(t, a)
	require.NoError(t, ping(host, "192.168.5.2"))
	conn, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNull(conn, 5*time.Second))
	require.Len(t, a.NFS().Sessions(), 1)

	a.PowerOff()
	assert.Equal(t, PowerOff, a.Power())
	assert.Equal(t, StargateDown, a.StargateState())
	assert.False(t, a.Ready())
	assert.Equal(t, EventPowerOff, waitEvent(t, ev, EventPowerOff).Kind)
	assert.Equal(t, "power off", waitEvent(t, ev, EventStargateDown).Detail)
	assert.Empty(t, a.NFS().Sessions())

	err = nfsNull(conn, 50*time.Millisecond)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "a blackholed flow must time out, not fail")
	require.Error(t, ping(host, "192.168.5.2"))
	require.Error(t, ping(l.hosts[1], "192.168.1.27"))

	// Twice is harmless.
	a.PowerOff()
	noEvent(t, ev)
	assert.Equal(t, PowerOff, a.Power())
}

// The boot sequence: ping, then Stargate, then fully initialised, each at
// its timer; before Stargate its ports refuse.
func TestBootSequence(t *testing.T) {
	l := newLab(t)
	a, host := l.cvms[0], l.hosts[0]
	ev := events(t, a)
	a.PowerOff()
	a.PowerOn()
	waitEvent(t, ev, EventPowerOn)
	assert.Equal(t, PowerBooting, a.Power())
	tm := a.Timers()
	assert.Equal(t, Timers{20 * time.Second, 60 * time.Second, 120 * time.Second}, tm)

	l.clk.Advance(tm.PingAfter - time.Millisecond)
	require.Error(t, ping(host, "192.168.5.2"))
	l.clk.Advance(time.Millisecond)
	waitEvent(t, ev, EventNetworkUp)
	require.NoError(t, ping(host, "192.168.5.2"))
	assert.True(t, a.Reachable())
	_, err := dial(host, "192.168.5.2:2049")
	require.ErrorIs(t, err, fabric.ErrConnRefused)
	_, err = dial(host, "192.168.5.2:2009")
	require.ErrorIs(t, err, fabric.ErrConnRefused)
	out, _, _ := run(t, a, "cluster status")
	assert.Contains(t, out, "Waiting on 192.168.1.27 (Up) to start:  ")
	assert.Contains(t, out, "        CVM: 192.168.1.27 Up\n")

	l.clk.Advance(tm.StargateAfter - tm.PingAfter)
	waitEvent(t, ev, EventStargateUp)
	assert.Equal(t, StargateUp, a.StargateState())
	assert.Equal(t, PowerBooting, a.Power())
	assert.False(t, a.Ready())
	conn, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNull(conn, 5*time.Second))
	assert.False(t, a.StatusPage().Initialised)

	l.clk.Advance(tm.InitAfter - tm.StargateAfter)
	waitEvent(t, ev, EventBooted)
	assert.Equal(t, PowerUp, a.Power())
	assert.True(t, a.Ready())
	out, _, _ = run(t, a, "cluster status")
	assert.NotContains(t, out, "Waiting on")
	assert.NotContains(t, out, "DOWN")
}

// A clock advanced past every step at once still runs them in order.
func TestBootAllAtOnce(t *testing.T) {
	l := newLab(t)
	a := l.cvms[1]
	ev := events(t, a)
	a.PowerOff()
	a.PowerOn()
	l.clk.Advance(time.Hour)
	for _, k := range []string{EventPowerOff, EventStargateDown, EventPowerOn, EventNetworkUp, EventStargateUp, EventBooted} {
		assert.Equal(t, k, (<-ev).Kind)
	}
	assert.True(t, a.Ready())
}

// Rebooting a booting CVM restarts the sequence; nothing from the first
// boot fires later.
func TestRebootDuringBoot(t *testing.T) {
	l := newLab(t)
	a, host := l.cvms[0], l.hosts[0]
	ev := events(t, a)
	a.PowerOff()
	a.PowerOn()
	l.clk.Advance(30 * time.Second)
	waitEvent(t, ev, EventNetworkUp)

	a.Reboot()
	assert.Equal(t, reasonReboot, waitEvent(t, ev, EventPowerOff).Detail)
	assert.Equal(t, reasonReboot, waitEvent(t, ev, EventPowerOn).Detail)
	require.Error(t, ping(host, "192.168.5.2"))
	// The first boot's Stargate step (at 60 s) must not fire at 60 s.
	l.clk.Advance(19 * time.Second)
	noEvent(t, ev)
	l.clk.Advance(time.Second)
	waitEvent(t, ev, EventNetworkUp)
	l.clk.Advance(30 * time.Second) // 50 s after the reboot, 80 s after power-on
	noEvent(t, ev)
	assert.Equal(t, StargateDown, a.StargateState())
	l.clk.Advance(10 * time.Second)
	waitEvent(t, ev, EventStargateUp)
	l.clk.Advance(60 * time.Second)
	waitEvent(t, ev, EventBooted)
	assert.Equal(t, 3, a.snapshot().boot) // Start, PowerOn, Reboot

	// Reboot of an off CVM powers it on; PowerOn of a running one does
	// nothing.
	a.PowerOff()
	waitEvent(t, ev, EventPowerOff)
	a.Reboot()
	waitEvent(t, ev, EventPowerOn)
	a.PowerOn()
	noEvent(t, ev)
}

// Service PIDs stay put for a boot and change with the next one.
func TestPIDsStablePerBoot(t *testing.T) {
	l := newLab(t)
	a := l.cvms[0]
	first := a.Status()
	l.clk.Advance(time.Hour)
	assert.Equal(t, first.Services, a.Status().Services)
	ev := events(t, a)
	a.Reboot()
	l.clk.Advance(time.Hour)
	waitEvent(t, ev, EventBooted)
	assert.NotEqual(t, first.Services[0].PIDs, a.Status().Services[0].PIDs)
}
