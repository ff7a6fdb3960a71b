package fabric

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/autopathlab/autopathlab/clock"
)

// Nodes in several processes: every process holds the whole network's
// model — each node's interfaces, addresses and MACs — and runs some of
// its nodes; the others are remote (SetRemote), placeholders whose owner
// process runs them. Routing and ARP decide on the sending node's model,
// as in one process: a dial fixes its path here, and only a path that
// ends at a remote node leaves the process, over real TCP to the owner's
// fabric listener (ServeFabric):
//
//	PROXY v2 header  PROXY, TCP4 (TCP6 for IPv6), source = the modelled
//	                 local address:port, destination = the modelled
//	                 destination address:port, and TLVs:
//	                   0xE0 the target node's name (a process may model
//	                        192.168.5.2 once per host)
//	                   0xE1 the target's interface the SYN arrives on
//	                        (its AcceptAny rule, its captures)
//	                   0xE2 the flow's number, 4 bytes big-endian (its
//	                        ISNs: both processes' captures agree)
//	                   0xE3 the path's interfaces, sender and receiver of
//	                        each hop: per interface a byte of length and
//	                        the node's name, a byte of length and the
//	                        interface's name (captures)
//	                   0xE4 the dialling node's name
//	answer           one byte: 'A' accepted (a listener queued it), 'R'
//	                 refused (no listener: RST); or none while the target
//	                 does not answer — powered off, its interface down,
//	                 the address not its own there. The owner holds the
//	                 SYN and answers when that changes, as a retransmitted
//	                 SYN would find it; the dialler gives up with its
//	                 context ('R' frame, see bridge.go) or retries when its
//	                 own network changes.
//	frames           bridge.go.
//
// A PROXY v2 LOCAL header is a probe (WatchPeers): the owner answers with
// the power state of the nodes it runs,
//
//	'P' count:u16 (len:u8 name powered:u8)*count
//
// and closes. The receiving process is the source of truth for its
// nodes: a flow whose target is powered off there, or whose ingress has
// no carrier or is partitioned from the dialler there, stalls there.

// TLV types of a flow's PROXY header: the PP2_TYPE_MIN_CUSTOM range.
const (
	tlvTarget  proxyproto.PP2Type = 0xE0
	tlvIngress proxyproto.PP2Type = 0xE1
	tlvFlow    proxyproto.PP2Type = 0xE2
	tlvPath    proxyproto.PP2Type = 0xE3
	tlvSource  proxyproto.PP2Type = 0xE4
)

// Handshake answers.
const (
	answerAccept = 'A'
	answerRefuse = 'R'
	answerProbe  = 'P'
)

// headerTimeout bounds the read of a PROXY header and of a probe's answer
// on a connection that says nothing.
const headerTimeout = 10 * time.Second

// SetRemote marks the node as run by another process, whose fabric
// listener (ServeFabric) is at addr ("host:port"); "" makes it local
// again. The node stays in this model, with its interfaces, addresses and
// MACs, so that routing and ARP go on deciding here: a flow whose path
// ends at it is carried to addr, an echo to it is answered from this
// model (Echo), and its interfaces show nothing to captures here.
// Flows already open keep their carrier.
func (n *Node) SetRemote(addr string) {
	if addr == "" {
		n.remote.Store(nil)
		return
	}
	n.remote.Store(&addr)
}

// Remote returns the fabric address of the process that runs the node, or
// "" if this one does.
func (n *Node) Remote() string {
	if p := n.remote.Load(); p != nil {
		return *p
	}
	return ""
}

func (n *Node) isRemote() bool { return n.remote.Load() != nil }

// linkClock is the clock of a bridge's link: the in-memory transport's,
// so that deadlines mean the same on both kinds of flow.
func (nw *Network) linkClock() clock.Clock {
	if t, ok := nw.transport.(MemTransport); ok {
		return t.Clock
	}
	return nil
}

// ServeFabric accepts flows from other processes on ln and delivers them
// to this process's nodes' listeners, as if they had arrived over the
// modelled network; it answers their probes (WatchPeers). It returns nil
// when ln is closed, and another error of ln's if it cannot go on. Flows
// accepted keep going after it returns.
func (nw *Network) ServeFabric(ln net.Listener) error {
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// Out of file descriptors and the like: as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go nw.serveConn(conn)
	}
}

