package esxcli

import (
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

func neighborNamespace(h *vmkernel.Host) *namespace {
	return ns("neighbor", "Operations for administering the ARP and NDP neighbor tables",
		&command{name: "list", desc: "List ARP table entries.",
			opts: []option{
				netstackOpt(),
				strOpt('v', "vmknic", "Limit the output to neighbors learned on the given VMkernel network interface."),
			},
			run: func(c *call) (*result, error) { return neighborList(h, c) }},
	)
}

// neighborList renders the host's ARP cache (6.x+ layout with Type,
// VERIFIED header, §2.4). Expiry is an integer shown as "<n> sec" (whole
// seconds left, rounded down); State is empty for IPv4 entries; every
// learned entry is Dynamic. Without -N the default netstack's vmknics are
// listed (INFERRED).
func neighborList(h *vmkernel.Host, c *call) (*result, error) {
	stack, err := netstack(h, c)
	if err != nil {
		return nil, err
	}
	onStack := map[string]bool{}
	for _, v := range h.Vmknics() {
		if v.Netstack == stack {
			onStack[v.Name] = true
		}
	}
	if c.has("vmknic") {
		name := c.str("vmknic")
		if _, err := h.Vmknic(name); err != nil {
			return nil, sysinfoErr("Unable to list neighbors for interface '"+name+"'", err)
		}
	}
	res := &result{typeName: "Neighbor", cols: []column{
		{name: "Neighbor"}, {name: "Mac Address"}, {name: "Vmknic"},
		{name: "Expiry", kind: kindInteger, unit: "sec"}, {name: "State"}, {name: "Type"},
	}}
	for _, n := range h.Node().Neighbors() {
		if !onStack[n.Iface] || (c.has("vmknic") && n.Iface != c.str("vmknic")) {
			continue
		}
		res.rows = append(res.rows, []any{n.IP.String(), n.MAC.String(), n.Iface, int(n.Expiry.Seconds()), "", "Dynamic"})
	}
	return res, nil
}
