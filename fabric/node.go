package fabric

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// Router chooses the route to a destination: a node's routing table, or one
// netstack's table of an ESXi host.
//
// Lookup is called with the network's flow lock held (see Reevaluate), so a
// Router must not call back into Reevaluate, Dial or SetPowered.
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
	lports    map[uint16]int     // local ports of flows, for ephemeral allocation
	ports     uint16             // next ephemeral port to try
	neighbors *neighborTable

	powerHooks map[int]func(bool)
	nhook      int

	caps captures // see capture.go
	// remote is the fabric address of the process that runs the node, or
	// nil when this process does (remote.go).
	remote atomic.Pointer[string]
	// ipid numbers the IPv4 packets the node sends, as a capture shows
	// them; seeded from the name so that nodes do not count in step.
	ipid atomic.Uint32
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

// AddInterface creates an interface on the node. Flows are re-evaluated: a
// new address may be the one a stalled flow was waiting for.
func (n *Node) AddInterface(c InterfaceConfig) (*Interface, error) {
	if c.MTU == 0 {
		c.MTU = 1500
	}
	var seg *Segment
	if c.Segment != "" {
		seg = n.net.Segment(c.Segment)
	}
	n.mu.Lock()
	for _, i := range n.ifaces {
		if i.name == c.Name {
			n.mu.Unlock()
			return nil, fmt.Errorf("fabric: %s already has an interface %s", n.name, c.Name)
		}
	}
	seq := c.Seq
	if seq == 0 || seq > n.ifseq.Load() {
		seq = n.ifseq.Add(1)
	}
	i := &Interface{
		name: c.Name, node: n, seq: seq,
		addr: c.Addr, mac: c.MAC, up: !c.Down, mtu: c.MTU, seg: seg,
	}
	i.flt.noCarrier.Store(c.NoCarrier)
	// Interfaces stays in creation order, a re-created one in its place.
	k := len(n.ifaces)
	for k > 0 && n.ifaces[k-1].seq > seq {
		k--
	}
	n.ifaces = slices.Insert(n.ifaces, k, i)
	n.mu.Unlock()
	if seg != nil {
		seg.attach(i)
	}
	n.Reevaluate()
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
			n.ifaces = append(n.ifaces[:k:k], n.ifaces[k+1:]...)
			break
		}
	}
	n.mu.Unlock()
	if gone == nil {
		return fmt.Errorf("fabric: %s has no interface %s", n.name, name)
	}
	gone.mu.Lock()
	s := gone.seg
	gone.up = false
	gone.seg = nil
	gone.mu.Unlock()
	if s != nil {
		s.detach(gone)
	}
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
	l := newListener(n, port)
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
