package esxcli

import "github.com/autopathlab/autopathlab/esxisim/vmkernel"

func nicNamespace(h *vmkernel.Host) *namespace {
	return ns("nic", "Operations having to do with the configuration of Network Interface Card and getting and updating the NIC settings.",
		&command{name: "list", desc: "This command will list the Physical NICs currently installed and loaded on the system.",
			run: func(c *call) (*result, error) { return nicList(h) }},
	)
}

// nicList is the 8.x table (header VERIFIED, §2.9). Speed and MTU are
// integers, so right-aligned: that is what puts one space before "MTU" after
// a 17-character MAC column in the VERIFIED header. The model has no
// administrative NIC state, so Admin Status is Up; a NIC whose link is down
// reports Speed 0 and Duplex Half, as ESXi does.
func nicList(h *vmkernel.Host) (*result, error) {
	res := &result{typeName: "Nic", cols: []column{
		{name: "Name"}, {name: "PCI Device"}, {name: "Driver"}, {name: "Admin Status"},
		{name: "Link Status"}, {name: "Speed", kind: kindInteger}, {name: "Duplex"},
		{name: "MAC Address"}, {name: "MTU", kind: kindInteger}, {name: "Description"},
	}}
	for _, n := range h.Vmnics() {
		link, speed, duplex := "Up", n.Speed, n.Duplex
		if !n.LinkUp {
			link, speed, duplex = "Down", 0, "Half"
		}
		res.rows = append(res.rows, []any{n.Name, n.PCI, n.Driver, "Up", link, speed, duplex, n.MAC.String(), n.MTU, n.Description})
	}
	return res, nil
}
