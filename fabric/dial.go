package fabric

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

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
// address is the egress interface's. ctx bounds every wait.
//
//   - No route, or the egress down: the error at once (ErrNetUnreachable,
//     ErrNetDown), as connect() fails locally.
//   - The next hop does not answer ARP and is not in the neighbour cache:
//     ErrHostDown after the ARP timeout.
//   - The SYN leaves but nothing answers (the next hop is cached but gone, a
//     powered-off target, a gateway that drops it): Dial waits for ctx —
//     or for the network to change (a route added, a node powered on),
//     when it tries again along the new path, as a retransmitted SYN would.
//   - The target does not listen on the port: ErrConnRefused (RST).
//   - The target's accept queue is full: the SYN is dropped, and Dial waits
//     for room or for ctx, as a client retransmitting its SYN does.
//   - A fault blackholes the path (fault.go): Dial waits for the network
//     to change or for ctx, as for a dead target.
//   - Injected latency on the path delays the connection by one round
//     trip, and injected loss by the SYN's retransmissions, on the
//     network's clock. The server has the connection at once; Dial returns
//     when the SYN-ACK would be back.
//
// A target that lives in another process (Node.SetRemote) is reached over
// real TCP (remote.go); the path is still this model's decision, and the
// answer (accepted, refused, nothing) the target process's.
func (n *Node) Dial(ctx context.Context, dst netip.AddrPort, o DialOptions) (net.Conn, error) {
	for {
		c, w, err := n.dial(ctx, dst, o)
		if w.changed == nil {
			if err == nil && w.setup > 0 {
				if err := n.net.sleep(ctx, w.setup); err != nil {
					c.(*Conn).Reset()
					return nil, err
				}
			}
			return c, err
		}
		var expired, retry <-chan time.Time
		var timers []interface{ Stop() bool }
		if w.arp {
			// ARP gives up after its retries unless the network changes
			// first (a new route, a next hop powered on).
			t := n.net.clock.NewTimer(arpTimeout)
			expired, timers = t.Chan(), append(timers, t)
		}
		if w.retry > 0 {
			// A remote target's process did not take the SYN: it is
			// sent again, as a SYN retransmission would be.
			t := n.net.clock.NewTimer(w.retry)
			retry, timers = t.Chan(), append(timers, t)
		}
		stop := func() {
			for _, t := range timers {
				t.Stop()
			}
		}
		select {
		case <-w.changed:
			stop()
		case <-retry:
			stop()
		case <-expired:
			return nil, ErrHostDown
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
	}
}

// wait says why an attempt could not complete and what ends the wait.
type wait struct {
	changed <-chan struct{} // the next network change; nil: no wait
	arp     bool            // the next hop does not answer ARP
	// retry, when set, ends the wait too: a remote target's process
	// could not be reached (remote.go).
	retry time.Duration
	// setup is how long a made connection takes to complete: injected
	// latency and SYN loss.
	setup time.Duration
}

// dial makes one attempt. When nothing can answer it says what to wait for
// before the next.
func (n *Node) dial(ctx context.Context, dst netip.AddrPort, o DialOptions) (net.Conn, wait, error) {
	if err := ctx.Err(); err != nil {
		return nil, wait{}, err
	}
	if o.Iface != nil && o.Iface.node != n {
		return nil, wait{}, fmt.Errorf("fabric: interface %s does not belong to %s", o.Iface, n.name)
	}
	nw := n.net
	// Fix the path and register the flow under the flow lock, so that a
	// concurrent route change either precedes the lookup or re-evaluates
	// the registered flow.
	nw.reeval.Lock()
	if !n.Powered() {
		nw.reeval.Unlock()
		return nil, wait{}, ErrPoweredOff
	}
	p, err := n.pathTo(o.Router, o.Iface, dst.Addr(), true)
	if err != nil {
		nw.reeval.Unlock()
		return nil, wait{}, err
	}
	if p.target == nil || p.blocked {
		arpFails := !p.blocked && p.hop == nil && !n.neighbors.has(p.egress, p.nextHop)
		changed := nw.changed
		nw.reeval.Unlock()
		return nil, wait{changed: changed, arp: arpFails}, nil
	}
	if owner := p.target.Remote(); owner != "" {
		// The target lives in another process: the flow is registered
		// now, to hold its port, but left out of re-evaluations until its
		// handshake over real TCP is done, which happens without the lock.
		c := &Conn{node: n, remote: dst, path: p, dialRouter: o.Router, dialIface: o.Iface}
		c.pending.Store(true)
		if err := n.register(c, p.src, o.LocalPort); err != nil {
			nw.reeval.Unlock()
			return nil, wait{}, err
		}
		gen := nw.flows.Add(1)
		changed := nw.changed
		nw.reeval.Unlock()
		return n.dialRemote(ctx, c, owner, gen, changed)
	}
	l := p.target.listener(dst.Port())
	if l == nil {
		n.refused(o.LocalPort, dst, p)
		nw.reeval.Unlock()
		return nil, wait{}, ErrConnRefused
	}
	c := &Conn{node: n, remote: dst, path: p, dialRouter: o.Router, dialIface: o.Iface}
	// The flow is visible in n.flows before its carrier is set; only
	// holders of nw.reeval use a listed flow's carrier, and we hold it.
	if err := n.register(c, p.src, o.LocalPort); err != nil {
		nw.reeval.Unlock()
		return nil, wait{}, err
	}
	info := FlowInfo{Local: c.local, Remote: dst, Egress: p.egress.name, NextHop: p.nextHop.String(), Target: p.target.name}
	ce, se := nw.transport.Carry(info)
	c.carrier = ce
	c.onClose = func() { n.forget(c) }
	c.flow.init(nw, c.local, dst, n, p.target, p.ifaces, nw.flows.Add(1))
	c.wire = &c.flow
	s := &Conn{node: p.target, local: dst, remote: c.local, carrier: se, inbound: true, peer: n, origin: c, wire: c.wire}
	// The handshake is seen before the server can have the flow and
	// before a route change can reset it: nothing shows up ahead of it.
	c.wire.open()
	changed := nw.changed
	nw.reeval.Unlock()

	if err := l.offer(ctx, s); err != nil {
		n.forget(c)
		if err == ErrConnRefused && !p.target.Powered() {
			// The target died while the SYN was queued: nothing answers.
			c.wire.stalled.Store(true)
			ce.Reset()
			return nil, wait{changed: changed}, nil
		}
		// A closed listener resets its queue; a caller giving up aborts.
		if err == ErrConnRefused {
			s.wire.abort(s.end())
		} else {
			c.wire.abort(c.end())
		}
		ce.Reset()
		return nil, wait{}, err
	}
	return c, wait{setup: 2*p.latencyDelay() + p.resendDelay(synRTO)}, nil
}
