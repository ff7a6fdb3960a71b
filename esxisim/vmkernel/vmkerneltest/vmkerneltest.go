// Package vmkerneltest builds the hosts that unit and golden tests of the
// ESXi commands run against: host A of the default lab (seed 001's
// cluster) on a small fabric with its neighbours.
package vmkerneltest

import (
	"net/netip"
	"testing"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
)

// Lab is host A and the nodes around it.
type Lab struct {
	Net   *fabric.Network
	Clock clock.Clock
	Host  *vmkernel.Host
	// Peers: "gw" (192.168.1.1), "cvm-a" (192.168.1.27 on the public
	// segment, 192.168.5.2 and .254 on host A's vSwitchNutanix), "cvm-b"
	// (192.168.1.28, and 192.168.5.2 on host B's private segment), "cvm-c"
	// (192.168.1.29, 192.168.5.2 on host C's).
	Peers map[string]*fabric.Node
}

// HostAConfig is host A of the default lab.
func HostAConfig() vmkernel.Config {
	return vmkernel.Config{
		Hostname: "NTNX-BLOCK1-A",
		Vmnics: []vmkernel.Vmnic{
			{Name: "vmnic0", Network: "public", LinkUp: true},
			{Name: "vmnic1", Network: "public", LinkUp: true},
		},
		VSwitches: []vmkernel.VSwitchConfig{
			{Name: "vSwitch0", Uplinks: []string{"vmnic0", "vmnic1"}, Portgroups: []vmkernel.PortgroupConfig{
				{Name: "Management Network"}, {Name: "VM Network"},
			}},
			{Name: "vSwitchNutanix", Portgroups: []vmkernel.PortgroupConfig{
				{Name: "vmk-svm-iscsi-pg"}, {Name: "svm-iscsi-pg"},
			}},
		},
		Vmknics: []vmkernel.VmknicConfig{
			{Name: "vmk0", Portgroup: "Management Network", IP: netip.MustParsePrefix("192.168.1.24/24"),
				Gateway: netip.MustParseAddr("192.168.1.1"), Tags: []string{"Management", "VMotion"}},
			{Name: "vmk1", Portgroup: "vmk-svm-iscsi-pg", IP: netip.MustParsePrefix("192.168.5.1/24")},
		},
		DefaultGateway: netip.MustParseAddr("192.168.1.1"),
	}
}

// New builds host A and its neighbours on a fake clock.
func New(t testing.TB) *Lab {
	t.Helper()
	return NewWithClock(t, clock.NewFake(), HostAConfig())
}

// NewWithClock builds a host from cfg with the default lab's neighbours.
func NewWithClock(t testing.TB, c clock.Clock, cfg vmkernel.Config) *Lab {
	t.Helper()
	nw := fabric.New(fabric.WithClock(c))
	h, err := vmkernel.New(nw, cfg)
	if err != nil {
		t.Fatalf("vmkerneltest: %v", err)
	}
	l := &Lab{Net: nw, Clock: c, Host: h, Peers: map[string]*fabric.Node{}}
	peer := func(name string, ttl int, accept bool, ifs ...fabric.InterfaceConfig) {
		n, err := nw.AddNode(fabric.NodeConfig{Name: name, TTL: ttl, AcceptAny: accept})
		if err != nil {
			t.Fatalf("vmkerneltest: %v", err)
		}
		for _, ic := range ifs {
			ic.MAC = vmkernel.MAC(name, ic.Name, 0)
			if _, err := n.AddInterface(ic); err != nil {
				t.Fatalf("vmkerneltest: %v", err)
			}
		}
		l.Peers[name] = n
	}
	peer("gw", 255, false, fabric.InterfaceConfig{Name: "vlan1", Addr: netip.MustParsePrefix("192.168.1.1/24"), Segment: "public"})
	peer("cvm-a", 64, true,
		fabric.InterfaceConfig{Name: "eth0", Addr: netip.MustParsePrefix("192.168.1.27/24"), Segment: "public"},
		fabric.InterfaceConfig{Name: "eth1", Addr: netip.MustParsePrefix("192.168.5.2/24"), Segment: cfg.Hostname + "/vSwitchNutanix"},
		fabric.InterfaceConfig{Name: "eth1:1", Addr: netip.MustParsePrefix("192.168.5.254/24"), Segment: cfg.Hostname + "/vSwitchNutanix"},
	)
	// CVMs B and C sit on their own hosts' private segments, which host A
	// cannot reach at L2; they answer for 192.168.5.2 arriving on eth0.
	peer("cvm-b", 64, true,
		fabric.InterfaceConfig{Name: "eth0", Addr: netip.MustParsePrefix("192.168.1.28/24"), Segment: "public"},
		fabric.InterfaceConfig{Name: "eth1", Addr: netip.MustParsePrefix("192.168.5.2/24"), Segment: "NTNX-BLOCK1-B/vSwitchNutanix"},
	)
	peer("cvm-c", 64, true,
		fabric.InterfaceConfig{Name: "eth0", Addr: netip.MustParsePrefix("192.168.1.29/24"), Segment: "public"},
		fabric.InterfaceConfig{Name: "eth1", Addr: netip.MustParsePrefix("192.168.5.2/24"), Segment: "NTNX-BLOCK1-C/vSwitchNutanix"},
	)
	return l
}
