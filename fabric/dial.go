package fabric

import (
	"context"
	"fmt"
	"net"
	"net/netip"
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
//     powered-off target, a gateway that drops it): Dial waits for ctx.
//   - The target does not listen on the port: ErrConnRefused (RST).
//   - The target's accept queue is full: the SYN is dropped, and Dial waits
//     for room or for ctx, as a client retransmitting its SYN does.
func (n *Node) Dial(ctx context.Context, dst netip.AddrPort, o DialOptions) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.Iface != nil && o.Iface.node != n {
		return nil, fmt.Errorf("fabric: interface %s does not belong to %s", o.Iface, n.name)
	}
	nw := n.net
	// Fix the path and register the flow under the flow lock, so that a
	// concurrent route change either precedes the lookup or re-evaluates
	// the registered flow.
	nw.reeval.Lock()
	if !n.Powered() {
		nw.reeval.Unlock()
		return nil, ErrPoweredOff
	}
	p, err := n.pathTo(o.Router, o.Iface, dst.Addr(), true)
	if err != nil {
		nw.reeval.Unlock()
		return nil, err
	}
	if p.target == nil {
		arpFails := p.hop == nil && !n.neighbors.has(p.egress, p.nextHop)
		nw.reeval.Unlock()
		if arpFails {
			return nil, n.arpTimeout(ctx)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	l := p.target.listener(dst.Port())
	if l == nil {
		nw.reeval.Unlock()
		return nil, ErrConnRefused
	}
	c := &Conn{node: n, remote: dst, path: p, dialRouter: o.Router, dialIface: o.Iface}
	// The flow is visible in n.flows before its carrier is set; only
	// holders of nw.reeval use a listed flow's carrier, and we hold it.
	if err := n.register(c, p.src, o.LocalPort); err != nil {
		nw.reeval.Unlock()
		return nil, err
	}
	info := FlowInfo{Local: c.local, Remote: dst, Egress: p.egress.name, NextHop: p.nextHop.String(), Target: p.target.name}
	ce, se := nw.transport.Carry(info)
	c.carrier = ce
	c.onClose = func() { n.forget(c) }
	s := &Conn{node: p.target, local: dst, remote: c.local, carrier: se, inbound: true, peer: n, origin: c}
	nw.reeval.Unlock()

	if err := l.offer(ctx, s); err != nil {
		n.forget(c)
		ce.Reset()
		if err == ErrConnRefused && !p.target.Powered() {
			// The target died while the SYN was queued: nothing answers.
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, err
	}
	return c, nil
}

// arpTimeout waits out ARP's retries on the network clock.
func (n *Node) arpTimeout(ctx context.Context) error {
	t := n.net.clock.NewTimer(arpTimeout)
	defer t.Stop()
	select {
	case <-t.Chan():
		return ErrHostDown
	case <-ctx.Done():
		return ctx.Err()
	}
}
