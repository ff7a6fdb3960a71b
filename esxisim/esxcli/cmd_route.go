package esxcli

import (
	"net/netip"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

func routeNamespace(h *vmkernel.Host) *namespace {
	return ns("route", "Operations for listing and manipulating the VMkernel IPv4 and IPv6 routing tables",
		ns("ipv4", "Operations for IPv4 routes",
			&command{name: "list", desc: "List configured IPv4 routes.", opts: []option{netstackOpt()},
				run: func(c *call) (*result, error) { return routeList(h, c) }},
			&command{name: "add", desc: "Add IPv4 route to the VMkernel.", opts: routeChangeOpts("added"),
				run: func(c *call) (*result, error) { return routeChange(h, c, true) }},
			&command{name: "remove", desc: "Remove IPv4 route from the VMkernel.", opts: routeChangeOpts("removed"),
				run: func(c *call) (*result, error) { return routeChange(h, c, false) }},
		),
		ns("ipv6", "Operations for IPv6 routes",
			&command{name: "list", desc: "List configured IPv6 routes.", opts: []option{netstackOpt()},
				run: func(c *call) (*result, error) { return routeList6(h, c) }},
		),
	)
}

// routeChangeOpts are add's and remove's options (flag letters from the
// vSphere CLI reference, §2.1; help wording INFERRED).
func routeChangeOpts(verb string) []option {
	return []option{
		strOpt('g', "gateway", "The IPv4 address of the gateway through which a route is to be "+verb+".").req(),
		strOpt('n', "network", "The IPv4 address and prefix length of the network whose route is to be "+verb+". Specify 'default' to indicate the default network.").req(),
		netstackOpt(),
	}
}

var routeCols = []column{
	{name: "Network"}, {name: "Netmask"}, {name: "Gateway"}, {name: "Interface"}, {name: "Source"},
}

// routeList renders the netstack's effective table (VERIFIED layout,
// §2.1): the default route first, as "default 0.0.0.0 <gw>", then the
// model's order (connected, then static). Connected routes show gateway
// 0.0.0.0. Source is always MANUAL: the model has no DHCP-learned routes.
func routeList(h *vmkernel.Host, c *call) (*result, error) {
	stack, err := netstack(h, c)
	if err != nil {
		return nil, err
	}
	routes, err := h.Routes(stack)
	if err != nil {
		return nil, plainErr(vmkStatus(err))
	}
	res := &result{typeName: "IPv4Route", cols: routeCols}
	var rest [][]any
	for _, r := range routes {
		gw := "0.0.0.0"
		if r.Gateway.IsValid() {
			gw = r.Gateway.String()
		}
		row := []any{r.Network.Addr().String(), mask(r.Network.Bits()), gw, r.Interface, "MANUAL"}
		if r.Default {
			row[0] = "default"
			res.rows = append(res.rows, row)
		} else {
			rest = append(rest, row)
		}
	}
	res.rows = append(res.rows, rest...)
	return res, nil
}

// routeList6 lists IPv6 routes; the model has none, so the table is empty
// and prints nothing. Columns INFERRED (§2.1).
func routeList6(h *vmkernel.Host, c *call) (*result, error) {
	if _, err := netstack(h, c); err != nil {
		return nil, err
	}
	return &result{typeName: "IPv6Route", cols: routeCols}, nil
}

// routeChange adds or removes a route through the model (which logs the
// change to vmkernel.log and re-evaluates flows). Arguments are validated
// before the model is touched, so a rejected command changes nothing.
func routeChange(h *vmkernel.Host, c *call, add bool) (*result, error) {
	what := "Unable to remove IPv4 route"
	if add {
		what = "Unable to add IPv4 route"
	}
	stack, err := netstack(h, c)
	if err != nil {
		return nil, err
	}
	dst, ok := parseNetwork(c.str("network"))
	if !ok {
		return nil, plainErr(what + ". Invalid network '" + c.str("network") + "': expected an IPv4 network with a prefix length (a.b.c.d/nn) or 'default'")
	}
	gw, err := netip.ParseAddr(c.str("gateway"))
	if err != nil || !gw.Is4() {
		return nil, plainErr(what + ". Invalid gateway '" + c.str("gateway") + "': expected an IPv4 address")
	}
	if add {
		err = h.AddRoute(stack, dst, gw)
	} else {
		err = h.DeleteRoute(stack, dst, gw)
	}
	if err != nil {
		return nil, sysinfoErr(what, err)
	}
	return nil, nil
}

// parseNetwork reads -n: "default" or a.b.c.d/nn. Host bits are cleared as
// the VMkernel stores the network (INFERRED). A bare address without a
// prefix length is rejected: esxcli's help asks for "address and prefix
// length" (INFERRED).
func parseNetwork(s string) (netip.Prefix, bool) {
	if s == "default" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// mask renders a prefix length as a dotted netmask.
func mask(bits int) string {
	m := netip.PrefixFrom(netip.IPv4Unspecified(), 0).Addr().As4()
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(m).String()
}
