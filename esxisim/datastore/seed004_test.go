package datastore

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
)

// Seed 004: vmk0 (management) and vmk1 (NFS) in one subnet. The export
// admits only vmk1's address, but the VMkernel sends everything for the
// subnet out of vmk0, the first created: the mount is denied. With vmk1 in
// a subnet of its own (and the filer there too) it is allowed.
func TestMountSourceAddressSeed004(t *testing.T) {
	cfg := vmkerneltest.HostAConfig()
	cfg.Vmknics = []vmkernel.VmknicConfig{
		{Name: "vmk0", Portgroup: "Management Network", IP: netip.MustParsePrefix("192.168.1.24/24")},
		{Name: "vmk1", Portgroup: "VM Network", IP: netip.MustParsePrefix("192.168.1.30/24")},
	}
	lab := vmkerneltest.NewWithClock(t, clock.NewFake(), cfg)
	filer, err := lab.Net.AddNode(fabric.NodeConfig{Name: "filer"})
	require.NoError(t, err)
	for _, ic := range []fabric.InterfaceConfig{
		{Name: "e0a", Addr: netip.MustParsePrefix("192.168.1.50/24"), Segment: "public"},
		{Name: "e0b", Addr: netip.MustParsePrefix("10.10.10.50/24"), Segment: "public"},
	} {
		_, err := filer.AddInterface(ic)
		require.NoError(t, err)
	}
	store := nfs.NewMemStore()
	require.NoError(t, store.CreateContainer("nfs"))
	srv := nfs.NewServer(store, nfs.Config{Name: "filer", Exports: []nfs.Export{{Path: "/nfs", Whitelist: []netip.Prefix{
		netip.MustParsePrefix("192.168.1.30/32"), netip.MustParsePrefix("10.10.10.1/32"),
	}}}})
	t.Cleanup(func() { srv.Close() })
	serveOn(t, filer, srv)
	m, err := New(lab.Host, Config{})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	events := make(chan Event, 16)
	m.Subscribe(func(e Event) { events <- e })

	_, err = m.Add(ctxT(t), "nfs", "192.168.1.50", "/nfs", false)
	assert.ErrorIs(t, err, ErrDenied)
	assert.Contains(t, string(lab.Host.Log().Bytes()),
		")NFS: 190: NFS mount 192.168.1.50:/nfs failed: The mount request was denied by the NFS server. Check that the export exists and that the client is permitted to mount it.\n")
	assert.Empty(t, m.List(), "a failed mount leaves nothing behind")
	e := next(t, events, EventMountFailed)
	assert.Equal(t, ErrDenied.Error(), e.Error)

	require.NoError(t, lab.Host.SetVmknicIPv4("vmk1", netip.MustParsePrefix("10.10.10.1/24")))
	d, err := m.Add(ctxT(t), "nfs", "10.10.10.50", "/nfs", false)
	require.NoError(t, err)
	e = next(t, events, EventMounted)
	assert.Equal(t, "vmk1", e.Egress)
	assert.Equal(t, "10.10.10.1", netip.MustParseAddrPort(e.Local).Addr().String())
	assert.Equal(t, Accessible, d.State())
}
