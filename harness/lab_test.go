package harness

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/topology"
)

func TestDefaultLab(t *testing.T) {
	lab := Start(t, topology.Default(), Options{Clock: clock.NewFake()})
	require.Len(t, lab.Hosts, 3)

	eps := lab.Endpoints()
	require.Len(t, eps, 7) // 3 hosts, 3 CVMs, the gateway
	assert.Equal(t, Endpoint{Name: "NTNX-BLOCK1-B", Role: "esxi", IPs: []string{"192.168.1.25", "192.168.5.1"},
		Listeners: map[string]string{"ssh": lab.Hosts[1].Addr().String()}}, eps[1])
	assert.Equal(t, []string{"192.168.1.28", "192.168.5.2", "192.168.5.254"}, eps[4].IPs)

	// Every SSH listener accepts on loopback.
	for _, h := range lab.Hosts {
		ap := netip.MustParseAddrPort(h.Addr().String())
		assert.True(t, ap.Addr().IsLoopback(), "%s binds %s", h.VMkernel().Hostname(), ap)
		c, err := net.Dial("tcp", ap.String())
		require.NoError(t, err)
		c.Close()
	}

	var b bytes.Buffer
	require.NoError(t, lab.WriteEndpointsJSON(&b))
	var doc struct {
		Lab   string     `json:"lab"`
		Nodes []Endpoint `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	assert.Equal(t, "default", doc.Lab)
	assert.Equal(t, eps, doc.Nodes)
}

// Each host's private 192.168.5.2 is its own CVM; seed 001's route sends
// host A's traffic for it to CVM B instead.
func TestPrivateSegmentsAndSeed001Route(t *testing.T) {
	lab := Start(t, topology.Default(), Options{Clock: clock.NewFake()})
	a := lab.Host("NTNX-BLOCK1-A").VMkernel()
	cvm := netip.MustParseAddr("192.168.5.2")

	echoMAC := func() string {
		t.Helper()
		r, err := a.Node().Echo(fabric.EchoRequest{Dst: cvm})
		require.NoError(t, err)
		require.NotNil(t, r)
		for _, n := range a.Node().Neighbors() {
			if n.IP == cvm || n.IP == netip.MustParseAddr("192.168.1.28") {
				return n.Iface + " " + n.MAC.String()
			}
		}
		return ""
	}
	cvmA := lab.Nodes["NTNX-BLOCK1-A-CVM"].Interface("eth1").MAC().String()
	cvmB := lab.Nodes["NTNX-BLOCK1-B-CVM"].Interface("eth0").MAC().String()
	assert.Equal(t, "vmk1 "+cvmA, echoMAC())

	require.NoError(t, a.AddRoute("", netip.MustParsePrefix("192.168.5.2/32"), netip.MustParseAddr("192.168.1.28")))
	rt, err := a.Node().DefaultRouter().Lookup(cvm)
	require.NoError(t, err)
	assert.Equal(t, "vmk0", rt.Iface.Name())
	assert.Equal(t, "192.168.1.24", rt.Iface.Addr().Addr().String())
	assert.Contains(t, echoMAC(), "vmk0 "+cvmB)
}

// BenchmarkLabStart measures New until every SSH listener accepts
// connections; stopping the lab is not timed.
func BenchmarkLabStart(b *testing.B) {
	topo := topology.Default()
	for b.Loop() {
		lab, err := New(topo, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		lab.Close()
		b.StartTimer()
	}
}

// BenchmarkLabReady measures New until every host can complete an SSH
// handshake: its host keys (RSA derivation is the slow part) are ready.
func BenchmarkLabReady(b *testing.B) {
	topo := topology.Default()
	for b.Loop() {
		lab, err := New(topo, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, h := range lab.Hosts {
			if _, err := h.HostKeys(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		lab.Close()
		b.StartTimer()
	}
}
