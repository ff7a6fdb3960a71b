package esxcli

import (
	"slices"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

func vswitchNamespace(h *vmkernel.Host) *namespace {
	return ns("vswitch", "Commands to list and manipulate Virtual Switches on an ESX host.",
		ns("standard", "Commands to list and manipulate standard virtual switches.",
			&command{name: "list", desc: "List the virtual switches current on the ESX host.",
				opts: []option{strOpt('v', "vswitch-name", "Limit the output of this command to only vSwitches with the given name.")},
				run:  func(c *call) (*result, error) { return vswitchList(h, c) }},
			ns("portgroup", "Commands to list and manipulate Port Groups on an ESX host.",
				&command{name: "list", desc: "List all of the port groups currently on the system.",
					run: func(c *call) (*result, error) { return portgroupList(h) }},
			),
		),
	)
}

// vswitchList is §2.6's VERIFIED layout: Class cswitch (6.5+), port groups
// newest first. Beaconing is not modelled: Beacon Enabled false, interval 1,
// threshold 3 and no Beacon Required By are ESXi's defaults.
func vswitchList(h *vmkernel.Host, c *call) (*result, error) {
	res := &result{shape: shapeObjects, typeName: "VirtualSwitch", cols: []column{
		{name: "Name"}, {name: "Class"}, {name: "Num Ports", kind: kindInteger},
		{name: "Used Ports", kind: kindInteger}, {name: "Configured Ports", kind: kindInteger},
		{name: "MTU", kind: kindInteger}, {name: "CDP Status"}, {name: "Beacon Enabled", kind: kindBoolean},
		{name: "Beacon Interval", kind: kindInteger}, {name: "Beacon Threshold", kind: kindInteger},
		{name: "Beacon Required By", kind: kindStringList}, {name: "Uplinks", kind: kindStringList},
		{name: "Portgroups", kind: kindStringList},
	}}
	found := false
	for _, vs := range h.VSwitches() {
		if c.has("vswitch-name") && vs.Name != c.str("vswitch-name") {
			continue
		}
		found = true
		var pgs []string
		for _, pg := range slices.Backward(vs.Portgroups) {
			pgs = append(pgs, pg.Name)
		}
		res.rows = append(res.rows, []any{
			vs.Name, "cswitch", vs.NumPorts, h.UsedPorts(vs.Name), vs.ConfiguredPorts, vs.MTU, vs.CDP,
			false, 1, 3, []string(nil), vs.Uplinks, pgs,
		})
	}
	if c.has("vswitch-name") && !found {
		return nil, sysinfoErr("Unable to find virtual switch '"+c.str("vswitch-name")+"'", vmkernel.ErrNoSuchPortgroup)
	}
	return res, nil
}

// portgroupList is §2.7's VERIFIED table, sorted by name in ASCII order (the
// model's Portgroups order). Active Clients counts the vmknics on the port
// group: VMs are not modelled.
func portgroupList(h *vmkernel.Host) (*result, error) {
	res := &result{typeName: "PortGroup", cols: []column{
		{name: "Name"}, {name: "Virtual Switch"}, {name: "Active Clients", kind: kindInteger},
		{name: "VLAN ID", kind: kindInteger},
	}}
	for _, pg := range h.Portgroups() {
		res.rows = append(res.rows, []any{pg.Name, pg.VSwitch, h.PortgroupClients(pg.Name), pg.VLAN})
	}
	return res, nil
}
