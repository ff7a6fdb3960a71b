package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/topology"
)

// A lab of one node: one process (one container) per ESXi host and per
// CVM. Every process builds the whole lab's model from the same topology
// file but runs only its own node; every other host and CVM is a
// placeholder in its model, with the same interfaces, addresses and MACs,
// so that routing and ARP decide on the sending node's own model exactly
// as in one process. The fabric marks a placeholder remote with the
// address of the process that runs it: a flow to it leaves over real TCP
// to that process (see crossProcess).

// DefaultFabricPort is where a node process accepts flows from the others
// unless told otherwise.
const DefaultFabricPort = 7000

// DefaultWatchEvery is how often a node process probes the others.
const DefaultWatchEvery = time.Second

// NodeOptions configure a lab of one node (NewNode).
type NodeOptions struct {
	// Options: the clock, host keys, events, the VM workload and the
	// CVMs' boot timers apply; ListenHost is where the node's real
	// listeners bind (default 127.0.0.1; 0.0.0.0 in a container). The
	// port bases do not apply (the ports below do), nor does Genesis,
	// which runs as a service of its own (cmd/genesis).
	Options
	// SSHPort is the node's SSH port (a container uses 22; 0 picks a free
	// one).
	SSHPort int
	// NFSPort is a CVM's real NFS port (portmapper, MOUNT and NFS on one
	// port, every client admitted, for tools such as nfs-ls): 2049 in a
	// container, 0 a free one, -1 none.
	NFSPort int
	// StatusPort is a CVM's Stargate status page (2009 on a CVM; 0 a
	// free one).
	StatusPort int
	// FabricAddr is where the node accepts flows from the other processes
	// (":7000" in a container); "" accepts none.
	FabricAddr string
	// FabricListener, if set, is used instead of listening on FabricAddr
	// (the lab closes it).
	FabricListener net.Listener
	// Peers gives the fabric address ("host:port") of the process that
	// runs each other host and CVM, by topology or service name. A node
	// not named is at ServiceName(node):FabricPort — the compose file's
	// service names.
	Peers map[string]string
	// FabricPort is the port of the peers Peers does not name (default
	// DefaultFabricPort).
	FabricPort int
	// WatchEvery is how often the other processes are probed (default
	// DefaultWatchEvery): one that does not answer is powered off in this
	// model, and on again when it answers.
	WatchEvery time.Duration
	// Boot makes a CVM go through its boot sequence (ping, Stargate, fully
	// initialised, on the lab's clock), as a CVM powered on again does;
	// otherwise it is up at once, as a lab starts. A CVM process sets it
	// when it starts for the second time (its container was stopped).
	Boot bool
	// StoreDir is the cluster store's directory, shared by every CVM
	// process (a named volume); it overrides the topology's
	// cluster.store. Without either a CVM serves a store of its own.
	StoreDir string
	// Advertise is the host name the endpoints give for listeners bound
	// to every interface (default: the node's service name, which the
	// other containers resolve).
	Advertise string

	// fabric replaces the cross-process fabric (tests).
	fabric *crossProcessFuncs
}

// placement says which nodes of the topology this process runs and where
// the others are. The zero placement (New) runs every node.
type placement struct {
	// self is the topology name of the one node run here; "" all.
	self string
	// hostSelf: self is an ESXi host (which also serves the filers).
	hostSelf bool
	// owners maps every other host and CVM to its process's fabric
	// address.
	owners map[string]string
	boot   bool
	// The node's real listeners (NewNode).
	sshAddr, nfsAddr, statusAddr string
	storeDir                     string
	advertise                    string
	fabric                       crossProcessFuncs
}

// runs reports whether this process runs the host or CVM.
func (p placement) runs(name string) bool { return p.self == "" || p.self == name }

// servesFilers: a filer's clients are hosts, so a host's process serves the
// topology's filers (each from a store of its own).
func (p placement) servesFilers(*topology.Topology) bool { return p.self == "" || p.hostSelf }

