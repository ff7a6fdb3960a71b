package esxcfg

import (
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
)

// Every esxcfg-route form and error on host A, as transcripts compared
// with testdata/route-<name>.golden.
func TestRouteGolden(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"show", []string{"esxcfg-route", "esxcfg-route -f V4", "esxcfg-route -N defaultTcpipStack"}},
		{"list", []string{"esxcfg-route -l", "esxcfg-route --list", "esxcfg-route --li", "esxcfg-route -l -f V4", "esxcfg-route -lN defaultTcpipStack", "esxcfg-route --netstack=defaultTcpipStack --list"}},
		// Seed 001: the operator's host route to CVM B, listed and removed.
		{"seed001", []string{
			"esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28",
			"esxcfg-route -l",
			"esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.28",
			"esxcfg-route -l",
		}},
		{"add-forms", []string{
			"esxcfg-route -a 10.0.0.0/8 192.168.1.254",
			"esxcfg-route -a 172.16.0.0 255.240.0.0 192.168.1.254",
			"esxcfg-route --add 192.168.5.2/32 192.168.1.29",
			"esxcfg-route -a 10.20.30.77/24 192.168.1.254",
			"esxcfg-route -l",
			"esxcfg-route -d 10.0.0.0/8 192.168.1.254",
			"esxcfg-route --del 172.16.0.0 255.240.0.0 192.168.1.254",
			"esxcfg-route -d 192.168.5.2/32 192.168.1.29",
			"esxcfg-route -d 10.20.30.0/24 192.168.1.254",
			"esxcfg-route -l",
		}},
		{"default", []string{
			"esxcfg-route -d default 192.168.1.1",
			"esxcfg-route",
			"esxcfg-route -l",
			"esxcfg-route -a default 192.168.1.254",
			"esxcfg-route",
			"esxcfg-route -a default 192.168.1.1",
			"esxcfg-route 192.168.1.1",
			"esxcfg-route -l",
		}},
		{"neighbors", []string{"esxcfg-route -n", "esxcfg-route --neighbor-list -f V6"}},
		{"v6", []string{"esxcfg-route -f V6 -l", "esxcfg-route -f V6", "esxcfg-route -f V6 -a 2001:db8::/32 fe80::1", "esxcfg-route -f V6 2001:db8::1"}},
		{"help", []string{"esxcfg-route -h", "esxcfg-route --help"}},
		{"errors", []string{
			"esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28",
			"esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28",
			"esxcfg-route -d 10.9.9.0/24 192.168.1.254",
			"esxcfg-route -d 192.168.5.2/32 192.168.1.29",
			"esxcfg-route -a 10.1.0.0/16 10.99.99.1",
			"esxcfg-route 10.99.99.1",
			"esxcfg-route -a 300.1.1.0/24 192.168.1.254",
			"esxcfg-route -a 10.1.0.0/33 192.168.1.254",
			"esxcfg-route -a 10.1.0.0 255.0.255.0 192.168.1.254",
			"esxcfg-route -a 10.1.0.0 255.255.0.0 0.0.0.0",
			"esxcfg-route -a 10.1.0.0 192.168.1.254",
			"esxcfg-route -a 10.1.0.0/16",
			"esxcfg-route -a",
			"esxcfg-route -a 10.1.0.0/16 192.168.1.254 extra",
			"esxcfg-route bogus",
			"esxcfg-route 192.168.1.1 192.168.1.2",
			"esxcfg-route -N vmotion -l",
			"esxcfg-route --netstack=nosuch -a 10.1.0.0/16 192.168.1.254",
			"esxcfg-route -f V5 -l",
			"esxcfg-route -x",
			"esxcfg-route --bogus",
			"esxcfg-route --n",
			"esxcfg-route -N",
			"esxcfg-route --list=yes",
			"esxcfg-route -a -d 10.1.0.0/16 192.168.1.254",
			"esxcfg-route -l extra",
			"esxcfg-route -r",
			"esxcfg-route -l",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmdtest.Golden(t, "route-"+tc.name, hostA(t).transcript(t, tc.lines...))
		})
	}
}

