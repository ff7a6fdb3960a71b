package genesis

import (
	"fmt"
	"net/netip"
	"strings"
)

// Route is one line of `esxcfg-route -l`.
type Route struct {
	// Network is the destination with its prefix length; 0.0.0.0/0 for
	// "default".
	Network netip.Prefix
	// Gateway is the next hop; invalid for "Local Subnet".
	Gateway netip.Addr
	// Interface is the egress vmknic (empty on ESX 3.x/4.0 classic, whose
	// table has no such column).
	Interface string
}

// Default reports whether r is the default route.
func (r Route) Default() bool { return r.Network.Bits() == 0 }

// String renders r as esxcfg-route's operands: network netmask gateway.
func (r Route) String() string {
	gw := "Local Subnet"
	if r.Gateway.IsValid() {
		gw = r.Gateway.String()
	}
	return fmt.Sprintf("%s %s %s", r.Network.Addr(), netmask(r.Network.Bits()), gw)
}

// ParseRoutes reads the output of `esxcfg-route -l`. It takes the 7.x/8.x
// layout (VERIFIED, reference §1.2: title, header, fixed 17-character
// columns, no dashes) and, because a Genesis must not break on an older
// host, the 4.x–5.5 one with its dashes line and any column spacing:
// fields are split on white space, and the two-word "Local Subnet" is
// recognised as a gateway. Lines it cannot read are an error, so that a
// host printing something unexpected is reported rather than read as "no
// route".
func ParseRoutes(out string) ([]Route, error) {
	var routes []Route
	for n, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			continue
		case strings.HasSuffix(strings.TrimSpace(line), "Routes:"): // "VMkernel Routes:", ESX 3.x "VM Kernel Routes:"
			continue
		case f[0] == "Network": // the header
			continue
		case strings.Trim(line, "- \t") == "": // 5.x dashes line
			continue
		}
		r, err := parseRouteFields(f)
		if err != nil {
			return nil, fmt.Errorf("esxcfg-route -l: line %d %q: %w", n+1, line, err)
		}
		routes = append(routes, r)
	}
	return routes, nil
}

func parseRouteFields(f []string) (Route, error) {
	var r Route
	if len(f) < 3 {
		return r, fmt.Errorf("want network, netmask, gateway and interface")
	}
	mask, err := netip.ParseAddr(f[1])
	if err != nil || !mask.Is4() {
		return r, fmt.Errorf("bad netmask %q", f[1])
	}
	bits, ok := maskBits(mask)
	if !ok {
		return r, fmt.Errorf("non-contiguous netmask %q", f[1])
	}
	if f[0] == "default" {
		r.Network = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	} else {
		a, err := netip.ParseAddr(f[0])
		if err != nil || !a.Is4() {
			return r, fmt.Errorf("bad network %q", f[0])
		}
		r.Network = netip.PrefixFrom(a, bits)
	}
	rest := f[2:]
	if len(rest) >= 2 && rest[0] == "Local" && rest[1] == "Subnet" {
		rest = rest[2:]
	} else {
		gw, err := netip.ParseAddr(rest[0])
		if err != nil || !gw.Is4() {
			return r, fmt.Errorf("bad gateway %q", rest[0])
		}
		r.Gateway = gw
		rest = rest[1:]
	}
	switch len(rest) {
	case 0:
	case 1:
		r.Interface = rest[0]
	default:
		return r, fmt.Errorf("unexpected %q after the interface", strings.Join(rest[1:], " "))
	}
	return r, nil
}

// maskBits returns the prefix length of a contiguous IPv4 netmask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for v&(1<<31) != 0 {
		bits++
		v <<= 1
	}
	return bits, v == 0
}

// netmask renders a prefix length as a dotted netmask, the form the
// commands Genesis sends use ("255.255.255.255", as seed 001 types it).
func netmask(bits int) string {
	v := ^uint32(0) << (32 - bits)
	if bits == 0 {
		v = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff)
}