// NewNode builds the whole lab's model from the topology and starts only
// node self (a host or CVM, by topology or service name): an ESXi host's
// SSH server, datastore mounts and VM IO workload, or a CVM's Stargate,
// status page and SSH. Every other host and CVM is a placeholder, remote,
// run by the process at its Peers address. A host mounts its datastores in
// the background, as soon as its CVM answers. Close stops it.
//
// Views, actions, faults and waits of the returned lab cover its own node;
// asking about another's is a *NotFoundError that names the owner (the
// gateway, `lab gateway`, covers the whole lab).
func NewNode(topo *topology.Topology, self string, o NodeOptions) (*Lab, error) {
	if o.Genesis != nil {
		return nil, errors.New("harness: a lab of one node runs no Genesis: run it as a service of its own (genesis)")
	}
	name, isHost, err := nodeByName(topo, self)
	if err != nil {
		return nil, err
	}
	if o.ListenHost == "" {
		o.ListenHost = "127.0.0.1"
	}
	if o.FabricPort == 0 {
		o.FabricPort = DefaultFabricPort
	}
	if o.WatchEvery <= 0 {
		o.WatchEvery = DefaultWatchEvery
	}
	p := placement{self: name, hostSelf: isHost, boot: o.Boot && !isHost, storeDir: o.StoreDir, owners: map[string]string{}, fabric: defaultCrossProcess}
	if o.fabric != nil {
		p.fabric = *o.fabric
	}
	peers := map[string]string{}
	for k, v := range o.Peers {
		peers[strings.ToLower(k)] = v
	}
	for _, n := range nodeNames(topo) {
		if n == name {
			continue
		}
		svc, _ := ServiceName(topo, n)
		switch {
		case peers[strings.ToLower(n)] != "":
			p.owners[n] = peers[strings.ToLower(n)]
		case peers[svc] != "":
			p.owners[n] = peers[svc]
		default:
			p.owners[n] = net.JoinHostPort(svc, strconv.Itoa(o.FabricPort))
		}
	}
	listen := func(port int) string { return net.JoinHostPort(o.ListenHost, strconv.Itoa(port)) }
	p.sshAddr, p.statusAddr, p.nfsAddr = listen(o.SSHPort), listen(o.StatusPort), listen(o.NFSPort)
	if o.NFSPort < 0 {
		p.nfsAddr = "-"
	}
	p.advertise = o.Advertise
	if a, err := netip.ParseAddr(o.ListenHost); p.advertise == "" && (o.ListenHost == "0.0.0.0" || err == nil && a.IsUnspecified()) {
		p.advertise, _ = ServiceName(topo, name)
	}
	// The fabric's port first: a node that cannot take the others' flows
	// does not start.
	ln := o.FabricListener
	if ln == nil && o.FabricAddr != "" {
		if ln, err = net.Listen("tcp", o.FabricAddr); err != nil {
			return nil, fmt.Errorf("harness: fabric listener: %w", err)
		}
	}
	l, err := build(topo, o.Options, p)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, err
	}
	if ln != nil {
		l.fabricAddr = ln.Addr()
		l.closers = append(l.closers, func() { ln.Close() })
		l.serve(func() {
			if err := p.fabric.serve(l.Net, ln); err != nil && !l.closing() {
				l.Events.Add(Event{Time: l.Clock.Now(), Kind: "fabric.error", Node: name, Error: err.Error()})
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.closers = append(l.closers, cancel)
	l.serve(func() { p.fabric.watch(l.Net, ctx, o.WatchEvery) })
	return l, nil
}

// Self returns the node a lab of one node runs ("" for a lab of all
// nodes).
func (l *Lab) Self() string { return l.place.self }

// Owner returns the fabric address of the process that runs a host or CVM
// of a lab of one node; "" when this process runs it (or the node is no
// host or CVM of the topology).
func (l *Lab) Owner(name string) string { return l.place.owners[name] }

// FabricAddr returns where a lab of one node accepts the other processes'
// flows, or nil.
func (l *Lab) FabricAddr() net.Addr { return l.fabricAddr }

// localNames lists the hosts and CVMs this process runs.
func (l *Lab) localNames() []string {
	var out []string
	for _, th := range l.hostTopo {
		out = append(out, th.Name)
	}
	for _, c := range l.CVMs {
		out = append(out, c.Name())
	}
	return out
}

// advertised is a listener's address as the endpoints give it: on every
// interface, the advertised host name (a container's service name).
func (l *Lab) advertised(a net.Addr) string {
	if a == nil {
		return ""
	}
	s := a.String()
	if l.place.advertise == "" {
		return s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return s
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return net.JoinHostPort(l.place.advertise, port)
	}
	return s
}

// placeHost puts another process's host in the model: its VMkernel alone
// (vmknics with their MACs on their port groups' segments, its routes),
// which runs nothing.
func (l *Lab) placeHost(name string, vc vmkernel.Config) error {
	vm, err := vmkernel.New(l.Net, vc)
	if err != nil {
		return fmt.Errorf("host %s: %w", name, err)
	}
	l.addPlaceholder(name, vm.Node())
	return nil
}

// placeCVM puts another process's CVM in the model: a node that accepts
// any of its addresses on any interface, as the CVM does, with its routes.
func (l *Lab) placeCVM(name string, ifaces []cvmsim.Interface, gw netip.Addr) error {
	n, err := l.Net.AddNode(fabric.NodeConfig{Name: name, AcceptAny: true})
	if err != nil {
		return fmt.Errorf("cvm %s: %w", name, err)
	}
	for _, i := range ifaces {
		if _, err := n.AddInterface(fabric.InterfaceConfig{Name: i.Name, Addr: i.Addr, MAC: i.MAC, Segment: i.Segment}); err != nil {
			return fmt.Errorf("cvm %s: %w", name, err)
		}
	}
	rt := fabric.NewRouteTable(n.Interfaces, n.Reevaluate)
	n.SetRouter(rt)
	if gw.IsValid() {
		if err := rt.SetDefault(gw); err != nil {
			return fmt.Errorf("cvm %s: gateway %s: %w", name, gw, err)
		}
	}
	l.addPlaceholder(name, n)
	return nil
}

// addPlaceholder marks a node remote and logs its owner's comings and
// goings (the peer watch powers it off and on): peer.down, peer.up, with
// the node that saw it in the detail.
func (l *Lab) addPlaceholder(name string, n *fabric.Node) {
	owner := l.place.owners[name]
	l.placeholders[name] = n
	l.place.fabric.setRemote(n, owner)
	n.OnPower(func(on bool) {
		kind, what := "peer.down", "does not answer, or says the node is off"
		if on {
			kind, what = "peer.up", "answers: the node is on"
		}
		l.Events.Add(Event{Time: l.Clock.Now(), Kind: kind, Node: name, Detail: fmt.Sprintf("seen from %s: its process (%s) %s", l.place.self, owner, what)})
	})
}

// placeholderStatus is another process's CVM as this one's cluster status
// shows it: up while its process answers, down when it does not.
func placeholderStatus(name string, n *fabric.Node) cvmsim.PeerStatus {
	on := n.Powered()
	p := cvmsim.PeerStatus{Name: name, Reachable: on, Ready: on, Stargate: cvmsim.StargateDown}
	if ifs := n.Interfaces(); len(ifs) > 0 {
		p.IP = ifs[0].Addr().Addr()
	}
	if on {
		p.Power, p.Stargate = cvmsim.PowerUp, cvmsim.StargateUp
	}
	return p
}

// nodeNames lists the topology's hosts, then its CVMs.
func nodeNames(topo *topology.Topology) []string {
	var out []string
	for _, h := range topo.Hosts {
		out = append(out, h.Name)
	}
	for _, c := range topo.CVMs {
		out = append(out, c.Name)
	}
	return out
}

// nodeByName finds a host or CVM by topology name (any case) or service
// name.
func nodeByName(topo *topology.Topology, ref string) (name string, host bool, err error) {
	for _, h := range topo.Hosts {
		if strings.EqualFold(h.Name, ref) {
			return h.Name, true, nil
		}
	}
	for _, c := range topo.CVMs {
		if strings.EqualFold(c.Name, ref) {
			return c.Name, false, nil
		}
	}
	if n, err := NodeForService(topo, ref); err == nil {
		_, isHost, _ := nodeByName(topo, n)
		return n, isHost, nil
	}
	names := nodeNames(topo)
	for i, n := range names {
		svc, _ := ServiceName(topo, n)
		names[i] = n + " (" + svc + ")"
	}
	return "", false, &NotFoundError{Kind: "node", Ref: ref, Known: names}
}

// Service names: the compose service (and so the container's DNS name)
// of the Nth host is esxi-a, esxi-b, ... and of the Nth CVM cvm-a, cvm-b,
// ..., by position in the topology as labctl's letters; from the 27th on,
// the number: esxi-27.

// ServiceName returns the service name of a host or CVM of the topology.
func ServiceName(topo *topology.Topology, name string) (string, error) {
	for i, h := range topo.Hosts {
		if strings.EqualFold(h.Name, name) {
			return "esxi-" + serviceSuffix(i), nil
		}
	}
	for i, c := range topo.CVMs {
		if strings.EqualFold(c.Name, name) {
			return "cvm-" + serviceSuffix(i), nil
		}
	}
	return "", &NotFoundError{Kind: "host or cvm", Ref: name, Known: nodeNames(topo)}
}

// NodeForService returns the host or CVM a service name stands for.
func NodeForService(topo *topology.Topology, svc string) (string, error) {
	svc = strings.ToLower(svc)
	for _, n := range nodeNames(topo) {
		if s, _ := ServiceName(topo, n); s == svc {
			return n, nil
		}
	}
	return "", &NotFoundError{Kind: "service", Ref: svc, Known: nil}
}

func serviceSuffix(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return strconv.Itoa(i + 1)
}
