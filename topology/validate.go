package topology

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Validate checks what the file means: names, addresses, references
// between nodes, durations and faults. It returns nil or Errors (with a
// Path but no position: Parse adds those).
func (t *Topology) Validate() error {
	is := t.check()
	if len(is) == 0 {
		return nil
	}
	errs := make(Errors, len(is))
	for i, x := range is {
		errs[i] = Error{Path: x.path, Msg: x.msg}
	}
	return errs
}

// issue is one semantic problem. key is the path of the value it is
// about when that differs from path (a missing name is reported on its
// mapping), so that Parse can drop issues about values it already
// reported as badly typed.
type issue struct{ path, key, msg string }

type checker struct {
	issues []issue
	t      *Topology
	// nodes maps every node name to the path that defines it.
	nodes map[string]string
	hosts map[string]*Host
	cvms  map[string]*CVM
	// networks are the physical networks vmnics are cabled to.
	networks map[string]bool
}

func (c *checker) add(path, format string, args ...any) {
	c.issues = append(c.issues, issue{path: path, key: path, msg: fmt.Sprintf(format, args...)})
}

// missing reports that the field of the mapping at path is absent.
func (c *checker) missing(path, field, want string) {
	c.issues = append(c.issues, issue{path: path, key: joinPath(path, field), msg: fmt.Sprintf("%s is missing (want %s)", field, want)})
}

func (t *Topology) check() []issue {
	c := &checker{t: t, nodes: map[string]string{}, hosts: map[string]*Host{}, cvms: map[string]*CVM{}, networks: map[string]bool{}}
	for i := range t.Hosts {
		h := &t.Hosts[i]
		if _, dup := c.hosts[h.Name]; !dup && h.Name != "" {
			c.hosts[h.Name] = h
		}
		for _, n := range h.Vmnics {
			if n.Network != "" {
				c.networks[n.Network] = true
			}
		}
	}
	for i := range t.CVMs {
		if _, dup := c.cvms[t.CVMs[i].Name]; !dup && t.CVMs[i].Name != "" {
			c.cvms[t.CVMs[i].Name] = &t.CVMs[i]
		}
	}
	for i, g := range t.Gateways {
		p := fmt.Sprintf("gateways[%d]", i)
		c.nodeName(p, g.Name, "gateway")
		c.segment(p+".segment", g.Segment, "")
		c.prefix(p, "ip", g.IP, "192.168.1.1/24", true)
	}
	for i := range t.Hosts {
		c.host(fmt.Sprintf("hosts[%d]", i), &t.Hosts[i])
	}
	if cl := t.Cluster; cl != nil {
		c.cidrs("cluster.nfsWhitelist", cl.NFSWhitelist)
		seen := map[string]int{}
		for i, ct := range cl.Containers {
			p := fmt.Sprintf("cluster.containers[%d]", i)
			switch {
			case ct.Name == "":
				c.missing(p, "name", "a container name, e.g. ctr1")
			case strings.ContainsAny(ct.Name, "/ \t"):
				c.add(p+".name", "%q contains '/' or a space (want a name such as ctr1; it is exported as /<name>)", ct.Name)
			default:
				if j, dup := seen[ct.Name]; dup {
					c.add(p+".name", "%q is already the name of cluster.containers[%d] (want a unique container name)", ct.Name, j)
				} else {
					seen[ct.Name] = i
				}
			}
			c.cidrs(p+".whitelist", ct.Whitelist)
		}
	}
	for i := range t.CVMs {
		c.cvm(fmt.Sprintf("cvms[%d]", i), &t.CVMs[i])
	}
	for i, f := range t.Filers {
		p := fmt.Sprintf("filers[%d]", i)
		c.nodeName(p, f.Name, "filer")
		c.interfaces(p, f.Interfaces, "")
		seen := map[string]int{}
		for j, e := range f.Exports {
			ep := fmt.Sprintf("%s.exports[%d]", p, j)
			switch {
			case e.Path == "":
				c.missing(ep, "path", "an absolute path, e.g. /ISOs")
			case !strings.HasPrefix(e.Path, "/"):
				c.add(ep+".path", "%q is not an absolute path (want e.g. /%s)", e.Path, e.Path)
			default:
				if k, dup := seen[e.Path]; dup {
					c.add(ep+".path", "%q is already exported by %s.exports[%d] (want each path once)", e.Path, p, k)
				} else {
					seen[e.Path] = j
				}
			}
			c.cidrs(ep+".whitelist", e.Whitelist)
		}
	}
	c.timers()
	for i := range t.Faults {
		c.fault(fmt.Sprintf("faults[%d]", i), t.Faults[i])
	}
	return c.issues
}

