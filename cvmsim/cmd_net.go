package cvmsim

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// The CVM's network commands are CentOS 7's net-tools 2.0 (ifconfig,
// netstat, route), printing the fabric model: the node's interfaces and
// routing table, Stargate's NFS sessions and the node's own flows.

// Linux interface flags, as ifconfig prints them.
const (
	iffUp        = 0x1
	iffBroadcast = 0x2
	iffLoopback  = 0x8
	iffRunning   = 0x40
	iffMulticast = 0x1000
)

// ifaceView is one interface as ifconfig shows it.
type ifaceView struct {
	name    string
	flags   int
	mtu     int
	addr    netip.Prefix
	mac     net.HardwareAddr
	alias   bool
	loop    bool
	ifindex int
	// rxRate and txRate are packets per second and average packet size,
	// for the counters.
	rate    [2]int
	avgSize [2]int
}

// ifaces lists the interfaces as the OS sees them: the model's, plus lo,
// sorted by name as net-tools keeps its list.
func (c *CVM) ifaces() []ifaceView {
	var out []ifaceView
	idx := 1
	for _, i := range c.node.Interfaces() {
		v := ifaceView{name: i.Name(), mtu: i.MTU(), addr: i.Addr(), mac: i.MAC(), alias: strings.Contains(i.Name(), ":")}
		v.flags = iffBroadcast | iffMulticast
		if i.Up() {
			v.flags |= iffUp | iffRunning
		}
		if !v.alias {
			idx++
			v.ifindex = idx
		}
		// Plausible traffic: the public side carries cluster chatter, the
		// internal side the host's NFS IO.
		if strings.HasPrefix(v.addr.Addr().String(), "192.168.5.") {
			v.rate, v.avgSize = [2]int{900, 700}, [2]int{4200, 5100}
		} else {
			v.rate, v.avgSize = [2]int{160, 150}, [2]int{610, 880}
		}
		out = append(out, v)
	}
	out = append(out, ifaceView{name: "lo", flags: iffUp | iffLoopback | iffRunning, mtu: 65536,
		addr: netip.MustParsePrefix("127.0.0.1/8"), loop: true, ifindex: 1, rate: [2]int{420, 420}, avgSize: [2]int{780, 780}})
	slices.SortStableFunc(out, func(a, b ifaceView) int { return strings.Compare(a.name, b.name) })
	return out
}

func (v ifaceView) flagNames() string {
	var n []string
	for _, f := range []struct {
		bit  int
		name string
	}{{iffUp, "UP"}, {iffBroadcast, "BROADCAST"}, {iffLoopback, "LOOPBACK"}, {iffRunning, "RUNNING"}, {iffMulticast, "MULTICAST"}} {
		if v.flags&f.bit != 0 {
			n = append(n, f.name)
		}
	}
	return strings.Join(n, ",")
}

// ifconfigArgs is a parsed ifconfig command line.
type ifconfigArgs struct {
	all   bool
	iface string
	set   bool // anything that would change the interface
}

func parseIfconfigArgs(args []string) (ifconfigArgs, error) {
	var a ifconfigArgs
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-a":
			a.all = true
		case "-s", "-v":
		default:
			return a, fmt.Errorf("ifconfig: option `%s' not recognised", args[0])
		}
		args = args[1:]
	}
	if len(args) > 0 {
		a.iface = args[0]
		a.set = len(args) > 1
	}
	return a, nil
}

func (c *CVM) cmdIfconfig(_ context.Context, inv *shell.Invocation) int {
	a, err := parseIfconfigArgs(inv.Args[1:])
	if err != nil {
		fmt.Fprintf(inv.Stderr, "%v\nifconfig: `--help' gives usage information.\n", err)
		return 1
	}
	up := c.snapshot().uptime(c.clock.Now())
	found := false
	for _, v := range c.ifaces() {
		if a.iface != "" && v.name != a.iface {
			continue
		}
		found = true
		if a.set {
			fmt.Fprintln(inv.Stderr, "SIOCSIFADDR: Operation not permitted")
			return 255
		}
		if a.iface == "" && !a.all && v.flags&iffUp == 0 {
			continue
		}
		printIface(inv.Stdout, v, up)
	}
	if !found {
		fmt.Fprintf(inv.Stderr, "%s: error fetching interface information: Device not found\n", a.iface)
		return 1
	}
	return 0
}

