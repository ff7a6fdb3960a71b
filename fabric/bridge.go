package fabric

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// A bridge carries one end of a split flow — one whose other end lives in
// another process (remote.go) — over a real TCP connection. The Conn's
// carrier is side 0 of an in-memory link; the bridge works side 1, so that
// deadlines, pauses, injected latency and the TCP events of the model work
// as for an in-memory flow: its sender (sendLoop) reads what the Conn
// wrote and frames it, its receiver (recvLoop) writes what arrives.
//
// Frames after the handshake (remote.go):
//
//	'D' len:u32 data   bytes of the sending end (1 ≤ len ≤ 64 KiB)
//	'F'                the sending end closed (FIN): the other reads EOF
//	'R' kind:u8 end:u8 the flow was reset (rstKind; end 0 dialled, 1 accepted)
//
// After an 'R' either way, or an 'F' both ways, each side half-closes the
// real connection and reads it to its end. A real connection that ends
// otherwise — the other process stopped, its container went away — is a
// blackhole: the Conn reads nothing, neither EOF nor a reset, and its
// writes fill the link and then wait, exactly as when a node powers off in
// process. Its user finds out by its own timeouts.
type bridge struct {
	nw   *Network
	conn net.Conn
	br   *bufio.Reader
	end  int // the local Conn's end of the flow: 0 dialled, 1 accepted

	// Set by attach, before the bridge carries anything.
	c     *Conn
	local *memEnd // the Conn's carrier
	pump  *memEnd // the bridge's side

	wmu sync.Mutex // one frame at a time on conn

	mu sync.Mutex
	// accepted: the handshake is done, frames are the flow's. Before
	// that (the accepting side's hold, remote.go) anything from the
	// dialler means it gave up, and gone is closed.
	accepted                           bool
	gone                               chan struct{}
	goneOnce                           sync.Once
	finSent, finRecv, rstSent, rstRecv bool
	shut                               bool

	dead     chan struct{} // closed when the real connection died
	deadOnce sync.Once
	loops    atomic.Int32
	onDone   func() // after both loops: the flow is over here
}

// Frame types.
const (
	frameData = 'D'
	frameFIN  = 'F'
	frameRST  = 'R'
)

// bridgeChunk is the most a data frame carries: an NFS WRITE's 64 KiB.
const bridgeChunk = 64 << 10

// chunks recycles the loops' buffers: a short flow (a reconnect, a probe
// of a port) would otherwise allocate 128 KiB per side.
var chunks = sync.Pool{New: func() any { return new([bridgeChunk]byte) }}

// bridgeReadBuffer is the real connection's read buffer: headers and
// frame heads; a data frame bigger than it is read past it, straight into
// the loop's chunk.
const bridgeReadBuffer = 4 << 10

func newBridge(nw *Network, conn net.Conn, br *bufio.Reader, end int) *bridge {
	return &bridge{nw: nw, conn: conn, br: br, end: end, gone: make(chan struct{}), dead: make(chan struct{})}
}

// attach makes c the bridge's flow end: its carrier becomes the link's
// side 0.
func (b *bridge) attach(c *Conn) {
	l := newLink(b.nw.linkClock())
	b.c, b.local, b.pump = c, &memEnd{l: l, side: 0}, &memEnd{l: l, side: 1}
	c.carrier = b.local
}

// start runs both loops of a dialled flow whose handshake is done.
func (b *bridge) start() {
	b.accepted = true
	b.loops.Add(2)
	go b.recvLoop()
	go b.sendLoop()
}

// startRecv runs the receiver alone: on the accepting side it watches the
// dialler during the hold, and carries the flow once open says so.
func (b *bridge) startRecv() {
	b.loops.Add(1)
	go b.recvLoop()
}

