package harness

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReferences(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	for _, tc := range []struct{ ref, host, cvm string }{
		{"a", "NTNX-BLOCK1-A", "NTNX-BLOCK1-A-CVM"},
		{"C", "NTNX-BLOCK1-C", "NTNX-BLOCK1-C-CVM"},
		{"2", "NTNX-BLOCK1-B", "NTNX-BLOCK1-B-CVM"},
		{"ntnx-block1-b", "NTNX-BLOCK1-B", ""},
		{"NTNX-BLOCK1-A-CVM", "", "NTNX-BLOCK1-A-CVM"},
	} {
		h, herr := lab.ResolveHost(tc.ref)
		c, cerr := lab.ResolveCVM(tc.ref)
		if tc.host != "" {
			assert.NoError(t, herr, tc.ref)
		}
		if tc.cvm != "" {
			assert.NoError(t, cerr, tc.ref)
		}
		assert.Equal(t, tc.host, h, tc.ref)
		assert.Equal(t, tc.cvm, c, tc.ref)
	}
	for _, ref := range []string{"d", "4", "0", "01", "", "NTNX-BLOCK1-D"} {
		_, err := lab.ResolveHost(ref)
		var nf *NotFoundError
		require.ErrorAs(t, err, &nf, ref)
		assert.Contains(t, err.Error(), "NTNX-BLOCK1-A, NTNX-BLOCK1-B, NTNX-BLOCK1-C")
	}
}

func TestViews(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock())
	v := lab.View()
	assert.Equal(t, "default", v.Name)
	assert.Equal(t, []string{"NTNX-BLOCK1-A", "NTNX-BLOCK1-B", "NTNX-BLOCK1-C"}, v.Hosts)
	assert.Len(t, v.CVMs, 3)
	assert.Empty(t, v.Faults)

	h, err := lab.HostView("a")
	require.NoError(t, err)
	assert.Contains(t, h.Routes, RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.0/24", Interface: "vmk1"})
	assert.Contains(t, h.Routes, RouteView{Netstack: "defaultTcpipStack", Network: "0.0.0.0/0", Gateway: "192.168.1.1", Interface: "vmk0", Default: true})
	require.Len(t, h.Vmknics, 2)
	assert.Equal(t, VmknicView{Name: "vmk1", Portgroup: "vmk-svm-iscsi-pg", Netstack: "defaultTcpipStack", IP: "192.168.5.1/24", MAC: h.Vmknics[1].MAC, MTU: 1500, Enabled: true}, h.Vmknics[1])
	require.Len(t, h.Datastores, 1)
	assert.Equal(t, DatastoreView{Name: "ctr1", Server: "192.168.5.2", Share: "/ctr1", State: h.Datastores[0].State, Accessible: true, Mounted: true}, h.Datastores[0])
	// The datastore's NFS session leaves vmk1 for the local CVM.
	require.NotEmpty(t, h.Flows)
	assert.Equal(t, "vmk1", h.Flows[0].Egress)
	assert.Equal(t, "NTNX-BLOCK1-A-CVM", h.Flows[0].Target)
	require.NotNil(t, h.Workload)

	c, err := lab.CVMView("a")
	require.NoError(t, err)
	assert.Equal(t, "up", c.Power)
	assert.Equal(t, "up", c.Stargate)
	assert.True(t, c.Initialised)
	require.Len(t, c.Sessions, 1)
	assert.Contains(t, c.Sessions[0].Client, "192.168.5.1:")
}

