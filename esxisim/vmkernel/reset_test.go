package vmkernel_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
)

var (
	pfx = netip.MustParsePrefix
	ip  = netip.MustParseAddr
)

// changes records a host's Change events as short strings.
type changes struct {
	mu sync.Mutex
	l  []string
}

func record(h *vmkernel.Host) *changes {
	c := &changes{}
	h.Subscribe(func(ch vmkernel.Change) {
		s := ch.Kind
		for _, f := range []string{ch.Vmnic, ch.Vmknic} {
			if f != "" {
				s += " " + f
			}
		}
		if ch.Network.IsValid() {
			s += " " + ch.Network.String() + " via " + ch.Gateway.String()
		}
		if ch.Kind == "vmknic.ipv4" || ch.Kind == "vmknic.add" {
			s += " " + ch.Addr.String()
		}
		c.mu.Lock()
		c.l = append(c.l, s)
		c.mu.Unlock()
	})
	return c
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.l
	c.l = nil
	return l
}

// state renders everything Reset restores, for comparing a reset host
// with a fresh one.
func state(t testing.TB, h *vmkernel.Host) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "hostname %s\n", h.Hostname())
	for _, n := range h.Vmnics() {
		fmt.Fprintf(&b, "vmnic %s link=%v\n", n.Name, n.LinkUp)
	}
	for _, v := range h.Vmknics() {
		fmt.Fprintf(&b, "vmknic %s pg=%q ns=%s type=%s addr=%s mac=%s mtu=%d enabled=%v carrier=%v gw=%s tags=%v port=%d\n",
			v.Name, v.Portgroup, v.Netstack, v.Type, v.Addr(), v.MAC(), v.MTU(), v.Enabled(), v.Iface.Carrier(), v.Gateway, v.Tags, v.PortID)
	}
	var ifs []string
	for _, i := range h.Node().Interfaces() {
		ifs = append(ifs, i.Name())
	}
	fmt.Fprintf(&b, "interfaces %v\n", ifs)
	for _, name := range h.Netstacks() {
		ns, err := h.Netstack(name)
		require.NoError(t, err)
		fmt.Fprintf(&b, "netstack %s selection=%v static=%v\n", name, ns.Routes.Selection(), ns.Routes.Static())
		routes, err := h.Routes(name)
		require.NoError(t, err)
		for _, r := range routes {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	return b.String()
}

func TestReset(t *testing.T) {
	fresh := state(t, vmkerneltest.New(t).Host)
	tests := []struct {
		name   string
		change func(t *testing.T, h *vmkernel.Host)
		want   []string // the changes Reset reports
	}{
		{name: "unchanged"},
		{
			name: "seed 001's host route",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.AddRoute("", pfx("192.168.5.2/32"), ip("192.168.1.28")))
			},
			want: []string{"route.delete 192.168.5.2/32 via 192.168.1.28"},
		},
		{
			name: "default gateway replaced",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.SetDefaultGateway("", ip("192.168.1.27")))
			},
			want: []string{"route.delete 0.0.0.0/0 via 192.168.1.27", "route.add 0.0.0.0/0 via 192.168.1.1"},
		},
		{
			name: "default gateway deleted",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.DeleteRoute("", pfx("0.0.0.0/0"), ip("192.168.1.1")))
			},
			want: []string{"route.add 0.0.0.0/0 via 192.168.1.1"},
		},
		{
			name: "vmk1 deleted: re-created in its place",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.RemoveVmknic("vmk1"))
			},
			want: []string{"vmknic.add vmk1 192.168.5.1/24"},
		},
		{
			name: "vmk0 deleted and created again by hand elsewhere",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.RemoveVmknic("vmk0"))
				_, err := h.AddVmknic(vmkernel.VmknicConfig{Name: "vmk0", Portgroup: "VM Network", IP: pfx("192.168.1.24/24")})
				require.NoError(t, err)
			},
			want: []string{"vmknic.remove vmk0", "vmknic.add vmk0 192.168.1.24/24"},
		},
		{
			name: "vmk2 added, with a netstack and routes of its own",
			change: func(t *testing.T, h *vmkernel.Host) {
				h.AddNetstack("vmotion")
				_, err := h.AddVmknic(vmkernel.VmknicConfig{Portgroup: "VM Network", Netstack: "vmotion", IP: pfx("10.0.0.5/24")})
				require.NoError(t, err)
				require.NoError(t, h.AddRoute("vmotion", pfx("0.0.0.0/0"), ip("10.0.0.1")))
			},
			want: []string{"vmknic.remove vmk2"},
		},
		{
			name: "vmknic attributes",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.SetVmknicIPv4("vmk1", pfx("192.168.5.9/24")))
				require.NoError(t, h.SetVmknicMTU("vmk1", 9000))
				require.NoError(t, h.SetVmknicEnabled("vmk0", false))
				require.NoError(t, h.SetVmknicGateway("vmk0", netip.Addr{}))
			},
			want: []string{"vmknic.enabled vmk0", "vmknic.ipv4 vmk1 192.168.5.1/24"},
		},
		{
			name: "vmk1's address unset",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.SetVmknicIPv4("vmk1", netip.Prefix{}))
			},
			want: []string{"vmknic.ipv4 vmk1 192.168.5.1/24"},
		},
		{
			name: "host name",
			change: func(t *testing.T, h *vmkernel.Host) {
				h.SetHostname("renamed")
			},
		},
		{
			name: "both uplinks down",
			change: func(t *testing.T, h *vmkernel.Host) {
				require.NoError(t, h.SetVmnicLink("vmnic1", false))
				require.NoError(t, h.SetVmnicLink("vmnic0", false))
			},
			want: []string{"vmnic.link-up vmnic0", "vmnic.link-up vmnic1"},
		},
		{
			name: "the egress selection",
			change: func(t *testing.T, h *vmkernel.Host) {
				ns, err := h.Netstack("")
				require.NoError(t, err)
				ns.Routes.SetSelection(fabric.LowestName)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := vmkerneltest.New(t).Host
			if tt.change != nil {
				tt.change(t, h)
			}
			ch := record(h)
			require.NoError(t, h.Reset())
			assert.Equal(t, tt.want, ch.take(), "reported changes")
			assert.Equal(t, fresh, state(t, h))
			require.NoError(t, h.Reset())
			assert.Empty(t, ch.take(), "a second reset changes nothing")
		})
	}
}