// open ends the accepting side's handshake: 'A', then the sender. It
// reports false if the dialler gave up first.
func (b *bridge) open() bool {
	b.mu.Lock()
	select {
	case <-b.gone:
		b.mu.Unlock()
		return false
	default:
	}
	b.accepted = true
	b.loops.Add(1)
	b.mu.Unlock()
	b.wmu.Lock()
	_, err := b.conn.Write([]byte{answerAccept})
	b.wmu.Unlock()
	if err != nil {
		b.die()
	}
	go b.sendLoop()
	return true
}

// refuse is the accepting side's RST to the SYN.
func (b *bridge) refuse() {
	b.wmu.Lock()
	_, _ = b.conn.Write([]byte{answerRefuse})
	b.wmu.Unlock()
	b.conn.Close()
}

// sendLoop moves what the Conn writes to the real connection, then its
// FIN or its reset.
func (b *bridge) sendLoop() {
	defer b.exit()
	chunk := chunks.Get().(*[bridgeChunk]byte)
	defer chunks.Put(chunk)
	buf := chunk[:]
	for {
		n, err := b.pump.Read(buf)
		if n > 0 {
			// The segments are seen before they can reach the peer.
			b.c.wire.carried(b.end, buf[:n])
			// A failed write is the connection dying: recvLoop sees it.
			_ = b.writeFrame(frameData, buf[:n])
		}
		switch {
		case err == nil:
			continue
		case err == io.EOF:
			// The Conn closed, and everything it wrote has left. It
			// may still be reset (Reset after Close) until the remote
			// end is done too.
			b.sendFIN()
			if b.pump.over() {
				b.sendReset()
			}
		case errors.Is(err, ErrConnReset):
			b.sendReset()
		case errors.Is(err, ErrClosed):
			// The remote end closed first: wait for this one.
			if reset, _ := b.pump.peerDone(false); reset {
				b.sendReset()
			} else {
				b.sendFIN()
			}
		case errors.Is(err, errDetached):
			// The connection died: the flow stays blackholed until
			// the Conn is done with it.
			b.pump.peerDone(true)
		}
		return
	}
}

// recvLoop delivers what arrives to the Conn.
func (b *bridge) recvLoop() {
	defer b.exit()
	chunk := chunks.Get().(*[bridgeChunk]byte)
	defer chunks.Put(chunk)
	buf := chunk[:]
	for {
		typ, data, rst, err := b.readFrame(buf)
		b.mu.Lock()
		if !b.accepted {
			b.mu.Unlock()
			// The dialler gave up (an 'R') or went away during the hold.
			b.goneOnce.Do(func() { close(b.gone) })
			b.conn.Close()
			return
		}
		finished := b.rstSent || b.rstRecv || (b.finSent && b.finRecv)
		b.mu.Unlock()
		if err != nil {
			if !finished {
				b.die()
			}
			return
		}
		if finished {
			continue // read to the end
		}
		switch typ {
		case frameData:
			b.c.wire.carried(1-b.end, data)
			_, err := b.pump.writeDelayed(data, b.c.path.transit())
			if errors.Is(err, ErrConnReset) {
				// Data for an end that had closed (it answers RST), or
				// a flow reset meanwhile.
				b.sendReset()
			}
		case frameFIN:
			b.c.wire.close(1 - b.end)
			b.mu.Lock()
			b.finRecv = true
			both := b.finSent
			b.mu.Unlock()
			_ = b.pump.Close() // the Conn reads EOF after the data
			if both {
				b.shutWrite()
			}
		case frameRST:
			b.mu.Lock()
			b.rstRecv = true
			b.mu.Unlock()
			w := b.c.wire
			switch rst.kind {
			case rstAbort:
				w.abort(rst.end)
			case rstRefuse:
				w.refuse(rst.end, nil, w.node[1-rst.end])
			default:
				w.silence()
			}
			b.pump.Reset()
			b.shutWrite()
		}
	}
}

// sendFIN sends the Conn's FIN.
func (b *bridge) sendFIN() {
	b.c.wire.close(b.end)
	_ = b.writeFrame(frameFIN, nil)
	b.mu.Lock()
	b.finSent = true
	both := b.finRecv
	b.mu.Unlock()
	if both {
		b.shutWrite()
	}
}

