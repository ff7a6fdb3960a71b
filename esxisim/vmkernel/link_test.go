package vmkernel_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
)

// carriers is each vmknic's carrier, "vmk0=true vmk1=true".
func carriers(h *vmkernel.Host) map[string]bool {
	out := map[string]bool{}
	for _, v := range h.Vmknics() {
		out[v.Name] = v.Iface.Carrier()
	}
	return out
}

// TestSetVmnicLink: vSwitch0 (vmk0) has two uplinks, vSwitchNutanix (vmk1)
// none. vmk0 loses carrier only when both are down; its routes stay.
func TestSetVmnicLink(t *testing.T) {
	h := vmkerneltest.New(t).Host
	ch := record(h)
	routes, err := h.Routes("")
	require.NoError(t, err)
	steps := []struct {
		vmnic  string
		up     bool
		vmk0   bool
		change []string
	}{
		{"vmnic0", false, true, []string{"vmnic.link-down vmnic0"}},
		{"vmnic0", false, true, nil}, // no change, no report
		{"vmnic1", false, false, []string{"vmnic.link-down vmnic1"}},
		{"vmnic0", true, true, []string{"vmnic.link-up vmnic0"}},
	}
	for _, s := range steps {
		require.NoError(t, h.SetVmnicLink(s.vmnic, s.up))
		assert.Equal(t, map[string]bool{"vmk0": s.vmk0, "vmk1": true}, carriers(h), "%s up=%v", s.vmnic, s.up)
		assert.Equal(t, s.change, ch.take())
		for _, n := range h.Vmnics() {
			if n.Name == s.vmnic {
				assert.Equal(t, s.up, n.LinkUp)
			}
		}
		got, err := h.Routes("")
		require.NoError(t, err)
		assert.Equal(t, routes, got, "routes stay")
	}
	lines := h.Log().Lines()
	require.NotEmpty(t, lines)
	assert.Regexp(t, `In\(182\) vmkernel: cpu\d+:\d+\)Uplink: 16679: vmnic0: link up$`, lines[len(lines)-1])

	err = h.SetVmnicLink("vmnic7", false)
	require.ErrorIs(t, err, vmkernel.ErrNoSuchVmnic)
	assert.EqualError(t, err, "Unable to find physical NIC vmnic7: Not found")
}

// TestVmnicLinkBlackholes: with both uplinks down the host's traffic over
// vmk0 gets no answer, and a vmknic created meanwhile has no carrier either.
func TestVmnicLinkBlackholes(t *testing.T) {
	h := vmkerneltest.New(t).Host
	echo := func(dst string) bool {
		r, err := h.Node().Echo(fabric.EchoRequest{Dst: ip(dst)})
		require.NoError(t, err)
		return r != nil
	}
	require.True(t, echo("192.168.1.27"))
	require.NoError(t, h.SetVmnicLink("vmnic0", false))
	require.NoError(t, h.SetVmnicLink("vmnic1", false))
	assert.False(t, echo("192.168.1.27"))
	assert.True(t, echo("192.168.5.2"), "vmk1's internal vSwitch has no uplink to lose")
	name, err := h.AddVmknic(vmkernel.VmknicConfig{Portgroup: "VM Network", IP: pfx("192.168.1.30/24")})
	require.NoError(t, err)
	assert.False(t, carriers(h)[name])
	require.NoError(t, h.SetVmnicLink("vmnic1", true))
	assert.True(t, echo("192.168.1.27"))
	assert.True(t, carriers(h)[name])
}

// TestVmnicDownInConfig: a topology's vmnic without link leaves its
// vmknics without carrier from the start.
func TestVmnicDownInConfig(t *testing.T) {
	cfg := vmkerneltest.HostAConfig()
	for i := range cfg.Vmnics {
		cfg.Vmnics[i].LinkUp = false
	}
	h := vmkerneltest.NewWithClock(t, clock.NewFake(), cfg).Host
	assert.Equal(t, map[string]bool{"vmk0": false, "vmk1": true}, carriers(h))
	require.NoError(t, h.SetVmnicLink("vmnic0", true))
	require.NoError(t, h.Reset())
	assert.Equal(t, map[string]bool{"vmk0": false, "vmk1": true}, carriers(h), "reset to the configured link state")
}

func TestUplinkInterfaces(t *testing.T) {
	h := vmkerneltest.New(t).Host
	for _, vmnic := range []string{"vmnic0", "vmnic1"} {
		got, err := h.UplinkInterfaces(vmnic)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "vmk0", got[0].Name())
		assert.Same(t, h.Node().Interface("vmk0"), got[0])
	}
	name, err := h.AddVmknic(vmkernel.VmknicConfig{Portgroup: "VM Network"})
	require.NoError(t, err)
	got, err := h.UplinkInterfaces("vmnic1")
	require.NoError(t, err)
	var names []string
	for _, i := range got {
		names = append(names, i.Name())
	}
	assert.Equal(t, []string{"vmk0", name}, names)
	_, err = h.UplinkInterfaces("vmnic9")
	require.ErrorIs(t, err, vmkernel.ErrNoSuchVmnic)
}
