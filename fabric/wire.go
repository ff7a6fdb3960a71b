package fabric

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// tcpWire is a modelled flow as a capture sees it: the sequence numbers of
// its two ends and the segments that the model's events stand for — the
// handshake when it opens, data and ACKs when it is written, FIN on Close,
// RST on a reset. Both Conns of the flow share it. Segments are built only
// while a capture watches an interface of the flow's path; the byte
// counts are kept always, so that a capture started mid-flow shows the
// real sequence numbers (but for bytes written into a blackhole, which
// arrive unseen: leaving them out keeps the capture free of holes).
type tcpWire struct {
	nw   *Network
	addr [2]netip.AddrPort // end 0 dialled, end 1 accepted
	node [2]*Node
	// path is the dial path's interfaces (path.ifaces); hops are made
	// from it at the first segment, so that a flow nobody watches costs
	// no allocation.
	path []*Interface
	gen  uint32 // the flow's number on the dialling network
	// split is a flow whose ends live in two processes (remote.go): each
	// process keeps a wire of its own, fed by its bridge (bridge.go) with
	// the local end's segments as they leave and the remote end's as they
	// arrive, so that both count the same bytes and agree on sequence
	// numbers. Conn.Write and Conn.Close leave it to the bridge.
	split bool

	sent [2]atomic.Uint32 // payload bytes each end wrote, mod 2^32
	// stalled is set while the flow is blackholed: its bytes wait and
	// no segment crosses a link.
	stalled atomic.Bool

	// mu keeps a flow's segments in order (a write's segments are not
	// interleaved with another's) and guards what follows.
	mu sync.Mutex
	// hops[0] is the way from end 0 to end 1, hops[1] the way back; they,
	// the ISNs and the MSS are made at the first segment (readyLocked).
	hops [2][]hop
	isn  [2]uint32
	mss  int
	fin  [2]bool
	over bool // reset, or closed both ways: nothing more is sent
	// ending is how the flow was reset, once it was: what a bridge tells
	// the other process (bridge.go).
	ending rstInfo
}

// rstKind is how a flow was reset.
type rstKind uint8

const (
	// rstAbort: end sent RST (a Reset, a closed end answering data).
	rstAbort rstKind = iota + 1
	// rstRefuse: end's next segment was answered with RST by the other
	// end's node, which had forgotten the flow (tcpWire.refuse).
	rstRefuse
	// rstSilent: a node off the flow's old path answered (a new next
	// hop): nothing crossed the old path, the other end just lost the
	// flow.
	rstSilent
)

// rstInfo is a reset: its kind and the end it concerns (0 dialled, 1
// accepted).
type rstInfo struct {
	kind rstKind
	end  int
}

// ended returns how the flow was reset, if it was.
func (w *tcpWire) ended() (rstInfo, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ending, w.ending.kind != 0
}

// TCP flags of a segment.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// ackEvery is how many full segments the receiver takes before it ACKs:
// 40 of 1460 bytes stay within the 64240-byte window, so that Wireshark
// does not see the sender overrun it.
const ackEvery = 40

// init readies w, which the flow's Conn holds (no allocation of its own).
// gen is the flow's number (Network.flows), from which its ISNs derive: a
// split flow's two wires get the same one.
func (w *tcpWire) init(nw *Network, client, server netip.AddrPort, cn, sn *Node, ifaces []*Interface, gen uint32) {
	w.nw, w.addr, w.node, w.path, w.gen = nw, [2]netip.AddrPort{client, server}, [2]*Node{cn, sn}, ifaces, gen
}

// wayLocked returns the hops from end towards the other; it needs w.mu.
func (w *tcpWire) wayLocked(end int) []hop {
	w.readyLocked()
	return w.hops[end]
}

// readyLocked makes what segments need, once; it needs w.mu.
func (w *tcpWire) readyLocked() {
	if w.hops[0] == nil {
		// ISNs: a hash of the 4-tuple (RFC 6528) and the flow's number:
		// random-looking, another for a reconnection on the same ports,
		// and the same on every run of a test.
		w.isn[0] = fnv32(w.addr[0], w.addr[1]) + w.gen*0x9e3779b9
		w.isn[1] = fnv32(w.addr[1], w.addr[0]) + w.gen*0x9e3779b9
		w.hops[0] = hopsOf(w.path)
		w.hops[1] = back(w.hops[0])
		// The MSS of the smallest MTU on the way: 1460 on Ethernet,
		// 8960 on a jumbo-frame path.
		w.mss = 1460
		if len(w.hops[0]) > 0 {
			w.mss = 1<<16 - 1
			for _, h := range w.hops[0] {
				w.mss = min(w.mss, h.out.MTU()-40, h.in.MTU()-40)
			}
			w.mss = max(w.mss, 536)
		}
	}
}

