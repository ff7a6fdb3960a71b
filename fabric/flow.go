package fabric

import (
	"net/netip"
	"slices"
)

// Ephemeral ports are IANA's dynamic range, which ESXi and Linux both draw
// from for outgoing connections.
const (
	ephemeralFirst = 49152
	ephemeralCount = 65536 - ephemeralFirst
)

// Reevaluate re-runs the route lookup of every open flow of the network,
// not only the node's own: an interface or route change on one node moves
// the paths of flows that other nodes originated (a CVM's eth1 going down
// stalls its host's NFS flow; a gateway's new route redirects its clients).
//
// A flow whose path (egress interface, source address, next-hop interface,
// target node) changed to a live new target is reset: the new next hop never
// saw the connection and answers RST (seed 001). A flow with no usable path
// stalls: bytes wait, nobody is told. So does a flow whose path a fault
// blackholes (fault.go), even if the path is unchanged. A stalled flow
// whose original path is back resumes. Flows of a powered-off node stay
// blackholed.
//
// Call it after any route or interface change, with no lock held that a
// Router's Lookup takes.
func (n *Node) Reevaluate() { n.net.reevaluate() }

// reevaluate re-runs every open flow's route lookup, at once or, during a
// Batch, at its end.
func (nw *Network) reevaluate() {
	if nw.batches.Load() > 0 {
		nw.deferred.Store(true)
		// The batch may have ended between the load and the store, and
		// missed the flag: take it back and run now.
		if nw.batches.Load() > 0 || !nw.deferred.Swap(false) {
			return
		}
	}
	nw.reeval.Lock()
	defer nw.reeval.Unlock()
	nw.reevaluateLocked()
}

// Batch runs fn, which makes several changes (routes, interfaces), with the
// flows re-evaluated once at its end rather than after each change: every
// flow goes from its old path to its new one without passing through an
// intermediate state that would reset it (a reset to a saved state). It
// holds back other changes' re-evaluations of the network as long as fn
// runs, so fn should be quick. Batches may nest and overlap.
func (nw *Network) Batch(fn func()) {
	nw.batches.Add(1)
	defer func() {
		if nw.batches.Add(-1) == 0 && nw.deferred.Swap(false) {
			nw.reevaluate()
		}
	}()
	fn()
}

// reevaluateLocked needs nw.reeval.
func (nw *Network) reevaluateLocked() {
	for _, x := range nw.Nodes() {
		x.reevaluateLocked()
	}
	// Flows from other processes stall and resume with their target
	// here (remote.go).
	nw.reevaluateInboundLocked()
	close(nw.changed)
	nw.changed = make(chan struct{})
}

func (n *Node) reevaluateLocked() {
	if !n.Powered() {
		// Its flows died with it; power-on resets them.
		return
	}
	for _, c := range n.flowList() {
		n.reevaluateFlowLocked(c)
	}
}

// reevaluateFlowLocked re-runs one originated flow's route lookup; it needs
// the flow lock.
func (n *Node) reevaluateFlowLocked(c *Conn) {
	if c.pending.Load() {
		return // its dial settles it (remote.go)
	}
	p, err := n.pathTo(c.dialRouter, c.dialIface, c.remote.Addr(), false)
	switch {
	case err != nil, p.target == nil, p.blocked:
		c.pause(true)
	case p.sameAs(c.path):
		c.pause(false)
	default:
		// hopsOf never returns nil: the RST comes from the new path
		// (rstSilent for a bridge).
		c.wire.refuse(0, hopsOf(p.ifaces), p.target)
		c.carrier.Reset()
		n.forget(c)
	}
}

// SetPowered powers the node on or off. Power-off is abrupt: every flow the
// node takes part in is blackholed (no FIN, no RST) and its listeners vanish.
// On power-on the node has forgotten its connections: its own flows and the
// flows that were stalled towards it are reset, as a rebooted server answers
// RST; flows that merely passed through it resume.
func (n *Node) SetPowered(on bool) {
	if !n.setPowered(on) {
		return
	}
	n.mu.RLock()
	hooks := make([]func(bool), 0, len(n.powerHooks))
	for _, f := range n.powerHooks {
		hooks = append(hooks, f)
	}
	n.mu.RUnlock()
	for _, f := range hooks {
		f(on)
	}
}

// OnPower calls fn after every power change of the node, outside the
// package's locks: what runs on the node (its services) stops with it and
// starts again. cancel stops the calls.
func (n *Node) OnPower(fn func(on bool)) (cancel func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.powerHooks == nil {
		n.powerHooks = map[int]func(bool){}
	}
	n.nhook++
	id := n.nhook
	n.powerHooks[id] = fn
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.powerHooks, id)
	}
}

// setPowered changes the state and the flows; false if nothing changed.
func (n *Node) setPowered(on bool) bool {
	nw := n.net
	nw.reeval.Lock()
	defer nw.reeval.Unlock()
	n.mu.Lock()
	if n.powered == on {
		n.mu.Unlock()
		return false
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
	// Queued, unaccepted flows are blackholed like the rest, not reset.
	for _, l := range ls {
		l.shut(false)
	}
	if !on {
		n.neighbors.flush()
		// The node's own flows die with it; peers see nothing.
		for _, c := range n.flowList() {
			if !c.pending.Load() {
				c.pause(true)
			}
		}
	} else {
		nw.resetInboundLocked(n)
		for _, x := range nw.Nodes() {
			for _, c := range x.flowList() {
				if c.pending.Load() {
					continue
				}
				if x == n || c.path.target == n {
					// The rebooted end answers the other's next
					// segment with RST.
					if c.path.target == n {
						c.wire.refuse(0, nil, n)
					} else {
						c.wire.refuse(1, nil, n)
					}
					c.carrier.Reset()
					x.forget(c)
				}
			}
		}
	}
	// Flows towards or through the node stall (off) or resume (on).
	nw.reevaluateLocked()
	return true
}

// register adds an originated flow, choosing its local port unless fixed.
// An ephemeral port is one no open flow of the node uses; a fixed port only
// has to make the 4-tuple unique (ESXi's NFS client reuses ports < 1024
// towards different servers).
func (n *Node) register(c *Conn, src netip.Addr, fixed uint16) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	port := fixed
	if port != 0 {
		local := netip.AddrPortFrom(src, port)
		for o := range n.flows {
			if o.local == local && o.remote == c.remote {
				return ErrAddrInUse
			}
		}
	} else {
		for range ephemeralCount {
			p := n.ports
			n.ports++
			if n.ports == 0 {
				n.ports = ephemeralFirst
			}
			if n.lports[p] == 0 {
				port = p
				break
			}
		}
		if port == 0 {
			return ErrAddrInUse
		}
	}
	c.local = netip.AddrPortFrom(src, port)
	n.flows[c] = struct{}{}
	n.lports[port]++
	return nil
}

// forget drops an originated flow; it is idempotent.
func (n *Node) forget(c *Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.flows[c]; !ok {
		return
	}
	delete(n.flows, c)
	p := c.local.Port()
	if n.lports[p]--; n.lports[p] <= 0 {
		delete(n.lports, p)
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

// Flows returns the flows this node originated and that are still open,
// ordered by local then remote address so that listings are stable.
func (n *Node) Flows() []FlowInfo {
	var out []FlowInfo
	for _, c := range n.flowList() {
		if !c.pending.Load() {
			out = append(out, c.Info())
		}
	}
	slices.SortFunc(out, func(a, b FlowInfo) int {
		if c := a.Local.Compare(b.Local); c != 0 {
			return c
		}
		return a.Remote.Compare(b.Remote)
	})
	return out
}
