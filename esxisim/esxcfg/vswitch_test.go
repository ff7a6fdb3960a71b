package esxcfg

import (
	"testing"

	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
)

// esxcfg-vswitch and esxcfg-nics on host A, as transcripts compared with
// testdata/<name>.golden.
func TestVswitchNicsGolden(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"vswitch-list", []string{"esxcfg-vswitch -l", "esxcfg-vswitch --list"}},
		{"vswitch-check", []string{
			"esxcfg-vswitch -c vSwitch0",
			"esxcfg-vswitch -c vSwitchNutanix:128",
			"esxcfg-vswitch --check vSwitch9",
			"esxcfg-vswitch -C 'VM Network'",
			"esxcfg-vswitch -C nosuch",
			"esxcfg-vswitch -C -p svm-iscsi-pg vSwitchNutanix",
			"esxcfg-vswitch -C -p svm-iscsi-pg vSwitch0",
			"esxcfg-vswitch -b vSwitch0",
		}},
		{"vswitch-errors", []string{
			"esxcfg-vswitch -a vSwitch1",
			"esxcfg-vswitch -A pg1 vSwitch0",
			"esxcfg-vswitch -L vmnic1 vSwitch0",
			"esxcfg-vswitch -m 9000 vSwitch0",
			"esxcfg-vswitch -p 'VM Network' -v 10 vSwitch0",
			"esxcfg-vswitch -c",
			"esxcfg-vswitch -C",
			"esxcfg-vswitch -b nosuch",
			"esxcfg-vswitch -l -c vSwitch0",
			"esxcfg-vswitch -l vSwitch0",
			"esxcfg-vswitch -c a b",
			"esxcfg-vswitch -z",
			"esxcfg-vswitch",
		}},
		{"vswitch-help", []string{"esxcfg-vswitch -h"}},
		{"nics", []string{"esxcfg-nics -l", "esxcfg-nics -h", "esxcfg-nics", "esxcfg-nics -s 1000 vmnic0", "esxcfg-nics -l vmnic0", "esxcfg-nics -x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmdtest.Golden(t, tc.name, hostA(t).transcript(t, tc.lines...))
		})
	}
}