// fnv32 is FNV-1a over two endpoints, without allocating.
func fnv32(a, b netip.AddrPort) uint32 {
	h := uint32(2166136261)
	for _, ap := range [2]netip.AddrPort{a, b} {
		ip := ap.Addr().As16()
		for _, c := range ip {
			h = (h ^ uint32(c)) * 16777619
		}
		h = (h ^ uint32(ap.Port()>>8)) * 16777619
		h = (h ^ uint32(ap.Port()&0xff)) * 16777619
	}
	return h
}

// next is the sequence number end sends next; a FIN takes one. It needs
// w.mu.
func (w *tcpWire) next(end int) uint32 {
	w.readyLocked()
	n := w.isn[end] + 1 + w.sent[end].Load()
	if w.fin[end] {
		n++
	}
	return n
}

// watched reports whether a capture sees the flow's links.
func (w *tcpWire) watched() bool {
	if !w.nw.capturing() {
		return false
	}
	for _, i := range w.path {
		if i.watched() {
			return true
		}
	}
	return false
}

// segment appends one segment of end from, sent by node along hs. f is
// where its frames go, tcpFrameLen bytes for every hop one after the other
// (the flow's scratch: whatever it held is overwritten), or nil for frames
// of their own.
func (w *tcpWire) segment(ds []delivery, f []byte, from int, hs []hop, node *Node, seq, ack uint32, flags int, payload []byte) []delivery {
	src, dst := w.addr[from], w.addr[1-from]
	if !src.Addr().Is4() || !dst.Addr().Is4() {
		return ds
	}
	id := node.ipID()
	if len(hs) == 0 {
		return ds
	}
	s := tcpSeg{srcMAC: hwAddr(hs[0].out), dstMAC: hwAddr(hs[0].in), src: src.Addr().As4(), dst: dst.Addr().As4(),
		ttl: node.cfg.TTL, id: id, sport: src.Port(), dport: dst.Port(), seq: seq, ack: ack, flags: flags, mss: w.mss}
	n := tcpFrameLen(flags, len(payload))
	if f == nil {
		f = make([]byte, n*len(hs))
	}
	first := f[:n:n]
	s.put(first, payload)
	for k, h := range hs {
		g := first
		if k > 0 {
			g = f[k*n : (k+1)*n : (k+1)*n]
			rehopInto(g, first, h, s.ttl-k)
		}
		ds = append(ds, delivery{iface: h.out, out: true, data: g}, delivery{iface: h.in, out: false, data: g})
	}
	return ds
}

// open is the three-way handshake.
func (w *tcpWire) open() {
	if w == nil || !w.watched() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readyLocked()
	var ds []delivery
	ds = w.segment(ds, nil, 0, w.hops[0], w.node[0], w.isn[0], 0, flagSYN, nil)
	ds = w.segment(ds, nil, 1, w.hops[1], w.node[1], w.isn[1], w.isn[0]+1, flagSYN|flagACK, nil)
	ds = w.segment(ds, nil, 0, w.hops[0], w.node[0], w.isn[0]+1, w.isn[1]+1, flagACK, nil)
	w.nw.deliver(ds)
}

// write is one write of b by end from: segments of at most the MSS, PSH
// on the last, and the receiver's ACKs.
func (w *tcpWire) write(from int, b []byte) {
	if w == nil || w.split {
		return
	}
	w.send(from, b, false)
}

// carried is what a split flow's bridge moves: b leaving the local end
// from, or arriving from the remote end from. Its bytes count even while
// the flow stalls here, because the other process saw them cross.
func (w *tcpWire) carried(from int, b []byte) { w.send(from, b, true) }

