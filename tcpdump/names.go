package tcpdump

import (
	"bufio"
	"net/netip"
	"strconv"
	"strings"
)

// Names: the services (/etc/services), networks (/etc/networks) and hosts
// (/etc/hosts) that tcpdump consults through libc. The emulated nodes have
// no DNS, so a host name is known only if the node's /etc/hosts has it.

// service is one /etc/services entry.
type service struct {
	name  string
	port  int
	proto int // protoTCP or protoUDP
}

// services is the part of CentOS 7's /etc/services (IANA's registry) that
// traffic in these labs may show: the well-known ports of the protocols a
// cluster speaks, and the ones of Nutanix's services that IANA assigned to
// others (2009, Stargate's, is IANA's "news"). Ports not listed print as
// numbers, as tcpdump prints a port /etc/services does not name.
var services = func() []service {
	both := func(name string, port int) []service {
		return []service{{name, port, protoTCP}, {name, port, protoUDP}}
	}
	var s []service
	for _, e := range []struct {
		name string
		port int
	}{
		{"ftp-data", 20}, {"ftp", 21}, {"ssh", 22}, {"telnet", 23}, {"smtp", 25}, {"time", 37},
		{"domain", 53}, {"bootps", 67}, {"bootpc", 68}, {"tftp", 69}, {"http", 80},
		{"kerberos", 88}, {"pop3", 110}, {"sunrpc", 111}, {"auth", 113}, {"ntp", 123},
		{"netbios-ns", 137}, {"netbios-dgm", 138}, {"netbios-ssn", 139}, {"imap", 143},
		{"snmp", 161}, {"snmptrap", 162}, {"ldap", 389}, {"https", 443}, {"microsoft-ds", 445},
		{"ldaps", 636}, {"rsync", 873}, {"ideafarm-door", 902}, {"nfs", 2049},
		{"iscsi-target", 3260}, {"rfb", 5900},
	} {
		s = append(s, both(e.name, e.port)...)
	}
	return append(s,
		service{"exec", 512, protoTCP}, service{"biff", 512, protoUDP},
		service{"login", 513, protoTCP}, service{"who", 513, protoUDP},
		service{"shell", 514, protoTCP}, service{"syslog", 514, protoUDP},
		service{"news", 2009, protoTCP}, service{"whosockami", 2009, protoUDP},
		service{"mountd", 20048, protoTCP}, service{"mountd", 20048, protoUDP},
	)
}()

// serviceByName is pcap_nametoport: the port and protocol of a service
// name (proto 0 when TCP and UDP agree).
func serviceByName(name string) (port, proto int, ok bool) {
	tcp, udp := -1, -1
	for _, s := range services {
		if s.name != name {
			continue
		}
		if s.proto == protoTCP && tcp < 0 {
			tcp = s.port
		}
		if s.proto == protoUDP && udp < 0 {
			udp = s.port
		}
	}
	switch {
	case tcp >= 0 && udp == tcp:
		return tcp, 0, true
	case tcp >= 0:
		return tcp, protoTCP, true
	case udp >= 0:
		return udp, protoUDP, true
	}
	return 0, 0, false
}

// portRangeByName is pcap_nametoportrange: "a-b" with numbers (C's sscanf
// "%d-%d", trailing text ignored) or service names.
func portRangeByName(name string) (lo, hi, proto int, ok bool) {
	if a, rest, ok1 := scanInt(name); ok1 && strings.HasPrefix(rest, "-") {
		if b, _, ok2 := scanInt(rest[1:]); ok2 {
			return a, b, 0, true
		}
	}
	first, second, found := strings.Cut(name, "-")
	if !found {
		return 0, 0, 0, false
	}
	lo, p1, ok1 := serviceByName(first)
	if !ok1 {
		return 0, 0, 0, false
	}
	hi, p2, ok2 := serviceByName(second)
	if !ok2 {
		return 0, 0, 0, false
	}
	if p1 != p2 {
		p1 = 0
	}
	return lo, hi, p1, true
}

// scanInt reads a decimal integer as scanf's %d does.
func scanInt(s string) (int, string, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i {
		return 0, s, false
	}
	n, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil || n > 1<<31-1 || n < -(1<<31) {
		return 0, s, false
	}
	return int(n), s[j:], true
}

// netByName is getnetbyname over CentOS 7's /etc/networks.
func netByName(name string) (uint32, bool) {
	switch name {
	case "default":
		return 0, false // 0 is "not found" to libpcap
	case "loopback":
		return 127, true
	case "link-local":
		return 169<<8 | 254, true
	}
	return 0, false
}

// portName is tcpport_string / udpport_string without -n: the service
// name, or the number.
func portName(port uint16, proto int, numeric bool) string {
	if !numeric {
		for _, s := range services {
			if s.port == int(port) && s.proto == proto {
				return s.name
			}
		}
	}
	return strconv.Itoa(int(port))
}

// Hosts is a parsed /etc/hosts: tcpdump's name for an address (without
// -n) and a filter's addresses for a name.
type Hosts struct {
	byName map[string][]netip.Addr
	byAddr map[netip.Addr]string
}

// ParseHosts reads an /etc/hosts file.
func ParseHosts(data []byte) *Hosts {
	h := &Hosts{byName: map[string][]netip.Addr{}, byAddr: map[netip.Addr]string{}}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		a = a.Unmap()
		if _, seen := h.byAddr[a]; !seen {
			h.byAddr[a] = f[1]
		}
		for _, n := range f[1:] {
			h.byName[n] = append(h.byName[n], a)
		}
	}
	return h
}

// Lookup returns the addresses of a name.
func (h *Hosts) Lookup(name string) []netip.Addr {
	if h == nil {
		return nil
	}
	return h.byName[name]
}

// Name returns the canonical name of an address, if any.
func (h *Hosts) Name(a netip.Addr) (string, bool) {
	if h == nil {
		return "", false
	}
	n, ok := h.byAddr[a]
	return n, ok
}
