package nfs

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/fabric"
)

// TestWhitelistOverFabric is seed 001 in miniature: ESXi host A reaches
// its CVM's 192.168.5.2 over vmk1 (source 192.168.5.1, whitelisted) and,
// with the autopath host route, over vmk0 (source 192.168.1.24, denied
// until the cluster's hosts are whitelisted). The Server sees the
// modelled source address, not a real one.
func TestWhitelistOverFabric(t *testing.T) {
	clk := clock.Real()
	nw := fabric.New(fabric.WithClock(clk), fabric.WithTransport(fabric.MemTransport{Clock: clk}))
	host, err := nw.AddNode(fabric.NodeConfig{Name: "esx-a"})
	require.NoError(t, err)
	for _, c := range []fabric.InterfaceConfig{
		{Name: "vmk0", Addr: netip.MustParsePrefix("192.168.1.24/24"), MAC: net.HardwareAddr{0, 0x50, 0x56, 0, 0, 0x24}, Segment: "public"},
		{Name: "vmk1", Addr: netip.MustParsePrefix("192.168.5.1/24"), MAC: net.HardwareAddr{0, 0x50, 0x56, 0, 0, 0x51}, Segment: "a/vSwitchNutanix"},
	} {
		_, err := host.AddInterface(c)
		require.NoError(t, err)
	}
	rt := fabric.NewRouteTable(host.Interfaces, host.Reevaluate)
	host.SetRouter(rt)
	cvm, err := nw.AddNode(fabric.NodeConfig{Name: "cvm-a", AcceptAny: true})
	require.NoError(t, err)
	for _, c := range []fabric.InterfaceConfig{
		{Name: "eth0", Addr: netip.MustParsePrefix("192.168.1.27/24"), MAC: net.HardwareAddr{0, 0x50, 0x56, 0, 0, 0x27}, Segment: "public"},
		{Name: "eth1", Addr: netip.MustParsePrefix("192.168.5.2/24"), MAC: net.HardwareAddr{0, 0x50, 0x56, 0, 0, 0x52}, Segment: "a/vSwitchNutanix"},
	} {
		_, err := cvm.AddInterface(c)
		require.NoError(t, err)
	}

	internal := []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")}
	ev := &eventLog{}
	srv := NewServer(newTestStore(t), Config{Name: "cvm-a", Exports: []Export{{Path: "/ctr1", Whitelist: internal}}, OnEvent: ev.add})
	defer srv.Close()
	l, err := cvm.Listen(2049)
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()

	target := netip.MustParseAddrPort("192.168.5.2:2049")
	dial := func() *rawClient {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := host.Dial(ctx, target, fabric.DialOptions{})
		require.NoError(t, err)
		return newRawClient(t, c)
	}

	// Normal path: vmk1, source 192.168.5.1.
	c := dial()
	stat, fh := c.mnt("/ctr1")
	require.Equal(t, uint32(mnt3OK), stat)
	sess := srv.Sessions()
	require.Len(t, sess, 1)
	require.Equal(t, "192.168.5.1", sess[0].Remote.Addr().String())
	require.Equal(t, "192.168.5.2:2049", sess[0].Local.String())

	// Autopath route: vmk0, source 192.168.1.24: not whitelisted.
	require.NoError(t, rt.Add(netip.MustParsePrefix("192.168.5.2/32"), netip.MustParseAddr("192.168.1.27")))
	c2 := dial()
	stat, _ = c2.mnt("/ctr1")
	require.Equal(t, uint32(mnt3Acces), stat)
	stat, _ = c2.nfsCall(nfsGetattr, fh)
	require.Equal(t, uint32(nfs3Acces), stat)
	require.True(t, ev.has(EventMountDenied))

	// The cluster whitelists its hosts: the same connection now passes.
	srv.SetExports([]Export{{Path: "/ctr1", Whitelist: append(internal, netip.MustParsePrefix("192.168.1.0/24"))}})
	stat, _ = c2.nfsCall(nfsGetattr, fh)
	require.Equal(t, uint32(nfs3OK), stat)
}
