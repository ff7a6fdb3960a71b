package esxcli

import (
	"bytes"
	"context"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// esxcli runs one esxcli command line against h through the shell.Command
// contract and returns its stdout and exit status. esxcli never writes to
// stderr (errors go to stdout), which this checks on every call.
func esxcli(t testing.TB, h *vmkernel.Host, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	inv := &shell.Invocation{Args: append([]string{"esxcli"}, args...), Stdout: &out, Stderr: &errb}
	code := New(h)(context.Background(), inv)
	if errb.Len() > 0 {
		t.Errorf("esxcli %s: wrote to stderr: %q", strings.Join(args, " "), errb.String())
	}
	return out.String(), code
}

// must runs a command that has to succeed.
func must(t testing.TB, h *vmkernel.Host, args ...string) string {
	t.Helper()
	out, code := esxcli(t, h, args...)
	if code != 0 {
		t.Fatalf("esxcli %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// golden compares got with testdata/<name>.golden, or rewrites it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from %s\n--- got ---\n%s\n--- want ---\n%s", name, path, got, want)
	}
}

// learnNeighbors pings the gateway and CVM A's private address, so host A's
// ARP cache holds one entry on each vmknic, then lets 100 s pass.
func learnNeighbors(t testing.TB, l *vmkerneltest.Lab) {
	t.Helper()
	for _, dst := range []string{"192.168.1.1", "192.168.5.2"} {
		if _, err := l.Host.Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr(dst)}); err != nil {
			t.Fatalf("echo %s: %v", dst, err)
		}
	}
	l.Clock.(*clockwork.FakeClock).Advance(100 * time.Second)
}

type goldenCase struct {
	name   string
	setup  func(t testing.TB, l *vmkerneltest.Lab)
	before [][]string // commands run first, each must succeed
	args   []string
	code   int
}

// listCommands are every list/get command; each is run with every
// formatter.
var listCommands = map[string][]string{
	"route_ipv4_list":         {"network", "ip", "route", "ipv4", "list"},
	"route_ipv6_list":         {"network", "ip", "route", "ipv6", "list"},
	"interface_list":          {"network", "ip", "interface", "list"},
	"interface_ipv4_get":      {"network", "ip", "interface", "ipv4", "get"},
	"interface_ipv4_addrlist": {"network", "ip", "interface", "ipv4", "address", "list"},
	"neighbor_list":           {"network", "ip", "neighbor", "list"},
	"vswitch_list":            {"network", "vswitch", "standard", "list"},
	"portgroup_list":          {"network", "vswitch", "standard", "portgroup", "list"},
	"nic_list":                {"network", "nic", "list"},
	"version_get":             {"system", "version", "get"},
	"hostname_get":            {"system", "hostname", "get"},
}

