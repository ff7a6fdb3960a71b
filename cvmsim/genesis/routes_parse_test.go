package genesis

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseRoutes(t *testing.T) {
	lab, err := os.ReadFile("testdata/route-list-7x.txt")
	if err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	tests := []struct {
		name string
		out  string
		want []Route
	}{
		{"7.x with a forwarding route (seed 001, this lab)", string(lab), []Route{
			{Network: p("192.168.1.0/24"), Interface: "vmk0"},
			{Network: p("192.168.5.0/24"), Interface: "vmk1"},
			{Network: p("192.168.5.2/32"), Gateway: a("192.168.1.28"), Interface: "vmk0"},
			{Network: p("0.0.0.0/0"), Gateway: a("192.168.1.1"), Interface: "vmk0"},
		}},
		// Reference §1.2, VERIFIED 7.0.3 capture.
		{"7.0.3 HPE capture", "VMkernel Routes:\n" +
			"Network          Netmask          Gateway          Interface\n" +
			"172.26.64.0      255.255.255.192  Local Subnet     vmk0\n" +
			"default          0.0.0.0          172.26.64.1      vmk0\n", []Route{
			{Network: p("172.26.64.0/26"), Interface: "vmk0"},
			{Network: p("0.0.0.0/0"), Gateway: a("172.26.64.1"), Interface: "vmk0"},
		}},
		// Reference §1.2, KB 2081185 (4.x–5.5: a dashes line, collapsed
		// spacing).
		{"5.x with dashes", "VMkernel Routes:\n" +
			"Network Netmask Gateway Interface\n" +
			"------------- ---------------- ------------- -------------\n" +
			"8.8.8.8 255.255.255.255 10.27.47.254 vmk0\n" +
			"10.27.32.0 255.255.240.0 Local Subnet vmk0\n" +
			"default 0.0.0.0 10.27.32.21 vmk0\n", []Route{
			{Network: p("8.8.8.8/32"), Gateway: a("10.27.47.254"), Interface: "vmk0"},
			{Network: p("10.27.32.0/20"), Interface: "vmk0"},
			{Network: p("0.0.0.0/0"), Gateway: a("10.27.32.21"), Interface: "vmk0"},
		}},
		{"CRLF and no title", "Network          Netmask          Gateway          Interface\r\n" +
			"192.168.5.2      255.255.255.255  192.168.1.99     vmk0\r\n", []Route{
			{Network: p("192.168.5.2/32"), Gateway: a("192.168.1.99"), Interface: "vmk0"},
		}},
		{"empty table", "VMkernel Routes:\nNetwork          Netmask          Gateway          Interface\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRoutes(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestParseRoutesRejects(t *testing.T) {
	for _, out := range []string{
		"-sh: esxcfg-route: not found\n",
		"192.168.5.2      255.255.0.255    192.168.1.28     vmk0\n",
		"192.168.5.2      255.255.255.255  somewhere        vmk0\n",
		"192.168.5.2      255.255.255.255  192.168.1.28     vmk0 extra\n",
		"192.168.5.2\n",
	} {
		if got, err := ParseRoutes(out); err == nil {
			t.Errorf("ParseRoutes(%q) = %v, want an error", out, got)
		}
	}
}

func TestNetmask(t *testing.T) {
	for bits, want := range map[int]string{0: "0.0.0.0", 8: "255.0.0.0", 20: "255.255.240.0", 26: "255.255.255.192", 32: "255.255.255.255"} {
		if got := netmask(bits); got != want {
			t.Errorf("netmask(%d) = %s, want %s", bits, got, want)
		}
		if b, ok := maskBits(netip.MustParseAddr(want)); !ok || b != bits {
			t.Errorf("maskBits(%s) = %d, %v", want, b, ok)
		}
	}
	if got := routeCmd("-a", netip.MustParseAddr("192.168.1.28")); got != "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28" {
		t.Errorf("routeCmd = %q", got)
	}
	r := Route{Network: netip.MustParsePrefix("192.168.5.0/24")}
	if !strings.Contains(r.String(), "Local Subnet") {
		t.Errorf("Route.String() = %q", r)
	}
}