// nodeName checks a gateway's, host's, CVM's or filer's name: they share
// one namespace, the one faults and the control API refer to nodes by.
func (c *checker) nodeName(path, name, kind string) {
	if name == "" {
		c.missing(path, "name", "a unique "+kind+" name")
		return
	}
	if first, dup := c.nodes[name]; dup {
		c.add(path+".name", "%q is already the name of %s (want a unique node name)", name, first)
		return
	}
	c.nodes[name] = path
}

func (c *checker) host(p string, h *Host) {
	c.nodeName(p, h.Name, "host")
	c.sshConfig(p+".ssh", h.SSH)

	var vmnics, vswitches, portgroups, vmknics names
	for i, n := range h.Vmnics {
		np := fmt.Sprintf("%s.vmnics[%d]", p, i)
		c.uniqueName(np, n.Name, "vmnic", "vmnic0", &vmnics)
		c.mac(np+".mac", n.MAC)
	}
	for i, vs := range h.VSwitches {
		vp := fmt.Sprintf("%s.vswitches[%d]", p, i)
		c.uniqueName(vp, vs.Name, "vSwitch", "vSwitch0", &vswitches)
		c.mtu(vp+".mtu", vs.MTU)
		uplinks := map[string]bool{}
		for j, u := range vs.Uplinks {
			up := fmt.Sprintf("%s.uplinks[%d]", vp, j)
			switch {
			case !vmnics.has(u):
				c.add(up, "%q is not a vmnic of %s (want %s)", u, hostLabel(h, p), oneOf(vmnics.list, "a vmnic declared under vmnics"))
			case uplinks[u]:
				c.add(up, "%q is listed twice (want each uplink once)", u)
			}
			uplinks[u] = true
		}
		for j, pg := range vs.Portgroups {
			pp := fmt.Sprintf("%s.portgroups[%d]", vp, j)
			c.uniqueName(pp, pg.Name, "port group", "VM Network", &portgroups)
			if pg.VLAN < 0 || pg.VLAN > 4095 {
				c.add(pp+".vlan", "%d is not a VLAN ID (want 0 to 4095)", pg.VLAN)
			}
		}
	}
	pgUsed := map[string]string{}
	// subnets per netstack, of the enabled vmknics: where gateways can be.
	subnets := map[string][]netip.Prefix{}
	netstacks := map[string]bool{defaultNetstack: true}
	for i, v := range h.Vmknics {
		vp := fmt.Sprintf("%s.vmknics[%d]", p, i)
		c.uniqueName(vp, v.Name, "vmknic", "vmk0", &vmknics)
		switch {
		case v.Portgroup == "":
			c.missing(vp, "portgroup", oneOf(portgroups.list, "a port group declared under a vSwitch"))
		case !portgroups.has(v.Portgroup):
			c.add(vp+".portgroup", "%q is not a port group of any vSwitch of %s (want %s)", v.Portgroup, hostLabel(h, p), oneOf(portgroups.list, "a port group declared under a vSwitch"))
		default:
			if other, dup := pgUsed[v.Portgroup]; dup {
				c.add(vp+".portgroup", "port group %q already has %s (want one vmknic per port group)", v.Portgroup, other)
			} else {
				pgUsed[v.Portgroup] = v.Name
			}
		}
		ns := nsName(v.Netstack)
		netstacks[ns] = true
		if v.IP != "" && c.prefix(vp, "ip", v.IP, "192.168.5.1/24", false) && !v.Disabled {
			subnets[ns] = append(subnets[ns], netip.MustParsePrefix(v.IP).Masked())
		}
		c.mac(vp+".mac", v.MAC)
		c.mtu(vp+".mtu", v.MTU)
		if v.Gateway != "" {
			c.addr(vp+".gateway", v.Gateway)
		}
	}
	if h.Gateway != "" && c.addr(p+".gateway", h.Gateway) {
		c.reachable(p+".gateway", h.Gateway, defaultNetstack, subnets)
	}
	type routeKey struct {
		ns  string
		dst netip.Prefix
		gw  string
	}
	routes := map[routeKey]int{}
	for i, r := range h.Routes {
		rp := fmt.Sprintf("%s.routes[%d]", p, i)
		ns := nsName(r.Netstack)
		nsOK := netstacks[ns]
		if !nsOK {
			c.add(rp+".netstack", "%q is not a netstack of any vmknic of %s (want %s)", r.Netstack, hostLabel(h, p), oneOf(sortedKeys(netstacks), ""))
		}
		var dst netip.Prefix
		if r.Network == "" {
			c.missing(rp, "network", "an IPv4 network, e.g. 192.168.5.2/32 or 0.0.0.0/0")
		} else if d, err := netip.ParsePrefix(r.Network); err != nil || !d.Addr().Is4() {
			c.add(rp+".network", "%q is not an IPv4 network (want e.g. 192.168.5.2/32 or 0.0.0.0/0)", r.Network)
		} else {
			dst = d.Masked()
		}
		gwOK := false
		if r.Gateway == "" {
			c.missing(rp, "gateway", "the IPv4 address of the next hop, e.g. 192.168.1.28")
		} else if c.addr(rp+".gateway", r.Gateway) && nsOK {
			gwOK = c.reachable(rp+".gateway", r.Gateway, ns, subnets)
		}
		if !dst.IsValid() || !gwOK {
			continue
		}
		k := routeKey{ns, dst, r.Gateway}
		if dst.Bits() == 0 {
			k.gw = "" // one default route per netstack
			if ns == defaultNetstack && h.Gateway != "" {
				c.add(rp+".network", "0.0.0.0/0 and %s.gateway both set the default route (want one of them)", p)
				continue
			}
		}
		if j, dup := routes[k]; dup {
			c.add(rp, "the same route as %s.routes[%d] (want each route once)", p, j)
		} else {
			routes[k] = i
		}
	}
	switch h.ConnectedSelection {
	case "", "first-created", "lowest-name":
	default:
		c.add(p+".connectedSelection", "%q is not a selection (want first-created or lowest-name)", h.ConnectedSelection)
	}
	var labels names
	shares := map[string]int{}
	for i, d := range h.Datastores {
		dp := fmt.Sprintf("%s.datastores[%d]", p, i)
		c.uniqueName(dp, d.Name, "datastore", "ctr1", &labels)
		hostOK := true
		switch {
		case d.Host == "":
			c.missing(dp, "host", "the NFS server's IPv4 address or name, e.g. 192.168.5.2")
			hostOK = false
		case !isIPv4(d.Host) && !isHostname(d.Host):
			c.add(dp+".host", "%q is neither an IPv4 address nor a host name (want e.g. 192.168.5.2)", d.Host)
			hostOK = false
		}
		switch {
		case d.Share == "":
			c.missing(dp, "share", "the export's absolute path, e.g. /ctr1")
		case !strings.HasPrefix(d.Share, "/"):
			c.add(dp+".share", "%q is not an absolute path (want e.g. /%s)", d.Share, d.Share)
		case hostOK:
			k := d.Host + ":" + d.Share
			if j, dup := shares[k]; dup {
				c.add(dp+".share", "%s is already mounted as %s.datastores[%d] (want each export once per host)", k, p, j)
			} else {
				shares[k] = i
			}
		}
	}
	if n := h.NFS; n != nil {
		c.duration(p+".nfs.heartbeatFrequency", n.HeartbeatFrequency)
		c.duration(p+".nfs.heartbeatTimeout", n.HeartbeatTimeout)
		c.duration(p+".nfs.apdTimeout", n.APDTimeout)
		if n.HeartbeatMaxFailures < 0 {
			c.add(p+".nfs.heartbeatMaxFailures", "%d is negative (want a positive count, e.g. 3)", n.HeartbeatMaxFailures)
		}
	}
	if w := h.Workload; w != nil {
		c.duration(p+".workload.interval", w.Interval)
		if w.BlockSize < 0 {
			c.add(p+".workload.blockSize", "%d is negative (want a positive number of bytes, e.g. 4096)", w.BlockSize)
		}
		if w.Blocks < 0 {
			c.add(p+".workload.blocks", "%d is negative (want a positive number of blocks, e.g. 16)", w.Blocks)
		}
	}
}

