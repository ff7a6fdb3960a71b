package vmkping

import (
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
)

// The VERIFIED success sample (reference §6.2) from a host shaped like the
// HPE README's: every line but the modelled times byte for byte.
func TestVerifiedHPEShape(t *testing.T) {
	mac, _ := net.ParseMAC("88:e9:a4:6b:b8:54")
	lab := vmkerneltest.NewWithClock(t, clock.NewFake(), vmkernel.Config{
		Hostname: "esxi.esxi.localdomain",
		Vmnics:   []vmkernel.Vmnic{{Name: "vmnic0", Network: "hpe", LinkUp: true, MAC: mac}},
		VSwitches: []vmkernel.VSwitchConfig{{Name: "vSwitch0", Uplinks: []string{"vmnic0"},
			Portgroups: []vmkernel.PortgroupConfig{{Name: "Management Network"}, {Name: "VM Network"}}}},
		Vmknics: []vmkernel.VmknicConfig{{Name: "vmk0", Portgroup: "Management Network",
			IP: netip.MustParsePrefix("172.26.64.10/26"), MAC: mac}},
		DefaultGateway: netip.MustParseAddr("172.26.64.1"),
	})
	b := newBench(t, lab)
	b.addNode(t, "hpe-gw", 255, "172.26.64.1/26", "hpe")
	r := b.run(t, "vmkping -I vmk0 172.26.64.1", 0)
	shape := regexp.MustCompile(`time=\d+\.\d{3} ms|= \d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3} ms`)
	got := shape.ReplaceAllString(r.out, "T")
	want := shape.ReplaceAllString(`PING 172.26.64.1 (172.26.64.1): 56 data bytes
64 bytes from 172.26.64.1: icmp_seq=0 ttl=255 time=0.856 ms
64 bytes from 172.26.64.1: icmp_seq=1 ttl=255 time=0.932 ms
64 bytes from 172.26.64.1: icmp_seq=2 ttl=255 time=0.986 ms

--- 172.26.64.1 ping statistics ---
3 packets transmitted, 3 packets received, 0% packet loss
round-trip min/avg/max = 0.856/0.925/0.986 ms
`, "T")
	if got != want || r.code != 0 || r.err != "" {
		t.Errorf("got (exit %d, stderr %q):\n%s\nwant the shape of:\n%s", r.code, r.err, r.out, want)
	}
	// Two intervals between three probes, none after the last.
	if r.elapsed != 2*time.Second {
		t.Errorf("took %v of clock time, want 2s", r.elapsed)
	}
}