func TestActionsAndWaiters(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The operator's seed-001 route, then waiting for it.
	require.NoError(t, lab.AddRoute("a", "", "192.168.5.2/32", "192.168.1.28"))
	require.NoError(t, lab.Wait(ctx, "host a route 192.168.5.2/32 via 192.168.1.28"))
	require.NoError(t, lab.Wait(ctx, "host b no route 192.168.5.2"))
	h, _ := lab.HostView("a")
	assert.Contains(t, h.Routes, RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.2/32", Gateway: "192.168.1.28", Interface: "vmk0"})
	// Deleting without naming the gateway finds it.
	done := make(chan error, 1)
	go func() { done <- lab.Wait(ctx, "host a no route 192.168.5.2/32") }()
	require.NoError(t, lab.DeleteRoute("a", "", "192.168.5.2/32", ""))
	require.NoError(t, <-done)
	assert.ErrorContains(t, lab.DeleteRoute("a", "", "192.168.5.2/32", ""), "no static route to 192.168.5.2/32")

	// A CVM powered off, waited for by state and by event.
	powerOff := waitEvent(t, lab, "event power.off on b")
	require.NoError(t, lab.PowerOff("b"))
	powerOff()
	require.NoError(t, lab.Wait(ctx, "cvm b power off"))
	c, _ := lab.CVMView("b")
	assert.Equal(t, "off", c.Power)
	assert.Empty(t, c.Sessions)

	// A timeout is the context's error.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	assert.ErrorIs(t, lab.Wait(short, "cvm b ready"), context.DeadlineExceeded)

	require.NoError(t, lab.SetStargate("c", "hung"))
	require.NoError(t, lab.Wait(ctx, "cvm c stargate hung"))
	assert.ErrorContains(t, lab.SetStargate("c", "sideways"), "want one of up, down, hung")

	var kinds []string
	for _, e := range lab.Events.Events() {
		kinds = append(kinds, e.Kind)
	}
	assert.Contains(t, kinds, "operator.route-add")
	assert.Contains(t, kinds, "operator.route-delete")
}

// An event condition's NODE: a name is that node; a letter or number is the
// host and its CVM alike, as the events API filters.
func TestEventConditionNodes(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	hostB, cvmB := lab.Hosts[1].VMkernel().Node().Name(), lab.CVMs[1].Node().Name()
	for _, tc := range []struct {
		cond string
		e    Event
		want bool
	}{
		{"event power.off on b", Event{Kind: "power.off", Node: cvmB}, true},
		{"event power.off on 2", Event{Kind: "power.off", Node: cvmB}, true},
		{"event route.add on b", Event{Kind: "route.add", Node: hostB}, true},
		{"event route.add on " + strings.ToLower(hostB), Event{Kind: "route.add", Node: hostB}, true},
		{"event route.add on " + hostB, Event{Kind: "route.add", Node: cvmB}, false},
		{"event power.off on " + cvmB, Event{Kind: "power.off", Node: cvmB}, true},
		{"event power.off on a", Event{Kind: "power.off", Node: cvmB}, false},
		{"event power.off on b", Event{Kind: "power.on", Node: cvmB}, false},
		{"event power.off", Event{Kind: "power.off", Node: cvmB}, true},
	} {
		c, err := lab.ParseCondition(tc.cond)
		require.NoError(t, err, tc.cond)
		assert.Equal(t, tc.want, c.matches(tc.e), "%s: %+v", tc.cond, tc.e)
	}
}

func TestBadConditions(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	for _, tc := range []struct{ cond, msg string }{
		{"", "want one of"},
		{"host", "want one of"},
		{"host z route 1.2.3.4/32 via 1.1.1.1", `no host "z"`},
		{"host a route 1.2.3.4/33 via 1.1.1.1", "want an IPv4 CIDR"},
		{"host a route 1.2.3.4/32 via nowhere", `gateway "nowhere"`},
		{"host a datastore ctr9 accessible", `no datastore "ctr9"`},
		{"host a datastore ctr1 happy", "want accessible or inaccessible"},
		{"host a io flowing", "runs no VM IO workload"},
		{"cvm a power sideways", "want on, off or booting"},
		{"cvm a stargate meh", "want one of up, down, hung"},
		{"cvm a dance", "want: cvm REF"},
		{"event", "want one of"},
		{"event power.off at b", "want: event KIND [on NODE]"},
		{"disk a full", "want one of"},
	} {
		_, err := lab.ParseCondition(tc.cond)
		var ce *ConditionError
		require.True(t, errors.As(err, &ce), "%q: %v", tc.cond, err)
		assert.Contains(t, err.Error(), tc.msg, tc.cond)
	}
}

func TestStandingFaults(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	clk := lab.FakeClock()
	require.NotNil(t, clk)

	f, err := lab.AddFault(FaultSpec{Kind: FaultStargateDown, Node: "b", For: Duration(30 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-B-CVM", f.Spec.Node, "the reference is resolved")
	assert.Equal(t, f.Added.Add(30*time.Second), f.Expires)
	c, _ := lab.CVMView("b")
	assert.Equal(t, "down", c.Stargate)
	assert.Equal(t, "down", c.Fault)
	require.Len(t, lab.Faults(), 1)

	// For runs out on the lab's clock.
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	clk.Advance(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, lab.Wait(ctx, "cvm b stargate up"))
	assert.Empty(t, lab.Faults())

	g, err := lab.AddFault(FaultSpec{Kind: FaultStargateHang, Node: "a"})
	require.NoError(t, err)
	require.NoError(t, lab.Wait(ctx, "cvm a stargate hung"))
	require.NoError(t, lab.RemoveFault(g.ID))
	require.NoError(t, lab.Wait(ctx, "cvm a stargate up"))
	assert.ErrorIs(t, lab.RemoveFault(g.ID), ErrNoFault)

	for _, tc := range []struct {
		spec FaultSpec
		msg  string
	}{
		{FaultSpec{}, "kind is missing"},
		{FaultSpec{Kind: "melt", Node: "a"}, `fault kind "melt"`},
		{FaultSpec{Kind: FaultStargateDown, Node: "q"}, `no cvm "q"`},
		{FaultSpec{Kind: FaultStargateDown, Node: "a", For: -1}, "must not be negative"},
	} {
		_, err := lab.AddFault(tc.spec)
		assert.ErrorContains(t, err, tc.msg)
	}
	assert.Empty(t, lab.Faults(), "a refused fault leaves nothing behind")

	var kinds []string
	for _, e := range lab.Events.Events() {
		if e.Kind == "fault.add" || e.Kind == "fault.remove" {
			kinds = append(kinds, e.Kind+" "+e.Detail)
		}
	}
	assert.Equal(t, []string{
		"fault.add #1 stargate-down NTNX-BLOCK1-B-CVM for 30s",
		"fault.remove #1 stargate-down NTNX-BLOCK1-B-CVM for 30s",
		"fault.add #2 stargate-hang NTNX-BLOCK1-A-CVM",
		"fault.remove #2 stargate-hang NTNX-BLOCK1-A-CVM",
	}, kinds)
}

// The IO report sees the outage a CVM power-off causes and only from
// the moment asked for.
func TestIOReport(t *testing.T) {
	topo := Default()
	for i := range topo.Hosts {
		topo.Hosts[i].Workload = nil
	}
	lab := Start(t, topo, WithCVMTimers(fastBoot))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, lab.Wait(ctx, "host a io flowing"))
	before := lab.IOReport(time.Time{})
	require.Len(t, before.Hosts, 3)
	assert.True(t, before.Host("NTNX-BLOCK1-A").IntegrityOK)

	since := lab.Clock.Now()
	require.NoError(t, lab.PowerOff("a"))
	require.NoError(t, lab.Wait(ctx, "host a io stalled"))
	require.NoError(t, lab.AddRoute("a", "", "192.168.5.2/32", "192.168.1.28"))
	require.NoError(t, lab.Wait(ctx, "host a io flowing"))
	r := lab.IOReport(since)
	a := r.Host("NTNX-BLOCK1-A")
	require.Len(t, a.Outages, 1, r.String())
	assert.Greater(t, a.LongestMS, 0.0)
	assert.True(t, a.IntegrityOK)
	assert.Empty(t, r.Host("NTNX-BLOCK1-B").Outages, "host B's IO never stopped")
	assert.Contains(t, r.String(), "NTNX-BLOCK1-A: 1 outage(s)")
}
