package fabric

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Segment is one L2 broadcast domain: a VLAN of the physical network, or a
// host's internal vSwitch with no uplinks. Two interfaces talk at L2 only if
// they are on the same segment.
type Segment struct {
	name string

	mu     sync.RWMutex
	ifaces []*Interface
}

// Name returns the segment's name.
func (s *Segment) Name() string { return s.name }

// Interfaces returns the interfaces attached to the segment.
func (s *Segment) Interfaces() []*Interface {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*Interface(nil), s.ifaces...)
}

func (s *Segment) attach(i *Interface) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ifaces = append(s.ifaces, i)
}

func (s *Segment) detach(i *Interface) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, x := range s.ifaces {
		if x == i {
			s.ifaces = append(s.ifaces[:k], s.ifaces[k+1:]...)
			return
		}
	}
}

// owner finds the live interface on the segment that holds addr: what an ARP
// request for addr on this segment would find. One with a link wins over
// one without, which can only blackhole the packet. It checks the
// interfaces on a copy of the list: holding s.mu while taking Interface.mu
// and Node.mu would invert AddInterface's order (Node.mu, then Segment.mu)
// and deadlock.
func (s *Segment) owner(addr netip.Addr) *Interface {
	var dark *Interface
	for _, i := range s.Interfaces() {
		if i.Up() && i.node.Powered() && i.Addr().Addr() == addr {
			if !i.blackholes() {
				return i
			}
			if dark == nil {
				dark = i
			}
		}
	}
	return dark
}

// Interface is a node's network interface: a vmknic, a CVM's eth0, an alias
// such as eth1:1. Its address may change at run time (esxcfg-vmknic); the
// routing tables read it live, so every view sees the change at once.
type Interface struct {
	name string
	node *Node
	seq  uint64 // creation order on the node: "first-created" for routing

	mu   sync.RWMutex
	addr netip.Prefix
	mac  net.HardwareAddr
	up   bool
	mtu  int
	seg  *Segment

	flt  ifaceFaults // see fault.go
	caps captures    // see capture.go
}

// Name returns the interface name (vmk0, eth1:1).
func (i *Interface) Name() string { return i.name }

// Node returns the owning node.
func (i *Interface) Node() *Node { return i.node }

// Seq is the creation order of the interface on its node.
func (i *Interface) Seq() uint64 { return i.seq }

// Addr returns the address and prefix length; the zero Prefix if none.
func (i *Interface) Addr() netip.Prefix {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.addr
}

// SetAddr changes the address. Every flow of the network is re-evaluated:
// the change may move other nodes' next hops too.
func (i *Interface) SetAddr(p netip.Prefix) {
	i.mu.Lock()
	i.addr = p
	i.mu.Unlock()
	i.node.Reevaluate()
}

// MAC returns the hardware address.
func (i *Interface) MAC() net.HardwareAddr {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.mac
}

// Up reports whether the interface is administratively up (enabled). The
// physical link is Carrier: an interface without carrier is still up and
// keeps its routes.
func (i *Interface) Up() bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.up
}

// SetUp brings the interface up or down; every flow of the network is
// re-evaluated.
func (i *Interface) SetUp(up bool) {
	i.mu.Lock()
	i.up = up
	i.mu.Unlock()
	i.node.Reevaluate()
}

// MTU returns the interface MTU.
func (i *Interface) MTU() int {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.mtu
}

// SetMTU changes the interface MTU. Flows do not depend on it, so nothing
// is re-evaluated.
func (i *Interface) SetMTU(m int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.mtu = m
}

// Segment returns the segment the interface is attached to, or nil.
func (i *Interface) Segment() *Segment {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.seg
}

func (i *Interface) String() string {
	return fmt.Sprintf("%s/%s(%s)", i.node.name, i.name, i.Addr())
}

// InterfaceConfig describes a new interface.
type InterfaceConfig struct {
	Name    string
	Addr    netip.Prefix // zero: no IPv4 address
	MAC     net.HardwareAddr
	MTU     int // 0: 1500
	Segment string
	Down    bool
	// NoCarrier creates the interface without a physical link (SetCarrier).
	NoCarrier bool
	// Seq is the creation order to take instead of the next one: a reset
	// re-creating a deleted interface puts it back in its old place, so
	// that it is again "first-created" where it was. It must be one the
	// node handed out before (Interface.Seq) and no live interface holds.
	Seq uint64
}