const defaultNetstack = "defaultTcpipStack"

func nsName(n string) string {
	if n == "" {
		return defaultNetstack
	}
	return n
}

func hostLabel(h *Host, path string) string {
	if h.Name != "" {
		return "host " + h.Name
	}
	return path
}

// reachable checks that a gateway is on a subnet of the netstack's
// vmknics, as the VMkernel requires.
func (c *checker) reachable(path, gw, ns string, subnets map[string][]netip.Prefix) bool {
	a := netip.MustParseAddr(gw)
	for _, s := range subnets[ns] {
		if s.Contains(a) {
			return true
		}
	}
	var want []string
	for _, s := range subnets[ns] {
		want = append(want, s.String())
	}
	if len(want) == 0 {
		c.add(path, "%s is unreachable: no enabled vmknic on %s has an address (want a vmknic on the gateway's subnet)", gw, ns)
	} else {
		c.add(path, "%s is not on the subnet of any enabled vmknic on %s (want an address in %s)", gw, ns, oneOf(want, ""))
	}
	return false
}

func (c *checker) sshConfig(p string, s SSH) {
	if s.Port < 0 || s.Port > 65535 {
		c.add(p+".port", "%d is not a TCP port (want 1 to 65535, or 0 for the lab's default)", s.Port)
	}
	seen := map[string]bool{}
	for i, m := range s.AuthMethods {
		mp := fmt.Sprintf("%s.authMethods[%d]", p, i)
		switch {
		case !slices.Contains(SSHAuthMethods, m):
			c.add(mp, "%q is not an SSH authentication method (want %s)", m, oneOf(SSHAuthMethods, ""))
		case seen[m]:
			c.add(mp, "%q is listed twice (want each method once)", m)
		}
		seen[m] = true
	}
	c.users(p+".users", s.Users)
}

