package fabric

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Router chooses the route to a destination: a node's routing table, or one
// netstack's table of an ESXi host.
type Router interface {
	Lookup(dst netip.Addr) (Route, error)
}

// Node is one machine on the network: an ESXi host's VMkernel, a CVM, a
// gateway, a filer.
type Node struct {
	net  *Network
	name string
	cfg  NodeConfig

	ifseq atomic.Uint64

	mu        sync.RWMutex
	powered   bool
	ifaces    []*Interface
	router    Router
	listeners map[uint16]*Listener
	flows     map[*Conn]struct{} // flows this node originated
	ports     uint16             // next ephemeral port
	neighbors *neighborTable
}

// Name returns the node name.
func (n *Node) Name() string { return n.name }

// Network returns the network the node is on.
func (n *Node) Network() *Network { return n.net }

// Powered reports whether the node is on.
func (n *Node) Powered() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.powered
}

// SetRouter installs the node's default routing table.
func (n *Node) SetRouter(r Router) {
	n.mu.Lock()
	n.router = r
	n.mu.Unlock()
	n.Reevaluate()
}

// DefaultRouter returns the node's routing table.
func (n *Node) DefaultRouter() Router {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.router
}

// AddInterface creates an interface on the node.
func (n *Node) AddInterface(c InterfaceConfig) (*Interface, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, i := range n.ifaces {
		if i.name == c.Name {
			return nil, fmt.Errorf("fabric: %s already has an interface %s", n.name, c.Name)
		}
	}
	if c.MTU == 0 {
		c.MTU = 1500
	}
	i := &Interface{
		name: c.Name, node: n, seq: n.ifseq.Add(1),
		addr: c.Addr, mac: c.MAC, up: !c.Down, mtu: c.MTU,
	}
	if c.Segment != "" {
		i.seg = n.net.Segment(c.Segment)
		i.seg.attach(i)
	}
	n.ifaces = append(n.ifaces, i)
	return i, nil
}

// RemoveInterface detaches and deletes an interface; flows through it are
// re-evaluated.
func (n *Node) RemoveInterface(name string) error {
	n.mu.Lock()
	var gone *Interface
	for k, i := range n.ifaces {
		if i.name == name {
			gone = i
			n.ifaces = append(n.ifaces[:k], n.ifaces[k+1:]...)
			break
		}
	}
	n.mu.Unlock()
	if gone == nil {
		return fmt.Errorf("fabric: %s has no interface %s", n.name, name)
	}
	if s := gone.Segment(); s != nil {
		s.detach(gone)
	}
	gone.mu.Lock()
	gone.up = false
	gone.seg = nil
	gone.mu.Unlock()
	n.neighbors.flushIface(gone)
	n.Reevaluate()
	return nil
}

// Interfaces returns the node's interfaces in creation order.
func (n *Node) Interfaces() []*Interface {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append([]*Interface(nil), n.ifaces...)
}

// Interface returns the named interface, or nil.
func (n *Node) Interface(name string) *Interface {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, i := range n.ifaces {
		if i.name == name {
			return i
		}
	}
	return nil
}

// owns reports whether the node accepts a packet for dst that arrived on
// ingress.
func (n *Node) owns(ingress *Interface, dst netip.Addr) bool {
	if ingress.Up() && ingress.Addr().Addr() == dst {
		return true
	}
	if !n.cfg.AcceptAny {
		return false
	}
	for _, i := range n.Interfaces() {
		if i.Up() && i.Addr().Addr() == dst {
			return true
		}
	}
	return false
}

// Neighbors returns the node's neighbour (ARP) table.
func (n *Node) Neighbors() []Neighbor { return n.neighbors.list() }

// SetPowered powers the node on or off. Power-off is abrupt: every flow the
// node takes part in is blackholed (no FIN, no RST) and its listeners vanish.
// On power-on the node has forgotten its connections: flows that were
// stalled towards it are reset when the peer next sends, as a rebooted
// server answers RST.
func (n *Node) SetPowered(on bool) {
	n.mu.Lock()
	if n.powered == on {
		n.mu.Unlock()
		return
	}
	n.powered = on
	var ls []*Listener
	if !on {
		for _, l := range n.listeners {
			ls = append(ls, l)
		}
		n.listeners = map[uint16]*Listener{}
	}
	n.mu.Unlock()
	for _, l := range ls {
		l.shut()
	}
	if !on {
		n.neighbors.flush()
	}
	n.net.powerChanged(n, on)
}

