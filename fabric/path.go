package fabric

import (
	"net/netip"
	"time"
)

// arpTimeout is how long a sender waits for an ARP reply before it reports
// the next hop as down.
const arpTimeout = 3 * time.Second

// maxHops bounds forwarding through gateway nodes.
const maxHops = 16

// path is where a packet from a node to a destination goes, hop by hop.
type path struct {
	egress  *Interface
	src     netip.Addr
	nextHop netip.Addr
	hop     *Interface // the next hop's interface that answered ARP; nil if none
	target  *Node      // the node that accepts the packet; nil if dropped
	ingress *Interface // target's interface the packet arrives on
	hops    int
	latency time.Duration // one way, injected interface latency included
	// blocked is a packet blackholed by a fault (fault.go): a carrier-down
	// or 100%-loss interface on the way, or a partition. Nothing answers
	// and nobody is told; target may still be set.
	blocked bool
	// ifaces are the interfaces the packet crosses in pairs (sender,
	// receiver), for the faults' latency and loss and for captures;
	// collected for packets really sent (learn) and while something
	// captures.
	ifaces []*Interface
}

func (p path) sameAs(q path) bool {
	return p.egress == q.egress && p.src == q.src && p.hop == q.hop && p.target == q.target
}

// pathTo computes the path of a packet to dst. With iface set the route
// lookup is bypassed (vmkping -I): the packet leaves iface and its next hop
// is dst itself. Errors are the sender's own: no route, interface down.
// learn says whether the packet is really sent (Dial, Echo), so that ARP
// teaches the neighbour tables; re-evaluating a flow's path sends nothing.
func (n *Node) pathTo(r Router, iface *Interface, dst netip.Addr, learn bool) (path, error) {
	var p path
	if iface != nil {
		p.egress, p.nextHop = iface, dst
	} else {
		if r == nil {
			r = n.DefaultRouter()
		}
		if r == nil {
			return p, ErrNetUnreachable
		}
		rt, err := r.Lookup(dst)
		if err != nil {
			return p, err
		}
		if rt.Iface == nil {
			return p, ErrNetUnreachable
		}
		p.egress, p.nextHop = rt.Iface, rt.NextHop(dst)
	}
	if !p.egress.Up() || p.egress.Segment() == nil {
		return p, ErrNetDown
	}
	p.src = p.egress.Addr().Addr()
	nw := n.net
	// A capture sees the packet's hops (ARP when a next hop is learned,
	// the links of a re-evaluated path that a reset's RST comes back
	// along); see capture.go.
	capture := nw.capturing()
	out, nh := p.egress, p.nextHop
	for p.hops = 1; p.hops <= maxHops; p.hops++ {
		// A link without carrier sends nothing, ARP included: the
		// packet waits in the void, and so does the sender.
		if out.blackholes() {
			p.blocked = true
			return p, nil
		}
		hop := nw.resolve(out, nh)
		if hop == nil {
			if learn && capture && !out.node.neighbors.has(out, nh) {
				nw.deliver(arpFrames(out, nh, nil)) // who-has, unanswered
			}
			return p, nil
		}
		if p.hops == 1 {
			p.hop = hop
		}
		if hop.blackholes() || nw.partitioned(out.node, hop.node) {
			p.blocked = true
			return p, nil
		}
		if learn {
			if capture && !out.node.neighbors.has(out, nh) {
				nw.deliver(arpFrames(out, nh, hop))
			}
			// ARP both ways: the asker learns the answer, the answerer
			// the asker.
			out.node.neighbors.learn(out, nh, hop.MAC())
			if a := out.Addr(); a.IsValid() {
				hop.node.neighbors.learn(hop, a.Addr(), out.MAC())
			}
		}
		if learn || capture {
			p.ifaces = append(p.ifaces, out, hop)
		}
		p.latency += nw.hopLatency(out.Segment()) + out.Latency() + hop.Latency()
		x := hop.node
		if x.owns(hop, dst) {
			p.target, p.ingress = x, hop
			// Routers in between are checked hop by hop above; this is
			// the partition between the two ends themselves.
			p.blocked = nw.partitioned(n, x)
			return p, nil
		}
		if !x.cfg.Forwarding || x.DefaultRouter() == nil {
			return p, nil
		}
		rt, err := x.DefaultRouter().Lookup(dst)
		if err != nil || rt.Iface == nil || !rt.Iface.Up() {
			return p, nil
		}
		out, nh = rt.Iface, rt.NextHop(dst)
	}
	return p, nil
}
