package esxcfg

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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
	args := splitLine(line)
	cmd, ok := b.reg.Command("/sbin/" + args[0])
	if !ok {
		t.Fatalf("%s: not registered", args[0])
	}
	return b.exec(cmd, args)
}

func (b *bench) exec(cmd shell.Command, args []string) (string, string, int) {
	var out, errb bytes.Buffer
	code := cmd(context.Background(), &shell.Invocation{
		Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Dir: "/", Getenv: func(string) string { return "" }, Clock: b.lab.Clock,
	})
	return out.String(), errb.String(), code
}

// transcript runs lines and renders them as a session would show them,
// stderr marked, every exit status stated.
func (b *bench) transcript(t testing.TB, lines ...string) string {
	t.Helper()
	var s strings.Builder
	for _, l := range lines {
		out, errs, code := b.run(t, l)
		fmt.Fprintf(&s, "$ %s\n%s", l, out)
		if errs != "" {
			fmt.Fprintf(&s, "[stderr]\n%s", errs)
		}
		fmt.Fprintf(&s, "[exit %d]\n", code)
	}
	return s.String()
}

// splitLine splits a command line on blanks, honouring '...' and "...".
func splitLine(line string) []string {
	var args []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

// golden compares got with testdata/<name>.golden, rewriting it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file %s:\n--- got\n%s\n--- want\n%s", name, p, got, want)
	}
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

// neighbors lists the host's ARP cache as "ip@vmk" strings.
func neighbors(h *vmkernel.Host) []string {
	var out []string
	for _, n := range h.Node().Neighbors() {
		out = append(out, n.IP.String()+"@"+n.Iface)
	}
	sort.Strings(out)
	return out
}

// echo sends one probe from the host as vmkping would, to check where the
// routes now send traffic.
func echo(t testing.TB, h *vmkernel.Host, dst string) (*fabric.EchoReply, error) {
	t.Helper()
	return h.Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr(dst)})
}
