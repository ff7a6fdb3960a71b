package fabric

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// VMkernel status strings for route table changes.
var (
	ErrExists   = errors.New("Already exists")
	ErrNotFound = errors.New("Not found")
)

// Route is one effective entry of a routing table.
type Route struct {
	Dst netip.Prefix
	// Gateway is the next hop; invalid for a directly connected subnet.
	Gateway netip.Addr
	// Iface is the egress interface.
	Iface *Interface
	// Static is false for connected ("Local Subnet") routes.
	Static bool
}

// Connected reports whether the route is a directly connected subnet.
func (r Route) Connected() bool { return !r.Static }

// NextHop returns the address whose MAC a packet to dst is sent to.
func (r Route) NextHop(dst netip.Addr) netip.Addr {
	if r.Gateway.IsValid() {
		return r.Gateway
	}
	return dst
}

// StaticRoute is a configured route: a network (a /32 host route, a subnet,
// or 0.0.0.0/0 for the default gateway) and its gateway.
type StaticRoute struct {
	Dst     netip.Prefix
	Gateway netip.Addr
}

// Selection is how the one egress interface of a subnet shared by several
// interfaces is chosen.
type Selection int

const (
	// FirstCreated picks the interface created first: on ESXi the lowest
	// numbered vmk, as VMware KB 2010877 describes.
	FirstCreated Selection = iota
	// LowestName picks the interface whose name sorts first (vmk2 before
	// vmk10), regardless of creation order.
	LowestName
)

// RouteTable is one routing table: a connected route per subnet of its
// interfaces, with exactly one egress interface per subnet, plus static
// routes, chosen by longest prefix. It reads the interfaces live, so an
// address change is visible at once.
type RouteTable struct {
	ifaces   func() []*Interface
	onChange func()

	mu        sync.RWMutex
	static    []StaticRoute
	selection Selection
}

// NewRouteTable returns a table over the interfaces ifaces returns.
// onChange (may be nil) runs after every change, outside the table's lock:
// the owner re-evaluates its flows there.
func NewRouteTable(ifaces func() []*Interface, onChange func()) *RouteTable {
	return &RouteTable{ifaces: ifaces, onChange: onChange}
}

// SetSelection changes how a shared subnet's egress is chosen.
func (t *RouteTable) SetSelection(s Selection) {
	t.mu.Lock()
	t.selection = s
	t.mu.Unlock()
	t.changed()
}

// Selection returns how a shared subnet's egress is chosen.
func (t *RouteTable) Selection() Selection {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.selection
}

func (t *RouteTable) changed() {
	if t.onChange != nil {
		t.onChange()
	}
}

// Connected returns one route per subnet of the up interfaces with an IPv4
// address, each with its chosen egress interface, in the order the subnets
// first appear.
func (t *RouteTable) Connected() []Route {
	t.mu.RLock()
	sel := t.selection
	t.mu.RUnlock()
	// A copy: the slice ifaces returns may be its owner's.
	ifs := slices.DeleteFunc(slices.Clone(t.ifaces()), func(i *Interface) bool { return i == nil })
	slices.SortStableFunc(ifs, func(a, b *Interface) int {
		if sel == LowestName {
			return nameCompare(a.Name(), b.Name())
		}
		return cmp.Compare(a.Seq(), b.Seq())
	})
	var out []Route
	for _, i := range ifs {
		if !i.Up() {
			continue
		}
		a := i.Addr()
		if !a.IsValid() || !a.Addr().Is4() {
			continue
		}
		p := a.Masked()
		// Subnets are few; a linear scan beats a map here.
		if slices.ContainsFunc(out, func(r Route) bool { return r.Dst == p }) {
			continue
		}
		out = append(out, Route{Dst: p, Iface: i})
	}
	return out
}

// nameCompare orders names by their alphabetic prefix, then numerically by
// their trailing digits: vmk2 < vmk10.
func nameCompare(a, b string) int {
	sa, da := splitNum(a)
	sb, db := splitNum(b)
	if c := cmp.Compare(sa, sb); c != 0 {
		return c
	}
	// Compare digit strings as numbers of any length: strip leading zeros,
	// then the longer is larger, then lexically.
	ta, tb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
	if c := cmp.Compare(len(ta), len(tb)); c != 0 {
		return c
	}
	if c := cmp.Compare(ta, tb); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// splitNum splits a name into its prefix and its trailing digits.
func splitNum(s string) (prefix, digits string) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	return s[:i], s[i:]
}

