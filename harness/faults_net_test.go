package harness

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
)

// echo pings dst from a host; a request that goes out and gets no reply
// is an error here.
func echo(t *testing.T, lab *Lab, host, dst string) (*fabric.EchoReply, error) {
	t.Helper()
	r, err := lab.Host(host).VMkernel().Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr(dst)})
	if err == nil && r == nil {
		err = errors.New("no reply")
	}
	return r, err
}

// Network faults act on the model: what the VM IO and ping see.
func TestNetworkFaults(t *testing.T) {
	lab := Start(t, Default(), WithCVMTimers(fastBoot))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, lab.Wait(ctx, "host a io flowing"))

	// CVM A's eth1 (with its alias eth1:1) loses its link: host A's NFS,
	// which goes to 192.168.5.2 on it, stalls; the route stays.
	f, err := lab.AddFault(FaultSpec{Kind: FaultLinkDown, Node: "NTNX-BLOCK1-A-CVM", Interface: "eth1"})
	require.NoError(t, err)
	require.NoError(t, lab.Wait(ctx, "host a io stalled"))
	for _, i := range lab.CVMs[0].Node().Interfaces() {
		assert.Equal(t, i.Name() == "eth0", i.Carrier(), i.Name())
	}
	require.NoError(t, lab.RemoveFault(f.ID))
	require.NoError(t, lab.Wait(ctx, "host a io flowing"))

	// A host's vmnic0 down: vmk0 (on vSwitch0, both uplinks needed down
	// for the vmknic to lose carrier) keeps vmnic1; both down cut it.
	ping := func() error { _, err := echo(t, lab, "NTNX-BLOCK1-A", "192.168.1.1"); return err }
	require.NoError(t, ping())
	f0, err := lab.AddFault(FaultSpec{Kind: FaultLinkDown, Node: "a", Interface: "vmnic0"})
	require.NoError(t, err)
	require.NoError(t, ping(), "vmnic1 still carries vmk0")
	f1, err := lab.AddFault(FaultSpec{Kind: FaultLinkDown, Node: "a", Interface: "vmnic1"})
	require.NoError(t, err)
	assert.Error(t, ping(), "no uplink left for vmk0")
	require.NoError(t, lab.RemoveFault(f1.ID))
	require.NoError(t, lab.RemoveFault(f0.ID))
	require.NoError(t, ping())

	// Latency on host B's vmk0 shows in the RTT to the gateway.
	r0, err := echo(t, lab, "NTNX-BLOCK1-B", "192.168.1.1")
	require.NoError(t, err)
	lf, err := lab.AddFault(FaultSpec{Kind: FaultLatency, Node: "b", Interface: "vmk0", Latency: Duration(20 * time.Millisecond)})
	require.NoError(t, err)
	r1, err := echo(t, lab, "NTNX-BLOCK1-B", "192.168.1.1")
	require.NoError(t, err)
	assert.Equal(t, r0.RTT+40*time.Millisecond, r1.RTT, "20 ms each way")
	require.NoError(t, lab.RemoveFault(lf.ID))

	// 100% loss on host C's vmnics: the gateway is unreachable.
	lossF, err := lab.AddFault(FaultSpec{Kind: FaultLoss, Node: "c", Interface: "vmnic0", LossPercent: 100})
	require.NoError(t, err)
	_, err = echo(t, lab, "NTNX-BLOCK1-C", "192.168.1.1")
	assert.Error(t, err)
	require.NoError(t, lab.RemoveFault(lossF.ID))

	// A partition between host A and CVM B: seed 001's route via CVM B
	// leads nowhere, IO stalls until the partition heals.
	p, err := lab.AddFault(FaultSpec{Kind: FaultPartition, Node: "a", Peer: "NTNX-BLOCK1-B-CVM"})
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-A", p.Spec.Node)
	assert.Equal(t, "NTNX-BLOCK1-B-CVM", p.Spec.Peer)
	_, err = echo(t, lab, "NTNX-BLOCK1-A", "192.168.1.28")
	assert.Error(t, err)
	_, err = echo(t, lab, "NTNX-BLOCK1-A", "192.168.1.29")
	assert.NoError(t, err, "only A and CVM B are cut off")
	require.NoError(t, lab.RemoveFault(p.ID))
	_, err = echo(t, lab, "NTNX-BLOCK1-A", "192.168.1.28")
	assert.NoError(t, err)
}

func TestNetworkFaultsRefused(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	for _, tc := range []struct {
		spec FaultSpec
		msg  string
	}{
		{FaultSpec{Kind: FaultLinkDown, Node: "a"}, "interface is missing"},
		{FaultSpec{Kind: FaultLinkDown, Node: "a", Interface: "vmnic7"}, "vmnic7"},
		{FaultSpec{Kind: FaultLinkDown, Node: "b", Interface: "eth9"}, `has no interface "eth9"`},
		{FaultSpec{Kind: FaultLinkDown, Node: "zz", Interface: "eth0"}, `no node "zz"`},
		{FaultSpec{Kind: FaultLatency, Node: "a", Interface: "vmk0"}, "latency must be positive"},
		{FaultSpec{Kind: FaultLoss, Node: "a", Interface: "vmk0", LossPercent: 150}, "loss_percent must be in (0, 100]"},
		{FaultSpec{Kind: FaultPartition, Node: "a"}, "peer is missing"},
		{FaultSpec{Kind: FaultPartition, Node: "a", Peer: "NTNX-BLOCK1-A"}, "cut off from itself"},
	} {
		_, err := lab.AddFault(tc.spec)
		assert.ErrorContains(t, err, tc.msg, "%+v", tc.spec)
	}
	assert.Empty(t, lab.Faults())
}
