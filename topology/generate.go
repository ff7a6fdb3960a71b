package topology

import (
	"fmt"
	"net/netip"
)

// maxSmallGenerate is the largest n whose addresses still fit the default
// lab's numbering in 192.168.1.0/24: hosts from .24, then CVMs.
const maxSmallGenerate = (255 - 24) / 2

// MaxGenerate is the largest n Generate accepts.
const MaxGenerate = 127 * 200

// Generate returns a lab (named "cluster-<n>"; the name Cluster is the
// cluster type's) of n ESXi hosts and n CVMs shaped exactly like the
// default lab: host i has vmk0 on the public segment and vmk1 192.168.5.1/24
// on its own private vSwitchNutanix segment, CVM i has eth0 on the public
// segment and eth1 192.168.5.2/24 plus eth1:1 192.168.5.254/24 on host i's
// private segment, one gateway, the cluster container ctr1, and every host
// mounts ctr1 from 192.168.5.2 (its own CVM).
//
// Names follow the default: NTNX-BLOCK<b>-<A..D>, four nodes per block,
// and "<host>-CVM".
//
// Addressing: while the default numbering fits in 192.168.1.0/24
// (n <= 115) the public segment is 192.168.1.0/24 with the gateway at .1,
// host i at .24+i and CVM i at .24+n+i, so Generate(3) is the default lab
// (only its name differs). Above that the public segment widens to
// 10.0.0.0/16: the gateway is 10.0.0.1, host i is 10.0.(1+i/200).(10+i%200)
// and CVM i 10.0.(128+i/200).(10+i%200), room for MaxGenerate nodes of each.
// The public segment never overlaps the private 192.168.5.0/24.
//
// Generate panics when n is not in 1..MaxGenerate.
func Generate(n int) *Topology {
	if n < 1 || n > MaxGenerate {
		panic(fmt.Sprintf("topology.Generate(%d): want 1..%d", n, MaxGenerate))
	}
	var gw netip.Addr
	var bits int
	var hostIP, cvmIP func(i int) netip.Addr
	if n <= maxSmallGenerate {
		gw, bits = netip.AddrFrom4([4]byte{192, 168, 1, 1}), 24
		hostIP = func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 1, byte(24 + i)}) }
		cvmIP = func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, 1, byte(24 + n + i)}) }
	} else {
		gw, bits = netip.AddrFrom4([4]byte{10, 0, 0, 1}), 16
		hostIP = func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(1 + i/200), byte(10 + i%200)}) }
		cvmIP = func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(128 + i/200), byte(10 + i%200)}) }
	}
	pfx := func(a netip.Addr) string { return netip.PrefixFrom(a, bits).String() }

	// Shared between hosts, as the default file's YAML anchors are.
	vmnics := []Vmnic{{Name: "vmnic0", Network: "public"}, {Name: "vmnic1", Network: "public"}}
	vswitches := []VSwitch{
		{Name: "vSwitch0", Uplinks: []string{"vmnic0", "vmnic1"}, Portgroups: []Portgroup{{Name: "Management Network"}, {Name: "VM Network"}}},
		{Name: "vSwitchNutanix", Portgroups: []Portgroup{{Name: "vmk-svm-iscsi-pg"}, {Name: "svm-iscsi-pg"}}},
	}
	datastores := []Datastore{{Name: "ctr1", Host: "192.168.5.2", Share: "/ctr1"}}

	t := &Topology{
		Name:     fmt.Sprintf("cluster-%d", n),
		Gateways: []Gateway{{Name: "gw", Segment: "public", IP: pfx(gw)}},
		Cluster:  &Cluster{Containers: []Container{{Name: "ctr1"}}},
		Hosts:    make([]Host, 0, n),
		CVMs:     make([]CVM, 0, n),
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("NTNX-BLOCK%d-%c", i/4+1, 'A'+i%4)
		t.Hosts = append(t.Hosts, Host{
			Name:      name,
			Vmnics:    vmnics,
			VSwitches: vswitches,
			Vmknics: []Vmknic{
				{Name: "vmk0", Portgroup: "Management Network", IP: pfx(hostIP(i)), Gateway: gw.String(), Tags: []string{"Management", "VMotion"}},
				{Name: "vmk1", Portgroup: "vmk-svm-iscsi-pg", IP: "192.168.5.1/24"},
			},
			Gateway:    gw.String(),
			Datastores: datastores,
		})
		private := name + "/vSwitchNutanix"
		t.CVMs = append(t.CVMs, CVM{
			Name: name + "-CVM",
			Host: name,
			Interfaces: []Interface{
				{Name: "eth0", Segment: "public", IP: pfx(cvmIP(i))},
				{Name: "eth1", Segment: private, IP: "192.168.5.2/24"},
				{Name: "eth1:1", Segment: private, IP: "192.168.5.254/24"},
			},
		})
	}
	return t
}
