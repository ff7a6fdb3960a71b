package conform

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/autopathlab/autopathlab/harness"
)

// nfsTarget is the address every host mounts its datastores from: its
// local CVM's eth1, which an autopath route sends to another CVM's eth0.
const nfsTarget = "192.168.5.2/32"

// defaultNetstack is where the NFS client's routes live.
const defaultNetstack = "defaultTcpipStack"

// labInfo is the lab's layout as the scenarios and the grading name it.
type labInfo struct {
	hosts []hostInfo
	cvms  []cvmInfo
}

// hostInfo is an ESXi host: its name, its management (vmk0) address and
// the CVM that serves it locally ("" when none).
type hostInfo struct {
	Name, IP, CVM string
}

// cvmInfo is a CVM: its name, the host it serves and its eth0 address
// (the gateway of a route through it).
type cvmInfo struct {
	Name, Host, IP string
}

func newLabInfo(l *harness.Lab) labInfo {
	var li labInfo
	for _, c := range l.Topology.CVMs {
		ci := cvmInfo{Name: c.Name, Host: c.Host}
		for i, itf := range c.Interfaces {
			if itf.Name == "eth0" || i == 0 && ci.IP == "" {
				ci.IP = addrOf(itf.IP)
			}
		}
		li.cvms = append(li.cvms, ci)
	}
	for _, h := range l.Topology.Hosts {
		hi := hostInfo{Name: h.Name}
		for i, v := range h.Vmknics {
			if v.Name == "vmk0" || i == 0 && hi.IP == "" {
				hi.IP = addrOf(v.IP)
			}
		}
		for _, c := range li.cvms {
			if c.Host == h.Name {
				hi.CVM = c.Name
				break
			}
		}
		li.hosts = append(li.hosts, hi)
	}
	return li
}

func addrOf(cidr string) string {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return p.Addr().String()
	}
	return strings.SplitN(cidr, "/", 2)[0]
}

func (li labInfo) cvmByIP(ip string) (cvmInfo, bool) {
	for _, c := range li.cvms {
		if c.IP == ip {
			return c, true
		}
	}
	return cvmInfo{}, false
}

func (li labInfo) host(name string) (hostInfo, bool) {
	for _, h := range li.hosts {
		if h.Name == name {
			return h, true
		}
	}
	return hostInfo{}, false
}

func (li labInfo) isHost(name string) bool {
	_, ok := li.host(name)
	return ok
}

// nodes are the CVMs that serve a host, with that host, in topology
// order: what a scenario calls "CVM A and host A".
func (li labInfo) nodes() []node {
	var out []node
	for _, c := range li.cvms {
		if h, ok := li.host(c.Host); ok {
			out = append(out, node{Host: h, CVM: c})
		}
	}
	return out
}

// node is a CVM and the host it serves.
type node struct {
	Host hostInfo
	CVM  cvmInfo
}

// Power and Stargate states, as the lab's views and events name them.
const (
	stOff     = "off"
	stBooting = "booting"
	stUp      = "up"
	sgUp      = "up"
	sgDown    = "down"
	sgHung    = "hung"
)

// cvmState is what matters of a CVM to the hosts it may serve.
type cvmState struct {
	Power    string
	Stargate string
}

// healthy is the one definition the grading uses: fully initialised and
// its Stargate serving. A booting CVM whose Stargate already answers is
// not healthy yet (seed 001: "not fully initialised").
func (c cvmState) healthy() bool { return c.Power == stUp && c.Stargate == sgUp }

// String says why a CVM cannot serve, for reasons: "off", "booting
// (Stargate up, not fully initialised)", "up with its Stargate hung".
func (c cvmState) String() string {
	switch {
	case c.Power == stOff:
		return "off"
	case c.Power == stBooting && c.Stargate == sgUp:
		return "booting (Stargate up, not fully initialised)"
	case c.Power == stBooting:
		return "booting"
	case c.Stargate != sgUp:
		return "up with its Stargate " + c.Stargate
	}
	return "healthy"
}

// world is the state the grading follows through a scenario: every CVM's
// power and Stargate, every host's routes to 192.168.5.2 and whether its
// VM's IO is out.
type world struct {
	cvm map[string]cvmState
	// routes are each host's gateways for 192.168.5.2/32, oldest first.
	routes map[string][]string
	outage map[string]bool
}