func (c *checker) users(p string, users []User) {
	var seen names
	for i, u := range users {
		up := fmt.Sprintf("%s[%d]", p, i)
		c.uniqueName(up, u.Name, "user", "root", &seen)
		for j, k := range u.AuthorizedKeys {
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err != nil {
				c.add(fmt.Sprintf("%s.authorizedKeys[%d]", up, j), "%q is not an OpenSSH public key (want an authorized_keys line, e.g. ssh-ed25519 AAAAC3Nz... user@host)", shorten(k))
			}
		}
	}
}

func (c *checker) cvm(p string, cv *CVM) {
	c.nodeName(p, cv.Name, "CVM")
	if cv.Host != "" {
		if _, ok := c.hosts[cv.Host]; !ok {
			c.add(p+".host", "%q is not a host (want %s)", cv.Host, oneOf(c.hostNames(), "a host declared under hosts"))
		}
	}
	c.interfaces(p, cv.Interfaces, cv.Host)
	c.users(p+".ssh.users", cv.SSH.Users)
}

// interfaces checks a CVM's or filer's interfaces; a CVM's (ownHost set)
// may only be on its own host's internal vSwitches.
func (c *checker) interfaces(p string, ifs []Interface, ownHost string) {
	var seen names
	for i, it := range ifs {
		ip := fmt.Sprintf("%s.interfaces[%d]", p, i)
		c.uniqueName(ip, it.Name, "interface", "eth0", &seen)
		c.segment(ip+".segment", it.Segment, ownHost)
		c.prefix(ip, "ip", it.IP, "192.168.5.2/24", true)
		c.mac(ip+".mac", it.MAC)
	}
}

// segment checks that a segment is a physical network some vmnic is
// cabled to, or "<host>/<vSwitch>" for an internal vSwitch (one without
// uplinks) of that host.
func (c *checker) segment(path, seg, ownHost string) {
	if seg == "" {
		c.issues = append(c.issues, issue{path: parentPath(path), key: path, msg: "segment is missing (want " + c.segmentsWanted(ownHost) + ")"})
		return
	}
	if c.networks[seg] {
		return
	}
	i := strings.LastIndex(seg, "/")
	if i < 0 {
		c.add(path, "%q is not a network any vmnic is cabled to (want %s)", seg, c.segmentsWanted(ownHost))
		return
	}
	hn, vn := seg[:i], seg[i+1:]
	h, ok := c.hosts[hn]
	if !ok {
		c.add(path, "%q names no host %q (want %s)", seg, hn, c.segmentsWanted(ownHost))
		return
	}
	var vs *VSwitch
	for k := range h.VSwitches {
		if h.VSwitches[k].Name == vn {
			vs = &h.VSwitches[k]
			break
		}
	}
	switch {
	case vs == nil:
		c.add(path, "%q names no vSwitch %q of %s (want %s)", seg, vn, hn, c.segmentsWanted(ownHost))
	case len(vs.Uplinks) > 0:
		var nets []string
		for _, u := range vs.Uplinks {
			for _, n := range h.Vmnics {
				if n.Name == u && n.Network != "" && !slices.Contains(nets, n.Network) {
					nets = append(nets, n.Network)
				}
			}
		}
		c.add(path, "%q has uplinks, so it is on its vmnics' network, not a segment of its own (want %s)", seg, oneOf(nets, "a network name"))
	case ownHost != "" && hn != ownHost:
		c.add(path, "%q is internal to %s, and this CVM runs on %s (want a segment of %s)", seg, hn, ownHost, ownHost)
	}
}