// serveConn reads one connection's PROXY header and acts on it. Anything
// that is not a header this package writes is dropped.
func (nw *Network) serveConn(conn net.Conn) {
	br := bufio.NewReaderSize(conn, bridgeReadBuffer)
	_ = conn.SetReadDeadline(time.Now().Add(headerTimeout))
	h, err := proxyproto.Read(br)
	if err != nil || h.Version != 2 {
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	switch h.Command {
	case proxyproto.LOCAL:
		nw.answerProbe(conn)
		conn.Close()
	case proxyproto.PROXY:
		f, err := parseFlowHeader(h)
		if err != nil {
			conn.Close()
			return
		}
		nw.acceptFlow(conn, br, f)
	default:
		conn.Close()
	}
}

// ifaceRef names an interface of the model.
type ifaceRef struct{ node, iface string }

// flowHeader is what a flow's PROXY header says.
type flowHeader struct {
	src, dst        netip.AddrPort
	target, ingress string
	source          string
	gen             uint32
	path            []ifaceRef
}

var errHeader = errors.New("fabric: not a flow header")

func (f *flowHeader) encode() (*proxyproto.Header, error) {
	h := &proxyproto.Header{
		Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
		SourceAddr:      net.TCPAddrFromAddrPort(f.src),
		DestinationAddr: net.TCPAddrFromAddrPort(f.dst),
	}
	if !f.src.Addr().Is4() || !f.dst.Addr().Is4() {
		h.TransportProtocol = proxyproto.TCPv6
	}
	var gen [4]byte
	binary.BigEndian.PutUint32(gen[:], f.gen)
	var path []byte
	for _, r := range f.path {
		if len(r.node) > 255 || len(r.iface) > 255 {
			return nil, fmt.Errorf("fabric: name too long for a flow header: %s/%s", r.node, r.iface)
		}
		path = append(append(append(path, byte(len(r.node))), r.node...), byte(len(r.iface)))
		path = append(path, r.iface...)
	}
	err := h.SetTLVs([]proxyproto.TLV{
		{Type: tlvTarget, Value: []byte(f.target)},
		{Type: tlvIngress, Value: []byte(f.ingress)},
		{Type: tlvFlow, Value: gen[:]},
		{Type: tlvPath, Value: path},
		{Type: tlvSource, Value: []byte(f.source)},
	})
	return h, err
}

func parseFlowHeader(h *proxyproto.Header) (flowHeader, error) {
	var f flowHeader
	if h.TransportProtocol != proxyproto.TCPv4 && h.TransportProtocol != proxyproto.TCPv6 {
		return f, errHeader
	}
	src, dst, ok := h.TCPAddrs()
	if !ok {
		return f, errHeader
	}
	f.src, f.dst = src.AddrPort(), dst.AddrPort()
	f.src = netip.AddrPortFrom(f.src.Addr().Unmap(), f.src.Port())
	f.dst = netip.AddrPortFrom(f.dst.Addr().Unmap(), f.dst.Port())
	tlvs, err := h.TLVs()
	if err != nil {
		return f, err
	}
	haveGen := false
	for _, t := range tlvs {
		switch t.Type {
		case tlvTarget:
			f.target = string(t.Value)
		case tlvIngress:
			f.ingress = string(t.Value)
		case tlvSource:
			f.source = string(t.Value)
		case tlvFlow:
			if len(t.Value) != 4 {
				return f, errHeader
			}
			f.gen, haveGen = binary.BigEndian.Uint32(t.Value), true
		case tlvPath:
			v := t.Value
			next := func() (string, bool) {
				if len(v) == 0 || len(v) < 1+int(v[0]) {
					return "", false
				}
				s := string(v[1 : 1+v[0]])
				v = v[1+v[0]:]
				return s, true
			}
			for len(v) > 0 {
				node, ok1 := next()
				iface, ok2 := next()
				if !ok1 || !ok2 {
					return f, errHeader
				}
				f.path = append(f.path, ifaceRef{node, iface})
			}
		}
	}
	if f.target == "" || f.ingress == "" || !haveGen {
		return f, errHeader
	}
	return f, nil
}

// dialRemote is a dial whose path (p, fixed by dial) ends at a node that
// owner runs: the handshake over real TCP, without the flow lock. c is
// registered, pending.
func (n *Node) dialRemote(ctx context.Context, c *Conn, owner string, gen uint32, changed <-chan struct{}) (net.Conn, wait, error) {
	nw, p := n.net, c.path
	c.flow.init(nw, c.local, c.remote, n, p.target, p.ifaces, gen)
	c.flow.split = true
	c.wire = &c.flow
	blackhole := wait{changed: changed, retry: synRTO}
	f := flowHeader{src: c.local, dst: c.remote, target: p.target.name, ingress: p.ingress.name, source: n.name, gen: gen}
	for _, i := range p.ifaces {
		f.path = append(f.path, ifaceRef{i.node.name, i.name})
	}
	h, err := f.encode()
	if err != nil {
		n.forget(c)
		return nil, wait{}, err
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", owner)
	if err != nil {
		if err := ctx.Err(); err != nil {
			n.forget(c)
			return nil, wait{}, err
		}
		// The owner process takes no connections (stopped, not yet
		// started): nothing answers, as for a dead host.
		n.forget(c)
		return nil, blackhole, nil
	}
	if _, err := h.WriteTo(conn); err != nil {
		conn.Close()
		n.forget(c)
		return nil, blackhole, nil
	}
	br := bufio.NewReaderSize(conn, bridgeReadBuffer)
	answer := make(chan answerResult, 1)
	go func() {
		b, err := br.ReadByte()
		answer <- answerResult{b, err}
	}()
	// The answer may take as long as the target does not answer there.
	// The attempt ends with the caller's context, or when a change of
	// this network moves the dial's path: the retry follows the new one,
	// as a retransmitted SYN does.
	var r answerResult
	for done := false; !done; {
		select {
		case r = <-answer:
			done = true
		case <-ctx.Done():
			abandon(conn, br, answer)
			n.forget(c)
			return nil, wait{}, ctx.Err()
		case <-changed:
			fired := changed
			nw.reeval.Lock()
			q, err := n.pathTo(c.dialRouter, c.dialIface, c.remote.Addr(), false)
			moved := !n.Powered() || err != nil || q.target == nil || q.blocked || !q.sameAs(p)
			changed = nw.changed
			nw.reeval.Unlock()
			if moved {
				abandon(conn, br, answer)
				n.forget(c)
				return nil, wait{changed: fired}, nil
			}
		}
	}
	switch {
	case r.err != nil || (r.b != answerAccept && r.b != answerRefuse):
		// The owner dropped the SYN: it does not run the target (any
		// more), or it is going away.
		conn.Close()
		n.forget(c)
		return nil, blackhole, nil
	case r.b == answerRefuse:
		conn.Close()
		nw.refusedFrames(c.local, c.remote, n, p.target, p.ifaces, gen)
		n.forget(c)
		return nil, wait{}, ErrConnRefused
	}

	b := newBridge(nw, conn, br, 0)
	b.attach(c)
	c.onClose = func() { n.forget(c) }
	nw.reeval.Lock()
	c.pending.Store(false)
	b.start()
	c.wire.open()
	// The network may have changed during the handshake: the flow takes
	// its place as if it had been there.
	if n.Powered() {
		n.reevaluateFlowLocked(c)
	} else {
		c.pause(true)
	}
	nw.reeval.Unlock()
	return c, wait{setup: 2*p.latencyDelay() + p.resendDelay(synRTO)}, nil
}

// answerResult is the target process's answer to a dial.
type answerResult struct {
	b   byte
	err error
}

// abandon is a dialler giving up during the handshake: an 'R' frame tells
// the target process (which resets the flow if its listener has it
// already), then the connection is read to its end in the background.
func abandon(conn net.Conn, br *bufio.Reader, answer <-chan answerResult) {
	_ = conn.SetDeadline(time.Now().Add(headerTimeout))
	_, _ = conn.Write([]byte{frameRST, byte(rstAbort), 0})
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	go func() {
		<-answer
		_, _ = io.Copy(io.Discard, br)
		conn.Close()
	}()
}

// acceptFlow is the target's side of a flow from another process: it holds
// the SYN while the target does not answer here, then refuses it or hands
// it to the listener.
func (nw *Network) acceptFlow(conn net.Conn, br *bufio.Reader, f flowHeader) {
	target := nw.Node(f.target)
	var ingress *Interface
	if target != nil && !target.isRemote() {
		ingress = target.Interface(f.ingress)
	}
	if ingress == nil {
		conn.Close() // not ours: dropped
		return
	}
	peer := nw.Node(f.source)
	var ifaces []*Interface // the path in this model, for captures
	if peer != nil {
		ifaces = nw.resolvePath(f.path)
	}
	sp := path{src: f.src.Addr(), target: target, ingress: ingress, hops: max(len(ifaces)/2, 1)}
	// The path's faults here (latency, loss) are its interfaces' in this
	// model: the ingress at least, the dialler's process adds its own.
	sp.ifaces = ifaces
	if ifaces == nil {
		sp.ifaces = []*Interface{ingress}
	}

	b := newBridge(nw, conn, br, 1)
	b.startRecv()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		nw.reeval.Lock()
		if nw.answers(target, ingress, peer, f.dst.Addr()) {
			l := target.listener(f.dst.Port())
			if l == nil {
				nw.reeval.Unlock()
				nw.refusedFrames(f.src, f.dst, peer, target, ifaces, f.gen)
				b.refuse()
				return
			}
			s := &Conn{node: target, local: f.dst, remote: f.src, inbound: true, peer: peer, path: sp}
			s.flow.init(nw, f.src, f.dst, peer, target, ifaces, f.gen)
			s.flow.split = true
			s.wire = &s.flow
			b.attach(s)
			b.setOnDone(func() { nw.removeInbound(s) })
			nw.addInbound(s)
			s.wire.open()
			nw.reeval.Unlock()

			err := l.offer(ctx, s)
			if err == nil {
				// The server has the flow; the SYN-ACK takes the
				// path's injected latency and loss here.
				_ = nw.sleep(ctx, 2*sp.latencyDelay()+sp.resendDelay(synRTO))
				if !b.open() {
					// The dialler gave up meanwhile: its RST.
					s.wire.abort(0)
					b.pump.Reset()
					nw.removeInbound(s)
				}
				return
			}
			nw.removeInbound(s)
			switch {
			case err == ErrConnRefused && !target.Powered():
				// The target died while the SYN was queued: nothing
				// answers; hold it again.
				s.wire.stalled.Store(true)
				s.wire.silence()
				continue
			case err == ErrConnRefused:
				// A closed listener resets its queue.
				s.wire.abort(1)
				b.refuse()
				return
			default:
				conn.Close() // the dialler gave up
				return
			}
		}
		changed := nw.changed
		nw.reeval.Unlock()
		select {
		case <-changed:
		case <-b.gone:
			return
		}
	}
}

// answers reports whether target answers a packet for dst arriving on
// ingress from peer (nil: a node this model does not know): the target
// process's own view of its node, its interface and its faults. It needs
// the flow lock.
func (nw *Network) answers(target *Node, ingress *Interface, peer *Node, dst netip.Addr) bool {
	if !target.Powered() || !ingress.Up() || ingress.Segment() == nil || ingress.blackholes() || !target.owns(ingress, dst) {
		return false
	}
	return peer == nil || peer.Powered() && !nw.partitioned(peer, target)
}

// resolvePath finds a path's interfaces in this model; nil if one is
// missing.
func (nw *Network) resolvePath(refs []ifaceRef) []*Interface {
	if len(refs) == 0 || len(refs)%2 != 0 {
		return nil
	}
	out := make([]*Interface, 0, len(refs))
	for _, r := range refs {
		x := nw.Node(r.node)
		if x == nil {
			return nil
		}
		i := x.Interface(r.iface)
		if i == nil {
			return nil
		}
		out = append(out, i)
	}
	return out
}

func (nw *Network) addInbound(s *Conn) {
	nw.inMu.Lock()
	defer nw.inMu.Unlock()
	if nw.inbound == nil {
		nw.inbound = map[*Conn]struct{}{}
	}
	nw.inbound[s] = struct{}{}
}

func (nw *Network) removeInbound(s *Conn) {
	nw.inMu.Lock()
	defer nw.inMu.Unlock()
	delete(nw.inbound, s)
}

func (nw *Network) inboundList() []*Conn {
	nw.inMu.Lock()
	defer nw.inMu.Unlock()
	out := make([]*Conn, 0, len(nw.inbound))
	for s := range nw.inbound {
		out = append(out, s)
	}
	return out
}

// reevaluateInboundLocked stalls the flows from other processes whose
// target does not answer here any more, and resumes the others. It needs
// the flow lock.
func (nw *Network) reevaluateInboundLocked() {
	for _, s := range nw.inboundList() {
		s.pause(!nw.answers(s.node, s.path.ingress, s.peer, s.local.Addr()))
	}
}

// resetInboundLocked is n powering on: the flows from other processes that
// it took part in are reset, as in process (SetPowered). It needs the flow
// lock.
func (nw *Network) resetInboundLocked(n *Node) {
	for _, s := range nw.inboundList() {
		switch n {
		case s.node:
			s.wire.refuse(0, nil, n)
		case s.peer:
			s.wire.refuse(1, nil, n)
		default:
			continue
		}
		s.carrier.Reset()
		nw.removeInbound(s)
	}
}
