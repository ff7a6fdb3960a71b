package controlapi

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
)

// scrape reads GET /metrics into "name{a="x",b="y"}" -> value, labels
// sorted by name.
func (a *api) scrape() map[string]float64 {
	a.t.Helper()
	text, err := a.c.Metrics(testCtx(a.t))
	require.NoError(a.t, err)
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(a.t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(a.t, err, line)
		out[line[:i]] = v
	}
	return out
}

// series names a series as scrape does: series("m", "b", "y", "a", "x")
// is m{a="x",b="y"}.
func series(name string, labels ...string) string {
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+"="+strconv.Quote(labels[i+1]))
	}
	if len(pairs) == 0 {
		return name
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

func TestMetrics(t *testing.T) {
	a := startAPI(t, Options{})
	m := a.scrape()
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{series("autopathlab_cvm_power", "cvm", cvmA, "state", "up"), 1},
		{series("autopathlab_cvm_power", "cvm", cvmA, "state", "off"), 0},
		{series("autopathlab_cvm_stargate", "cvm", cvmB, "state", "up"), 1},
		{series("autopathlab_cvm_sessions", "cvm", cvmA), 1},
		{series("autopathlab_host_routes", "host", hostA, "netstack", "defaultTcpipStack"), float64(len(a.host("a").Routes))},
		{series("autopathlab_datastore_accessible", "host", hostB, "datastore", "ctr1"), 1},
		{series("autopathlab_workload_stalled", "host", hostA, "vm", "vm-"+hostA), 0},
		{series("autopathlab_faults", "kind", "stargate-down"), 0},
		{series("autopathlab_resets_total"), 0},
		// The mounts before the server started count.
		{series("autopathlab_events_total", "kind", "nfs.mount"), 3},
	} {
		v, ok := m[tc.series]
		if assert.True(t, ok, "no series %s", tc.series) {
			assert.Equal(t, tc.want, v, tc.series)
		}
	}
	for _, name := range []string{"autopathlab_workload_ops_total", "autopathlab_workload_errors_total", "autopathlab_workload_outage_seconds_total"} {
		_, ok := m[series(name, "host", hostC, "vm", "vm-"+hostC)]
		assert.True(t, ok, name)
	}

	// The model changes; the next scrape reads it.
	require.NoError(t, a.lab.PowerOff("a"))
	require.NoError(t, a.lab.AddRoute("b", "", "10.1.0.0/16", "192.168.1.1"))
	_, err := a.lab.AddFault(harness.FaultSpec{Kind: harness.FaultStargateDown, Node: "c"})
	require.NoError(t, err)
	for range 2 {
		a.lab.Events.Add(harness.Event{Kind: "ssh.command", Node: hostA, Command: "esxcfg-route -l"})
	}
	a.lab.Events.Add(harness.Event{Kind: "ssh.command", Node: cvmB, Command: "cluster status"})
	routesB := float64(len(a.host("b").Routes))

	m2 := a.scrape()
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{series("autopathlab_cvm_power", "cvm", cvmA, "state", "up"), 0},
		{series("autopathlab_cvm_power", "cvm", cvmA, "state", "off"), 1},
		{series("autopathlab_cvm_sessions", "cvm", cvmA), 0},
		{series("autopathlab_cvm_stargate", "cvm", "NTNX-BLOCK1-C-CVM", "state", "down"), 1},
		{series("autopathlab_host_routes", "host", hostB, "netstack", "defaultTcpipStack"), routesB},
		{series("autopathlab_faults", "kind", "stargate-down"), 1},
		{series("autopathlab_ssh_commands_total", "node", hostA), 2},
		{series("autopathlab_ssh_commands_total", "node", cvmB), 1},
		{series("autopathlab_events_total", "kind", "power.off"), m[series("autopathlab_events_total", "kind", "power.off")] + 1},
		{series("autopathlab_events_total", "kind", "operator.route-add"), 1},
	} {
		assert.Equal(t, tc.want, m2[tc.series], tc.series)
	}
	assert.Equal(t, float64(len(a.host("b").Routes)), m[series("autopathlab_host_routes", "host", hostB, "netstack", "defaultTcpipStack")]+1)
}