// Every option and failure on host A, as transcripts compared with
// testdata/<name>.golden.
func TestPingGolden(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{name: "reply", lines: []string{
			"vmkping 192.168.1.1", "vmkping 192.168.5.2", "ping -c 1 192.168.5.254",
			"vmkping -c 2 -i 0.5 -s 1000 -t 32 -v -4 192.168.1.28",
			"vmkping -c1 -s4 192.168.1.1", "vmkping -c 1 -S defaultTcpipStack 192.168.1.1",
			"vmkping ++netstack=defaultTcpipStack -c 1 192.168.1.1", "vmkping 192.168.1.29 -c 1",
		}},
		{name: "mtu", lines: []string{
			"vmkping -d -s 1473 192.168.1.1", "vmkping -c 1 -d -s 1472 192.168.1.1",
			"vmkping -c 1 -s 8972 192.168.1.1",
			"esxcfg-vmknic -m 9000 vmk-svm-iscsi-pg",
			"vmkping -c 1 -d -s 8972 -I vmk1 192.168.5.2",
		}},
		// Nobody holds 192.168.1.99: ARP fails, every probe's sendto fails.
		{name: "host-down", lines: []string{"vmkping 192.168.1.99", "vmkping -I vmk1 -c 1 192.168.1.1"}},
		// The gateway does not forward: probes leave and nothing returns.
		{name: "timeout", lines: []string{"vmkping 10.1.1.1", "vmkping -c 1 -W 0 10.1.1.1"}},
		{name: "disabled-vmk", lines: []string{
			"esxcfg-vmknic -D vmk-svm-iscsi-pg",
			"vmkping -I vmk1 -c 2 192.168.5.2",
			"vmkping -c 1 192.168.5.2",
			"esxcfg-vmknic -e vmk-svm-iscsi-pg",
			"vmkping -c 1 192.168.5.2",
		}},
		{name: "no-route", lines: []string{
			"esxcfg-route -d default 192.168.1.1",
			"vmkping -c 2 10.1.1.1",
		}},
		{name: "usage", lines: []string{
			"vmkping -h", "vmkping", "vmkping -c 0 192.168.1.1", "vmkping -c x 192.168.1.1",
			"vmkping -s 70000 192.168.1.1", "vmkping -s -1 192.168.1.1", "vmkping -t 0 192.168.1.1",
			"vmkping -i 0 192.168.1.1", "vmkping -W -1 192.168.1.1", "vmkping -6 fe80::1",
			"vmkping -N 192.168.1.1 -I vmk0 192.168.1.1", "vmkping -D", "vmkping -q 192.168.1.1",
			"vmkping 192.168.1.1 192.168.1.2", "vmkping -c", "ping foo", "ping 2001:db8::1",
			"vmkping -I vmk9 192.168.1.1", "vmkping ++netstack=nosuch 192.168.1.1",
			"vmkping -S vmotion 192.168.1.1", "vmkping ++bogus=1 192.168.1.1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmdtest.Golden(t, "ping-"+tc.name, hostA(t).transcript(t, tc.lines...))
		})
	}
}

// Seed 001: the host route sends 192.168.5.2 out of vmk0 to CVM B, which
// answers for it; with CVM A powered off, the route is what keeps
// 192.168.5.2 reachable.
func TestPingSeed001(t *testing.T) {
	b := hostA(t)
	b.lab.Peers["cvm-a"].SetPowered(false)
	r := b.run(t, "vmkping -c 1 192.168.5.2", 0)
	if r.code != 1 || !strings.Contains(r.out, "sendto() failed (Host is down)") {
		t.Fatalf("CVM A off, no route: exit %d\n%s", r.code, r.out)
	}
	b.run(t, "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28", 0)
	r = b.run(t, "vmkping -c 1 192.168.5.2", 0)
	if r.code != 0 || !strings.Contains(r.out, "64 bytes from 192.168.5.2: icmp_seq=0 ttl=64") {
		t.Fatalf("via CVM B: exit %d\n%s", r.code, r.out)
	}
	if n := b.neighbors(); !slices.Contains(n, "192.168.1.28@vmk0") {
		t.Errorf("neighbours %v: CVM B's public address should be on vmk0", n)
	}
	mac := b.lab.Peers["cvm-b"].Interface("eth0").MAC().String()
	if out := b.run(t, "esxcfg-route -n", 0).out; !strings.Contains(out, "192.168.1.28     "+mac+"  vmk0") {
		t.Errorf("esxcfg-route -n does not show CVM B on vmk0:\n%s", out)
	}
	cmdtest.Golden(t, "ping-seed001", b.transcript(t, "esxcfg-route -l", "vmkping -c 2 192.168.5.2",
		"esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.28", "vmkping -c 2 192.168.5.2"))
}