// A rejected esxcfg-route leaves the model exactly as it was and says why
// on stderr.
func TestRouteRejectedLeavesModel(t *testing.T) {
	b := hostA(t)
	b.run(t, "esxcfg-route -a 192.168.5.2/32 192.168.1.28")
	for _, line := range []string{
		"esxcfg-route -a 192.168.5.2/32 192.168.1.28",
		"esxcfg-route -d 192.168.5.2/32 192.168.1.29",
		"esxcfg-route -a 10.0.0.0/8 10.1.1.1",
		"esxcfg-route 10.1.1.1",
		"esxcfg-route -a default 192.168.1.254",
		"esxcfg-route -a 10.0.0.0 255.0.0.255 192.168.1.1",
		"esxcfg-route -N nosuch 192.168.1.254",
		"esxcfg-route -f V6 192.168.1.254",
	} {
		before := snapshot(b.lab.Host)
		out, errs, code := b.run(t, line)
		if code == 0 || errs == "" || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q: want one error line and a failure status", line, code, errs)
		}
		if strings.Contains(out, "Error") {
			t.Errorf("%s: error text on stdout: %q", line, out)
		}
		if after := snapshot(b.lab.Host); after != before {
			t.Errorf("%s changed the model:\n%s\nwas\n%s", line, after, before)
		}
	}
}

// Seed 001: the host route moves 192.168.5.2's traffic from vmk1 (CVM A on
// the private segment) to vmk0 and CVM B's public address; deleting it
// moves it back.
func TestRouteSeed001MovesTraffic(t *testing.T) {
	b := hostA(t)
	cvmB := b.lab.Peers["cvm-b"]
	target := func() string {
		t.Helper()
		ns, _ := b.lab.Host.Netstack("")
		rt, err := ns.Routes.Lookup(mustAddr("192.168.5.2"))
		if err != nil {
			t.Fatal(err)
		}
		return rt.Iface.Name() + " via " + rt.NextHop(mustAddr("192.168.5.2")).String()
	}
	if got := target(); got != "vmk1 via 192.168.5.2" {
		t.Fatalf("before: %s", got)
	}
	if _, _, code := b.run(t, "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28"); code != 0 {
		t.Fatal("add failed")
	}
	if got := target(); got != "vmk0 via 192.168.1.28" {
		t.Fatalf("after add: %s", got)
	}
	// CVM B answers for 192.168.5.2 on eth0 (it acts as a router).
	b.lab.Peers["cvm-a"].SetPowered(false)
	if r, err := echo(t, b.lab.Host, "192.168.5.2"); err != nil || r == nil {
		t.Fatalf("echo via CVM B: %v %v", r, err)
	}
	// CVM B answered ARP for its public address on vmk0.
	if n := cmdtest.Neighbors(b.lab.Host); !contains(n, "192.168.1.28@vmk0") {
		t.Errorf("neighbours %v: want 192.168.1.28 on vmk0", n)
	}
	out, _, _ := b.run(t, "esxcfg-route -n")
	if !strings.Contains(out, "192.168.1.28     "+cvmB.Interface("eth0").MAC().String()+"  vmk0") {
		t.Errorf("esxcfg-route -n:\n%s", out)
	}
	if _, _, code := b.run(t, "esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.28"); code != 0 {
		t.Fatal("delete failed")
	}
	if got := target(); got != "vmk1 via 192.168.5.2" {
		t.Fatalf("after delete: %s", got)
	}
}

// The neighbour list after traffic: the gateway and CVM A's private
// address, each on the vmk that reached it.
func TestRouteNeighborsGolden(t *testing.T) {
	b := hostA(t)
	for _, dst := range []string{"192.168.1.1", "192.168.5.2"} {
		if _, err := echo(t, b.lab.Host, dst); err != nil {
			t.Fatal(err)
		}
	}
	b.lab.Clock.(interface{ Advance(time.Duration) }).Advance(200 * time.Second)
	cmdtest.Golden(t, "route-neighbors-traffic", b.transcript(t, "esxcfg-route -n", "esxcfg-route -n -N defaultTcpipStack"))
}