// segmentsWanted lists the valid segments: physical networks, then the
// internal vSwitches (of ownHost only, when set).
func (c *checker) segmentsWanted(ownHost string) string {
	want := sortedKeys(c.networks)
	for _, h := range c.t.Hosts {
		if ownHost != "" && h.Name != ownHost {
			continue
		}
		for _, vs := range h.VSwitches {
			if len(vs.Uplinks) == 0 && h.Name != "" && vs.Name != "" {
				want = append(want, h.Name+"/"+vs.Name)
			}
		}
	}
	return oneOf(want, "a network some vmnic is cabled to, or <host>/<vSwitch> of an internal vSwitch")
}

func (c *checker) timers() {
	b, g := c.t.Timers.CVMBoot, c.t.Timers.Genesis
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"timers.cvmBoot.ping", b.Ping}, {"timers.cvmBoot.stargate", b.Stargate}, {"timers.cvmBoot.initialised", b.Initialised},
		{"timers.genesis.interval", g.Interval}, {"timers.genesis.stablePeriod", g.StablePeriod}, {"timers.genesis.probeTimeout", g.ProbeTimeout},
	} {
		if d.v < 0 {
			c.add(d.path, "%s is negative (want a positive duration, e.g. 30s)", d.v)
		}
	}
	// The phases of a boot come in order.
	if b.Ping > 0 && b.Stargate > 0 && b.Stargate < b.Ping {
		c.add("timers.cvmBoot.stargate", "%s is before ping (%s) (want stargate at or after ping)", b.Stargate, b.Ping)
	}
	prev, name := b.Ping, "ping"
	if b.Stargate > 0 {
		prev, name = b.Stargate, "stargate"
	}
	if b.Initialised > 0 && prev > 0 && b.Initialised < prev {
		c.add("timers.cvmBoot.initialised", "%s is before %s (%s) (want initialised at or after %s)", b.Initialised, name, prev, name)
	}
}

// faultFields are the kinds each optional fault field belongs to.
var faultFields = []struct {
	field string
	kinds []string
	set   func(Fault) bool
}{
	{"interface", []string{FaultLinkDown, FaultLatency, FaultLoss}, func(f Fault) bool { return f.Interface != "" }},
	{"peer", []string{FaultPartition}, func(f Fault) bool { return f.Peer != "" }},
	{"latency", []string{FaultLatency}, func(f Fault) bool { return f.Latency != 0 }},
	{"lossPercent", []string{FaultLoss}, func(f Fault) bool { return f.LossPercent != 0 }},
	{"delay", []string{FaultSSHSlow}, func(f Fault) bool { return f.Delay != 0 }},
	{"command", []string{FaultSSHHang}, func(f Fault) bool { return f.Command != "" }},
	{"count", []string{FaultSSHRefuse, FaultSSHSlow, FaultSSHDrop, FaultSSHHang}, func(f Fault) bool { return f.Count != 0 }},
}