func (w *tcpWire) send(from int, b []byte, count bool) {
	if w.stalled.Load() {
		// Into the blackhole: see tcpWire.
		if count {
			w.sent[from].Add(uint32(len(b)))
		}
		return
	}
	if !w.watched() {
		w.sent[from].Add(uint32(len(b)))
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	seq := w.next(from)
	w.sent[from].Add(uint32(len(b)))
	if w.over || w.fin[from] || len(b) == 0 {
		return
	}
	to := 1 - from
	// The frames are built off the data path (pipeline.go): the writer
	// only copies its bytes into the capture queue, with the numbers
	// that fix the segments. A peer that has closed does not ACK: it
	// answers RST (Conn.Write).
	fwd, rev := w.wayLocked(from), w.wayLocked(to) // and the MSS
	j := w.nw.capture.pipe.writeJob(len(b))
	j.w, j.from, j.seq, j.ack, j.acks, j.fwd, j.rev = w, from, seq, w.next(to), !w.fin[to], fwd, rev
	j.data = append(j.data, b...)
	w.nw.enqueue(j)
}

// closeByApp is Conn.Close's FIN: a split flow's is sent by its bridge,
// after the bytes written before it.
func (w *tcpWire) closeByApp(from int) {
	if w != nil && !w.split {
		w.close(from)
	}
}

// close is end from's FIN and the peer's ACK of it.
func (w *tcpWire) close(from int) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over || w.fin[from] {
		return
	}
	seen := w.watched() && !w.stalled.Load()
	var seq uint32
	if seen {
		seq = w.next(from)
	}
	w.fin[from] = true
	w.over = w.fin[0] && w.fin[1]
	if !seen {
		return
	}
	to := 1 - from
	var ds []delivery
	ds = w.segment(ds, nil, from, w.wayLocked(from), w.node[from], seq, w.next(to), flagFIN|flagACK, nil)
	ds = w.segment(ds, nil, to, w.wayLocked(to), w.node[to], w.next(to), seq+1, flagACK, nil)
	w.nw.deliver(ds)
}

// abort is end from resetting the flow (RST).
func (w *tcpWire) abort(from int) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over {
		return
	}
	w.over = true
	w.ending = rstInfo{rstAbort, from}
	if !w.watched() || w.stalled.Load() {
		return
	}
	ds := w.segment(nil, nil, from, w.wayLocked(from), w.node[from], w.next(from), w.next(1-from), flagRST|flagACK, nil)
	w.nw.deliver(ds)
}

// refuse is a node that does not know the flow answering its next segment
// with RST: the new next hop after a route change (seed 001), a server
// that rebooted. The segment (an ACK from prober) goes along hs; the RST
// comes back the same way, from responder, which has no TCB: its sequence
// number is the ACK it got (RFC 793, "Reset Generation"). A stalled flow
// sends this too: the segment that finds the new path is a retransmission.
//
// hs nil is the flow's own way from prober.
func (w *tcpWire) refuse(prober int, hs []hop, responder *Node) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over {
		return
	}
	w.over = true
	w.ending = rstInfo{rstRefuse, prober}
	if hs != nil {
		w.ending.kind = rstSilent
	}
	if !w.nw.capturing() {
		return
	}
	if hs == nil {
		hs = w.wayLocked(prober)
	}
	if !watchedHops(hs) {
		return
	}
	seq, ack := w.next(prober), w.next(1-prober)
	ds := w.segment(nil, nil, prober, hs, w.node[prober], seq, ack, flagACK, nil)
	ds = w.segment(ds, nil, 1-prober, back(hs), responder, ack, 0, flagRST, nil)
	w.nw.deliver(ds)
}

// silence ends the flow without a segment: the other process's end was
// reset by a node off this end's path (rstSilent).
func (w *tcpWire) silence() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.over {
		w.over = true
		w.ending = rstInfo{rstSilent, 0}
	}
}

// refused is a SYN to a port nobody listens on and the target's RST.
func (n *Node) refused(port uint16, dst netip.AddrPort, p path) {
	if port == 0 {
		// The port the connection would have had.
		n.mu.RLock()
		port = n.ports
		n.mu.RUnlock()
	}
	n.net.refusedFrames(netip.AddrPortFrom(p.src, port), dst, n, p.target, p.ifaces, 0)
}

// refusedFrames shows a refused SYN from src to dst along ifaces (the
// dial path's). gen 0 takes the next flow number; a remote refusal
// (remote.go) gives the dialler's, so that both processes show the same
// ISN.
func (nw *Network) refusedFrames(src, dst netip.AddrPort, cn, sn *Node, ifaces []*Interface, gen uint32) {
	hs := hopsOf(ifaces)
	if !nw.capturing() || !watchedHops(hs) || cn == nil || sn == nil {
		return
	}
	if gen == 0 {
		gen = nw.flows.Add(1)
	}
	var w tcpWire // nobody else sees it: no lock
	w.init(nw, src, dst, cn, sn, ifaces, gen)
	w.readyLocked()
	ds := w.segment(nil, nil, 0, w.hops[0], cn, w.isn[0], 0, flagSYN, nil)
	ds = w.segment(ds, nil, 1, w.hops[1], sn, 0, w.isn[0]+1, flagRST|flagACK, nil)
	nw.deliver(ds)
}
