package esxcfg

import (
	"fmt"
	"strings"
	"time"
)

// routeHeader is the 7.x header (VERIFIED, reference §1.2): no dashes line,
// each of the first three columns 17 characters wide.
const routeHeader = "VMkernel Routes:\nNetwork          Netmask          Gateway          Interface\n"

// listRoutes prints the effective table the model routes by: connected
// subnets ("Local Subnet", one egress vmk per subnet, so a second vmk in a
// subnet never appears), static routes, the default route last. A static
// route whose gateway is unreachable now is not listed: it cannot carry
// traffic.
func (t *tool) listRoutes(ns string) int {
	routes, err := t.h.Routes(ns)
	if err != nil {
		return t.failMsg(sysinfoError("Unable to get VMkernel routes", err))
	}
	var b strings.Builder
	b.WriteString(routeHeader)
	for _, r := range routes {
		network := r.Network.Addr().String()
		if r.Default {
			network = "default"
		}
		gw := "Local Subnet"
		if r.Gateway.IsValid() {
			gw = r.Gateway.String()
		}
		b.WriteString(pad(network, 17) + pad(netmaskString(r.Network.Bits()), 17) + pad(gw, 17) + r.Interface + "\n")
	}
	t.printf("%s", b.String())
	return 0
}

// listRoutesV6 prints the IPv6 table. The model routes IPv4 only, so the
// table is empty; the header is the IPv4 one (INFERRED: no IPv6 listing
// was ever captured, reference §1.5).
func (t *tool) listRoutesV6() int {
	t.printf("%s", routeHeader)
	return 0
}

// neighborHeader: the -n layout was never captured (reference §1.5). It is
// INFERRED: the columns of `esxcli network ip neighbor list` (6.x+: Neighbor,
// Mac Address, Vmknic, Expiry, State, Type) laid out in the fixed,
// left-justified fields of `esxcfg-route -l`, with no title line.
const neighborHeader = "Neighbor         MAC Address        Vmknic   Expiry       State      Type\n"

// listNeighbors prints the ARP cache entries learned through the
// netstack's vmknics. IPv4 entries have an empty State and Type Dynamic
// (learned from traffic), as this emulator's esxcli neighbor list shows
// them; the model keeps no IPv6 neighbours.
func (t *tool) listNeighbors(ns string, v6 bool) int {
	inNS := map[string]bool{}
	for _, v := range t.h.Vmknics() {
		if v.Netstack == ns {
			inNS[v.Name] = true
		}
	}
	var b strings.Builder
	b.WriteString(neighborHeader)
	if !v6 {
		for _, n := range t.h.Node().Neighbors() {
			if !inNS[n.Iface] {
				continue
			}
			expiry := fmt.Sprintf("%d sec", int64(n.Expiry/time.Second))
			b.WriteString(pad(n.IP.String(), 17) + pad(n.MAC.String(), 19) + pad(n.Iface, 9) + pad(expiry, 13) + pad("", 11) + "Dynamic\n")
		}
	}
	t.printf("%s", b.String())
	return 0
}