func newWorld() *world {
	return &world{cvm: map[string]cvmState{}, routes: map[string][]string{}, outage: map[string]bool{}}
}

// worldOf reads the lab's model now.
func worldOf(l *harness.Lab) *world {
	w := newWorld()
	for _, c := range l.CVMViews() {
		w.cvm[c.Name] = cvmState{Power: c.Power, Stargate: c.Stargate}
	}
	for _, h := range l.HostViews() {
		for _, r := range h.Routes {
			if r.Network == nfsTarget && r.Gateway != "" && r.Netstack == defaultNetstack {
				w.routes[h.Name] = append(w.routes[h.Name], r.Gateway)
			}
		}
		if h.Workload != nil && h.Workload.Stalled {
			w.outage[h.Name] = true
		}
	}
	return w
}

func (w *world) clone() *world {
	c := newWorld()
	for k, v := range w.cvm {
		c.cvm[k] = v
	}
	for k, v := range w.routes {
		c.routes[k] = slices.Clone(v)
	}
	for k, v := range w.outage {
		c.outage[k] = v
	}
	return c
}

// isNFSRoute says whether a route event concerns the NFS target in the
// default netstack.
func isNFSRoute(e harness.Event) bool {
	return (e.Kind == "route.add" || e.Kind == "route.delete") && e.Network == nfsTarget &&
		(e.Netstack == "" || e.Netstack == defaultNetstack)
}

// apply follows one event.
func (w *world) apply(e harness.Event) {
	set := func(f func(*cvmState)) {
		s, ok := w.cvm[e.Node]
		if !ok {
			return // a host's or filer's event of the same kind
		}
		f(&s)
		w.cvm[e.Node] = s
	}
	switch e.Kind {
	case "power.off":
		set(func(s *cvmState) { s.Power, s.Stargate = stOff, sgDown })
	case "power.on":
		set(func(s *cvmState) { s.Power, s.Stargate = stBooting, sgDown })
	case "booted":
		set(func(s *cvmState) { s.Power = stUp })
	case "stargate.up":
		set(func(s *cvmState) { s.Stargate = sgUp })
	case "stargate.down":
		set(func(s *cvmState) { s.Stargate = sgDown })
	case "stargate.hung":
		set(func(s *cvmState) { s.Stargate = sgHung })
	case "route.add":
		if isNFSRoute(e) && !slices.Contains(w.routes[e.Node], e.Gateway) {
			w.routes[e.Node] = append(w.routes[e.Node], e.Gateway)
		}
	case "route.delete":
		if isNFSRoute(e) {
			w.routes[e.Node] = slices.DeleteFunc(w.routes[e.Node], func(g string) bool { return g == e.Gateway })
		}
	case "io.outage.start":
		w.outage[e.Node] = true
	case "io.outage.end":
		w.outage[e.Node] = false
	}
}

// gateway is the route a host's NFS traffic takes now: the newest
// static route's gateway, "" when it goes to the local CVM.
func (w *world) gateway(host string) string {
	if rs := w.routes[host]; len(rs) > 0 {
		return rs[len(rs)-1]
	}
	return ""
}

// servedBy is the CVM a host's NFS traffic reaches now and whether that
// CVM exists; for a route to an address that is no CVM's, ok is false.
func (w *world) servedBy(li labInfo, host string) (c cvmInfo, ok bool) {
	if gw := w.gateway(host); gw != "" {
		return li.cvmByIP(gw)
	}
	h, _ := li.host(host)
	for _, c := range li.cvms {
		if c.Name == h.CVM {
			return c, true
		}
	}
	return cvmInfo{}, false
}

// forwarded says whether a host is routed to a healthy CVM other than its
// own: what a host whose local CVM failed needs.
func (w *world) forwarded(li labInfo, host string) bool {
	c, ok := w.servedBy(li, host)
	h, _ := li.host(host)
	return ok && w.gateway(host) != "" && c.Name != h.CVM && w.cvm[c.Name].healthy()
}

// local says whether a host has no route to 192.168.5.2: its traffic
// goes to its own CVM.
func (w *world) local(host string) bool { return len(w.routes[host]) == 0 }