// Seed 004: a second vmk in vmk0's subnet is not in the route table and
// plain vmkping leaves vmk0, but -I vmk2 still leaves vmk2.
func TestPingSeed004(t *testing.T) {
	b := hostA(t)
	if r := b.run(t, "esxcfg-vmknic -a -i 192.168.1.30 -n 255.255.255.0 VM_Network_unused", 0); r.code == 0 {
		t.Fatal("unknown port group accepted")
	}
	if r := b.run(t, "esxcfg-vmknic -a -i 192.168.1.30 -n 255.255.255.0 -p 'VM Network'", 0); r.code != 0 {
		t.Fatalf("add vmk2: %s%s", r.out, r.err)
	}
	out := b.run(t, "esxcfg-route -l", 0).out
	if strings.Contains(out, "vmk2") {
		t.Errorf("vmk2 listed although vmk0 owns its subnet:\n%s", out)
	}
	if r := b.run(t, "vmkping -c 1 192.168.1.29", 0); r.code != 0 {
		t.Fatalf("vmkping: %s", r.out)
	}
	if n := b.neighbors(); !slices.Contains(n, "192.168.1.29@vmk0") || slices.Contains(n, "192.168.1.29@vmk2") {
		t.Errorf("plain vmkping should leave vmk0: %v", n)
	}
	if r := b.run(t, "vmkping -I vmk2 -c 1 192.168.1.28", 0); r.code != 0 {
		t.Fatalf("vmkping -I vmk2: %s", r.out)
	}
	if n := b.neighbors(); !slices.Contains(n, "192.168.1.28@vmk2") {
		t.Errorf("-I vmk2 should leave vmk2: %v", n)
	}
	if n := b.neighbors(); slices.Contains(n, "192.168.1.28@vmk0") {
		t.Errorf("-I vmk2 left vmk0: %v", n)
	}
}

// Timing on the fake clock: intervals between probes only, a lost probe
// waits -W, Ctrl-C stops at once and still prints the statistics.
func TestPingTiming(t *testing.T) {
	tests := []struct {
		line    string
		cancel  time.Duration
		elapsed time.Duration
		code    int
		stats   string
	}{
		{"vmkping 192.168.1.1", 0, 2 * time.Second, 0, "3 packets transmitted, 3 packets received, 0% packet loss"},
		{"vmkping -c 5 -i 0.5 192.168.1.1", 0, 2 * time.Second, 0, "5 packets transmitted, 5 packets received, 0% packet loss"},
		{"vmkping 10.1.1.1", 0, 3 * time.Second, 1, "3 packets transmitted, 0 packets received, 100% packet loss"},
		{"vmkping -c 2 -W 2 10.1.1.1", 0, 4 * time.Second, 1, "2 packets transmitted, 0 packets received, 100% packet loss"},
		{"vmkping -c 2 -W 0.5 -i 2 10.1.1.1", 0, 2500 * time.Millisecond, 1, "2 packets transmitted, 0 packets received, 100% packet loss"},
		{"vmkping 192.168.1.99", 0, 2 * time.Second, 1, "3 packets transmitted, 0 packets received, 100% packet loss"},
		{"vmkping -c 100 192.168.1.1", 1500 * time.Millisecond, 1500 * time.Millisecond, 0, "2 packets transmitted, 2 packets received, 0% packet loss"},
		{"vmkping -c 100 10.1.1.1", 500 * time.Millisecond, 500 * time.Millisecond, 1, "1 packets transmitted, 0 packets received, 100% packet loss"},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			r := hostA(t).run(t, tc.line, tc.cancel)
			if r.elapsed != tc.elapsed || r.code != tc.code || !strings.Contains(r.out, "\n\n--- ") || !strings.Contains(r.out, tc.stats+"\n") {
				t.Errorf("elapsed %v exit %d, want %v exit %d and %q:\n%s", r.elapsed, r.code, tc.elapsed, tc.code, tc.stats, r.out)
			}
		})
	}
}

// A cancelled context before the first probe: nothing is sent and the
// statistics say so, FreeBSD style.
func TestPingNothingTransmitted(t *testing.T) {
	var st stats
	var sb strings.Builder
	st.print(&sb, "192.168.1.1", true)
	if want := "\n--- 192.168.1.1 ping statistics ---\n0 packets transmitted, 0 packets received, \n"; sb.String() != want {
		t.Errorf("got %q want %q", sb.String(), want)
	}
}
