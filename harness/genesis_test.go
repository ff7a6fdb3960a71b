package harness

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/topology"
)

// rounds steps a lab's Genesis on the fake clock: each step waits for the
// loop's timer, advances one interval, and waits for that round's end.
type rounds struct {
	t     *testing.T
	clk   *clockwork.FakeClock
	every time.Duration
	done  chan struct{}
}

func newRounds(t *testing.T, lab *Lab, clk *clockwork.FakeClock, every time.Duration) *rounds {
	r := &rounds{t: t, clk: clk, every: every, done: make(chan struct{}, 64)}
	cancel := lab.Events.Subscribe(func(e Event) {
		if e.Kind == "genesis.round" {
			r.done <- struct{}{}
		}
	})
	t.Cleanup(cancel)
	r.wait() // the round Run starts with
	return r
}

func (r *rounds) wait() {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.t.Fatal("no Genesis round finished")
	}
}

func (r *rounds) next() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(r.t, r.clk.BlockUntilContext(ctx, 1)) // Run's interval timer
	r.clk.Advance(r.every)
	r.wait()
}

// Scenario c at the model level: CVM A dies, the next round routes host A
// to a healthy CVM; CVM A comes back, and after the stable period the route
// goes (with NfsTerminateConnection first).
func TestGenesisInLab(t *testing.T) {
	clk := clock.NewFake()    // Genesis' own: its loop timer is the only waiter
	labClk := clock.NewFake() // the CVMs' boot timers
	lab := Start(t, topology.Default(), Options{Clock: labClk, NoWorkload: true, CVMTimers: fastBoot,
		Genesis: &GenesisOptions{Interval: 30 * time.Second, StablePeriod: 30 * time.Second, Clock: clk}})
	r := newRounds(t, lab, clk, 30*time.Second)
	a := lab.Host("NTNX-BLOCK1-A").VMkernel()
	route := func() string {
		for _, rv := range mustRoutes(t, a) {
			if rv.Network == netip.MustParsePrefix("192.168.5.2/32") {
				return rv.Gateway.String()
			}
		}
		return ""
	}
	require.Empty(t, route())

	lab.CVM("NTNX-BLOCK1-A-CVM").PowerOff()
	r.next()
	assert.Equal(t, "192.168.1.28", route(), "host A routed to CVM B")

	lab.CVM("NTNX-BLOCK1-A-CVM").PowerOn()
	labClk.Advance(fastBoot.InitAfter)
	requireStargateServing(t, lab, "NTNX-BLOCK1-A-CVM")
	r.next()
	assert.Equal(t, "192.168.1.28", route(), "kept until CVM A has been stable")
	r.next()
	assert.Empty(t, route(), "removed once CVM A stayed healthy for the stable period")

	var kinds []string
	for _, e := range lab.Events.Events() {
		switch e.Kind {
		case "genesis.route_add", "genesis.route_delete", "genesis.terminate":
			kinds = append(kinds, e.Kind)
		}
	}
	assert.Equal(t, []string{"genesis.route_add", "genesis.terminate", "genesis.route_delete"}, kinds)

	// The leader writes its own genesis.out, which the CVM's shell shows:
	// CVM B led while CVM A was down.
	out, err := lab.CVM("NTNX-BLOCK1-B-CVM").FS().ReadFile(cvmsim.GenesisOut)
	require.NoError(t, err)
	assert.Contains(t, string(out), "This node 192.168.1.28 is the HA leader")
	assert.Contains(t, string(out), "Adding route to 192.168.5.2 via 192.168.1.28 on hypervisor 192.168.1.24")
}

func mustRoutes(t *testing.T, h interface {
	Routes(string) ([]vmkernel.RouteView, error)
}) []vmkernel.RouteView {
	t.Helper()
	rs, err := h.Routes("")
	require.NoError(t, err)
	return rs
}
