package tcpdump

import (
	"net/netip"
	"testing"
)

// testFrames are the frames the filter table matches against.
func testFrames(t testing.TB) map[string][]byte {
	return map[string][]byte{
		// NFS over vmk1 to the local CVM.
		"nfs": tcpFrame(t, seg{src: "192.168.5.1", dst: "192.168.5.2", sport: 1023, dport: 2049, flags: "S", seq: 100}),
		// ssh from a client to host A's vmk0.
		"ssh": tcpFrame(t, seg{srcMAC: macGW, dstMAC: macVmk0, src: "10.0.0.9", dst: "192.168.1.24", sport: 50000, dport: 22, flags: "PA", seq: 1, ack: 1, payload: []byte("x")}),
		// seed 001: NFS out of vmk0 to CVM B, and CVM B's RST.
		"vmk0nfs": tcpFrame(t, seg{srcMAC: macVmk0, dstMAC: macCVMB0, src: "192.168.1.24", dst: "192.168.5.2", sport: 1022, dport: 2049, flags: "PA", seq: 5, ack: 7, payload: make([]byte, 40)}),
		"rst":     tcpFrame(t, seg{srcMAC: macCVMB0, dstMAC: macVmk0, src: "192.168.5.2", dst: "192.168.1.24", sport: 2049, dport: 1022, flags: "R", seq: 7}),
		"ping":    icmpFrame(t, macVmk0, macGW, "192.168.1.24", "192.168.1.1", 8, 1, 0, 56),
		"arpreq":  arpFrame(t, 1, macVmk1, "192.168.5.1", make([]byte, 6), "192.168.5.2", macBcast),
		"arprep":  arpFrame(t, 2, macCVMA1, "192.168.5.2", macVmk1, "192.168.5.1", macVmk1),
		"dns":     udpFrame(t, "192.168.1.24", "192.168.1.1", 53000, 53, []byte("query")),
		"ip6":     ip6TCPFrame(t, "fe80::1", "fe80::2", 40000, 2049),
	}
}

