package harness

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/topology"
)

// clusterStatus runs `cluster status` in a nutanix shell on the CVM.
func clusterStatus(t *testing.T, c *cvmsim.CVM) string {
	t.Helper()
	var out, errOut bytes.Buffer
	code := c.NewShell().Run(context.Background(), "cluster status", nil, &out, &errOut)
	require.Zero(t, code, "cluster status: %s", errOut.String())
	return out.String()
}

// A CVM powered off through cvmsim takes its Stargate with it: the local
// host's datastore goes All Paths Down and its peers' cluster status shows
// it Down. Powered on, it boots (short timers), the datastore is restored
// over the same path without a remount, and cluster status shows it Up.
func TestCVMPowerCycle(t *testing.T) {
	topo := fastTopology(hostA)
	topo.Hosts[0].NFS = &topology.NFSSettings{
		HeartbeatFrequency: "100ms", HeartbeatTimeout: "100ms", HeartbeatMaxFailures: 2, APDTimeout: "5s",
	}
	lab := Start(t, topo, Options{CVMTimers: fastBoot})
	require.Empty(t, lab.MountErrors)
	require.Len(t, lab.CVMs, 3)
	a, b := lab.CVM(cvmA), lab.CVM(cvmB)
	require.Same(t, a.Node(), lab.Nodes[cvmA])
	host := lab.Host(hostA)
	dsEvents := subscribeDatastores(t, host.Datastores())
	ds, ok := host.Datastores().Get("ctr1")
	require.True(t, ok)
	servesExactly(t, lab, cvmA, privHost)
	assert.Contains(t, clusterStatus(t, b), "CVM: 192.168.1.27 Up")

	a.PowerOff()
	dsEvents.await(t, 0, datastore.EventAPD, 1)
	assert.Equal(t, datastore.Inaccessible, ds.State())
	st := clusterStatus(t, b)
	assert.Contains(t, st, "CVM: 192.168.1.27 Down", st)
	assert.Contains(t, st, "CVM: 192.168.1.28 Up", st)

	a.PowerOn()
	requireStargateServing(t, lab, cvmA)
	restored := dsEvents.await(t, 0, datastore.EventRestored, 1)
	assert.Positive(t, restored[0].Outage)
	assert.Equal(t, datastore.Accessible, ds.State())
	servesExactly(t, lab, cvmA, privHost)
	waitFor(t, "CVM A Up in cluster status", func() error {
		if st := clusterStatus(t, b); !strings.Contains(st, "CVM: 192.168.1.27 Up") || strings.Contains(st, "Waiting on") {
			return fmt.Errorf("cluster status:\n%s", st)
		}
		return nil
	})
	// CVM A's own shell agrees.
	assert.Equal(t, 3, strings.Count(clusterStatus(t, a), " Up"), clusterStatus(t, a))

	// The lab's event log has the CVM's power and boot, by cvmsim's names.
	var kinds []string
	for _, e := range lab.Events.Events() {
		if e.Node == cvmA && (strings.HasPrefix(e.Kind, "power.") || strings.HasPrefix(e.Kind, "boot") || strings.HasPrefix(e.Kind, "stargate.")) {
			kinds = append(kinds, e.Kind)
		}
	}
	require.GreaterOrEqual(t, len(kinds), 6, "%v", kinds)
	assert.Equal(t, []string{
		cvmsim.EventPowerOff, cvmsim.EventStargateDown,
		cvmsim.EventPowerOn, cvmsim.EventNetworkUp, cvmsim.EventStargateUp, cvmsim.EventBooted,
	}, kinds[len(kinds)-6:], "%v", kinds)
}
