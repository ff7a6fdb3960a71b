package fabric

import (
	"net/netip"
	"time"
)

// EchoRequest is one ICMP echo request.
type EchoRequest struct {
	Dst netip.Addr
	// Size is the ICMP payload in bytes (vmkping -s; default 56).
	Size int
	// DF sets Don't Fragment (vmkping -d).
	DF bool
	// Router selects the netstack's table; nil means the node's default.
	Router Router
	// Iface bypasses the route lookup (vmkping -I).
	Iface *Interface
}

// EchoReply is what came back.
type EchoReply struct {
	From netip.Addr
	// Bytes is the ICMP message length: payload plus the 8-byte header.
	Bytes int
	TTL   int
	RTT   time.Duration
}

// ipICMPHeaders is the IPv4 plus ICMP header size added to the payload.
const ipICMPHeaders = 28

// Echo sends one echo request and reports the reply. A non-nil error is a
// failure of the send itself (sendto() failed): no route, interface down,
// message too long with DF, next hop not answering ARP. A nil reply with a
// nil error means the request went out and nothing came back.
//
// Unlike Dial, Echo does not send to a stale neighbour-cache entry: a next
// hop that does not answer ARP now is Host is down at once, which is what
// vmkping shows for a dead neighbour.
//
// The RTT is modelled from the path (hop latencies both ways, injected
// interface latency included, a small per-byte cost and the responder's
// turnaround), so outputs are deterministic; Echo does not wait for it.
// The reply is taken to come back through the request's interfaces.
func (n *Node) Echo(req EchoRequest) (*EchoReply, error) {
	if !n.Powered() {
		return nil, ErrPoweredOff
	}
	if req.Size == 0 {
		req.Size = 56
	}
	p, err := n.pathTo(req.Router, req.Iface, req.Dst, true)
	if err != nil {
		return nil, err
	}
	if req.DF && req.Size+ipICMPHeaders > p.egress.MTU() {
		return nil, ErrMsgSize
	}
	if p.blocked {
		// A fault on the way: the request leaves, nothing comes back.
		return nil, nil
	}
	if p.hop == nil {
		return nil, ErrHostDown
	}
	if p.target == nil {
		return nil, nil
	}
	if req.DF && req.Size+ipICMPHeaders > p.ingress.MTU() {
		// Dropped on the way: a jumbo frame into a 1500-byte port.
		return nil, nil
	}
	if p.lost() {
		// Injected loss: one draw per interface crossed, for the request
		// and its reply together.
		return nil, nil
	}
	rtt := 2*p.latency + 40*time.Microsecond + time.Duration(req.Size)*time.Nanosecond
	return &EchoReply{
		From:  req.Dst,
		Bytes: req.Size + 8,
		TTL:   p.target.cfg.TTL - (p.hops - 1),
		RTT:   rtt,
	}, nil
}