func TestFilterMatch(t *testing.T) {
	frames := testFrames(t)
	hosts := ParseHosts([]byte("127.0.0.1 localhost\n192.168.5.2 filer stargate\n192.168.1.28 cvm-b\n"))
	cases := []struct {
		expr string
		want []string // the frames it matches
	}{
		{"", []string{"nfs", "ssh", "vmk0nfs", "rst", "ping", "arpreq", "arprep", "dns", "ip6"}},
		{"host 192.168.5.2", []string{"nfs", "vmk0nfs", "rst", "arpreq", "arprep"}},
		{"ip host 192.168.5.2", []string{"nfs", "vmk0nfs", "rst"}},
		{"arp host 192.168.5.2", []string{"arpreq", "arprep"}},
		{"host filer", []string{"nfs", "vmk0nfs", "rst", "arpreq", "arprep"}},
		{"src host 192.168.5.2", []string{"rst", "arprep"}},
		{"dst host 192.168.5.2", []string{"nfs", "vmk0nfs", "arpreq"}},
		{"src 192.168.1.24", []string{"vmk0nfs", "ping", "dns"}},
		{"dst 192.168.1.24", []string{"ssh", "rst"}},
		{"src or dst 192.168.1.24", []string{"ssh", "vmk0nfs", "rst", "ping", "dns"}},
		{"src and dst net 192.168.5.0/24", []string{"nfs", "arpreq", "arprep"}},
		{"host 192.168.5.1 or 192.168.1.1", []string{"nfs", "ping", "arpreq", "arprep", "dns"}},
		{"net 192.168.1.0/24", []string{"ssh", "vmk0nfs", "rst", "ping", "dns"}},
		{"net 192.168.1.0 mask 255.255.255.0", []string{"ssh", "vmk0nfs", "rst", "ping", "dns"}},
		{"net 192.168.1", []string{"ssh", "vmk0nfs", "rst", "ping", "dns"}},
		{"dst net 192.168.5", []string{"nfs", "vmk0nfs", "arpreq", "arprep"}},
		{"net 10", []string{"ssh"}},
		{"port 2049", []string{"nfs", "vmk0nfs", "rst", "ip6"}},
		{"port nfs", []string{"nfs", "vmk0nfs", "rst", "ip6"}},
		{"tcp port 2049", []string{"nfs", "vmk0nfs", "rst", "ip6"}},
		{"udp port 2049", nil},
		{"src port 2049", []string{"rst"}},
		{"dst port 2049", []string{"nfs", "vmk0nfs", "ip6"}},
		{"port 2049 and not port 22", []string{"nfs", "vmk0nfs", "rst", "ip6"}},
		{"port 2049 or 22", []string{"nfs", "ssh", "vmk0nfs", "rst", "ip6"}},
		{"port 2049 and not 1023", []string{"vmk0nfs", "rst", "ip6"}},
		{"portrange 1000-1100", []string{"nfs", "vmk0nfs", "rst"}},
		{"portrange 1100-1000", []string{"nfs", "vmk0nfs", "rst"}},
		{"tcp portrange 22-53", []string{"ssh"}},
		{"portrange 22-53", []string{"ssh", "dns"}},
		{"portrange ssh-domain", []string{"ssh", "dns"}},
		{"tcp", []string{"nfs", "ssh", "vmk0nfs", "rst", "ip6"}},
		{"udp", []string{"dns"}},
		{"icmp", []string{"ping"}},
		{"arp", []string{"arpreq", "arprep"}},
		{"ip", []string{"nfs", "ssh", "vmk0nfs", "rst", "ping", "dns"}},
		{"ip6", []string{"ip6"}},
		{"not ip", []string{"arpreq", "arprep", "ip6"}},
		{"! tcp && ! arp", []string{"ping", "dns"}},
		{"tcp or udp and not port 53", []string{"nfs", "ssh", "vmk0nfs", "rst", "ip6"}},
		// and/or have one precedence, left to right: (icmp or tcp) and port 22.
		{"icmp or tcp and port 22", []string{"ssh"}},
		{"icmp or (tcp and port 22)", []string{"ssh", "ping"}},
		{"ether host 00:50:56:6e:8f:b3", []string{"ssh", "vmk0nfs", "rst", "ping", "dns", "ip6"}},
		{"ether src 00:50:56:6e:8f:b3", []string{"vmk0nfs", "ping", "dns", "ip6"}},
		{"ether dst 00:50:56:6e:8f:b3", []string{"ssh", "rst"}},
		{"ether dst host 0050.566e.8fb3", []string{"ssh", "rst"}},
		{"ether broadcast", []string{"arpreq"}},
		{"broadcast", []string{"arpreq"}},
		{"ether proto \\arp", []string{"arpreq", "arprep"}},
		{"ether proto 0x0806", []string{"arpreq", "arprep"}},
		{"ip proto \\tcp", []string{"nfs", "ssh", "vmk0nfs", "rst"}},
		{"proto 17", []string{"dns"}},
		{"ip proto 1", []string{"ping"}},
		{"tcp[tcpflags] & tcp-syn != 0", []string{"nfs"}},
		{"tcp[13] & (tcp-rst|tcp-fin) != 0", []string{"rst"}},
		{"tcp[tcpflags] == tcp-push|tcp-ack", []string{"ssh", "vmk0nfs"}},
		{"icmp[icmptype] = icmp-echo", []string{"ping"}},
		{"ip[9] = 6 and ip[2:2] > 40", []string{"ssh", "vmk0nfs"}},
		{"(ip[0] & 0xf) << 2 = 20", []string{"nfs", "ssh", "vmk0nfs", "rst", "ping", "dns"}},
		{"ether[12:2] = 0x806", []string{"arpreq", "arprep"}},
		{"len <= 60", []string{"nfs", "ssh", "rst", "arpreq", "arprep", "dns"}},
		{"less 60", []string{"nfs", "ssh", "rst", "arpreq", "arprep", "dns"}},
		{"greater 90", []string{"vmk0nfs", "ping"}},
		{"host fe80::1", []string{"ip6"}},
		{"ip6 net fe80::/64", []string{"ip6"}},
		{"host 192.168.5.2 and (port 111 or 2049)", []string{"nfs", "vmk0nfs", "rst"}},
		{"host (192.168.5.2 or 10.0.0.9)", []string{"nfs", "ssh", "vmk0nfs", "rst", "arpreq", "arprep"}},
		{"host 192.168.5.2 and not (192.168.5.1)", []string{"vmk0nfs", "rst"}},
		{"tcp and host 192.168.5.2 and port (2049)", []string{"nfs", "vmk0nfs", "rst"}},
		{"inbound", []string{"ssh", "rst", "arprep"}},
		{"outbound", []string{"nfs", "vmk0nfs", "ping", "arpreq", "dns", "ip6"}},
		{"vlan", nil},
		// An out-of-bounds load rejects the packet whatever follows.
		{"tcp[100] = 1 or tcp", []string{"ip6"}},
		{"tcp or tcp[100] = 1", []string{"nfs", "ssh", "vmk0nfs", "rst", "ip6"}},
	}
	// Which frames a node sends (for inbound/outbound).
	out := map[string]bool{"nfs": true, "vmk0nfs": true, "ping": true, "arpreq": true, "dns": true, "ip6": true}
	names := []string{"nfs", "ssh", "vmk0nfs", "rst", "ping", "arpreq", "arprep", "dns", "ip6"}
	for _, c := range cases {
		f, err := Compile(c.expr, FilterOptions{LookupHost: hosts.Lookup, Dialect: Dialect{Linux: true}})
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		var got []string
		for _, n := range names {
			data := frames[n]
			if f.Match(data, len(data), LinkEthernet, out[n]) {
				got = append(got, n)
			}
		}
		if !equalStrings(got, c.want) {
			t.Errorf("%q matches %v, want %v", c.expr, got, c.want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFilterString(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"host 192.168.5.2", "host 192.168.5.2"},
		{"host a or b", "host a or host b"},
		{"src host 1.2.3.4 && 5.6.7.8", "src host 1.2.3.4 and src host 5.6.7.8"},
		{"port 2049 and not 22", "port 2049 and not port 22"},
		{"port 2049 and not port 22", "port 2049 and not port 22"},
		{"tcp dst port ftp or ftp-data or domain", "tcp dst port ftp or tcp dst port ftp-data or tcp dst port domain"},
		{"icmp or tcp and port 22", "(icmp or tcp) and port 22"},
		{"icmp or (tcp and port 22)", "icmp or (tcp and port 22)"},
		{"not (host a or b)", "not (host a or host b)"},
		{"! tcp", "not tcp"},
		{"host (a or b)", "host a or host b"},
		{"net 192.168.5.0/24", "net 192.168.5.0/24"},
		{"net 10.0.0.0 mask 255.0.0.0", "net 10.0.0.0 mask 255.0.0.0"},
		{"port 0x801", "port 2049"},
		{"portrange 1-1024", "portrange 1-1024"},
		{"ether src 00:50:56:6E:8F:B3", "ether src 00:50:56:6e:8f:b3"},
		{"ip proto \\tcp", "ip proto \\tcp"},
		{"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "tcp[13] & (2 | 1) != 0"},
		{"ip[2:2] - ((ip[0]&0xf)<<2) > 0", "ip[2:2] - ((ip[0] & 15) << 2) > 0"},
		{"less 100 and greater 10", "less 100 and greater 10"},
		{"host a and (port 1 or 2) or c", "(host a and (port 1 or port 2)) or host c"},
	}
	hosts := ParseHosts([]byte("1.1.1.1 a\n2.2.2.2 b\n3.3.3.3 c\n"))
	for _, c := range cases {
		f, err := Compile(c.expr, FilterOptions{LookupHost: hosts.Lookup})
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if got := f.String(); got != c.want {
			t.Errorf("%q renders %q, want %q", c.expr, got, c.want)
		}
		g, err := Compile(f.String(), FilterOptions{LookupHost: hosts.Lookup})
		if err != nil {
			t.Errorf("%q: re-parsing %q: %v", c.expr, f.String(), err)
		} else if g.String() != f.String() {
			t.Errorf("%q: %q re-renders %q", c.expr, f.String(), g.String())
		}
	}
}

func TestFilterErrors(t *testing.T) {
	// libpcap 1.8.1 (ESXi's tcpdump-uw) unless old is set (libpcap 1.5.3,
	// CentOS 7's tcpdump).
	cases := []struct {
		expr string
		old  bool
		want string
	}{
		{"host", false, "syntax error in filter expression: syntax error"},
		{"host", true, "syntax error"},
		{"host 1.2.3.4 and", false, "syntax error in filter expression: syntax error"},
		{"(tcp", false, "syntax error in filter expression: syntax error"},
		{"tcp)", false, "syntax error in filter expression: syntax error"},
		{"10.0.0.1", false, "syntax error in filter expression: syntax error"},
		{"not 10.0.0.1", false, "syntax error in filter expression: syntax error"},
		{"port", true, "syntax error"},
		{"tcp or 10.0.0.1", false, "syntax error in filter expression"},
		{"tcp or 10.0.0.1", true, "syntax error in filter expression"},
		{"(host 1.1.1.1) or 2.2.2.2", false, "syntax error in filter expression"},
		{"not (a or b)", false, "syntax error in filter expression: syntax error"},
		{"host nosuch", false, "unknown host 'nosuch'"},
		{"host nosuch and port 22", false, "unknown host 'nosuch'"},
		{"host 1.2.3.4 or nosuch", false, "unknown host 'nosuch'"},
		{"host 10.0.0.1@", false, "illegal token: @"},
		{"host x@y", false, "unknown host 'x'"},
		{"port 2049 # nfs", false, "illegal token: #"},
		{"port 22 %% 1", false, "illegal token: %%"},
		{"_foo", false, "illegal char '_'"},
		{"host 1:2:3", false, "bogus ethernet address 1:2:"},
		{"port 70000", false, "illegal port number 70000 > 65535"},
		{"portrange 1-70000", false, "illegal port number 70000 > 65535"},
		{"port nosuch", false, "unknown port 'nosuch'"},
		{"udp port ssh-x", false, "unknown port 'ssh-x'"},
		{"portrange a-b", false, "unknown port in range 'a-b'"},
		{"ip port 22", false, "illegal qualifier of 'port'"},
		{"port 10.0.0.1", false, "'port' modifier applied to ip host"},
		{"tcp host 10.0.0.1", false, "'tcp' modifier applied to host"},
		{"udp net 10.0.0.0/8", false, "'udp' modifier applied to net"},
		{"net 10.0.0.1/8", false, "non-network bits set in \"10.0.0.1/8\""},
		{"net 10.0.0.0/33", false, "mask length must be <= 32"},
		{"net 10.0.0.1 mask 255.0.0.0", false, "non-network bits set in \"10.0.0.1 mask 255.0.0.0\""},
		{"host 10.0.0.0/8", false, "Mask syntax for networks only"},
		{"net nosuch", false, "unknown network 'nosuch'"},
		{"host 00:11:22:33:44:55", false, "ethernet address used in non-ether expression"},
		{"ether host 10.0.0.1", false, "illegal link layer address"},
		{"ether host nosuch", false, "unknown ether host 'nosuch'"},
		{"ether", false, "link layer applied in wrong context"},
		{"ip proto nosuch", false, "unknown ip proto 'nosuch'"},
		{"ether proto \\nosuch", false, "unknown ether proto 'nosuch'"},
		{"src proto 6", false, "syntax error in filter expression: syntax error"},
		{"arp proto 6", false, "arp does not encapsulate another protocol"},
		{"gateway foo", false, "'gateway' not supported in this configuration"},
		{"gateway 10.0.0.1", false, "'gateway' requires a name"},
		{"tcp[13:3] = 1", false, "data size must be 1, 2, or 4"},
		{"tcp[13] / 0 = 1", false, "division by zero"},
		{"icmp6[0] = 1", false, "IPv6 upper-layer protocol is not supported by proto[x]"},
		{"ip broadcast", false, "netmask not known, so 'ip broadcast' not supported"},
		{"inbound", false, "inbound/outbound not supported on linktype 1"},
		{"lane", false, "'lane' supported only on raw ATM"},
		{"$1a", false, "syntax error in filter expression: syntax error"},
		{"host $1a", false, "aid supported only on ARCnet"},
	}
	for _, c := range cases {
		_, err := Compile(c.expr, FilterOptions{Dialect: Dialect{BareSyntaxError: c.old}})
		if err == nil {
			t.Errorf("%q compiled", c.expr)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%q: %q, want %q", c.expr, err, c.want)
		}
	}
}

func TestFilterLinuxSLL(t *testing.T) {
	for expr, want := range map[string]string{
		"ether host 00:50:56:6e:8f:b3": "ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel",
		"broadcast":                    "not a broadcast link",
	} {
		_, err := Compile(expr, FilterOptions{LinkType: LinkLinuxSLL})
		if err == nil || err.Error() != want {
			t.Errorf("%q on any: %v, want %q", expr, err, want)
		}
	}
	// The cooked frame keeps the IP offsets right.
	nfs := tcpFrame(t, seg{src: "192.168.5.1", dst: "192.168.5.2", sport: 1023, dport: 2049, flags: "S"})
	cooked := cook(nfs, true, nil)
	f, err := Compile("host 192.168.5.2 and port 2049 and outbound", FilterOptions{LinkType: LinkLinuxSLL})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(cooked, len(cooked), LinkLinuxSLL, true) {
		t.Error("cooked NFS frame does not match")
	}
}

func TestFilterOffline(t *testing.T) {
	_, err := Compile("inbound", FilterOptions{Dialect: Dialect{Linux: true}, Offline: true})
	if err == nil || err.Error() != "inbound/outbound not supported on linktype 1 when reading savefiles" {
		t.Errorf("inbound on a file: %v", err)
	}
}

func TestHostsLookup(t *testing.T) {
	h := ParseHosts([]byte("# comment\n192.168.5.2 filer stargate # the CVM\n::1 localhost6\nbad line\n"))
	if got := h.Lookup("stargate"); len(got) != 1 || got[0] != netip.MustParseAddr("192.168.5.2") {
		t.Errorf("stargate: %v", got)
	}
	if n, ok := h.Name(netip.MustParseAddr("192.168.5.2")); !ok || n != "filer" {
		t.Errorf("name: %q %v", n, ok)
	}
}
