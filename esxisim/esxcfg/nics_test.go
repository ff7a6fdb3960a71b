package esxcfg

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNicsLinkDown: a vmnic whose link the lab took down lists as Down,
// with the 0Mbps/Half an unplugged port shows; back up, as before.
func TestNicsLinkDown(t *testing.T) {
	b := hpe(t)
	const (
		header = "Name    PCI          Driver      Link Speed      Duplex MAC Address       MTU    Description\n"
		nic0   = "vmnic0  0000:0f:00.0 nmlx5_core  Up   25000Mbps  Full   88:e9:a4:6b:b8:54 1500   Mellanox Technologies MT27800 Family [ConnectX-5]\n"
		down1  = "vmnic1  0000:0f:00.1 nmlx5_core  Down 0Mbps      Half   88:e9:a4:6b:b8:55 1500   Mellanox Technologies MT27800 Family [ConnectX-5]\n"
		up1    = "vmnic1  0000:0f:00.1 nmlx5_core  Up   25000Mbps  Full   88:e9:a4:6b:b8:55 1500   Mellanox Technologies MT27800 Family [ConnectX-5]\n"
	)
	h := b.lab.Host
	for _, step := range []struct {
		up   bool
		want string
	}{{false, header + nic0 + down1}, {true, header + nic0 + up1}} {
		require.NoError(t, h.SetVmnicLink("vmnic1", step.up))
		out, errs, code := b.run(t, "esxcfg-nics -l")
		require.Equal(t, 0, code, errs)
		require.Equal(t, step.want, out)
	}
}
