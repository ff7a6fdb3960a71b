package tcpdump

import (
	"testing"
	"time"
)

// FuzzFilter: no input panics the compiler; a filter that compiles renders
// (String) to text that compiles to the same filter, matching the same
// frames.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"host 192.168.5.2", "host a or b", "port 2049 and not 22", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
		"net 192.168.5.0/24", "net 10.0.0.0 mask 255.0.0.0", "ether src 00:50:56:6e:8f:b3", "ip proto \\tcp",
		"(icmp or arp) and not host 10.0.0.1", "portrange 1-1024", "src or dst 1.2.3.4", "less 100",
		"ip[2:2] - ((ip[0]&0xf)<<2) > 0", "host (a or b) and port (22 or 80)", "not not tcp", "host fe80::1",
		"vlan 100 or mpls", "ether broadcast or multicast", "len > 0x40", "(((tcp)))", "ip6 net fe80::/10",
		"byte 12 = 8", "host 1.2.3.4@", "tcp or 1.2.3.4", "host 0a", "port 1-2", "-1 > 0", "ip[0:4]",
	} {
		f.Add(s)
	}
	hosts := ParseHosts([]byte("1.1.1.1 a\n2.2.2.2 b\n192.168.5.2 filer\n::1 localhost\n"))
	frames := testFrames(f)
	names := []string{"nfs", "ssh", "vmk0nfs", "rst", "ping", "arpreq", "arprep", "dns", "ip6"}
	opts := FilterOptions{LookupHost: hosts.Lookup, Netmask: 0xffffff00, Dialect: Dialect{Linux: true}}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Compile(expr, opts)
		if err != nil {
			return
		}
		text := flt.String()
		again, err := Compile(text, opts)
		if err != nil {
			t.Fatalf("%q renders %q, which does not compile: %v", expr, text, err)
		}
		if again.String() != text {
			t.Fatalf("%q renders %q, which renders %q", expr, text, again.String())
		}
		for _, n := range names {
			data := frames[n]
			if flt.Match(data, len(data), LinkEthernet, false) != again.Match(data, len(data), LinkEthernet, false) {
				t.Fatalf("%q and its rendering %q disagree on %s", expr, text, n)
			}
		}
	})
}

// FuzzPrinter: no frame panics the printer.
func FuzzPrinter(f *testing.F) {
	for _, data := range testFrames(f) {
		f.Add(data, uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		p := NewPrinter(PrintOptions{Verbose: int(mode & 3), Link: mode&4 != 0, Numeric: mode&8 != 0})
		_ = p.Line(time.Unix(0, 0), data, len(data)+int(mode>>4))
		s := NewPrinter(PrintOptions{LinkType: LinkLinuxSLL, Verbose: int(mode & 3)})
		_ = s.Line(time.Unix(0, 0), data, len(data))
	})
}