// Static returns the configured static routes, default gateway included.
func (t *RouteTable) Static() []StaticRoute {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]StaticRoute(nil), t.static...)
}

// connectedFor returns the connected route covering a, if any.
func connectedFor(conn []Route, a netip.Addr) (Route, bool) {
	best := Route{}
	found := false
	for _, r := range conn {
		if r.Dst.Contains(a) && (!found || r.Dst.Bits() > best.Dst.Bits()) {
			best, found = r, true
		}
	}
	return best, found
}

// Routes returns the effective table: connected routes, then static routes
// whose gateway is on a connected subnet (with that subnet's egress), the
// default route last. Static routes whose gateway is unreachable now are
// left out: they cannot carry traffic.
func (t *RouteTable) Routes() []Route {
	conn := t.Connected()
	out := append([]Route(nil), conn...)
	var def []Route
	for _, s := range t.Static() {
		c, ok := connectedFor(conn, s.Gateway)
		if !ok {
			continue
		}
		r := Route{Dst: s.Dst, Gateway: s.Gateway, Iface: c.Iface, Static: true}
		if s.Dst.Bits() == 0 {
			def = append(def, r)
		} else {
			out = append(out, r)
		}
	}
	return append(out, def...)
}

// Lookup returns the longest-prefix route to dst. A connected route wins a
// tie with a static route of the same prefix; among static routes of one
// prefix the first added wins. It walks the static routes in place rather
// than building Routes(): it runs for every packet the model sends.
func (t *RouteTable) Lookup(dst netip.Addr) (Route, error) {
	conn := t.Connected()
	best, found := connectedFor(conn, dst)
	t.mu.RLock()
	for _, s := range t.static {
		if !s.Dst.Contains(dst) || (found && s.Dst.Bits() <= best.Dst.Bits()) {
			continue
		}
		c, ok := connectedFor(conn, s.Gateway)
		if !ok {
			continue
		}
		best, found = Route{Dst: s.Dst, Gateway: s.Gateway, Iface: c.Iface, Static: true}, true
	}
	t.mu.RUnlock()
	if !found {
		return Route{}, ErrNetUnreachable
	}
	return best, nil
}

// Add adds a static route. The gateway must be on a connected subnet
// (ErrNetUnreachable otherwise); an identical route, or a second default
// route, is ErrExists.
func (t *RouteTable) Add(dst netip.Prefix, gw netip.Addr) error {
	if !dst.IsValid() {
		return ErrNetUnreachable
	}
	dst = dst.Masked()
	if _, ok := connectedFor(t.Connected(), gw); !ok {
		return ErrNetUnreachable
	}
	t.mu.Lock()
	for _, s := range t.static {
		if s.Dst == dst && (s.Gateway == gw || dst.Bits() == 0) {
			t.mu.Unlock()
			return ErrExists
		}
	}
	t.static = append(t.static, StaticRoute{Dst: dst, Gateway: gw})
	t.mu.Unlock()
	t.changed()
	return nil
}

// Delete removes a static route. An invalid gw matches any gateway.
func (t *RouteTable) Delete(dst netip.Prefix, gw netip.Addr) error {
	dst = dst.Masked()
	t.mu.Lock()
	for k, s := range t.static {
		if s.Dst == dst && (!gw.IsValid() || s.Gateway == gw) {
			t.static = append(t.static[:k], t.static[k+1:]...)
			t.mu.Unlock()
			t.changed()
			return nil
		}
	}
	t.mu.Unlock()
	return ErrNotFound
}

// SetDefault replaces the default gateway. The gateway must be on a
// connected subnet.
func (t *RouteTable) SetDefault(gw netip.Addr) error {
	if _, ok := connectedFor(t.Connected(), gw); !ok {
		return ErrNetUnreachable
	}
	t.mu.Lock()
	kept := t.static[:0]
	for _, s := range t.static {
		if s.Dst.Bits() != 0 {
			kept = append(kept, s)
		}
	}
	t.static = append(kept, StaticRoute{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: gw})
	t.mu.Unlock()
	t.changed()
	return nil
}

// Default returns the configured default gateway.
func (t *RouteTable) Default() (netip.Addr, bool) {
	for _, s := range t.Static() {
		if s.Dst.Bits() == 0 {
			return s.Gateway, true
		}
	}
	return netip.Addr{}, false
}

// Restore replaces all static routes at once (a reset to a saved state).
func (t *RouteTable) Restore(routes []StaticRoute) {
	t.mu.Lock()
	t.static = append([]StaticRoute(nil), routes...)
	t.mu.Unlock()
	t.changed()
}
