package esxcli

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
)

// These tests rebuild the hosts behind the reference's VERIFIED captures
// and compare byte for byte with the capture text, copied here rather than
// kept as golden files so that -update can never rewrite them.

// hpeHost is the HPE README host (ESXi 7.0.3): vmk0 172.26.64.10/26,
// gateway 172.26.64.1.
func hpeHost(t *testing.T) *vmkernel.Host {
	cfg := vmkernel.Config{
		Hostname: "esxi.esxi.localdomain",
		Vmnics:   []vmkernel.Vmnic{{Name: "vmnic0", Network: "hpe", LinkUp: true}},
		VSwitches: []vmkernel.VSwitchConfig{{Name: "vSwitch0", Uplinks: []string{"vmnic0"},
			Portgroups: []vmkernel.PortgroupConfig{{Name: "Management Network"}, {Name: "VM Network"}}}},
		Vmknics: []vmkernel.VmknicConfig{{Name: "vmk0", Portgroup: "Management Network",
			IP: netip.MustParsePrefix("172.26.64.10/26"), Gateway: netip.MustParseAddr("172.26.64.1")}},
		DefaultGateway: netip.MustParseAddr("172.26.64.1"),
	}
	return vmkerneltest.NewWithClock(t, clock.NewFake(), cfg).Host
}

func TestVerifiedRouteList(t *testing.T) {
	const want = "" + // §2.1, HPE README, 7.0.3
		"Network      Netmask          Gateway      Interface  Source\n" +
		"-----------  ---------------  -----------  ---------  ------\n" +
		"default      0.0.0.0          172.26.64.1  vmk0       MANUAL\n" +
		"172.26.64.0  255.255.255.192  0.0.0.0      vmk0       MANUAL\n"
	h := hpeHost(t)
	if got := must(t, h, "network", "ip", "route", "ipv4", "list"); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	golden(t, "verified_hpe_route_list", must(t, h, "network", "ip", "route", "ipv4", "list"))
}

func TestVerifiedRouteListXML(t *testing.T) {
	// §2.8: the preamble and the default route's structure, verbatim.
	const head = `<?xml version="1.0" encoding="utf-8"?>
<output xmlns="http://www.vmware.com/Products/ESX/5.0/esxcli/">
<root>
   <list type="structure">
      <structure typeName="IPv4Route">
         <field name="Gateway"><string>172.26.64.1</string></field>
         <field name="Interface"><string>vmk0</string></field>
         <field name="Netmask"><string>0.0.0.0</string></field>
         <field name="Network"><string>default</string></field>
         <field name="Source"><string>MANUAL</string></field>
      </structure>
`
	const tail = "   </list>\n</root>\n</output>\n"
	got := must(t, hpeHost(t), "--formatter=xml", "network", "ip", "route", "ipv4", "list")
	if !strings.HasPrefix(got, head) || !strings.HasSuffix(got, tail) {
		t.Errorf("xml does not match §2.8:\n%s", got)
	}
}

// hpConfig is Elatov's "hp" host (ESXi 7/8, capture #11400609571): vmk0
// 192.168.1.109/24 with gateway 192.168.1.1, vmk1 10.1.0.12/24 on the
// storage switch. withVMClient adds a vmknic on VM_VLAN3, standing in for
// the VM that is that port group's active client in the capture (VMs are
// not modelled).
func hpConfig(withVMClient bool) vmkernel.Config {
	cfg := vmkernel.Config{
		Hostname: "hp",
		Vmnics: []vmkernel.Vmnic{
			{Name: "vmnic0", Network: "public", LinkUp: true},
			{Name: "vmnic32", Network: "storage", LinkUp: true},
		},
		VSwitches: []vmkernel.VSwitchConfig{
			// Port groups in creation order; esxcli lists them newest first.
			{Name: "vSwitch0", NumPorts: 2816, Uplinks: []string{"vmnic0"}, Portgroups: []vmkernel.PortgroupConfig{
				{Name: "Management Network"}, {Name: "VM_VLAN3", VLAN: 3}, {Name: "VM Network"}, {Name: "VM_VLAN1"},
			}},
			{Name: "storage", NumPorts: 2816, ConfiguredPorts: 1024, MTU: 9000, Uplinks: []string{"vmnic32"}, Portgroups: []vmkernel.PortgroupConfig{
				{Name: "iscsi"}, {Name: "nfs-for-vm"},
			}},
		},
		Vmknics: []vmkernel.VmknicConfig{
			{Name: "vmk0", Portgroup: "Management Network", IP: netip.MustParsePrefix("192.168.1.109/24"),
				Gateway: netip.MustParseAddr("192.168.1.1")},
			{Name: "vmk1", Portgroup: "iscsi", IP: netip.MustParsePrefix("10.1.0.12/24")},
		},
		DefaultGateway: netip.MustParseAddr("192.168.1.1"),
	}
	if withVMClient {
		cfg.Vmknics = append(cfg.Vmknics, vmkernel.VmknicConfig{Name: "vmk2", Portgroup: "VM_VLAN3"})
	}
	return cfg
}

