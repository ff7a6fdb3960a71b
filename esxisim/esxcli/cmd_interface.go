package esxcli

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

func interfaceNamespace(h *vmkernel.Host) *namespace {
	ifname := func(help string) option { return strOpt('i', "interface-name", help) }
	get := func(c *call) (*result, error) { return ipv4Get(h, c) }
	getOpts := []option{
		ifname("The name of the VMkernel network interface. If this option is not specified, all interfaces are listed."),
		netstackOpt(),
	}
	return ns("interface", "Operations on VMkernel network interfaces",
		&command{name: "list", desc: "This command will list the VMkernel network interfaces currently known to the system.",
			opts: []option{netstackOpt()}, run: func(c *call) (*result, error) { return interfaceList(h, c) }},
		&command{name: "set", desc: "This command sets the enabled status and MTU size of a given IP interface.",
			opts: []option{
				boolOpt('e', "enabled", "Set to true to enable the interface, set to false to disable it."),
				ifname("The name of the VMkernel network interface to set. This name must be an interface listed in the interface list command.").req(),
				longOpt('M', "mtu", "The MTU size of the IPv4 packets on this interface."),
			},
			run: func(c *call) (*result, error) { return interfaceSet(h, c) }},
		ns("ipv4", "Operations for configuring IPv4 addresses on VMkernel network interfaces",
			&command{name: "get", desc: "Get IPv4 settings for VMkernel network interfaces.", opts: getOpts, run: get},
			&command{name: "set", desc: "Configure IPv4 setting for a given VMkernel network interface.",
				opts: []option{
					strOpt('g', "gateway", "The IPv4 gateway for this interface."),
					ifname("The name of the VMkernel network interface to set IPv4 settings for. This name must be an interface listed in the interface list command.").req(),
					strOpt('I', "ipv4", "The static IPv4 address for this interface."),
					strOpt('N', "netmask", "The static IPv4 netmask for this interface."),
					boolOpt('P', "peer-dns", "A boolean value to indicate if the system should use the DNS settings published via DHCP for this interface."),
					strOpt('t', "type", "IPv4 Address type : dhcp: Use DHCP to acquire IPv4 setting for this interface. none: Remove IPv4 settings from this interface. static: Set Static IPv4 setting for this interface.").req(),
				},
				run: func(c *call) (*result, error) { return ipv4Set(h, c) }},
			// 7.x added `ipv4 address list` as the list form of `ipv4 get`
			// (VERIFIED alias, §2.3); both print the same table.
			ns("address", "Operations for IPv4 addresses on VMkernel network interfaces",
				&command{name: "list", desc: "List the IPv4 addresses assigned to VMkernel network interfaces.", opts: getOpts, run: get},
			),
		),
	)
}

