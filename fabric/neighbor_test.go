package fabric

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNeighborsLearnedBothWays checks ARP's two lessons: the asker learns
// the answer, the answerer learns the asker; both expire on the clock.
func TestNeighborsLearnedBothWays(t *testing.T) {
	l := newTestLab(t)
	require.Empty(t, l.host.Neighbors())

	_, err := l.host.Echo(EchoRequest{Dst: cvmAPub})
	require.NoError(t, err)
	_, err = l.host.Echo(EchoRequest{Dst: cvmPriv})
	require.NoError(t, err)

	timeout := 1200 * time.Second
	require.Equal(t, []Neighbor{
		{IP: cvmAPub, MAC: mac(0x27), Iface: "vmk0", Expiry: timeout},
		{IP: cvmPriv, MAC: mac(0x52), Iface: "vmk1", Expiry: timeout},
	}, l.host.Neighbors())
	require.Equal(t, []Neighbor{
		{IP: aVmk0, MAC: mac(0x10), Iface: "eth0", Expiry: timeout},
		{IP: aVmk1, MAC: mac(0x11), Iface: "eth1", Expiry: timeout},
	}, l.cvmA.Neighbors())

	l.clk.Advance(1000 * time.Second)
	_, err = l.host.Echo(EchoRequest{Dst: cvmAPub}) // refreshes one entry
	require.NoError(t, err)
	require.Equal(t, []Neighbor{
		{IP: cvmAPub, MAC: mac(0x27), Iface: "vmk0", Expiry: timeout},
		{IP: cvmPriv, MAC: mac(0x52), Iface: "vmk1", Expiry: 200 * time.Second},
	}, l.host.Neighbors())

	l.clk.Advance(200 * time.Second)
	require.Equal(t, []Neighbor{
		{IP: cvmAPub, MAC: mac(0x27), Iface: "vmk0", Expiry: 1000 * time.Second},
	}, l.host.Neighbors())
	require.Equal(t, []Neighbor{
		{IP: aVmk0, MAC: mac(0x10), Iface: "eth0", Expiry: 1000 * time.Second},
	}, l.cvmA.Neighbors())

	l.clk.Advance(1000 * time.Second)
	require.Empty(t, l.host.Neighbors())
}

func TestNeighborTimeoutAndFlush(t *testing.T) {
	l := newTestLab(t)
	short := l.node(NodeConfig{Name: "short", NeighborTimeout: time.Minute},
		InterfaceConfig{Name: "eth0", Addr: pfx("192.168.1.60/24"), MAC: mac(0x60), Segment: "public"},
	)
	short.SetRouter(NewRouteTable(short.Interfaces, short.Reevaluate))
	_, err := short.Echo(EchoRequest{Dst: cvmAPub})
	require.NoError(t, err)
	require.Equal(t, []Neighbor{{IP: cvmAPub, MAC: mac(0x27), Iface: "eth0", Expiry: time.Minute}}, short.Neighbors())
	l.clk.Advance(time.Minute)
	require.Empty(t, short.Neighbors())

	// A failed resolution teaches nobody anything.
	_, err = short.Echo(EchoRequest{Dst: nobody})
	require.ErrorIs(t, err, ErrHostDown)
	require.Empty(t, short.Neighbors())

	// Power-off empties the node's cache; removing an interface drops its
	// entries.
	_, err = l.host.Echo(EchoRequest{Dst: cvmAPub})
	require.NoError(t, err)
	_, err = l.host.Echo(EchoRequest{Dst: cvmPriv})
	require.NoError(t, err)
	require.Len(t, l.cvmA.Neighbors(), 3) // the host's two vmks and "short"
	l.cvmA.SetPowered(false)
	require.Empty(t, l.cvmA.Neighbors())
	require.NoError(t, l.host.RemoveInterface("vmk1"))
	require.Equal(t, []Neighbor{{IP: cvmAPub, MAC: mac(0x27), Iface: "vmk0", Expiry: 1200 * time.Second}}, l.host.Neighbors())
}
