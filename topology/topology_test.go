package topology

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefault(t *testing.T) {
	d := Default()
	require.Len(t, d.Hosts, 3)
	require.Len(t, d.CVMs, 3)
	assert.Equal(t, "NTNX-BLOCK1-B", d.Hosts[1].Name)
	assert.Equal(t, "192.168.1.25/24", d.Hosts[1].Vmknics[0].IP)
	// Anchors share the vSwitch layout between hosts.
	assert.Equal(t, "vSwitchNutanix", d.Hosts[2].VSwitches[1].Name)
	assert.Equal(t, "192.168.5.254/24", d.CVMs[2].Interfaces[2].IP)
}

// The shipped example must be the embedded default, so users editing a copy
// start from what `lab` runs.
func TestExampleIsDefault(t *testing.T) {
	b, err := os.ReadFile("../examples/topologies/default.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(DefaultYAML()), string(b))
}

func TestExamplesParse(t *testing.T) {
	for _, f := range []string{"default.yaml", "wrong-vmk.yaml", "full.yaml"} {
		t.Run(f, func(t *testing.T) {
			top, err := Load("../examples/topologies/" + f)
			require.NoError(t, err)
			require.NotEmpty(t, top.Hosts)
			require.NotEmpty(t, top.Hosts[0].Datastores)
			require.NoError(t, top.Validate())
		})
	}
}

// full.yaml shows every newer field; they arrive parsed.
func TestFullExample(t *testing.T) {
	top, err := Load("../examples/topologies/full.yaml")
	require.NoError(t, err)
	require.Len(t, top.Hosts, 3)
	require.Len(t, top.CVMs, 3)

	assert.Equal(t, Timers{
		CVMBoot: CVMBootTimers{Ping: 20 * time.Second, Stargate: time.Minute, Initialised: 2 * time.Minute},
		Genesis: GenesisTimers{Interval: 30 * time.Second, StablePeriod: 30 * time.Second, ProbeTimeout: 5 * time.Second},
	}, top.Timers)

	a, b, c := top.Hosts[0].SSH, top.Hosts[1].SSH, top.Hosts[2].SSH
	assert.Equal(t, []string{"publickey", "keyboard-interactive", "password"}, a.Methods())
	assert.Equal(t, []string{"publickey", "keyboard-interactive", "password"}, b.Methods(), "passwordAuth adds password")
	assert.Equal(t, []string{"publickey", "keyboard-interactive"}, c.Methods(), "ESXi's default")
	require.Len(t, a.Users, 2)
	assert.Equal(t, "root", a.Users[0].Name)
	assert.Len(t, a.Users[0].AuthorizedKeys, 1)

	assert.Equal(t, []User{{Name: "nutanix", Password: "nutanix/4u"}, {Name: "admin", Password: "Nutanix.123"}}, top.CVMs[0].SSHUsers())
	assert.Equal(t, []User{{Name: "nutanix", Password: "nutanix/4u"}}, top.CVMs[1].SSHUsers(), "the default login")

	require.Len(t, top.Faults, 6)
	assert.Equal(t, Fault{At: 10 * time.Second, Kind: FaultStargateDown, Node: "NTNX-BLOCK1-A-CVM", For: 2 * time.Minute}, top.Faults[0])
	assert.Equal(t, Fault{At: 10 * time.Second, Kind: FaultSSHSlow, Node: "NTNX-BLOCK1-B", Delay: 2 * time.Second, Count: 3}, top.Faults[1])
	assert.Equal(t, Fault{At: 30 * time.Second, Kind: FaultSSHHang, Node: "NTNX-BLOCK1-C", Command: "esxcfg-route", Count: 1}, top.Faults[2])
	assert.Equal(t, Fault{At: time.Minute, Kind: FaultLoss, Node: "NTNX-BLOCK1-C", Interface: "vmnic0", LossPercent: 10, For: time.Minute}, top.Faults[3])
	assert.Equal(t, 50*time.Millisecond, top.Faults[4].Latency)
	assert.Equal(t, FaultCVMPowerOff, top.Faults[5].Kind)
}

func TestFaultKinds(t *testing.T) {
	assert.Equal(t, []string{"link-down", "latency", "loss", "partition", "ssh-refuse", "ssh-slow", "ssh-drop", "ssh-hang",
		"stargate-down", "stargate-hang", "cvm-power-off", "cvm-reboot"}, FaultKinds)
}

// Strings keep the text as written, where goccy/go-yaml alone would read
// a number and print it back.
func TestStringsAsWritten(t *testing.T) {
	src := `hosts:
  - name: 0x10
    version: {version: 7.0, build: 012, update: 3, patch: true}
`
	top, err := Parse("x.yaml", []byte(src))
	require.NoError(t, err)
	assert.Equal(t, "0x10", top.Hosts[0].Name)
	assert.Equal(t, &Version{Version: "7.0", Build: "012", Update: "3", Patch: "true"}, top.Hosts[0].Version)
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{File: "lab.yaml", Line: 14, Col: 11, Path: "hosts[0].vmknics[1].ip", Msg: "bad"}, "lab.yaml:14:11: hosts[0].vmknics[1].ip: bad"},
		{Error{File: "lab.yaml", Line: 1, Col: 1, Msg: "empty"}, "lab.yaml:1:1: empty"},
		{Error{Path: "hosts[0]", Msg: "no name"}, "hosts[0]: no name"},
		{Error{File: "lab.yaml", Path: "hosts[0]", Msg: "no name"}, "lab.yaml: hosts[0]: no name"},
		{Error{Line: 2, Col: 3, Msg: "x"}, "2:3: x"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.e.Error())
	}
	errs := Errors{cases[0].e, cases[1].e}
	assert.Equal(t, cases[0].want+"\n"+cases[1].want, errs.Error())
	var one Error
	require.ErrorAs(t, error(errs), &one)
	assert.Equal(t, 14, one.Line)
}

// Validate works on a Topology built in Go: errors carry paths only.
func TestValidateInGo(t *testing.T) {
	top := Default()
	require.NoError(t, top.Validate())
	top.Hosts[1].Vmknics[0].IP = "192.168.1.25"
	top.Faults = []Fault{{Kind: FaultCVMReboot, Node: "NTNX-BLOCK1-A", At: -time.Second}}
	err := top.Validate()
	var errs Errors
	require.ErrorAs(t, err, &errs)
	assert.Equal(t, Errors{
		{Path: "hosts[1].vmknics[0].ip", Msg: `"192.168.1.25" is not an IPv4 address with a prefix length (want e.g. 192.168.5.1/24)`},
		{Path: "hosts[1].gateway", Msg: "192.168.1.1 is not on the subnet of any enabled vmknic on defaultTcpipStack (want an address in 192.168.5.0/24)"},
		{Path: "faults[0].at", Msg: "-1s is negative (want the time after the lab started, e.g. 10s, or 0s for at once)"},
		{Path: "faults[0].node", Msg: `"NTNX-BLOCK1-A" is not a CVM, and cvm-reboot needs one (want one of: NTNX-BLOCK1-A-CVM, NTNX-BLOCK1-B-CVM, NTNX-BLOCK1-C-CVM)`},
	}, errs)
}