func goldenCases() []goldenCase {
	a := func(s ...string) []string { return s }
	cases := []goldenCase{
		// Namespace listings and help.
		{name: "help_root", args: a()},
		{name: "help_root_flag", args: a("--help")},
		{name: "help_root_qmark", args: a("-?")},
		{name: "help_network", args: a("network")},
		{name: "help_network_ip", args: a("network", "ip", "--help")},
		{name: "help_route_ipv4", args: a("network", "ip", "route", "ipv4")},
		{name: "help_system", args: a("--help", "system")},
		{name: "help_route_add", args: a("network", "ip", "route", "ipv4", "add", "--help")},
		{name: "help_route_add_qmark", args: a("network", "ip", "route", "ipv4", "add", "-n", "x", "-?")},
		{name: "help_route_list_global", args: a("--help", "network", "ip", "route", "ipv4", "list")},
		{name: "help_interface_set", args: a("network", "ip", "interface", "set", "--help")},
		{name: "help_ipv4_set", args: a("network", "ip", "interface", "ipv4", "set", "--help")},
		{name: "help_version_get", args: a("system", "version", "get", "--help")},

		// Route changes and their errors.
		{name: "route_add_then_list", before: [][]string{
			a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.28", "-n", "192.168.5.2/32"),
			a("network", "ip", "route", "ipv4", "add", "--gateway=192.168.1.1", "--network=10.10.0.0/16"),
			a("network", "ip", "route", "ipv4", "add", "--gateway", "192.168.5.254", "--network", "172.16.0.0/12"),
		}, args: a("network", "ip", "route", "ipv4", "list")},
		{name: "route_add_silent", args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.28", "-n", "192.168.5.2/32")},
		{name: "route_add_masks_host_bits", before: [][]string{
			a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.1", "-n", "10.1.2.3/8"),
		}, args: a("network", "ip", "route", "ipv4", "list")},
		{name: "route_remove_then_list", before: [][]string{
			a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.28", "-n", "192.168.5.2/32"),
			a("network", "ip", "route", "ipv4", "remove", "-g", "192.168.1.28", "-n", "192.168.5.2/32"),
		}, args: a("network", "ip", "route", "ipv4", "list")},
		{name: "route_remove_default_then_add", before: [][]string{
			a("network", "ip", "route", "ipv4", "remove", "-g", "192.168.1.1", "-n", "default"),
			a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.28", "-n", "default"),
		}, args: a("network", "ip", "route", "ipv4", "list")},
		{name: "err_route_add_duplicate", before: [][]string{
			a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.28", "-n", "192.168.5.2/32"),
		}, args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.28", "-n", "192.168.5.2/32"), code: 1},
		{name: "err_route_add_default_exists", args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.28", "-n", "default"), code: 1},
		{name: "err_route_add_unreachable_gw", args: a("network", "ip", "route", "ipv4", "add", "-g", "10.9.9.9", "-n", "10.0.0.0/8"), code: 1},
		{name: "err_route_add_bad_network", args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.1", "-n", "10.0.0.0/33"), code: 1},
		{name: "err_route_add_bare_address", args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.1", "-n", "10.0.0.1"), code: 1},
		{name: "err_route_add_bad_gateway", args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1", "-n", "10.0.0.0/8"), code: 1},
		{name: "err_route_add_ipv6_gateway", args: a("network", "ip", "route", "ipv4", "add", "-g", "fe80::1", "-n", "10.0.0.0/8"), code: 1},
		{name: "err_route_add_missing_network", args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.1"), code: 1},
		{name: "err_route_add_missing_both", args: a("network", "ip", "route", "ipv4", "add"), code: 1},
		{name: "err_route_add_missing_value", args: a("network", "ip", "route", "ipv4", "add", "-n", "10.0.0.0/8", "--gateway"), code: 1},
		{name: "err_route_add_invalid_option", args: a("network", "ip", "route", "ipv4", "add", "--foo", "-g", "1.1.1.1"), code: 1},
		{name: "err_route_add_invalid_option_eq", args: a("network", "ip", "route", "ipv4", "add", "--foo=bar"), code: 1},
		{name: "err_route_add_glued_short", args: a("network", "ip", "route", "ipv4", "add", "-g192.168.1.1", "-n", "default"), code: 1},
		{name: "err_route_add_bad_netstack", args: a("network", "ip", "route", "ipv4", "add", "-g", "192.168.1.1", "-n", "10.0.0.0/8", "-N", "vmotion"), code: 1},
		{name: "err_route_remove_not_found", args: a("network", "ip", "route", "ipv4", "remove", "-g", "192.168.1.28", "-n", "192.168.5.2/32"), code: 1},
		{name: "err_route_remove_wrong_gateway", args: a("network", "ip", "route", "ipv4", "remove", "-g", "192.168.1.28", "-n", "default"), code: 1},
		{name: "err_route_list_bad_netstack", args: a("network", "ip", "route", "ipv4", "list", "-N", "vxlan"), code: 1},
		{name: "route_list_netstack", args: a("network", "ip", "route", "ipv4", "list", "--netstack=defaultTcpipStack")},

		// Interfaces.
		{name: "interface_list_netstack", args: a("network", "ip", "interface", "list", "-N", "defaultTcpipStack")},
		{name: "interface_ipv4_get_vmk1", args: a("network", "ip", "interface", "ipv4", "get", "-i", "vmk1")},
		{name: "err_interface_ipv4_get_unknown", args: a("network", "ip", "interface", "ipv4", "get", "-i", "vmk9"), code: 1},
		{name: "interface_disable_vmk1", before: [][]string{
			a("network", "ip", "interface", "set", "-e", "false", "-i", "vmk1"),
		}, args: a("network", "ip", "interface", "list")},
		{name: "interface_disable_vmk1_routes", before: [][]string{
			a("network", "ip", "interface", "set", "--enabled=false", "--interface-name=vmk1"),
		}, args: a("network", "ip", "route", "ipv4", "list")},
		{name: "interface_set_mtu", before: [][]string{
			a("network", "ip", "interface", "set", "-M", "9000", "-i", "vmk1"),
		}, args: a("network", "ip", "interface", "list", "-N", "defaultTcpipStack")},
		{name: "err_interface_set_bad_bool", args: a("network", "ip", "interface", "set", "-e", "maybe", "-i", "vmk1"), code: 1},
		{name: "err_interface_set_mtu_type", args: a("network", "ip", "interface", "set", "-M", "jumbo", "-i", "vmk1"), code: 1},
		{name: "err_interface_set_mtu_range", args: a("network", "ip", "interface", "set", "-M", "100", "-i", "vmk1"), code: 1},
		{name: "err_interface_set_unknown", args: a("network", "ip", "interface", "set", "-e", "true", "-i", "vmk7"), code: 1},
		{name: "err_interface_set_missing_i", args: a("network", "ip", "interface", "set", "-e", "true"), code: 1},
		{name: "ipv4_set_static", before: [][]string{
			a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static", "-I", "192.168.5.10", "-N", "255.255.255.0"),
		}, args: a("network", "ip", "interface", "ipv4", "get")},
		{name: "ipv4_set_static_routes", before: [][]string{
			a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static", "-I", "10.20.0.5", "-N", "255.255.0.0"),
		}, args: a("network", "ip", "route", "ipv4", "list")},
		{name: "ipv4_set_none", before: [][]string{
			a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "none"),
		}, args: a("network", "ip", "interface", "ipv4", "get")},
		{name: "ipv4_set_same_gateway", before: [][]string{
			a("network", "ip", "interface", "ipv4", "set", "-i", "vmk0", "-t", "static", "-I", "192.168.1.24", "-N", "255.255.255.0", "-g", "192.168.1.1"),
		}, args: a("network", "ip", "interface", "ipv4", "get", "-i", "vmk0")},
		{name: "err_ipv4_set_bad_netmask", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static", "-I", "192.168.5.10", "-N", "255.0.255.0"), code: 1},
		{name: "err_ipv4_set_bad_ip", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static", "-I", "192.168.5.300", "-N", "255.255.255.0"), code: 1},
		{name: "err_ipv4_set_zero_mask", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static", "-I", "192.168.5.10", "-N", "0.0.0.0"), code: 1},
		{name: "err_ipv4_set_no_address", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static"), code: 1},
		{name: "err_ipv4_set_dhcp", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "dhcp"), code: 1},
		{name: "err_ipv4_set_bad_type", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "manual"), code: 1},
		{name: "err_ipv4_set_missing_type", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1"), code: 1},
		{name: "ipv4_set_gateway", before: [][]string{
			a("network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static", "-I", "192.168.5.10", "-N", "255.255.255.0", "-g", "192.168.5.254"),
		}, args: a("network", "ip", "interface", "ipv4", "get")},
		{name: "err_ipv4_set_unknown", args: a("network", "ip", "interface", "ipv4", "set", "-i", "vmk3", "-t", "none"), code: 1},

		// Neighbors.
		{name: "neighbor_list_vmk1", setup: learnNeighbors, args: a("network", "ip", "neighbor", "list", "-v", "vmk1")},
		{name: "neighbor_list_empty", args: a("network", "ip", "neighbor", "list")},
		{name: "err_neighbor_list_unknown", args: a("network", "ip", "neighbor", "list", "-v", "vmk5"), code: 1},

		// vSwitches.
		{name: "vswitch_list_one", args: a("network", "vswitch", "standard", "list", "-v", "vSwitchNutanix")},
		{name: "err_vswitch_list_unknown", args: a("network", "vswitch", "standard", "list", "-v", "vSwitch9"), code: 1},

		// Framework errors.
		{name: "err_unknown_namespace", args: a("network", "foo"), code: 1},
		{name: "err_unknown_top", args: a("storagex"), code: 1},
		{name: "err_unknown_deep", args: a("network", "ip", "route", "ipv5", "list"), code: 1},
		{name: "err_word_after_command", args: a("network", "ip", "route", "ipv4", "list", "extra"), code: 1},
		{name: "err_word_after_options", args: a("network", "ip", "route", "ipv4", "list", "-N", "defaultTcpipStack", "extra"), code: 1},
		{name: "err_option_after_namespace", args: a("network", "ip", "-N", "x"), code: 1},
		{name: "err_unknown_formatter", args: a("--formatter=yaml", "network", "nic", "list"), code: 1},
		{name: "err_formatter_missing_value", args: a("--formatter"), code: 1},
		{name: "err_global_invalid_option", args: a("--foo", "network"), code: 1},
		{name: "err_formatter_after_command", args: a("network", "nic", "list", "--formatter=csv"), code: 1},
		{name: "global_options_accepted", args: a("--debug", "--screen-width=200", "--formatter", "csv", "network", "vswitch", "standard", "portgroup", "list")},
	}
	for name, args := range listCommands {
		for _, f := range []string{"", "xml", "csv", "keyvalue", "json"} {
			c := goldenCase{name: name, setup: learnNeighbors, args: args}
			if f != "" {
				c.name += "_" + f
				c.args = append([]string{"--formatter=" + f}, args...)
			}
			cases = append(cases, c)
		}
	}
	return cases
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			l := vmkerneltest.New(t)
			if tc.setup != nil {
				tc.setup(t, l)
			}
			for _, b := range tc.before {
				if out := must(t, l.Host, b...); out != "" {
					t.Fatalf("esxcli %s: success printed %q", strings.Join(b, " "), out)
				}
			}
			out, code := esxcli(t, l.Host, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			if code != 0 && !strings.HasPrefix(out, "Error: ") {
				t.Errorf("failure without an Error: line:\n%s", out)
			}
			golden(t, tc.name, out)
		})
	}
}