func TestVerifiedIPv4AddressList(t *testing.T) {
	const want = "" + // §2.3
		"Name  IPv4 Address   IPv4 Netmask   IPv4 Broadcast  Address Type  Gateway      DHCP DNS\n" +
		"----  -------------  -------------  --------------  ------------  -----------  --------\n" +
		"vmk0  192.168.1.109  255.255.255.0  192.168.1.255   STATIC        192.168.1.1     false\n" +
		"vmk1  10.1.0.12      255.255.255.0  10.1.0.255      STATIC        0.0.0.0         false\n"
	h := vmkerneltest.NewWithClock(t, clock.NewFake(), hpConfig(false)).Host
	for _, args := range [][]string{
		{"network", "ip", "interface", "ipv4", "address", "list"},
		{"network", "ip", "interface", "ipv4", "get"},
	} {
		if got := must(t, h, args...); got != want {
			t.Errorf("%s: got\n%q\nwant\n%q", strings.Join(args, " "), got, want)
		}
	}
	golden(t, "verified_hp_ipv4_address_list", must(t, h, "network", "ip", "interface", "ipv4", "address", "list"))
}

func TestVerifiedPortgroupList(t *testing.T) {
	const want = "" + // §2.7
		"Name                Virtual Switch  Active Clients  VLAN ID\n" +
		"------------------  --------------  --------------  -------\n" +
		"Management Network  vSwitch0                     1        0\n" +
		"VM Network          vSwitch0                     0        0\n" +
		"VM_VLAN1            vSwitch0                     0        0\n" +
		"VM_VLAN3            vSwitch0                     1        3\n" +
		"iscsi               storage                      1        0\n" +
		"nfs-for-vm          storage                      0        0\n"
	h := vmkerneltest.NewWithClock(t, clock.NewFake(), hpConfig(true)).Host
	if got := must(t, h, "network", "vswitch", "standard", "portgroup", "list"); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	golden(t, "verified_hp_portgroup_list", must(t, h, "network", "vswitch", "standard", "portgroup", "list"))

	// §2.8's VERIFIED csv sample: its header and first row.
	const csv = "ActiveClients,Name,VLANID,VirtualSwitch,\n1,Management Network,0,vSwitch0,\n"
	if got := must(t, h, "--formatter", "csv", "network", "vswitch", "standard", "portgroup", "list"); !strings.HasPrefix(got, csv) {
		t.Errorf("csv: got\n%s", got)
	}
}

func TestVerifiedVswitchList(t *testing.T) {
	// §2.6, byte for byte.
	want := `vSwitch0
   Name: vSwitch0
   Class: cswitch
   Num Ports: 2816
   Used Ports: 5
   Configured Ports: 128
   MTU: 1500
   CDP Status: listen
   Beacon Enabled: false
   Beacon Interval: 1
   Beacon Threshold: 3
   Beacon Required By: 
   Uplinks: vmnic0
   Portgroups: VM_VLAN1, VM Network, VM_VLAN3, Management Network

storage
   Name: storage
   Class: cswitch
   Num Ports: 2816
   Used Ports: 4
   Configured Ports: 1024
   MTU: 9000
   CDP Status: listen
   Beacon Enabled: false
   Beacon Interval: 1
   Beacon Threshold: 3
   Beacon Required By: 
   Uplinks: vmnic32
   Portgroups: nfs-for-vm, iscsi
`
	h := vmkerneltest.NewWithClock(t, clock.NewFake(), hpConfig(true)).Host
	if got := must(t, h, "network", "vswitch", "standard", "list"); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	first := want[:strings.Index(want, "\n\n")+1]
	if got := must(t, h, "network", "vswitch", "standard", "list", "-v", "vSwitch0"); got != first {
		t.Errorf("-v vSwitch0: got\n%q\nwant\n%q", got, first)
	}
}