func (c *checker) fault(p string, f Fault) {
	if f.At < 0 {
		c.add(p+".at", "%s is negative (want the time after the lab started, e.g. 10s, or 0s for at once)", f.At)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"latency", f.Latency}, {"delay", f.Delay}, {"for", f.For}} {
		if d.v < 0 {
			c.add(p+"."+d.field, "%s is negative (want a positive duration, e.g. 30s)", d.v)
		}
	}
	if f.Count < 0 {
		c.add(p+".count", "%d is negative (want a positive count, or 0 for no limit)", f.Count)
	}
	kindOK := slices.Contains(FaultKinds, f.Kind)
	switch {
	case f.Kind == "":
		c.missing(p, "kind", oneOf(FaultKinds, ""))
	case !kindOK:
		c.add(p+".kind", "%q is not a fault kind (want %s)", f.Kind, oneOf(FaultKinds, ""))
	}
	needHost := strings.HasPrefix(f.Kind, "ssh-")
	needCVM := strings.HasPrefix(f.Kind, "stargate-") || strings.HasPrefix(f.Kind, "cvm-")
	h, isHost := c.hosts[f.Node]
	cv, isCVM := c.cvms[f.Node]
	nodeOK := false
	switch {
	case f.Node == "":
		switch {
		case needHost:
			c.missing(p, "node", oneOf(c.hostNames(), "a host"))
		case needCVM:
			c.missing(p, "node", oneOf(c.cvmNames(), "a CVM"))
		default:
			c.missing(p, "node", oneOf(append(c.hostNames(), c.cvmNames()...), "a host or CVM"))
		}
	case needHost && !isHost:
		c.add(p+".node", "%q is not a host, and %s needs one (want %s)", f.Node, f.Kind, oneOf(c.hostNames(), "a host declared under hosts"))
	case needCVM && !isCVM:
		c.add(p+".node", "%q is not a CVM, and %s needs one (want %s)", f.Node, f.Kind, oneOf(c.cvmNames(), "a CVM declared under cvms"))
	case !isHost && !isCVM:
		c.add(p+".node", "%q is not a host or CVM (want %s)", f.Node, oneOf(append(c.hostNames(), c.cvmNames()...), "a node declared under hosts or cvms"))
	default:
		nodeOK = true
	}
	if !kindOK {
		return
	}
	for _, ff := range faultFields {
		if ff.set(f) && !slices.Contains(ff.kinds, f.Kind) {
			c.add(p+"."+ff.field, "not used by kind %s (want %s only with kind %s)", f.Kind, ff.field, orList(ff.kinds))
		}
	}
	switch f.Kind {
	case FaultLinkDown, FaultLatency, FaultLoss:
		var ifs []string
		if isHost {
			for _, n := range h.Vmnics {
				ifs = append(ifs, n.Name)
			}
			for _, v := range h.Vmknics {
				ifs = append(ifs, v.Name)
			}
		} else if isCVM {
			for _, it := range cv.Interfaces {
				ifs = append(ifs, it.Name)
			}
		}
		what := "a vmnic or vmk of the host, or an interface of the CVM"
		switch {
		case f.Interface == "":
			c.missing(p, "interface", oneOf(ifs, what))
		case nodeOK && !slices.Contains(ifs, f.Interface):
			kind := "an interface of"
			if isHost {
				kind = "a vmnic or vmk of"
			}
			c.add(p+".interface", "%q is not %s %s (want %s)", f.Interface, kind, f.Node, oneOf(ifs, what))
		}
	case FaultPartition:
		switch _, peerHost := c.hosts[f.Peer]; {
		case f.Peer == "":
			c.missing(p, "peer", "the host or CVM on the other side")
		case f.Peer == f.Node:
			c.add(p+".peer", "%q is the node itself (want another host or CVM)", f.Peer)
		case !peerHost && c.cvms[f.Peer] == nil:
			c.add(p+".peer", "%q is not a host or CVM (want %s)", f.Peer, oneOf(append(c.hostNames(), c.cvmNames()...), "a node declared under hosts or cvms"))
		}
	}
	switch {
	case f.Kind == FaultLatency && f.Latency == 0:
		c.missing(p, "latency", "the delay added one way, e.g. 50ms")
	case f.Kind == FaultLoss && (f.LossPercent <= 0 || f.LossPercent > 100):
		if f.LossPercent == 0 {
			c.missing(p, "lossPercent", "a percentage above 0 and at most 100, e.g. 10")
		} else {
			c.add(p+".lossPercent", "%g is not a percentage above 0 (want 0 < lossPercent <= 100, e.g. 10)", f.LossPercent)
		}
	case f.Kind == FaultSSHSlow && f.Delay == 0:
		c.missing(p, "delay", "how long each SSH handshake is delayed, e.g. 2s")
	}
}

func (c *checker) hostNames() []string {
	var out []string
	for _, h := range c.t.Hosts {
		if h.Name != "" {
			out = append(out, h.Name)
		}
	}
	return out
}

func (c *checker) cvmNames() []string {
	var out []string
	for _, cv := range c.t.CVMs {
		if cv.Name != "" {
			out = append(out, cv.Name)
		}
	}
	return out
}

