package esxcfg

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// bench is a host with its esxcfg commands registered, as a session sees
// them.
type bench struct {
	lab *vmkerneltest.Lab
	reg *shell.Registry
}

func newBench(t testing.TB, lab *vmkerneltest.Lab) *bench {
	t.Helper()
	r := shell.NewRegistry()
	Register(r, lab.Host)
	return &bench{lab: lab, reg: r}
}

// hostA is host A of the default lab.
func hostA(t testing.TB) *bench { return newBench(t, vmkerneltest.New(t)) }

// hpeConfig is the ESXi 7.0.3 host of the HPE README, the reference's
// anchor sample (reference §1.2, §3.1, §4.1, and its esxcfg-nics -l).
func hpeConfig() vmkernel.Config {
	mac := func(s string) net.HardwareAddr {
		m, err := net.ParseMAC(s)
		if err != nil {
			panic(err)
		}
		return m
	}
	nic := func(name, pci, m string) vmkernel.Vmnic {
		return vmkernel.Vmnic{
			Name: name, PCI: pci, Driver: "nmlx5_core", MAC: mac(m), LinkUp: true, Speed: 25000,
			Duplex: "Full", MTU: 1500, Description: "Mellanox Technologies MT27800 Family [ConnectX-5]",
			Network: "hpe",
		}
	}
	return vmkernel.Config{
		Hostname: "esxi.esxi.localdomain",
		Vmnics: []vmkernel.Vmnic{
			nic("vmnic0", "0000:0f:00.0", "88:e9:a4:6b:b8:54"),
			nic("vmnic1", "0000:0f:00.1", "88:e9:a4:6b:b8:55"),
		},
		VSwitches: []vmkernel.VSwitchConfig{{
			Name: "vSwitch0", NumPorts: 8960, Uplinks: []string{"vmnic0"},
			Portgroups: []vmkernel.PortgroupConfig{{Name: "Management Network"}, {Name: "VM Network"}},
		}},
		Vmknics: []vmkernel.VmknicConfig{{
			Name: "vmk0", Portgroup: "Management Network",
			IP: netip.MustParsePrefix("172.26.64.10/26"), MAC: mac("88:e9:a4:6b:b8:54"),
		}},
		DefaultGateway: netip.MustParseAddr("172.26.64.1"),
	}
}

func hpe(t testing.TB) *bench {
	return newBench(t, vmkerneltest.NewWithClock(t, clock.NewFake(), hpeConfig()))
}

// run executes one command line and returns what the session would see.
func (b *bench) run(t testing.TB, line string) (stdout, stderr string, code int) {
	t.Helper()
	args := cmdtest.SplitLine(line)
	return b.exec(cmdtest.Lookup(t, b.reg, args[0]), args)
}

func (b *bench) exec(cmd shell.Command, args []string) (string, string, int) {
	return cmdtest.Exec(context.Background(), cmd, args, b.lab.Clock)
}

// transcript runs lines and renders them as a session would show them.
func (b *bench) transcript(t testing.TB, lines ...string) string {
	t.Helper()
	return cmdtest.Transcript(func(l string) (string, string, int) { return b.run(t, l) }, lines...)
}

// snapshot renders everything the esxcfg tools can change or report, so a
// rejected command can be shown to have changed nothing.
func snapshot(h *vmkernel.Host) string {
	var s strings.Builder
	for _, name := range h.Netstacks() {
		ns, _ := h.Netstack(name)
		fmt.Fprintf(&s, "netstack %s static=%v\n", name, ns.Routes.Static())
		rs, _ := h.Routes(name)
		for _, r := range rs {
			fmt.Fprintf(&s, "  route %s gw=%s %s default=%v\n", r.Network, r.Gateway, r.Interface, r.Default)
		}
	}
	for _, v := range h.Vmknics() {
		fmt.Fprintf(&s, "vmknic %s pg=%s ns=%s addr=%s type=%s mac=%s mtu=%d up=%v\n",
			v.Name, v.Portgroup, v.Netstack, v.Addr(), v.Type, v.MAC(), v.MTU(), v.Enabled())
	}
	for _, vs := range h.VSwitches() {
		fmt.Fprintf(&s, "vswitch %s %d %d %v", vs.Name, vs.NumPorts, vs.MTU, vs.Uplinks)
		for _, pg := range vs.Portgroups {
			fmt.Fprintf(&s, " [%s %d]", pg.Name, pg.VLAN)
		}
		s.WriteString("\n")
	}
	for _, n := range h.Vmnics() {
		fmt.Fprintf(&s, "vmnic %+v\n", n)
	}
	return s.String()
}

// echo sends one probe from the host as vmkping would, to check where the
// routes now send traffic.
func echo(t testing.TB, h *vmkernel.Host, dst string) (*fabric.EchoReply, error) {
	t.Helper()
	return h.Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr(dst)})
}