func TestVerifiedNeighborList(t *testing.T) {
	// §2.4, 6.x+ with Type (capture #93409217). The header is VERIFIED with
	// its trailing spaces trimmed; the sample's Type is Unknown where the
	// model's learned entries are Dynamic.
	cfg := vmkernel.Config{
		Hostname: "esx6",
		Vmnics:   []vmkernel.Vmnic{{Name: "vmnic0", Network: "public", LinkUp: true}},
		VSwitches: []vmkernel.VSwitchConfig{{Name: "vSwitch0", Uplinks: []string{"vmnic0"},
			Portgroups: []vmkernel.PortgroupConfig{{Name: "Management Network"}, {Name: "storage"}}}},
		Vmknics: []vmkernel.VmknicConfig{
			{Name: "vmk0", Portgroup: "Management Network", IP: netip.MustParsePrefix("192.168.1.50/24")},
			{Name: "vmk1", Portgroup: "storage", IP: netip.MustParsePrefix("192.168.10.20/24")},
		},
	}
	l := vmkerneltest.NewWithClock(t, clock.NewFake(), cfg)
	peer, err := l.Net.AddNode(fabric.NodeConfig{Name: "filer"})
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC("0c:c4:7a:a9:55:89")
	if _, err := peer.AddInterface(fabric.InterfaceConfig{Name: "eth0", Addr: netip.MustParsePrefix("192.168.10.132/24"), MAC: mac, Segment: "public"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Host.Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr("192.168.10.132")}); err != nil {
		t.Fatal(err)
	}
	l.Clock.(*clockwork.FakeClock).Advance((1200 - 873) * time.Second)
	want := []string{
		"Neighbor        Mac Address        Vmknic    Expiry  State  Type",
		"--------------  -----------------  ------  --------  -----  -------",
		"192.168.10.132  0c:c4:7a:a9:55:89  vmk1     873 sec         Dynamic",
	}
	got := strings.Split(strings.TrimSuffix(must(t, l.Host, "network", "ip", "neighbor", "list", "-v", "vmk1"), "\n"), "\n")
	for i := range got {
		got[i] = strings.TrimRight(got[i], " ")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestVerifiedUsageBlock(t *testing.T) {
	// §0.3's ESXi 8.x capture, rebuilt from a definition of
	// `network vswitch standard portgroup set` (not one of our commands):
	// the error line, the blank line and the usage block with its column
	// rules are generated, not written.
	const want = `Error: While processing '--vlan-id'. Argument type mismatch. Expecting integer value. Got 'LT-3100'

Usage: esxcli network vswitch standard portgroup set [cmd options]

Description: 
  set                   Set the vlan id for the given port group

Cmd options: 
  -p|--portgroup-name=<str>
                        The name of the port group to set vlan id for. (required)
  -v|--vlan-id=<long>   The vlan id for this port group. This value is in the range (0 - 4095)
`
	set := &command{name: "set", desc: "Set the vlan id for the given port group",
		opts: []option{
			strOpt('p', "portgroup-name", "The name of the port group to set vlan id for.").req(),
			longOpt('v', "vlan-id", "The vlan id for this port group. This value is in the range (0 - 4095)"),
		},
		run: func(*call) (*result, error) { t.Fatal("ran despite a type error"); return nil, nil },
	}
	c := &cli{root: ns("", "", ns("network", "", ns("vswitch", "", ns("standard", "", ns("portgroup", "", set)))))}
	for _, args := range [][]string{
		{"network", "vswitch", "standard", "portgroup", "set", "-p", "LT", "--vlan-id", "LT-3100"},
		{"network", "vswitch", "standard", "portgroup", "set", "--vlan-id=LT-3100", "-p", "LT"},
		{"network", "vswitch", "standard", "portgroup", "set", "-p", "LT", "-v", "LT-3100"},
	} {
		var out strings.Builder
		if code := c.run(t.Context(), args, &out); code != 1 || out.String() != want {
			t.Errorf("%v: exit %d\n%q\nwant\n%q", args, code, out.String(), want)
		}
	}
}
