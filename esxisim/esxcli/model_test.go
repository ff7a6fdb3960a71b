package esxcli

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// snapshot renders everything esxcli can change in the model, to compare
// before and after a command.
func snapshot(h *vmkernel.Host) string {
	var b strings.Builder
	for _, name := range h.Netstacks() {
		ns, _ := h.Netstack(name)
		fmt.Fprintf(&b, "netstack %s static %v\n", name, ns.Routes.Static())
		routes, _ := h.Routes(name)
		for _, r := range routes {
			fmt.Fprintf(&b, "  route %v\n", r)
		}
	}
	for _, v := range h.Vmknics() {
		fmt.Fprintf(&b, "%s %s %v mtu=%d type=%s gw=%v\n", v.Name, v.Addr(), v.Enabled(), v.MTU(), v.Type, v.Gateway)
	}
	fmt.Fprintf(&b, "hostname %s\n", h.Hostname())
	return b.String()
}

func TestRouteAddVisibleInModel(t *testing.T) {
	l := vmkerneltest.New(t)
	h := l.Host
	// Seed 001's failover route, the esxcli way.
	must(t, h, "network", "ip", "route", "ipv4", "add", "--gateway", "192.168.1.28", "--network", "192.168.5.2/32")

	routes, err := h.Routes("")
	if err != nil {
		t.Fatal(err)
	}
	want := vmkernel.RouteView{Network: netip.MustParsePrefix("192.168.5.2/32"), Gateway: netip.MustParseAddr("192.168.1.28"), Interface: "vmk0"}
	if !slices.Contains(routes, want) {
		t.Errorf("Host.Routes lacks %v: %v", want, routes)
	}
	// The traffic view: 192.168.5.2 now leaves vmk0 towards CVM B.
	ns, _ := h.Netstack("")
	r, err := ns.Routes.Lookup(netip.MustParseAddr("192.168.5.2"))
	if err != nil || r.Iface.Name() != "vmk0" || r.Gateway != want.Gateway {
		t.Errorf("lookup 192.168.5.2: %v via %v (%v)", r.Iface, r.Gateway, err)
	}
	// The list view.
	out := must(t, h, "network", "ip", "route", "ipv4", "list")
	if !strings.Contains(out, "192.168.5.2  255.255.255.255  192.168.1.28  vmk0       MANUAL") {
		t.Errorf("list lacks the route:\n%s", out)
	}
	// The log view: the model wrote the Tcpip line.
	if log := string(h.Log().Bytes()); !strings.Contains(log, "Tcpip: 1414: add dstAddr=0x205a8c0") {
		t.Errorf("vmkernel.log lacks the add:\n%s", log)
	}

	must(t, h, "network", "ip", "route", "ipv4", "remove", "-g", "192.168.1.28", "-n", "192.168.5.2/32")
	routes, _ = h.Routes("")
	if slices.Contains(routes, want) {
		t.Errorf("route still present after remove: %v", routes)
	}
}

func TestModelChangesSeenByEsxcli(t *testing.T) {
	// Changes made directly on the model appear in esxcli at once: no
	// view keeps a copy.
	l := vmkerneltest.New(t)
	h := l.Host
	if err := h.AddRoute("", netip.MustParsePrefix("10.0.0.0/8"), netip.MustParseAddr("192.168.5.254")); err != nil {
		t.Fatal(err)
	}
	if out := must(t, h, "network", "ip", "route", "ipv4", "list"); !strings.Contains(out, "10.0.0.0     255.0.0.0      192.168.5.254  vmk1") {
		t.Errorf("list:\n%s", out)
	}
	if err := h.SetVmknicEnabled("vmk1", false); err != nil {
		t.Fatal(err)
	}
	v := mustVmknic(t, h, "vmk1")
	if out := must(t, h, "network", "ip", "interface", "list"); !strings.Contains(out, "vmk1\n   Name: vmk1\n   MAC Address: "+v.MAC().String()+"\n   Enabled: false\n") {
		t.Errorf("interface list:\n%s", out)
	}
}

// mustVmknic returns a copy of a vmknic; its accessors have pointer
// receivers, hence the pointer.
func mustVmknic(t *testing.T, h *vmkernel.Host, name string) *vmkernel.Vmknic {
	v, err := h.Vmknic(name)
	if err != nil {
		t.Fatal(err)
	}
	return &v
}

func TestInterfaceChangesVisibleInModel(t *testing.T) {
	h := vmkerneltest.New(t).Host
	must(t, h, "network", "ip", "interface", "set", "-e", "false", "-i", "vmk1")
	if mustVmknic(t, h, "vmk1").Enabled() {
		t.Error("vmk1 still enabled")
	}
	must(t, h, "network", "ip", "interface", "set", "-e", "true", "-M", "9000", "-i", "vmk1")
	if v := mustVmknic(t, h, "vmk1"); !v.Enabled() || v.MTU() != 9000 {
		t.Errorf("vmk1 enabled=%v mtu=%d", v.Enabled(), v.MTU())
	}
	must(t, h, "network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "static", "-I", "192.168.5.10", "-N", "255.255.255.0")
	if v := mustVmknic(t, h, "vmk1"); v.Addr() != netip.MustParsePrefix("192.168.5.10/24") || v.Type != "STATIC" {
		t.Errorf("vmk1 %v %s", v.Addr(), v.Type)
	}
	must(t, h, "network", "ip", "interface", "ipv4", "set", "-i", "vmk1", "-t", "none")
	if v := mustVmknic(t, h, "vmk1"); v.Addr().IsValid() || v.Type != "NONE" {
		t.Errorf("vmk1 %v %s", v.Addr(), v.Type)
	}
}

func TestErrorsLeaveModelUnchanged(t *testing.T) {
	for _, tc := range goldenCases() {
		if tc.code == 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			l := vmkerneltest.New(t)
			for _, b := range tc.before {
				must(t, l.Host, b...)
			}
			before := snapshot(l.Host)
			logBefore := len(l.Host.Log().Lines())
			if _, code := esxcli(t, l.Host, tc.args...); code == 0 {
				t.Fatal("succeeded")
			}
			if after := snapshot(l.Host); after != before {
				t.Errorf("model changed:\n--- before\n%s--- after\n%s", before, after)
			}
			if n := len(l.Host.Log().Lines()); n != logBefore {
				t.Errorf("vmkernel.log grew by %d lines", n-logBefore)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	h := vmkerneltest.New(t).Host
	r := shell.NewRegistry()
	Register(r, h)
	for _, p := range []string{"/bin/esxcli", "/sbin/esxcli"} {
		cmd, ok := r.Command(p)
		if !ok {
			t.Fatalf("%s not registered", p)
		}
		var out strings.Builder
		code := cmd(context.Background(), &shell.Invocation{Args: []string{p, "system", "version", "get"}, Stdout: &out})
		if code != 0 || !strings.Contains(out.String(), "   Product: VMware ESXi\n") {
			t.Errorf("%s: exit %d: %s", p, code, out.String())
		}
	}
}

func TestNeighborExpiry(t *testing.T) {
	l := vmkerneltest.New(t)
	if _, err := l.Host.Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr("192.168.1.1")}); err != nil {
		t.Fatal(err)
	}
	out := must(t, l.Host, "network", "ip", "neighbor", "list")
	if !strings.Contains(out, "vmk0    1200 sec         Dynamic") {
		t.Errorf("fresh entry:\n%s", out)
	}
}