// vmknics returns the host's vmknics, narrowed to -i (an error when it
// names none) and to -N when given.
func vmknics(h *vmkernel.Host, c *call, context string) ([]vmkernel.Vmknic, error) {
	stack := ""
	if c.has("netstack") {
		s, err := netstack(h, c)
		if err != nil {
			return nil, err
		}
		stack = s
	}
	if c.has("interface-name") {
		name := c.str("interface-name")
		if _, err := h.Vmknic(name); err != nil {
			return nil, sysinfoErr(context+" for interface '"+name+"'", err)
		}
	}
	var out []vmkernel.Vmknic
	for _, v := range h.Vmknics() {
		if c.has("interface-name") && v.Name != c.str("interface-name") {
			continue
		}
		if stack != "" && v.Netstack != stack {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// interfaceList is the 6.x/7.x field set (field names VERIFIED, §2.2). The
// VDS, opaque-network and external-ID fields read N/A and -1 because the
// model has standard vSwitches only; RXDispQueue Size is not modelled and
// reads 2, the value of every capture.
func interfaceList(h *vmkernel.Host, c *call) (*result, error) {
	vs, err := vmknics(h, c, "Unable to list interfaces")
	if err != nil {
		return nil, err
	}
	portset := map[string]string{}
	for _, pg := range h.Portgroups() {
		portset[pg.Name] = pg.VSwitch
	}
	res := &result{shape: shapeObjects, typeName: "NetworkInterface", cols: []column{
		{name: "Name"}, {name: "MAC Address"}, {name: "Enabled", kind: kindBoolean}, {name: "Portset"},
		{name: "Portgroup"}, {name: "Netstack Instance"}, {name: "VDS Name"}, {name: "VDS UUID"},
		{name: "VDS Port"}, {name: "VDS Connection", kind: kindInteger}, {name: "Opaque Network ID"},
		{name: "Opaque Network Type"}, {name: "External ID"}, {name: "MTU", kind: kindInteger},
		{name: "TSO MSS", kind: kindInteger}, {name: "RXDispQueue Size", kind: kindInteger},
		{name: "Port ID", kind: kindInteger},
	}}
	for _, v := range vs {
		res.rows = append(res.rows, []any{
			v.Name, v.MAC().String(), v.Enabled(), portset[v.Portgroup], v.Portgroup, v.Netstack,
			"N/A", "N/A", "N/A", -1, "N/A", "N/A", "N/A", v.MTU(), v.TSOMSS, 2, v.PortID,
		})
	}
	return res, nil
}

// ipv4Get is the 7.x+ table with the per-vmknic Gateway column (VERIFIED,
// §2.3). A vmknic without an address (type NONE) shows 0.0.0.0 in every
// address column (INFERRED). DHCP DNS is false: DHCP is not modelled.
func ipv4Get(h *vmkernel.Host, c *call) (*result, error) {
	vs, err := vmknics(h, c, "Unable to get IPv4 settings")
	if err != nil {
		return nil, err
	}
	res := &result{typeName: "IPv4Interface", cols: []column{
		{name: "Name"}, {name: "IPv4 Address"}, {name: "IPv4 Netmask"}, {name: "IPv4 Broadcast"},
		{name: "Address Type"}, {name: "Gateway"}, {name: "DHCP DNS", kind: kindBoolean},
	}}
	for _, v := range vs {
		addr, nm, bc := "0.0.0.0", "0.0.0.0", "0.0.0.0"
		if p := v.Addr(); p.IsValid() {
			addr, nm, bc = p.Addr().String(), mask(p.Bits()), broadcast(p)
		}
		gw := "0.0.0.0"
		if v.Gateway.IsValid() {
			gw = v.Gateway.String()
		}
		res.rows = append(res.rows, []any{v.Name, addr, nm, bc, v.Type, gw, false})
	}
	return res, nil
}

func broadcast(p netip.Prefix) string {
	a := p.Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a).String()
}

// interfaceSet changes MTU and enabled state through the model. The MTU is
// set first: it is the change that can be refused (Bad parameter), so a
// refused command leaves the enabled state untouched too.
func interfaceSet(h *vmkernel.Host, c *call) (*result, error) {
	name := c.str("interface-name")
	if _, err := h.Vmknic(name); err != nil {
		return nil, sysinfoErr("Unable to set interface '"+name+"'", err)
	}
	if c.has("mtu") {
		mtu := c.long("mtu")
		if mtu < 0 || mtu > 1<<20 {
			return nil, sysinfoErr("Unable to set MTU of interface '"+name+"'", vmkernel.ErrBadParameter)
		}
		if err := h.SetVmknicMTU(name, int(mtu)); err != nil {
			return nil, sysinfoErr("Unable to set MTU of interface '"+name+"' to "+strconv.FormatInt(mtu, 10), err)
		}
	}
	if c.has("enabled") {
		if err := h.SetVmknicEnabled(name, c.boolean("enabled")); err != nil {
			return nil, sysinfoErr("Unable to set interface '"+name+"'", err)
		}
	}
	return nil, nil
}

// ipv4Set applies `-t static -I ip -N mask` or `-t none` through
// Host.SetVmknicIPv4. Everything is validated first, so a refused command
// changes nothing. DHCP is not modelled: -t dhcp is refused as "Not
// supported". The model keeps a vmknic's gateway fixed at creation, so -g
// is accepted only when it repeats the current gateway (a model gap).
func ipv4Set(h *vmkernel.Host, c *call) (*result, error) {
	name := c.str("interface-name")
	what := "Unable to set IPv4 settings for interface '" + name + "'"
	v, err := h.Vmknic(name)
	if err != nil {
		return nil, sysinfoErr(what, err)
	}
	var ip netip.Prefix
	switch t := strings.ToLower(c.str("type")); t {
	case "static":
		if !c.has("ipv4") || !c.has("netmask") {
			return nil, plainErr(what + ". A static configuration needs both --ipv4 and --netmask")
		}
		a, err := netip.ParseAddr(c.str("ipv4"))
		if err != nil || !a.Is4() {
			return nil, plainErr(what + ". Invalid IPv4 address '" + c.str("ipv4") + "'")
		}
		bits, ok := maskBits(c.str("netmask"))
		if !ok {
			return nil, plainErr(what + ". Invalid IPv4 netmask '" + c.str("netmask") + "'")
		}
		ip = netip.PrefixFrom(a, bits)
	case "none":
	case "dhcp":
		return nil, sysinfoErr(what, errors.New("Not supported"))
	default:
		return nil, plainErr(what + ". Invalid address type '" + c.str("type") + "'. Valid values are: dhcp, none, static")
	}
	gw, setGW := v.Gateway, false
	if c.has("gateway") {
		g, err := netip.ParseAddr(c.str("gateway"))
		if err != nil || !g.Is4() {
			return nil, plainErr(what + ". Invalid IPv4 gateway '" + c.str("gateway") + "'")
		}
		if g.IsUnspecified() {
			g = netip.Addr{}
		}
		gw, setGW = g, true
	}
	if err := h.SetVmknicIPv4(name, ip); err != nil {
		return nil, sysinfoErr(what, err)
	}
	if setGW {
		if err := h.SetVmknicGateway(name, gw); err != nil {
			return nil, sysinfoErr(what, err)
		}
	}
	return nil, nil
}

// maskBits parses a dotted netmask; it must be contiguous ones then zeros.
func maskBits(s string) (int, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	bits := 0
	for bits < 32 && m&(1<<(31-bits)) != 0 {
		bits++
	}
	if bits < 32 && m<<bits != 0 {
		return 0, false
	}
	return bits, true
}