// TestResetLogsRoutes: the route changes of a reset are logged as the
// VMkernel logs any route change.
func TestResetLogsRoutes(t *testing.T) {
	h := vmkerneltest.New(t).Host
	require.NoError(t, h.AddRoute("", pfx("192.168.5.2/32"), ip("192.168.1.28")))
	n := len(h.Log().Lines())
	require.NoError(t, h.Reset())
	lines := h.Log().Lines()[n:]
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], "Tcpip: 1414: delete dstAddr=0x205a8c0, netMask=0xffffffff, gwAddr=0x1c01a8c0")
}

// flow opens a flow from the host to dst:port on the peer and returns both
// ends.
func flow(t *testing.T, l *vmkerneltest.Lab, peer string, dst netip.Addr, port uint16) (c, s net.Conn) {
	t.Helper()
	ln, err := l.Peers[peer].Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err = l.Host.Node().Dial(ctx, netip.AddrPortFrom(dst, port), fabric.DialOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	s, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return c, s
}

func roundTrip(t *testing.T, a, b net.Conn, msg string) error {
	t.Helper()
	if _, err := a.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(b, buf)
	if err == nil {
		assert.Equal(t, msg, string(buf))
	}
	return err
}

// TestResetFlows: a reset resets the flows whose path it changes, and only
// those.
func TestResetFlows(t *testing.T) {
	l := vmkerneltest.New(t)
	h := l.Host
	nfs, atCVM := flow(t, l, "cvm-a", ip("192.168.5.2"), 2049)
	require.NoError(t, h.Reset())
	require.NoError(t, roundTrip(t, nfs, atCVM, "unchanged host"))

	// Changes that do not touch the NFS flow's path, undone.
	require.NoError(t, h.AddRoute("", pfx("192.168.1.50/32"), ip("192.168.1.1")))
	_, err := h.AddVmknic(vmkernel.VmknicConfig{Portgroup: "VM Network", IP: pfx("192.168.1.30/24")})
	require.NoError(t, err)
	require.NoError(t, h.SetVmknicMTU("vmk1", 9000))
	require.NoError(t, h.SetVmnicLink("vmnic0", false))
	require.NoError(t, h.Reset())
	require.NoError(t, roundTrip(t, nfs, atCVM, "its path never changed"))

	// Seed 001's route moves NFS to CVM B; the reset moves it back.
	toB, atB := flow(t, l, "cvm-b", ip("192.168.1.28"), 22)
	require.NoError(t, h.AddRoute("", pfx("192.168.5.2/32"), ip("192.168.1.28")))
	require.ErrorIs(t, roundTrip(t, nfs, atCVM, "x"), fabric.ErrConnReset)
	viaB, atBNFS := flow(t, l, "cvm-b", ip("192.168.5.2"), 2049)
	require.NoError(t, h.Reset())
	require.ErrorIs(t, roundTrip(t, viaB, atBNFS, "x"), fabric.ErrConnReset, "back to vmk1 and CVM A")
	require.NoError(t, roundTrip(t, toB, atB, "CVM B's public address is still over vmk0"))
}

// TestResetKeepsPlace: a re-created vmknic takes its old creation order
// and port ID back, so it is again the first-created of its subnet.
func TestResetKeepsPlace(t *testing.T) {
	h := vmkerneltest.New(t).Host
	before, err := h.Vmknic("vmk0")
	require.NoError(t, err)
	_, err = h.AddVmknic(vmkernel.VmknicConfig{Portgroup: "VM Network", IP: pfx("192.168.1.30/24")})
	require.NoError(t, err)
	require.NoError(t, h.RemoveVmknic("vmk0"))
	egress := func() string {
		routes, err := h.Routes("")
		require.NoError(t, err)
		for _, r := range routes {
			if r.Network == pfx("192.168.1.0/24") {
				return r.Interface
			}
		}
		return ""
	}
	require.Equal(t, "vmk2", egress())

	require.NoError(t, h.Reset())
	after, err := h.Vmknic("vmk0")
	require.NoError(t, err)
	assert.Equal(t, before.Iface.Seq(), after.Iface.Seq())
	assert.Equal(t, before.PortID, after.PortID)
	assert.NotSame(t, before.Iface, after.Iface)
	assert.Equal(t, "vmk0", egress(), "the first-created of 192.168.1.0/24 again")
	name, err := h.AddVmknic(vmkernel.VmknicConfig{Portgroup: "VM Network"})
	require.NoError(t, err)
	v, err := h.Vmknic(name)
	require.NoError(t, err)
	assert.Equal(t, before.PortID+2, v.PortID, "port IDs count on from the configured ones")
}

// BenchmarkReset: host A with one extra /32 route, reset. The target is
// well under 1 ms.
func BenchmarkReset(b *testing.B) {
	h := vmkerneltest.New(b).Host
	for b.Loop() {
		if err := h.AddRoute("", pfx("192.168.5.2/32"), ip("192.168.1.28")); err != nil {
			b.Fatal(err)
		}
		if err := h.Reset(); err != nil {
			b.Fatal(err)
		}
	}
}