// powerChanged re-evaluates every flow of every node after a node changed
// power state.
func (nw *Network) powerChanged(n *Node, on bool) {
	for _, x := range nw.Nodes() {
		for _, c := range x.flowList() {
			if c.involves(n) {
				if on {
					// The node came back without the connection's state.
					c.carrier.Reset()
				} else {
					c.carrier.Pause(true)
				}
			}
		}
		if x == n && !on {
			// The node's own flows die with it; peers see nothing.
			for _, c := range x.flowList() {
				c.carrier.Pause(true)
			}
		}
	}
}

func (n *Node) flowList() []*Conn {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Conn, 0, len(n.flows))
	for c := range n.flows {
		out = append(out, c)
	}
	return out
}

// Flows returns the flows this node originated and that are still open.
func (n *Node) Flows() []FlowInfo {
	var out []FlowInfo
	for _, c := range n.flowList() {
		out = append(out, c.Info())
	}
	return out
}

// Reevaluate re-runs the route lookup of every flow the node originated.
// A flow whose path changed is reset (the new next hop answers RST); a flow
// that has no usable path now stalls; a stalled flow whose original path is
// back resumes.
func (n *Node) Reevaluate() {
	for _, c := range n.flowList() {
		p, err := n.pathTo(c.dialRouter, c.dialIface, c.remote.Addr())
		switch {
		case err != nil:
			c.carrier.Pause(true)
		case p.sameAs(c.path):
			c.carrier.Pause(false)
		case p.target == nil || !p.target.Powered():
			c.carrier.Pause(true)
		default:
			c.carrier.Reset()
			n.forget(c)
		}
	}
}

func (n *Node) forget(c *Conn) {
	n.mu.Lock()
	delete(n.flows, c)
	n.mu.Unlock()
}

// Listen accepts flows to port on every address of the node.
func (n *Node) Listen(port uint16) (*Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.powered {
		return nil, ErrPoweredOff
	}
	if _, busy := n.listeners[port]; busy {
		return nil, ErrAddrInUse
	}
	l := &Listener{node: n, port: port, ch: make(chan *Conn, 64), done: make(chan struct{})}
	n.listeners[port] = l
	return l, nil
}

func (n *Node) unlisten(l *Listener) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners[l.port] == l {
		delete(n.listeners, l.port)
	}
}

func (n *Node) listener(port uint16) *Listener {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if !n.powered {
		return nil
	}
	return n.listeners[port]
}

func (n *Node) ephemeralPort() uint16 {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.ports
	n.ports++
	if n.ports == 0 {
		n.ports = 49152
	}
	return p
}

// DialOptions choose how a flow leaves the node.
type DialOptions struct {
	// Router overrides the node's routing table (another netstack).
	Router Router
	// Iface forces the egress interface, bypassing the route lookup.
	Iface *Interface
	// LocalPort fixes the source port (ESXi's NFS client uses ports < 1024).
	LocalPort uint16
}

// Dial opens a modelled TCP flow to dst. The path is fixed now; the source
// address is the egress interface's. A dead next hop makes Dial fail with
// ErrHostDown once ARP gives up; a target that does not listen answers RST
// (ErrConnRefused); a powered-off target never answers (ctx decides).
func (n *Node) Dial(ctx context.Context, dst netip.AddrPort, o DialOptions) (net.Conn, error) {
	if !n.Powered() {
		return nil, ErrPoweredOff
	}
	p, err := n.pathTo(o.Router, o.Iface, dst.Addr())
	if err != nil {
		return nil, err
	}
	if p.target == nil {
		// Next hop does not answer ARP.
		select {
		case <-n.net.clock.After(arpTimeout):
			return nil, ErrHostDown
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l := p.target.listener(dst.Port())
	if l == nil {
		if !p.target.Powered() {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, ErrConnRefused
	}
	lport := o.LocalPort
	if lport == 0 {
		lport = n.ephemeralPort()
	}
	local := netip.AddrPortFrom(p.src, lport)
	info := FlowInfo{Local: local, Remote: dst, Egress: p.egress.name, NextHop: p.nextHop.String(), Target: p.target.name}
	ce, se := n.net.transport.Carry(info)
	c := &Conn{node: n, local: local, remote: dst, path: p, carrier: ce, dialRouter: o.Router, dialIface: o.Iface}
	s := &Conn{node: p.target, local: dst, remote: local, carrier: se, inbound: true, peer: n}
	c.onClose = func() { n.forget(c) }
	n.mu.Lock()
	if n.flows == nil {
		n.flows = map[*Conn]struct{}{}
	}
	n.flows[c] = struct{}{}
	n.mu.Unlock()
	if !l.offer(s) {
		n.forget(c)
		ce.Reset()
		return nil, ErrConnRefused
	}
	return c, nil
}
