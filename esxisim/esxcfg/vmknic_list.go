package esxcfg

import (
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

// vmknicHeader is the 6.x+ header, VERIFIED byte for byte (reference §3.1),
// trailing space after NetStack included.
const vmknicHeader = "Interface  Port Group/DVPort/Opaque Network        IP Family IP Address                              Netmask         Broadcast       MAC Address       MTU     TSO MSS   Enabled Type                NetStack \n"

// vmknicRow holds one row's fields; the widths are the DERIVED column
// offsets of reference §3.1 (0, 11, 51, 61, 101, 117, 133, 151, 159, 169,
// 177, 197). NetStack, the last column, is not padded.
type vmknicRow struct {
	iface, pg, family, ip, mask, bcast, mac, mtu, tso, enabled, typ, netstack string
}

func (r vmknicRow) String() string {
	return pad(r.iface, 11) + pad(r.pg, 40) + pad(r.family, 10) + pad(r.ip, 40) +
		pad(r.mask, 16) + pad(r.bcast, 16) + pad(r.mac, 18) + pad(r.mtu, 8) +
		pad(r.tso, 10) + pad(r.enabled, 8) + pad(r.typ, 20) + r.netstack + "\n"
}

// listVmknics prints one IPv4 row per vmknic plus its IPv6 link-local row:
// IPv6 is on by default on 6.x+, and the model does not turn it off, so
// every vmknic has the fe80:: address derived from its MAC.
func (t *tool) listVmknics() int {
	var b strings.Builder
	b.WriteString(vmknicHeader)
	for _, v := range t.h.Vmknics() {
		b.WriteString(vmknicRows(v))
	}
	t.printf("%s", b.String())
	return 0
}

func vmknicRows(v vmkernel.Vmknic) string {
	base := vmknicRow{
		iface: v.Name, pg: v.Portgroup, mac: v.MAC().String(),
		mtu: strconv.Itoa(v.MTU()), tso: strconv.Itoa(v.TSOMSS),
		enabled: strconv.FormatBool(v.Enabled()), netstack: v.Netstack,
	}
	v4 := base
	v4.family = "IPv4"
	if a := v.Addr(); a.IsValid() {
		v4.ip, v4.mask, v4.bcast = a.Addr().String(), netmaskString(a.Bits()), broadcast(a).String()
		v4.typ = v.Type
	} else {
		// VERIFIED in the Intel mfd-esxi fixture: N/A in all three
		// address columns and Type NONE.
		v4.ip, v4.mask, v4.bcast, v4.typ = "N/A", "N/A", "N/A", "NONE"
	}
	out := v4.String()
	if ll, ok := linkLocal(v.MAC()); ok {
		v6 := base
		v6.family, v6.ip, v6.mask, v6.typ = "IPv6", ll.String(), "64", "STATIC, PREFERRED"
		out += v6.String()
	}
	return out
}
