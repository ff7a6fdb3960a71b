package esxcfg

import (
	"context"
	"net/netip"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

// esxcfg-route: the VMkernel routing table of one netstack. Every change
// goes through the model (Host.AddRoute, DeleteRoute, SetDefaultGateway),
// so the NFS client's next connection, esxcli and the event log see it at
// once.

var routeOptions = []option{
	{'a', "add", false},
	{'d', "del", false},
	{'l', "list", false},
	{'n', "neighbor-list", false},
	{'f', "family", true},
	{'N', "netstack", true},
	{'r', "restore", false},
	{'h', "help", false},
}

func runRoute(_ context.Context, t *tool) int {
	p, err := getopt(t.prog, routeOptions, t.args())
	if err != nil {
		return t.fail(err)
	}
	if p.has("help") {
		return t.help(routeHelp)
	}
	action, err := oneAction(p, "add", "del", "list", "neighbor-list", "restore")
	if err != nil {
		return t.fail(err)
	}
	v6 := false
	if f, ok := p.value("family"); ok {
		switch strings.ToUpper(f) {
		case "V4":
		case "V6":
			v6 = true
		default:
			return t.fail(errorf("Invalid address family %s: must be V4 or V6", quote(f)))
		}
	}
	nsName := vmkernel.DefaultNetstack
	if n, ok := p.value("netstack"); ok {
		nsName = n
	}
	if action == "restore" {
		return t.fail(unsupported("-r|--restore"))
	}
	if (action == "list" || action == "neighbor-list") && len(p.operands) > 0 {
		return t.fail(errorf("Unexpected argument %s", quote(p.operands[0])))
	}
	// Resolve the netstack before anything else: an unknown one is a
	// VMkernel refusal whatever the action.
	ns, err := t.h.Netstack(nsName)
	if err != nil {
		return t.failMsg(sysinfoError("Unable to find netstack instance "+printableString(nsName), err))
	}
	switch action {
	case "list":
		if v6 {
			return t.listRoutesV6()
		}
		return t.listRoutes(ns.Name)
	case "neighbor-list":
		return t.listNeighbors(ns.Name, v6)
	case "add", "del":
		if v6 {
			return t.fail(errorf("IPv6 routes are not supported by this emulator"))
		}
		rs, err := parseRouteOperands(p.operands)
		if err != nil {
			return t.fail(err)
		}
		if action == "add" {
			return t.addRoute(ns.Name, rs)
		}
		return t.deleteRoute(ns.Name, rs)
	}
	switch len(p.operands) {
	case 0:
		return t.showGateway(ns.Name, v6)
	case 1:
		if v6 {
			return t.fail(errorf("IPv6 routes are not supported by this emulator"))
		}
		return t.setGateway(ns.Name, p.operands[0])
	}
	return t.fail(errorf("Unexpected argument %s", quote(p.operands[1])))
}

// routeSpec is a route as typed: "10.0.0.0/8 gw", "10.0.0.0 255.0.0.0 gw"
// or "default gw".
type routeSpec struct {
	dst netip.Prefix
	gw  netip.Addr
	// name is how the messages show the destination: "default" as typed,
	// else the network with its prefix length (a netmask is normalised:
	// "192.168.5.2 255.255.255.255" is shown as 192.168.5.2/32).
	name string
}

func parseRouteOperands(ops []string) (routeSpec, error) {
	var rs routeSpec
	var gw string
	switch len(ops) {
	case 2:
		gw = ops[1]
		if strings.EqualFold(ops[0], "default") {
			rs.dst, rs.name = netip.PrefixFrom(netip.IPv4Unspecified(), 0), "default"
			break
		}
		p, ok := parsePrefix(ops[0])
		if !ok {
			if _, isIP := parseIPv4(ops[0]); isIP {
				return rs, errorf("Network %s needs a prefix length or a netmask", quote(ops[0]))
			}
			return rs, errorf("Invalid network %s", quote(ops[0]))
		}
		rs.dst = p
	case 3:
		if strings.Contains(ops[0], "/") || strings.EqualFold(ops[0], "default") {
			return rs, errorf("Unexpected argument %s", quote(ops[2]))
		}
		gw = ops[2]
		a, ok := parseIPv4(ops[0])
		if !ok {
			return rs, errorf("Invalid network %s", quote(ops[0]))
		}
		bits, ok := parseNetmask(ops[1])
		if !ok {
			return rs, errorf("Invalid netmask %s", quote(ops[1]))
		}
		rs.dst = netip.PrefixFrom(a, bits)
	default:
		return rs, errorf("A route needs <network> <netmask> <gateway>, <network>/<prefix length> <gateway> or default <gateway>")
	}
	// Host bits are dropped, as the VMkernel stores the network
	// (INFERRED: "10.0.0.5/24" adds 10.0.0.0/24).
	rs.dst = rs.dst.Masked()
	if rs.name == "" {
		rs.name = rs.dst.String()
	}
	a, ok := parseHostIPv4(gw)
	if !ok {
		return rs, errorf("Invalid gateway %s", quote(gw))
	}
	rs.gw = a
	return rs, nil
}

// addRoute prints the VERIFIED progress line first; a VMkernel refusal
// follows it, as esxcfg-nas prints "Connecting to NAS volume: X" before
// its sysinfo error.
func (t *tool) addRoute(ns string, rs routeSpec) int {
	t.printf("Adding static route %s to VMkernel\n", rs.name)
	if err := t.h.AddRoute(ns, rs.dst, rs.gw); err != nil {
		return t.failMsg(sysinfoError("Unable to add static route "+rs.name+" to VMkernel", err))
	}
	return 0
}

func (t *tool) deleteRoute(ns string, rs routeSpec) int {
	t.printf("Deleting static route %s from VMkernel\n", rs.name)
	if err := t.h.DeleteRoute(ns, rs.dst, rs.gw); err != nil {
		return t.failMsg(sysinfoError("Unable to delete static route "+rs.name+" from VMkernel", err))
	}
	return 0
}

// showGateway prints the configured default gateway, reachable or not.
// With none set the text is INFERRED (reference §1.1): "not set" rather
// than an empty line, so that a human and a script both see the state.
func (t *tool) showGateway(ns string, v6 bool) int {
	n, err := t.h.Netstack(ns)
	if err != nil {
		return t.failMsg(sysinfoError("Unable to find netstack instance "+ns, err))
	}
	if gw, ok := n.Routes.Default(); ok && !v6 {
		t.printf("VMkernel default gateway is %s\n", gw)
		return 0
	}
	t.printf("VMkernel default gateway is not set\n")
	return 0
}

func (t *tool) setGateway(ns, arg string) int {
	gw, ok := parseHostIPv4(arg)
	if !ok {
		return t.fail(errorf("Invalid gateway %s", quote(arg)))
	}
	if err := t.h.SetDefaultGateway(ns, gw); err != nil {
		return t.failMsg(sysinfoError("Unable to set VMkernel default gateway to "+gw.String(), err))
	}
	t.printf("VMkernel default gateway set to %s\n", gw)
	return 0
}
