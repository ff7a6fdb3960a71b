package fabric

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Packet capture: every modelled packet that crosses an interface can be
// observed as an Ethernet frame with real headers (frame.go builds them,
// wire.go decides which packets a flow sends). The model itself carries no
// packets: frames are synthesised only while someone captures on one of
// the interfaces they cross, so a network nobody watches pays nothing
// beyond an atomic load per write.

// Packet is one frame seen on an interface.
type Packet struct {
	Time  time.Time // on the network's clock
	Iface string    // interface name ("vmk0", "eth0")
	Node  string    // node name
	Out   bool      // sent by this interface (false: received)
	// Data is the whole Ethernet frame, with valid checksums. It is
	// valid only during the callback that gets it: the network reuses
	// its memory for the next frames. It is shared with the other
	// captures that see the frame: read it, do not modify it, and copy
	// what must outlive the callback.
	Data []byte
	Len  int // original length (len(Data) unless truncated)
}

// subscription is one Capture call.
type subscription struct {
	fn      func(Packet)
	stopped atomic.Bool
}

// captures is the set of subscriptions of an interface or a node,
// replaced whole on every change so that the data path reads it without
// a lock.
type captures struct {
	subs atomic.Pointer[[]*subscription]
}

func (c *captures) load() []*subscription {
	if p := c.subs.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *captures) watched() bool { return len(c.load()) > 0 }

// captureRegistry is the network's record of its captures.
type captureRegistry struct {
	// mu serialises changes of the subscription sets.
	mu sync.Mutex
	// n counts the running captures: the data path's one check.
	n atomic.Int32
	// pipe delivers the frames, off the data path, in the order they
	// were sent and with times that never go back (pipeline.go).
	pipe pipeline
}

// Capture calls fn for every frame that leaves or reaches the interface,
// in order. fn runs on the network's capture goroutine, off the data path
// (pipeline.go), never concurrently with itself or another capture's fn;
// it must not call into the network but for stop (and not SyncCaptures).
// A slow fn slows the traffic it watches once the capture queue is full:
// copy the packet into a buffer or a channel with room, or drop it.
// p.Data is valid only until fn returns: fn copies what it keeps (see
// Packet). stop (idempotent, callable from fn) ends the capture; frames
// still queued when it is called are not delivered (SyncCaptures first to
// have them), and a call of fn already under way may finish after stop
// returns.
//
// An alias (eth1:1) is an interface of its own: the frames to and from its
// address show on it, not on eth1; a broadcast reaches one interface per
// MAC, the first. A capture of "eth1" as tcpdump -i eth1 sees it takes its
// aliases too (or captures the node and filters on the name).
func (i *Interface) Capture(fn func(Packet)) (stop func()) {
	return i.node.net.subscribe(&i.caps, &subscription{fn: fn})
}

// Capture calls fn for every frame that leaves or reaches any interface of
// the node, including interfaces added later, as tcpdump -i any does. The
// rules of Interface.Capture apply.
func (n *Node) Capture(fn func(Packet)) (stop func()) {
	return n.net.subscribe(&n.caps, &subscription{fn: fn})
}

func (nw *Network) subscribe(set *captures, s *subscription) (stop func()) {
	r := &nw.capture
	r.mu.Lock()
	set.subs.Store(ptr(append(slices.Clone(set.load()), s)))
	r.n.Add(1)
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.stopped.Store(true)
			r.mu.Lock()
			defer r.mu.Unlock()
			set.subs.Store(ptr(slices.DeleteFunc(slices.Clone(set.load()), func(x *subscription) bool { return x == s })))
			r.n.Add(-1)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// capturing reports whether anything on the network captures: the data
// path's first check, before it looks at a single interface.
func (nw *Network) capturing() bool { return nw.capture.n.Load() != 0 }

// watched reports whether a capture sees the interface. A remote node's
// interfaces show nothing here: its own process captures them, with the
// frames of the flows it carries (remote.go).
func (i *Interface) watched() bool {
	return (i.caps.watched() || i.node.caps.watched()) && !i.node.isRemote()
}

// delivery is one frame crossing one interface.
type delivery struct {
	iface *Interface
	out   bool
	data  []byte
}

// deliver queues frames, built already, for the captures of the
// interfaces they cross (pipeline.go).
func (nw *Network) deliver(ds []delivery) {
	if len(ds) > 0 {
		nw.enqueue(&capJob{ds: ds})
	}
}

// deliverNow hands frames to the captures of the interfaces they cross, in
// order, all stamped with t; only the pipeline's goroutine calls it.
func (nw *Network) deliverNow(now time.Time, ds []delivery) {
	for _, d := range ds {
		if d.iface.node.isRemote() {
			continue // see watched
		}
		data := d.data
		if d.out {
			data = unpadded(data)
		}
		p := Packet{Time: now, Iface: d.iface.name, Node: d.iface.node.name, Out: d.out, Data: data, Len: len(data)}
		for _, set := range [2]*captures{&d.iface.caps, &d.iface.node.caps} {
			for _, s := range set.load() {
				if !s.stopped.Load() {
					s.fn(p)
				}
			}
		}
	}
}

// unpadded is a frame as its sender's capture sees it: Linux and ESXi
// capture outgoing frames before the NIC pads them to Ethernet's 60-byte
// minimum, so an ARP request leaves as 42 bytes ("length 28" in tcpdump)
// and arrives as 60 ("length 46").
func unpadded(f []byte) []byte {
	if len(f) != 60 {
		return f
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0806: // ARP over Ethernet/IPv4
		return f[:42]
	case 0x0800:
		if n := 14 + int(binary.BigEndian.Uint16(f[16:18])); n < 60 {
			return f[:n]
		}
	}
	return f
}

// ipID is the IPv4 identification of the node's next packet.
func (n *Node) ipID() uint16 { return uint16(n.ipid.Add(1)) }

// nameHash is FNV-1a of a name.
func nameHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