// printIface is net-tools 2.0's ife_print_long.
func printIface(w io.Writer, v ifaceView, up time.Duration) {
	fmt.Fprintf(w, "%s: flags=%d<%s>  mtu %d\n", v.name, v.flags, v.flagNames(), v.mtu)
	if v.addr.IsValid() {
		mask := net.IP(net.CIDRMask(v.addr.Bits(), 32)).String()
		if v.loop {
			fmt.Fprintf(w, "        inet %s  netmask %s\n", v.addr.Addr(), mask)
		} else {
			fmt.Fprintf(w, "        inet %s  netmask %s  broadcast %s\n", v.addr.Addr(), mask, broadcast(v.addr))
		}
	}
	switch {
	case v.loop:
		fmt.Fprint(w, "        inet6 ::1  prefixlen 128  scopeid 0x10<host>\n")
		fmt.Fprint(w, "        loop  txqueuelen 1000  (Local Loopback)\n")
	case v.alias:
		// An alias has no IPv6 address and no statistics of its own.
		fmt.Fprintf(w, "        ether %s  txqueuelen 1000  (Ethernet)\n\n", v.mac)
		return
	default:
		fmt.Fprintf(w, "        inet6 %s  prefixlen 64  scopeid 0x20<link>\n", linkLocal(v.mac))
		fmt.Fprintf(w, "        ether %s  txqueuelen 1000  (Ethernet)\n", v.mac)
	}
	secs := int64(up / time.Second)
	for k, dir := range []string{"RX", "TX"} {
		pk := secs * int64(v.rate[k])
		by := pk * int64(v.avgSize[k])
		fmt.Fprintf(w, "        %s packets %d  bytes %d (%s)\n", dir, pk, by, shortBytes(by))
		if dir == "RX" {
			fmt.Fprint(w, "        RX errors 0  dropped 0  overruns 0  frame 0\n")
		} else {
			fmt.Fprint(w, "        TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n")
		}
	}
	fmt.Fprintln(w)
}