// sendReset tells the other process how the flow was reset here, unless
// the reset came from there.
func (b *bridge) sendReset() {
	b.mu.Lock()
	if b.rstSent || b.rstRecv {
		b.mu.Unlock()
		return
	}
	b.rstSent = true
	b.mu.Unlock()
	r := b.resetKind()
	if r.kind == rstAbort {
		// A reset the link made by itself (a closed end answering
		// data): the wire has not shown it yet.
		b.c.wire.abort(r.end)
	}
	_ = b.writeFrame(frameRST, []byte{byte(r.kind), byte(r.end)})
	b.shutWrite()
}

// resetKind is how the local link was reset.
func (b *bridge) resetKind() rstInfo {
	if b.local.resetSide() == b.pump.side {
		// The Conn wrote to a flow whose remote end had closed: that
		// end answered RST.
		return rstInfo{rstAbort, 1 - b.end}
	}
	if r, ok := b.c.wire.ended(); ok {
		return r // Reset, a re-evaluation, a power-on: the wire knows
	}
	// Data reached the Conn's end after it closed: it answered RST.
	return rstInfo{rstAbort, b.end}
}

// shutWrite half-closes the real connection: this side sends nothing more.
func (b *bridge) shutWrite() {
	b.mu.Lock()
	if b.shut {
		b.mu.Unlock()
		return
	}
	b.shut = true
	b.mu.Unlock()
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if cw, ok := b.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		b.conn.Close()
	}
}

// die is the real connection ending without the flow ending: a blackhole.
func (b *bridge) die() {
	b.deadOnce.Do(func() {
		close(b.dead)
		if b.pump != nil {
			b.pump.detach()
		}
		b.conn.Close()
	})
}

// exit is one loop ending; the last one closes the connection.
func (b *bridge) exit() {
	if b.loops.Add(-1) == 0 {
		b.conn.Close()
		b.mu.Lock()
		done := b.onDone
		b.mu.Unlock()
		if done != nil {
			done()
		}
	}
}

func (b *bridge) setOnDone(f func()) {
	b.mu.Lock()
	b.onDone = f
	b.mu.Unlock()
}

func (b *bridge) writeFrame(typ byte, data []byte) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	var hdr [5]byte
	hdr[0] = typ
	h := hdr[:1]
	switch typ {
	case frameData:
		binary.BigEndian.PutUint32(hdr[1:], uint32(len(data)))
		h = hdr[:5]
	case frameFIN:
		data = nil
	}
	bufs := net.Buffers{h, data}
	_, err := bufs.WriteTo(b.conn)
	return err
}

// errFrame is a frame that is not one: the connection is dropped, as if
// it had died.
var errFrame = errors.New("fabric: malformed frame")

// readFrame reads the next frame; data is valid until the next call.
func (b *bridge) readFrame(buf []byte) (typ byte, data []byte, rst rstInfo, err error) {
	typ, err = b.br.ReadByte()
	if err != nil {
		return 0, nil, rst, err
	}
	switch typ {
	case frameData:
		var l [4]byte
		if _, err := io.ReadFull(b.br, l[:]); err != nil {
			return 0, nil, rst, err
		}
		n := binary.BigEndian.Uint32(l[:])
		if n == 0 || n > uint32(len(buf)) {
			return 0, nil, rst, errFrame
		}
		if _, err := io.ReadFull(b.br, buf[:n]); err != nil {
			return 0, nil, rst, err
		}
		return typ, buf[:n], rst, nil
	case frameFIN:
		return typ, nil, rst, nil
	case frameRST:
		var a [2]byte
		if _, err := io.ReadFull(b.br, a[:]); err != nil {
			return 0, nil, rst, err
		}
		rst = rstInfo{rstKind(a[0]), int(a[1])}
		if rst.kind < rstAbort || rst.kind > rstSilent || rst.end > 1 {
			return 0, nil, rst, errFrame
		}
		return typ, nil, rst, nil
	}
	return 0, nil, rst, errFrame
}
