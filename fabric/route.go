package fabric

import (
	"errors"
	"net/netip"
	"sort"
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
	ifs := t.ifaces()
	sort.SliceStable(ifs, func(a, b int) bool {
		if sel == LowestName {
			return nameLess(ifs[a].Name(), ifs[b].Name())
		}
		return ifs[a].Seq() < ifs[b].Seq()
	})
	var out []Route
	seen := map[netip.Prefix]bool{}
	for _, i := range ifs {
		a := i.Addr()
		if !a.IsValid() || !i.Up() || !a.Addr().Is4() {
			continue
		}
		p := a.Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, Route{Dst: p, Iface: i})
	}
	return out
}

// nameLess orders names by their alphabetic prefix, then numerically by
// their trailing digits: vmk2 < vmk10.
func nameLess(a, b string) bool {
	sa, na := splitNum(a)
	sb, nb := splitNum(b)
	if sa != sb {
		return sa < sb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n := 0
	for _, c := range s[i:] {
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			break
		}
	}
	return s[:i], n
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
// tie with a static route of the same prefix.
func (t *RouteTable) Lookup(dst netip.Addr) (Route, error) {
	var best Route
	found := false
	for _, r := range t.Routes() {
		if !r.Dst.Contains(dst) {
			continue
		}
		if !found || r.Dst.Bits() > best.Dst.Bits() {
			best, found = r, true
		}
	}
	if !found {
		return Route{}, ErrNetUnreachable
	}
	return best, nil
}

// Add adds a static route. The gateway must be on a connected subnet
// (ErrNetUnreachable otherwise); an identical route is ErrExists.
func (t *RouteTable) Add(dst netip.Prefix, gw netip.Addr) error {
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
