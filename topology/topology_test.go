package topology

import (
	"os"
	"strings"
	"testing"

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

func TestInvalid(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown field", "name: x\nhostz: []\n", "unknown field"},
		{"bad ip", "hosts:\n  - name: a\n    vswitches: [{name: v, portgroups: [{name: p}]}]\n    vmknics: [{name: vmk0, portgroup: p, ip: 1.2.3}]\n", `ip "1.2.3"`},
		{"missing pg", "hosts:\n  - name: a\n    vmknics: [{name: vmk0, portgroup: nope, ip: 1.2.3.4/24}]\n", `portgroup "nope" does not exist`},
		{"dup name", "hosts: [{name: a}, {name: a}]\n", "name used twice"},
		{"bad uplink", "hosts:\n  - name: a\n    vswitches: [{name: v, uplinks: [vmnic9]}]\n", "uplink vmnic9"},
		{"bad selection", "hosts: [{name: a, connectedSelection: random}]\n", "connectedSelection"},
		{"syntax", "hosts: [\n", "x.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(c.yaml))
			require.Error(t, err)
			assert.True(t, strings.Contains(err.Error(), c.want), "error %q lacks %q", err, c.want)
		})
	}
}

func TestExamplesParse(t *testing.T) {
	for _, f := range []string{"default.yaml", "wrong-vmk.yaml"} {
		t.Run(f, func(t *testing.T) {
			top, err := Load("../examples/topologies/" + f)
			require.NoError(t, err)
			require.NotEmpty(t, top.Hosts)
			require.NotEmpty(t, top.Hosts[0].Datastores)
		})
	}
}