// names are sibling names that must be unique (vmnics of a host, users
// of a node ...), in the order they are declared.
type names struct {
	paths map[string]string // name → path of its mapping
	list  []string
}

// uniqueName checks the name of the mapping at path against its
// siblings'.
func (c *checker) uniqueName(path, name, kind, example string, seen *names) {
	if name == "" {
		c.missing(path, "name", fmt.Sprintf("%s %s name, e.g. %s", article(kind), kind, example))
		return
	}
	if seen.paths == nil {
		seen.paths = map[string]string{}
	}
	if first, dup := seen.paths[name]; dup {
		c.add(path+".name", "%q is already the name of %s (want a unique %s name)", name, first, kind)
		return
	}
	seen.paths[name] = path
	seen.list = append(seen.list, name)
}

func (n *names) has(name string) bool {
	_, ok := n.paths[name]
	return ok
}

// prefix checks an address with its prefix length (field of the mapping
// at path); required says whether it may be absent.
func (c *checker) prefix(path, field, s, example string, required bool) bool {
	if s == "" {
		if required {
			c.missing(path, field, "an IPv4 address with a prefix length, e.g. "+example)
		}
		return false
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !p.Addr().Is4():
		c.add(joinPath(path, field), "%q is not an IPv4 address with a prefix length (want e.g. %s)", s, example)
	case p.Bits() == 0:
		c.add(joinPath(path, field), "%q has prefix length 0 (want 1 to 32, e.g. %s)", s, example)
	default:
		return true
	}
	return false
}

func (c *checker) addr(path, s string) bool {
	if !isIPv4(s) {
		c.add(path, "%q is not an IPv4 address (want e.g. 192.168.1.1)", s)
		return false
	}
	return true
}

func (c *checker) cidrs(path string, list []string) {
	for i, s := range list {
		if p, err := netip.ParsePrefix(s); err != nil || !p.Addr().Is4() {
			c.add(fmt.Sprintf("%s[%d]", path, i), "%q is not an IPv4 network (want e.g. 10.0.0.0/24 or 10.0.0.12/32)", s)
		}
	}
}

func (c *checker) mac(path, s string) {
	if s == "" {
		return
	}
	if m, err := net.ParseMAC(s); err != nil || len(m) != 6 {
		c.add(path, "%q is not a MAC address (want e.g. 00:50:56:6a:01:02)", s)
	}
}

func (c *checker) mtu(path string, v int) {
	if v != 0 && (v < 1280 || v > 9000) {
		c.add(path, "%d is not an MTU ESXi accepts (want 1280 to 9000, or 0 for 1500)", v)
	}
}

// duration checks a duration kept as a string (the NFS and workload
// settings, older than the parsed durations).
func (c *checker) duration(path, s string) {
	if s == "" {
		return
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.add(path, "%q is not a duration (want Go syntax with a unit, e.g. 30s or 1m30s)", s)
	case d < 0:
		c.add(path, "%q is negative (want a positive duration, e.g. 30s)", s)
	case d == 0:
		c.add(path, "%q is zero (want a positive duration, e.g. 30s)", s)
	}
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// isHostname accepts a DNS name (RFC 1123 labels) that is not all digits
// and dots, so that a mistyped address is not taken for a name.
func isHostname(s string) bool {
	if len(s) > 253 || s == "" {
		return false
	}
	digits := true
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			switch {
			case r >= '0' && r <= '9':
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '-':
				digits = false
			default:
				return false
			}
		}
	}
	return !digits
}

// oneOf lists what is wanted: "a", "a or b", "one of: a, b, c" (at most
// fifteen), or fallback when the list is empty.
func oneOf(list []string, fallback string) string {
	list = uniq(list)
	switch len(list) {
	case 0:
		return fallback
	case 1:
		return list[0]
	case 2:
		return list[0] + " or " + list[1]
	}
	if len(list) > 15 {
		return "one of: " + strings.Join(list[:15], ", ") + fmt.Sprintf(", ... (%d in all)", len(list))
	}
	return "one of: " + strings.Join(list, ", ")
}

// uniq drops repeated entries, keeping the first of each.
// orList joins alternatives: "a", "a or b", "a, b or c".
func orList(list []string) string {
	if len(list) < 2 {
		return strings.Join(list, "")
	}
	return strings.Join(list[:len(list)-1], ", ") + " or " + list[len(list)-1]
}

// article is "a" or "an" for a kind of thing.
func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an"
	}
	return "a"
}

func uniq(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
