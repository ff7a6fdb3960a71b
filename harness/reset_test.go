package harness

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func eventKinds(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// Reset undoes everything a scenario did, without touching listeners.
func TestReset(t *testing.T) {
	lab := Start(t, Default(), WithCVMTimers(fastBoot))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	initial := lab.HostViews()
	eps := lab.Endpoints()

	// A reset of a lab nothing happened to changes nothing.
	before := len(lab.Events.Events())
	_, err := lab.Reset(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"lab.reset"}, eventKinds(lab.Events.Events()[before:]))

	// A scenario's worth of damage.
	require.NoError(t, lab.PowerOff("a"))
	require.NoError(t, lab.AddRoute("a", "", "192.168.5.2/32", "192.168.1.28"))
	require.NoError(t, lab.SetStargate("c", "hung"))
	require.NoError(t, lab.Reboot("b"))
	_, err = lab.AddFault(FaultSpec{Kind: FaultLatency, Node: "b", Interface: "vmnic0", Latency: Duration(5 * time.Millisecond)})
	require.NoError(t, err)
	require.NoError(t, lab.Host("NTNX-BLOCK1-C").Datastores().Remove("ctr1"))
	require.NoError(t, lab.Wait(ctx, "host a io flowing"))

	d, err := lab.Reset(ctx)
	require.NoError(t, err)
	t.Logf("reset took %v", d)
	assert.Equal(t, 2, lab.View().Resets)
	assert.Empty(t, lab.Faults())
	for _, c := range lab.CVMViews() {
		assert.Equal(t, "up", c.Power, c.Name)
		assert.Equal(t, "up", c.Stargate, c.Name)
		assert.Empty(t, c.Fault, c.Name)
		assert.True(t, c.Initialised, c.Name)
	}
	after := lab.HostViews()
	for i := range initial {
		assert.Equal(t, initial[i].Routes, after[i].Routes, initial[i].Name)
		assert.Equal(t, initial[i].Vmknics, after[i].Vmknics, initial[i].Name)
		require.Len(t, after[i].Datastores, 1, initial[i].Name)
		assert.True(t, after[i].Datastores[0].Accessible, initial[i].Name)
	}
	for _, i := range lab.Host("NTNX-BLOCK1-B").VMkernel().Node().Interfaces() {
		assert.Zero(t, i.Latency(), i.Name())
	}
	assert.Equal(t, eps, lab.Endpoints(), "same listeners, same ports")
	// IO flows again from a fresh account, each host to its own CVM
	// (a flow cut by the reset reconnects on the next operation).
	for _, h := range []string{"a", "b", "c"} {
		require.NoError(t, lab.Wait(ctx, "host "+h+" io flowing"))
		require.NoError(t, lab.WaitUntil(ctx, func() bool {
			v, _ := lab.HostView(h)
			return len(v.Flows) > 0
		}))
		v, _ := lab.HostView(h)
		assert.Equal(t, "vmk1", v.Flows[0].Egress, "host %s", h)
		assert.Equal(t, v.Name+"-CVM", v.Flows[0].Target, "host %s talks to its own CVM again", h)
	}
	w, _ := lab.HostView("a")
	assert.Empty(t, w.Workload.Outages)
}
