package fabric

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// Network is one modelled network: its segments and its nodes.
type Network struct {
	clock     clock.Clock
	transport Transport

	// reeval serialises every decision about a flow's fate: Dial fixing a
	// path and registering the flow, Reevaluate, power changes. Without it
	// a slow re-evaluation could overwrite a newer one (pause a flow whose
	// path just came back) or miss a flow registered in between. It is
	// taken before any other lock of the package and never while one is
	// held.
	reeval sync.Mutex
	// changed is closed (and replaced) after every re-evaluation: dials
	// waiting for an answer that cannot come retry then, as a SYN
	// retransmission follows the new route. Guarded by reeval.
	changed chan struct{}

	mu       sync.RWMutex
	segments map[string]*Segment
	nodes    map[string]*Node
	// latency is the one-way delay of a hop on a segment.
	latency map[string]time.Duration

	faults  faultState      // see fault.go
	capture captureRegistry // see capture.go
	// flows numbers the flows opened, for their initial sequence numbers.
	flows atomic.Uint32

	// batches counts the running Batch calls; deferred records a
	// re-evaluation they held back.
	batches  atomic.Int32
	deferred atomic.Bool

	// inbound are the flows that other processes opened to this one's
	// nodes (remote.go), re-evaluated with the rest. Changed under
	// reeval and inMu, read under either.
	inMu    sync.Mutex
	inbound map[*Conn]struct{}
}

// Option configures a Network.
type Option func(*Network)

// WithClock sets the clock (default: real time).
func WithClock(c clock.Clock) Option { return func(n *Network) { n.clock = c } }

// WithTransport sets the flow transport (default: MemTransport{}, whose
// deadlines are wall-clock times as net.Conn documents).
func WithTransport(t Transport) Option { return func(n *Network) { n.transport = t } }

// New returns an empty network.
func New(opts ...Option) *Network {
	n := &Network{
		segments: map[string]*Segment{},
		nodes:    map[string]*Node{},
		latency:  map[string]time.Duration{},
	}
	for _, o := range opts {
		o(n)
	}
	if n.clock == nil {
		n.clock = clock.Real()
	}
	n.changed = make(chan struct{})
	if n.transport == nil {
		n.transport = MemTransport{}
	}
	return n
}

// Clock returns the network's clock.
func (n *Network) Clock() clock.Clock { return n.clock }

// Segment returns the named segment, creating it on first use.
func (n *Network) Segment(name string) *Segment {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.segments[name]
	if !ok {
		s = &Segment{name: name}
		n.segments[name] = s
	}
	return s
}

// SetLatency sets the one-way delay of one hop across a segment.
func (n *Network) SetLatency(segment string, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.latency[segment] = d
}

// DefaultHopLatency is the one-way delay of a hop when none is set: about
// what a 10 GbE switch hop between two VMs costs.
const DefaultHopLatency = 120 * time.Microsecond

func (n *Network) hopLatency(s *Segment) time.Duration {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if d, ok := n.latency[s.name]; ok {
		return d
	}
	return DefaultHopLatency
}

// NodeConfig describes a node.
type NodeConfig struct {
	Name string
	// AcceptAny makes the node accept traffic for any of its addresses on
	// any interface: a Nutanix CVM "acts as a router" for 192.168.5.2
	// arriving on eth0. Without it a node accepts only the addresses of the
	// interface the packet arrived on.
	AcceptAny bool
	// Forwarding makes the node route packets that are not for it using
	// its own routing table (a gateway).
	Forwarding bool
	// NeighborTimeout is how long a learned neighbour stays (default 1200 s,
	// ESXi's ARP timeout).
	NeighborTimeout time.Duration
	// TTL is the initial TTL of the node's replies (default 64, Linux's;
	// a switch's SVI answers with 255).
	TTL int
}

// AddNode creates a powered-on node.
func (n *Network) AddNode(cfg NodeConfig) (*Node, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.nodes[cfg.Name]; dup {
		return nil, fmt.Errorf("fabric: node %q already exists", cfg.Name)
	}
	if cfg.TTL == 0 {
		cfg.TTL = 64
	}
	if cfg.NeighborTimeout == 0 {
		cfg.NeighborTimeout = 1200 * time.Second
	}
	node := &Node{
		net:       n,
		name:      cfg.Name,
		cfg:       cfg,
		powered:   true,
		listeners: map[uint16]*Listener{},
		flows:     map[*Conn]struct{}{},
		lports:    map[uint16]int{},
		neighbors: newNeighborTable(n.clock, cfg.NeighborTimeout),
		ports:     ephemeralFirst,
	}
	node.ipid.Store(nameHash(cfg.Name))
	n.nodes[cfg.Name] = node
	return node, nil
}

// Node returns a node by name.
func (n *Network) Node(name string) *Node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.nodes[name]
}

// Nodes returns all nodes sorted by name.
func (n *Network) Nodes() []*Node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Node, 0, len(n.nodes))
	for _, x := range n.nodes {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// resolve answers an ARP request for addr sent out of egress: the interface
// that owns addr on egress's segment, or nil.
func (n *Network) resolve(egress *Interface, addr netip.Addr) *Interface {
	seg := egress.Segment()
	if seg == nil {
		return nil
	}
	return seg.owner(addr)
}
