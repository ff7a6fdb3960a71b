package topology

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerateOne(t *testing.T) {
	g := Generate(1)
	require.NoError(t, g.Validate())
	require.Len(t, g.Hosts, 1)
	require.Len(t, g.CVMs, 1)
	assert.Equal(t, "NTNX-BLOCK1-A", g.Hosts[0].Name)
	assert.Equal(t, "192.168.1.24/24", g.Hosts[0].Vmknics[0].IP)
	assert.Equal(t, "192.168.1.25/24", g.CVMs[0].Interfaces[0].IP)
	assert.Equal(t, "NTNX-BLOCK1-A/vSwitchNutanix", g.CVMs[0].Interfaces[1].Segment)
}

// Generate(3) is the default lab in every respect but its name.
func TestGenerateThreeIsDefault(t *testing.T) {
	g, d := Generate(3), Default()
	require.NoError(t, g.Validate())
	assert.Equal(t, "cluster-3", g.Name)
	g.Name = d.Name
	assert.Equal(t, d, g)
}

func TestGenerateLarge(t *testing.T) {
	for _, n := range []int{maxSmallGenerate, maxSmallGenerate + 1, 128, 256, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g := Generate(n)
			require.NoError(t, g.Validate())
			require.Len(t, g.Hosts, n)
			require.Len(t, g.CVMs, n)
			gw := netip.MustParsePrefix(g.Gateways[0].IP)
			seen := map[netip.Addr]bool{gw.Addr(): true}
			check := func(what, ip string) {
				p := netip.MustParsePrefix(ip)
				assert.Equal(t, gw.Masked(), p.Masked(), "%s %s on the gateway's subnet", what, ip)
				assert.False(t, seen[p.Addr()], "%s %s used twice", what, ip)
				assert.False(t, netip.MustParsePrefix("192.168.5.0/24").Contains(p.Addr()), "%s %s in the private network", what, ip)
				assert.NotEqual(t, p.Masked().Addr(), p.Addr(), "%s %s is the network address", what, ip)
				seen[p.Addr()] = true
			}
			for i, h := range g.Hosts {
				check(h.Name, h.Vmknics[0].IP)
				assert.Equal(t, "192.168.5.1/24", h.Vmknics[1].IP)
				assert.Equal(t, gw.Addr().String(), h.Gateway)
				assert.Equal(t, []Datastore{{Name: "ctr1", Host: "192.168.5.2", Share: "/ctr1"}}, h.Datastores)
				c := g.CVMs[i]
				assert.Equal(t, h.Name+"-CVM", c.Name)
				assert.Equal(t, h.Name, c.Host)
				check(c.Name, c.Interfaces[0].IP)
				assert.Equal(t, h.Name+"/vSwitchNutanix", c.Interfaces[1].Segment)
				assert.Equal(t, h.Name+"/vSwitchNutanix", c.Interfaces[2].Segment)
			}
		})
	}
	assert.Panics(t, func() { Generate(0) })
	assert.Panics(t, func() { Generate(MaxGenerate + 1) })
	require.NoError(t, Generate(MaxGenerate).Validate())
}

// A generated lab written out as YAML reads back clean: Generate's labs
// are files as well as values.
func TestGenerateRoundTrip(t *testing.T) {
	for _, n := range []int{1, 3, maxSmallGenerate + 1, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g := Generate(n)
			b, err := yaml.Marshal(g)
			require.NoError(t, err)
			top, err := Parse("generated.yaml", b)
			require.NoError(t, err)
			require.Len(t, top.Hosts, n)
			require.Len(t, top.CVMs, n)
			// Written again, it is the same file (nil and empty lists
			// both write as []).
			again, err := yaml.Marshal(top)
			require.NoError(t, err)
			assert.Equal(t, string(b), string(again))
		})
	}
	// And so does the full example, with its parsed durations.
	full, err := Load("../examples/topologies/full.yaml")
	require.NoError(t, err)
	b, err := yaml.Marshal(full)
	require.NoError(t, err)
	again, err := Parse("full-again.yaml", b)
	require.NoError(t, err, string(b))
	assert.Equal(t, full.Timers, again.Timers)
	assert.Equal(t, full.Faults, again.Faults)
}
