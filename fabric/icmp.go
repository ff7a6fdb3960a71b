package fabric

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
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
	// ID and Seq are the ICMP identifier and sequence number the request
	// carries, as a capture shows them (ping's process id and its count).
	ID, Seq uint16
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
// An echo to a remote node (Node.SetRemote) is answered from this model
// too, with what WatchPeers knows of it (a node whose process does not
// answer, or that is off there, is powered off here: no reply): no real
// round trip is made, so a fault injected in its own process (a carrier
// down there) does not show here, and its captures do not see the echo.
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
		n.captureEcho(req, p, false)
		return nil, nil
	}
	if p.hop == nil {
		return nil, ErrHostDown
	}
	if p.target == nil {
		n.captureEcho(req, p, false)
		return nil, nil
	}
	if req.DF && req.Size+ipICMPHeaders > p.ingress.MTU() {
		// Dropped on the way: a jumbo frame into a 1500-byte port.
		n.captureEcho(req, p, false)
		return nil, nil
	}
	if p.lost() {
		// Injected loss: one draw per interface crossed, for the request
		// and its reply together.
		n.captureEcho(req, p, false)
		return nil, nil
	}
	n.captureEcho(req, p, true)
	rtt := 2*p.latency + 40*time.Microsecond + time.Duration(req.Size)*time.Nanosecond
	return &EchoReply{
		From:  req.Dst,
		Bytes: req.Size + 8,
		TTL:   p.target.cfg.TTL - (p.hops - 1),
		RTT:   rtt,
	}, nil
}

// captureEcho shows the request on the links it crossed and, when the
// target answered, the reply coming back along them.
func (n *Node) captureEcho(req EchoRequest, p path, answered bool) {
	hs := hopsOf(p.ifaces)
	if !n.net.capturing() || !watchedHops(hs) || !p.src.Is4() || !req.Dst.Is4() {
		return
	}
	// ping's payload: a recognisable pattern, the same on every run.
	payload := make([]byte, req.Size)
	for i := range payload {
		payload[i] = byte(i)
	}
	q := ipv4{src: p.src, dst: req.Dst, ttl: n.cfg.TTL, id: n.ipID(), df: req.DF, proto: layers.IPProtocolICMPv4,
		l4: &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: req.ID, Seq: req.Seq}, payload: payload}
	ds := q.deliveries(hs, nil)
	if answered {
		r := ipv4{src: req.Dst, dst: p.src, ttl: p.target.cfg.TTL, id: p.target.ipID(), df: req.DF, proto: layers.IPProtocolICMPv4,
			l4: &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: req.ID, Seq: req.Seq}, payload: payload}
		ds = r.deliveries(back(hs), ds)
	}
	n.net.deliver(ds)
}
