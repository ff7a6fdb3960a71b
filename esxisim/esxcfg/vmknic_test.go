package esxcfg

import (
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
)

// Every esxcfg-vmknic form and error on host A, as transcripts compared
// with testdata/vmknic-<name>.golden.
func TestVmknicGolden(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"list", []string{"esxcfg-vmknic -l", "esxcfg-vmknic --list"}},
		{"add-delete", []string{
			"esxcfg-vmknic -a -i 192.168.5.10 -n 255.255.255.0 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 10.10.0.5 -n 255.255.0.0 -m 9000 -M 00:50:56:01:02:03 -N defaultTcpipStack 'VM Network'",
			"esxcfg-vmknic -l",
			"esxcfg-route -l",
			"esxcfg-vswitch -l",
			"esxcfg-vmknic -d svm-iscsi-pg",
			"esxcfg-vmknic --del -p 'VM Network'",
			"esxcfg-vmknic -l",
		}},
		{"enable-disable", []string{
			"esxcfg-vmknic -D vmk-svm-iscsi-pg",
			"esxcfg-vmknic -l",
			"esxcfg-route -l",
			"esxcfg-vmknic --enable vmk-svm-iscsi-pg",
			"esxcfg-vmknic -l",
			"esxcfg-route -l",
		}},
		{"modify", []string{
			"esxcfg-vmknic -i 10.10.10.1 -n 255.255.255.0 vmk-svm-iscsi-pg",
			"esxcfg-vmknic -m 9000 vmk-svm-iscsi-pg",
			"esxcfg-vmknic -l",
			"esxcfg-route -l",
			"esxcfg-vmknic -U vmk-svm-iscsi-pg",
			"esxcfg-vmknic -l",
			"esxcfg-route -l",
		}},
		// Seed 004: a second vmk in vmk0's subnet is never the subnet's
		// egress; moving it to its own subnet gives it a Local Subnet route.
		{"seed004", []string{
			"esxcfg-vmknic -a -i 192.168.1.30 -n 255.255.255.0 'VM Network'",
			"esxcfg-route -l",
			"esxcfg-vmknic -i 10.0.0.5 -n 255.255.255.0 'VM Network'",
			"esxcfg-route -l",
			"esxcfg-vmknic -d 'VM Network'",
			"esxcfg-vmknic -a -i 10.0.0.5 -n 255.255.255.0 'VM Network'",
			"esxcfg-vmknic -l",
			"esxcfg-route -l",
		}},
		{"help", []string{"esxcfg-vmknic -h", "esxcfg-vmknic"}},
		{"errors", []string{
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 vmk-svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 nosuch-pg",
			"esxcfg-vmknic -d nosuch-pg",
			"esxcfg-vmknic -d svm-iscsi-pg",
			"esxcfg-vmknic -e svm-iscsi-pg",
			"esxcfg-vmknic -i 10.0.0.1 -n 255.255.255.0 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.300 -n 255.255.255.0 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.0.255 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 0.0.0.0 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.0 -n 255.255.255.0 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.9 svm-iscsi-pg",
			"esxcfg-vmknic -a -n 255.255.255.0 svm-iscsi-pg",
			"esxcfg-vmknic -a svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 svm-iscsi-pg other",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 -m 100000 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 -M 01:00:5e:00:00:01 svm-iscsi-pg",
			"esxcfg-vmknic -a -i DHCP svm-iscsi-pg",
			"esxcfg-vmknic -a -i fd00::1/64 svm-iscsi-pg",
			"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 -s dvSwitch svm-iscsi-pg",
			"esxcfg-vmknic -P false vmk-svm-iscsi-pg",
			"esxcfg-vmknic -d -i 10.0.0.1 vmk-svm-iscsi-pg",
			"esxcfg-vmknic -M 00:50:56:01:02:03 vmk-svm-iscsi-pg",
			"esxcfg-vmknic -d -e vmk-svm-iscsi-pg",
			"esxcfg-vmknic -N vmotion -d vmk-svm-iscsi-pg",
			"esxcfg-vmknic -l extra",
			"esxcfg-vmknic -q",
			"esxcfg-vmknic -i",
			"esxcfg-vmknic -r",
			"esxcfg-vmknic -l",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmdtest.Golden(t, "vmknic-"+tc.name, hostA(t).transcript(t, tc.lines...))
		})
	}
}

// A rejected esxcfg-vmknic changes nothing.
func TestVmknicRejectedLeavesModel(t *testing.T) {
	b := hostA(t)
	for _, line := range []string{
		"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 vmk-svm-iscsi-pg",
		"esxcfg-vmknic -a -i 192.168.5.9 -n 255.255.255.0 nosuch",
		"esxcfg-vmknic -i 10.0.0.1 -n 255.255.255.0 -m 100 vmk-svm-iscsi-pg",
		"esxcfg-vmknic -i 10.0.0.1 -n 255.0.255.0 -m 9000 vmk-svm-iscsi-pg",
		"esxcfg-vmknic -d svm-iscsi-pg",
		"esxcfg-vmknic -D nosuch",
		"esxcfg-vmknic -N vmotion -D vmk-svm-iscsi-pg",
	} {
		before := snapshot(b.lab.Host)
		_, errs, code := b.run(t, line)
		if code == 0 || strings.Count(errs, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q: want one error line and a failure status", line, code, errs)
		}
		if after := snapshot(b.lab.Host); after != before {
			t.Errorf("%s changed the model:\n%s\nwas\n%s", line, after, before)
		}
	}
}

// Disabling vmk1 takes its subnet away: 192.168.5.2 is then routed by the
// default gateway, and the esxcli-style views agree.
func TestVmknicDisableReroutes(t *testing.T) {
	b := hostA(t)
	if _, err := echo(t, b.lab.Host, "192.168.5.2"); err != nil {
		t.Fatal(err)
	}
	b.run(t, "esxcfg-vmknic -D vmk-svm-iscsi-pg")
	ns, _ := b.lab.Host.Netstack("")
	rt, err := ns.Routes.Lookup(mustAddr("192.168.5.2"))
	if err != nil || rt.Iface.Name() != "vmk0" || rt.Gateway != mustAddr("192.168.1.1") {
		t.Fatalf("after disable: %+v %v", rt, err)
	}
}
