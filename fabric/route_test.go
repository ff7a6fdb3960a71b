package fabric

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// rtNode builds a node with the given interfaces and a route table over
// them; it returns both.
func rtNode(t *testing.T, ifs ...InterfaceConfig) (*Node, *RouteTable) {
	t.Helper()
	nw := New()
	n, err := nw.AddNode(NodeConfig{Name: "esx"})
	require.NoError(t, err)
	for _, c := range ifs {
		_, err := n.AddInterface(c)
		require.NoError(t, err)
	}
	rt := NewRouteTable(n.Interfaces, n.Reevaluate)
	n.SetRouter(rt)
	return n, rt
}

func TestLookup(t *testing.T) {
	type static struct {
		dst string
		gw  string
	}
	tests := []struct {
		name    string
		ifs     []InterfaceConfig
		sel     Selection
		static  []static
		def     string
		dst     string
		want    string // egress interface
		wantDst string
		wantGw  string
		err     error
	}{
		{
			name:    "connected subnet",
			ifs:     []InterfaceConfig{{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"}},
			dst:     "192.168.1.28",
			want:    "vmk0",
			wantDst: "192.168.1.0/24",
		},
		{
			name: "first-created vmk of a shared subnet",
			ifs: []InterfaceConfig{
				{Name: "vmk0", Addr: pfx("10.0.0.10/24"), Segment: "p"},
				{Name: "vmk1", Addr: pfx("10.0.0.11/24"), Segment: "p"},
			},
			dst: "10.0.0.200", want: "vmk0", wantDst: "10.0.0.0/24",
		},
		{
			name: "first-created beats lower name",
			ifs: []InterfaceConfig{
				{Name: "vmk10", Addr: pfx("10.0.0.10/24"), Segment: "p"},
				{Name: "vmk2", Addr: pfx("10.0.0.2/24"), Segment: "p"},
			},
			dst: "10.0.0.200", want: "vmk10", wantDst: "10.0.0.0/24",
		},
		{
			name: "lowest name orders numerically",
			ifs: []InterfaceConfig{
				{Name: "vmk10", Addr: pfx("10.0.0.10/24"), Segment: "p"},
				{Name: "vmk2", Addr: pfx("10.0.0.2/24"), Segment: "p"},
			},
			sel: LowestName,
			dst: "10.0.0.200", want: "vmk2", wantDst: "10.0.0.0/24",
		},
		{
			name: "longest prefix wins",
			ifs: []InterfaceConfig{
				{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"},
				{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "s"},
			},
			static: []static{{"10.0.0.0/8", "192.168.1.1"}, {"10.1.0.0/16", "192.168.5.254"}},
			def:    "192.168.1.1",
			dst:    "10.1.2.3", want: "vmk1", wantDst: "10.1.0.0/16", wantGw: "192.168.5.254",
		},
		{
			name: "seed 001: /32 via a gateway on another subnet",
			ifs: []InterfaceConfig{
				{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"},
				{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "s"},
			},
			static: []static{{"192.168.5.2/32", "192.168.1.28"}},
			dst:    "192.168.5.2", want: "vmk0", wantDst: "192.168.5.2/32", wantGw: "192.168.1.28",
		},
		{
			name: "the /32 does not capture its neighbours",
			ifs: []InterfaceConfig{
				{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"},
				{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "s"},
			},
			static: []static{{"192.168.5.2/32", "192.168.1.28"}},
			dst:    "192.168.5.254", want: "vmk1", wantDst: "192.168.5.0/24",
		},
		{
			name:    "default route",
			ifs:     []InterfaceConfig{{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"}},
			def:     "192.168.1.1",
			dst:     "8.8.8.8",
			want:    "vmk0",
			wantDst: "0.0.0.0/0", wantGw: "192.168.1.1",
		},
		{
			name: "no route",
			ifs:  []InterfaceConfig{{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"}},
			dst:  "8.8.8.8",
			err:  ErrNetUnreachable,
		},
		{
			name: "down interface has no connected route",
			ifs:  []InterfaceConfig{{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p", Down: true}},
			dst:  "192.168.1.28",
			err:  ErrNetUnreachable,
		},
		{
			name: "interface without address",
			ifs:  []InterfaceConfig{{Name: "vmk0", Segment: "p"}},
			dst:  "192.168.1.28",
			err:  ErrNetUnreachable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rt := rtNode(t, tt.ifs...)
			rt.SetSelection(tt.sel)
			for _, s := range tt.static {
				require.NoError(t, rt.Add(pfx(s.dst), ip(s.gw)))
			}
			if tt.def != "" {
				require.NoError(t, rt.SetDefault(ip(tt.def)))
			}
			r, err := rt.Lookup(ip(tt.dst))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, r.Iface.Name())
			require.Equal(t, pfx(tt.wantDst), r.Dst)
			if tt.wantGw == "" {
				require.False(t, r.Gateway.IsValid())
				require.True(t, r.Connected())
				require.Equal(t, ip(tt.dst), r.NextHop(ip(tt.dst)))
			} else {
				require.Equal(t, ip(tt.wantGw), r.Gateway)
				require.Equal(t, ip(tt.wantGw), r.NextHop(ip(tt.dst)))
			}
		})
	}
}

func TestRouteTableChanges(t *testing.T) {
	ifs := []InterfaceConfig{
		{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"},
		{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "s"},
	}
	tests := []struct {
		name string
		do   func(t *testing.T, n *Node, rt *RouteTable) error
		err  error
	}{
		{"gateway not on a connected subnet", func(t *testing.T, _ *Node, rt *RouteTable) error {
			return rt.Add(pfx("10.0.0.0/8"), ip("172.16.0.1"))
		}, ErrNetUnreachable},
		{"default gateway not on a connected subnet", func(t *testing.T, _ *Node, rt *RouteTable) error {
			return rt.SetDefault(ip("172.16.0.1"))
		}, ErrNetUnreachable},
		{"gateway behind a down interface", func(t *testing.T, n *Node, rt *RouteTable) error {
			n.Interface("vmk1").SetUp(false)
			return rt.Add(pfx("10.0.0.0/8"), ip("192.168.5.254"))
		}, ErrNetUnreachable},
		{"duplicate", func(t *testing.T, _ *Node, rt *RouteTable) error {
			require.NoError(t, rt.Add(host32, cvmBPub))
			return rt.Add(pfx("192.168.5.2/32"), cvmBPub)
		}, ErrExists},
		{"duplicate after masking", func(t *testing.T, _ *Node, rt *RouteTable) error {
			require.NoError(t, rt.Add(pfx("10.0.0.0/8"), gwAddr))
			return rt.Add(pfx("10.1.2.3/8"), gwAddr)
		}, ErrExists},
		{"second default route", func(t *testing.T, _ *Node, rt *RouteTable) error {
			require.NoError(t, rt.Add(pfx("0.0.0.0/0"), gwAddr))
			return rt.Add(pfx("0.0.0.0/0"), cvmBPub)
		}, ErrExists},
		{"delete missing", func(t *testing.T, _ *Node, rt *RouteTable) error {
			return rt.Delete(host32, cvmBPub)
		}, ErrNotFound},
		{"delete with another gateway", func(t *testing.T, _ *Node, rt *RouteTable) error {
			require.NoError(t, rt.Add(host32, cvmBPub))
			return rt.Delete(host32, ip("192.168.1.29"))
		}, ErrNotFound},
		{"delete any gateway", func(t *testing.T, _ *Node, rt *RouteTable) error {
			require.NoError(t, rt.Add(host32, cvmBPub))
			require.NoError(t, rt.Delete(host32, netip.Addr{}))
			require.Empty(t, rt.Static())
			return nil
		}, nil},
		{"set default replaces", func(t *testing.T, _ *Node, rt *RouteTable) error {
			require.NoError(t, rt.SetDefault(gwAddr))
			require.NoError(t, rt.SetDefault(ip("192.168.1.254")))
			gw, ok := rt.Default()
			require.True(t, ok)
			require.Equal(t, ip("192.168.1.254"), gw)
			require.Len(t, rt.Static(), 1)
			return nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, rt := rtNode(t, ifs...)
			err := tt.do(t, n, rt)
			if tt.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.err)
			}
		})
	}
}

// TestEgressFollowsInterfaces checks that the table reads interfaces live:
// a shared subnet's egress moves when the chosen vmk goes down or away, and
// an address change is visible at once.
func TestEgressFollowsInterfaces(t *testing.T) {
	shared := []InterfaceConfig{
		{Name: "vmk0", Addr: pfx("10.0.0.10/24"), Segment: "p"},
		{Name: "vmk1", Addr: pfx("10.0.0.11/24"), Segment: "p"},
	}
	tests := []struct {
		name   string
		change func(n *Node)
		dst    string
		want   string
		err    error
	}{
		{"unchanged", func(*Node) {}, "10.0.0.1", "vmk0", nil},
		{"chosen vmk down", func(n *Node) { n.Interface("vmk0").SetUp(false) }, "10.0.0.1", "vmk1", nil},
		{"chosen vmk down and up again", func(n *Node) {
			n.Interface("vmk0").SetUp(false)
			n.Interface("vmk0").SetUp(true)
		}, "10.0.0.1", "vmk0", nil},
		{"chosen vmk removed", func(n *Node) { _ = n.RemoveInterface("vmk0") }, "10.0.0.1", "vmk1", nil},
		{"both down", func(n *Node) {
			n.Interface("vmk0").SetUp(false)
			n.Interface("vmk1").SetUp(false)
		}, "10.0.0.1", "", ErrNetUnreachable},
		{"address moved to another subnet", func(n *Node) {
			n.Interface("vmk0").SetAddr(pfx("172.16.0.10/24"))
		}, "172.16.0.1", "vmk0", nil},
		{"old subnet now on the other vmk", func(n *Node) {
			n.Interface("vmk0").SetAddr(pfx("172.16.0.10/24"))
		}, "10.0.0.1", "vmk1", nil},
		{"address removed", func(n *Node) {
			n.Interface("vmk0").SetAddr(netip.Prefix{})
			n.Interface("vmk1").SetAddr(netip.Prefix{})
		}, "10.0.0.1", "", ErrNetUnreachable},
		{"new interface on a new subnet", func(n *Node) {
			_, _ = n.AddInterface(InterfaceConfig{Name: "vmk2", Addr: pfx("192.168.9.1/24"), Segment: "q"})
		}, "192.168.9.9", "vmk2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, rt := rtNode(t, shared...)
			tt.change(n)
			r, err := rt.Lookup(ip(tt.dst))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, r.Iface.Name())
		})
	}
}

// TestStaticRouteFollowsGatewaySubnet checks that a static route is in
// effect only while its gateway's subnet is connected, and uses that
// subnet's chosen egress.
func TestStaticRouteFollowsGatewaySubnet(t *testing.T) {
	n, rt := rtNode(t,
		InterfaceConfig{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"},
		InterfaceConfig{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "s"},
		InterfaceConfig{Name: "vmk2", Addr: pfx("192.168.1.30/24"), Segment: "p"},
	)
	require.NoError(t, rt.Add(host32, cvmBPub))
	r, err := rt.Lookup(cvmPriv)
	require.NoError(t, err)
	require.Equal(t, "vmk0", r.Iface.Name())
	require.Len(t, rt.Routes(), 3) // two connected subnets, one static

	n.Interface("vmk0").SetUp(false)
	r, err = rt.Lookup(cvmPriv)
	require.NoError(t, err)
	require.Equal(t, "vmk2", r.Iface.Name(), "the subnet's next vmk carries the route")

	n.Interface("vmk2").SetUp(false)
	r, err = rt.Lookup(cvmPriv)
	require.NoError(t, err)
	require.Equal(t, "vmk1", r.Iface.Name(), "the route is out of effect; the connected /24 takes over")
	require.True(t, r.Connected())
	require.Len(t, rt.Static(), 1, "the configured route is kept")
}

func TestRoutesOrder(t *testing.T) {
	_, rt := rtNode(t,
		InterfaceConfig{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"},
		InterfaceConfig{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "s"},
	)
	require.NoError(t, rt.SetDefault(gwAddr))
	require.NoError(t, rt.Add(host32, cvmBPub))
	var got []string
	for _, r := range rt.Routes() {
		got = append(got, r.Dst.String()+" "+r.Iface.Name())
	}
	require.Equal(t, []string{
		"192.168.1.0/24 vmk0",
		"192.168.5.0/24 vmk1",
		"192.168.5.2/32 vmk0",
		"0.0.0.0/0 vmk0",
	}, got)
}

func TestNameCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"vmk2", "vmk10", -1},
		{"vmk10", "vmk2", 1},
		{"vmk0", "vmk0", 0},
		{"vmk", "vmk0", -1},
		{"eth1", "vmk0", -1},
		{"vmk01", "vmk1", -1},
		{"vmk99999999999999999999999", "vmk100000000000000000000000", -1},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, nameCompare(tt.a, tt.b), "%s vs %s", tt.a, tt.b)
	}
}