// shortBytes is net-tools' "(12.3 MiB)": one decimal, truncated.
func shortBytes(n int64) string {
	units := []struct {
		min  int64
		name string
	}{{1 << 50, "PiB"}, {1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}
	for _, u := range units {
		if n > u.min {
			s := n * 10 / u.min
			return fmt.Sprintf("%d.%d %s", s/10, s%10, u.name)
		}
	}
	return fmt.Sprintf("%d.0 B", n)
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	m := net.CIDRMask(p.Bits(), 32)
	for i := range a {
		a[i] |= ^m[i]
	}
	return netip.AddrFrom4(a)
}

// linkLocal is the EUI-64 IPv6 link-local address of a MAC.
func linkLocal(mac net.HardwareAddr) netip.Addr {
	if len(mac) != 6 {
		return netip.IPv6LinkLocalAllNodes()
	}
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	b[8], b[9], b[10] = mac[0]^2, mac[1], mac[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

// kernelRoute is one line of the kernel routing table.
type kernelRoute struct {
	dst     netip.Prefix
	gw      netip.Addr // invalid: directly connected
	iface   string
	metric  int
	ifindex int
}

// kernelRoutes is the routing table in /proc/net/route order (fib_trie:
// ascending destination): the model's connected and static routes, plus
// the zeroconf link-local route CentOS's network scripts add per
// interface (metric 1000 + ifindex), which carries no modelled traffic.
func (c *CVM) kernelRoutes() []kernelRoute {
	idx := map[string]int{}
	for _, v := range c.ifaces() {
		if !v.alias {
			idx[v.name] = v.ifindex
		}
	}
	var out []kernelRoute
	for _, r := range c.routes.Routes() {
		kr := kernelRoute{dst: r.Dst, iface: r.Iface.Name()}
		if r.Static {
			kr.gw = r.Gateway
		}
		out = append(out, kr)
	}
	ll := netip.MustParsePrefix("169.254.0.0/16")
	for _, i := range c.node.Interfaces() {
		if i.Up() && !strings.Contains(i.Name(), ":") && i.Addr().IsValid() {
			out = append(out, kernelRoute{dst: ll, iface: i.Name(), metric: 1000 + idx[i.Name()]})
		}
	}
	slices.SortStableFunc(out, func(a, b kernelRoute) int {
		if x := a.dst.Addr().Compare(b.dst.Addr()); x != 0 {
			return x
		}
		if x := cmp.Compare(b.dst.Bits(), a.dst.Bits()); x != 0 {
			return x
		}
		return cmp.Compare(a.metric, b.metric)
	})
	return out
}

// routeTable prints the table as `route` (ext 1: Metric Ref Use) or
// `netstat -r` (ext 2: MSS Window irtt), net-tools' rprint_fib.
func (c *CVM) routeTable(w io.Writer, numeric bool, ext int) {
	fmt.Fprintln(w, "Kernel IP routing table")
	if ext == 1 {
		fmt.Fprintln(w, "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface")
	} else {
		fmt.Fprintln(w, "Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface")
	}
	for _, r := range c.kernelRoutes() {
		dst, gw := r.dst.Addr().String(), "0.0.0.0"
		flags := "U"
		if r.gw.IsValid() {
			gw = r.gw.String()
			flags += "G"
		}
		if r.dst.Bits() == 32 {
			flags += "H"
		}
		if !numeric {
			// No DNS in the lab: only the names /etc/networks and
			// nss-myhostname give ("gateway" is the default gateway).
			switch {
			case r.dst.Bits() == 0:
				dst = "default"
			case r.dst.Addr() == netip.MustParseAddr("169.254.0.0"):
				dst = "link-local"
			}
			if def, ok := c.routes.Default(); ok && r.gw == def {
				gw = "gateway"
			}
		}
		mask := net.IP(net.CIDRMask(r.dst.Bits(), 32)).String()
		if ext == 1 {
			fmt.Fprintf(w, "%-15s %-15s %-15s %-5s %-6d %-2d %7d %s\n", dst, gw, mask, flags, r.metric, 0, 0, r.iface)
		} else {
			fmt.Fprintf(w, "%-15s %-15s %-15s %-5s %5d %-5d %6d %s\n", dst, gw, mask, flags, 0, 0, 0, r.iface)
		}
	}
}

// routeArgs is a parsed route command line.
type routeArgs struct {
	numeric bool
	change  string // add or del
}

func parseRouteArgs(args []string) (routeArgs, error) {
	var a routeArgs
	for _, s := range args {
		switch {
		case s == "add" || s == "del":
			a.change = s
			return a, nil
		case s == "-A" || s == "-4" || s == "--inet" || s == "-F" || s == "-C":
		case strings.HasPrefix(s, "-") && len(s) > 1 && !strings.HasPrefix(s, "--"):
			for _, f := range s[1:] {
				switch f {
				case 'n':
					a.numeric = true
				case 'e', 'v':
				default:
					return a, fmt.Errorf("route: invalid option -- '%c'", f)
				}
			}
		case s == "--numeric":
			a.numeric = true
		default:
			return a, fmt.Errorf("route: bad argument %q", s)
		}
	}
	return a, nil
}

const routeUsage = "Usage: route [-nNvee] [-FC] [<AF>]           List kernel routing tables\n       route [-v] [-FC] {add|del|flush} ...  Modify routing table for AF.\n"

func (c *CVM) cmdRoute(_ context.Context, inv *shell.Invocation) int {
	a, err := parseRouteArgs(inv.Args[1:])
	if err != nil {
		fmt.Fprintf(inv.Stderr, "%v\n%s", err, routeUsage)
		return 4
	}
	if a.change != "" {
		// The nutanix user is not root.
		fmt.Fprintln(inv.Stderr, "SIOCADDRT: Operation not permitted")
		return 7
	}
	c.routeTable(inv.Stdout, a.numeric, 1)
	return 0
}

// netstatArgs is a parsed netstat command line.
type netstatArgs struct {
	all, listening, numeric, route, programs, wide bool
	tcp, udp, unix                                 bool
}

func parseNetstatArgs(args []string) (netstatArgs, error) {
	var a netstatArgs
	long := map[string]*bool{
		"--all": &a.all, "--listening": &a.listening, "--numeric": &a.numeric, "--route": &a.route,
		"--program": &a.programs, "--programs": &a.programs, "--wide": &a.wide, "--tcp": &a.tcp, "--udp": &a.udp, "--unix": &a.unix,
	}
	for _, s := range args {
		if p, ok := long[s]; ok {
			*p = true
			continue
		}
		if !strings.HasPrefix(s, "-") || strings.HasPrefix(s, "--") || len(s) < 2 {
			return a, fmt.Errorf("netstat: invalid argument %q", s)
		}
		for _, f := range s[1:] {
			switch f {
			case 'a':
				a.all = true
			case 'l':
				a.listening = true
			case 'n':
				a.numeric = true
			case 'r':
				a.route = true
			case 'p':
				a.programs = true
			case 'W':
				a.wide = true
			case 't':
				a.tcp = true
			case 'u':
				a.udp = true
			case 'x':
				a.unix = true
			case 'e', 'v', '4':
			default:
				return a, fmt.Errorf("netstat: invalid option -- '%c'", f)
			}
		}
	}
	return a, nil
}

const netstatUsage = `usage: netstat [-vWeenNcCF] [<Af>] -r         netstat {-V|--version|-h|--help}
       netstat [-vWnNcaeol] [<Socket> ...]
`

// serviceName is /etc/services' name for the ports the lab uses.
func serviceName(port uint16) (string, bool) {
	switch port {
	case 22:
		return "ssh", true
	case 53:
		return "domain", true
	case 80:
		return "http", true
	case 111:
		return "sunrpc", true
	case 443:
		return "https", true
	case 2009:
		return "news", true
	case 2049:
		return "nfs", true
	}
	return "", false
}

// socket is one line of netstat's inet section.
type socket struct {
	local, remote netip.AddrPort
	listen        bool
}

// sockets lists the CVM's TCP sockets from the model: its listeners (SSH,
// and Stargate's while it runs), Stargate's NFS sessions, status page
// connections, and the flows the CVM opened itself (Genesis' SSH to the
// hosts).
func (c *CVM) sockets() []socket {
	st := c.snapshot()
	wild := netip.IPv4Unspecified()
	var out []socket
	if st.netUp {
		ports := []uint16{PortSSH}
		if st.nfsLns != nil {
			ports = append(ports, PortPortmap, PortNFS)
		}
		if st.statusHS != nil {
			ports = append(ports, PortStatus)
		}
		slices.Sort(ports)
		for _, p := range ports {
			out = append(out, socket{local: netip.AddrPortFrom(wild, p), remote: netip.AddrPortFrom(wild, 0), listen: true})
		}
	}
	var est []socket
	for _, s := range c.modelledSessions() {
		est = append(est, socket{local: s.local, remote: s.remote})
	}
	mine := c.ownAddrs()
	for _, conn := range c.sconns.list() {
		l, r := addrPortOf(conn.LocalAddr()), addrPortOf(conn.RemoteAddr())
		if mine[l.Addr()] {
			est = append(est, socket{local: l, remote: r})
		}
	}
	for _, f := range c.node.Flows() {
		est = append(est, socket{local: f.Local, remote: f.Remote})
	}
	slices.SortStableFunc(est, func(a, b socket) int {
		if x := a.local.Compare(b.local); x != 0 {
			return x
		}
		return a.remote.Compare(b.remote)
	})
	return append(out, est...)
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// sockAddr formats an address as netstat does: service names unless -n,
// "*" for a wildcard port, the host part cut so that it fits the column
// unless -W.
func sockAddr(ap netip.AddrPort, numeric, wide bool) string {
	port := "*"
	if ap.Port() != 0 {
		port = strconv.Itoa(int(ap.Port()))
		if name, ok := serviceName(ap.Port()); ok && !numeric {
			port = name
		}
	}
	host := ap.Addr().String()
	if !wide && len(host)+len(port)+1 > 23 {
		host = host[:max(23-len(port)-1, 0)]
	}
	return host + ":" + port
}

func (c *CVM) cmdNetstat(_ context.Context, inv *shell.Invocation) int {
	a, err := parseNetstatArgs(inv.Args[1:])
	if err != nil {
		fmt.Fprintf(inv.Stderr, "%v\n%s", err, netstatUsage)
		return 3
	}
	if a.route {
		c.routeTable(inv.Stdout, a.numeric, 2)
		return 0
	}
	families := !a.tcp && !a.udp && !a.unix
	what := "w/o servers"
	switch {
	case a.all:
		what = "servers and established"
	case a.listening:
		what = "only servers"
	}
	if a.programs {
		fmt.Fprintln(inv.Stderr, "(Not all processes could be identified, non-owned process info\n will not be shown, you would have to be root to see it all.)")
	}
	if families || a.tcp || a.udp {
		fmt.Fprintf(inv.Stdout, "Active Internet connections (%s)\n", what)
		hdr := "Proto Recv-Q Send-Q Local Address           Foreign Address         State      "
		if a.programs {
			hdr += " PID/Program name    "
		}
		fmt.Fprintln(inv.Stdout, hdr)
		if families || a.tcp {
			for _, s := range c.sockets() {
				if s.listen && !a.all && !a.listening || !s.listen && a.listening {
					continue
				}
				state := "ESTABLISHED"
				if s.listen {
					state = "LISTEN"
				}
				fmt.Fprintf(inv.Stdout, "%-4s  %6d %6d %-23s %-23s %-11s", "tcp", 0, 0,
					sockAddr(s.local, a.numeric, a.wide), sockAddr(s.remote, a.numeric, a.wide), state)
				if a.programs {
					fmt.Fprintf(inv.Stdout, " %-19s", "-")
				}
				fmt.Fprintln(inv.Stdout)
			}
		}
	}
	if families || a.unix {
		fmt.Fprintf(inv.Stdout, "Active UNIX domain sockets (%s)\n", what)
		hdr := "Proto RefCnt Flags       Type       State         I-Node  "
		if a.programs {
			hdr += " PID/Program name    "
		}
		fmt.Fprintln(inv.Stdout, hdr+" Path")
	}
	return 0
}

// routeOf is the egress of dst from the CVM, for ping's "from" line.
func (c *CVM) routeOf(dst netip.Addr) (fabric.Route, error) { return c.routes.Lookup(dst) }
