package esxcfg

import (
	"context"
	"strconv"
	"strings"
)

// esxcfg-nics: the physical uplinks. Only -l is modelled; speed, duplex
// and autonegotiation settings are not part of the model.

var nicsOptions = []option{
	{'s', "speed", true},
	{'d', "duplex", true},
	{'a', "auto", false},
	{'l', "list", false},
	{'r', "restore", false},
	{'h', "help", false},
}

// nicsHeader and the row widths are VERIFIED byte for byte by the HPE
// 7.0.3 capture (columns at 0/8/21/33/38/49/56/74/81), the layout 6.x and
// 7.x share.
const nicsHeader = "Name    PCI          Driver      Link Speed      Duplex MAC Address       MTU    Description\n"

func runNics(_ context.Context, t *tool) int {
	p, err := getopt(t.prog, nicsOptions, t.args())
	if err != nil {
		return t.fail(err)
	}
	if p.has("help") {
		return t.help(nicsHelp)
	}
	for _, o := range []struct{ name, flag string }{
		{"speed", "-s|--speed"}, {"duplex", "-d|--duplex"}, {"auto", "-a|--auto"}, {"restore", "-r|--restore"},
	} {
		if p.has(o.name) {
			return t.fail(unsupported(o.flag))
		}
	}
	if !p.has("list") {
		return t.usage(nicsHelp)
	}
	if len(p.operands) > 0 {
		return t.fail(errorf("Unexpected argument %s", quote(p.operands[0])))
	}
	var b strings.Builder
	b.WriteString(nicsHeader)
	for _, n := range t.h.Vmnics() {
		// A NIC without link shows 0Mbps, Half (INFERRED, as 6.x/7.x
		// hosts show unplugged ports).
		link, speed, duplex := "Up", strconv.Itoa(n.Speed)+"Mbps", n.Duplex
		if !n.LinkUp {
			link, speed, duplex = "Down", "0Mbps", "Half"
		}
		b.WriteString(pad(n.Name, 8) + pad(n.PCI, 13) + pad(n.Driver, 12) + pad(link, 5) +
			pad(speed, 11) + pad(duplex, 7) + pad(n.MAC.String(), 18) + pad(strconv.Itoa(n.MTU), 7) + n.Description + "\n")
	}
	t.printf("%s", b.String())
	return 0
}
