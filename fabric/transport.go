package fabric

import (
	"io"
	"os"
	"sync"
	"time"
)

// Transport carries the bytes of modelled flows. The in-memory transport
// joins nodes of one process; a transport over real TCP joins processes.
type Transport interface {
	// Carry returns the client and server ends of a new flow.
	Carry(f FlowInfo) (client, server Carrier)
}

// Carrier is one end of a flow's byte stream, with the TCP events the model
// needs beyond a plain stream.
type Carrier interface {
	io.ReadWriteCloser
	// Reset aborts the flow (RST): reads and writes on both ends fail.
	Reset()
	// Pause stops delivery in both directions while true (a blackhole):
	// written bytes wait, readers block, nobody is told.
	Pause(bool)
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// MemTransport carries flows through buffered in-process pipes. Buffered,
// because an unbuffered pipe (net.Pipe) deadlocks an SSH handshake.
type MemTransport struct{}

// memBufLimit bounds the bytes in flight one way, like a socket buffer.
const memBufLimit = 4 << 20

// Carry implements Transport.
func (MemTransport) Carry(FlowInfo) (Carrier, Carrier) {
	l := &link{}
	l.cond = sync.NewCond(&l.mu)
	return &memEnd{l: l, side: 0}, &memEnd{l: l, side: 1}
}

// link is the shared state of a pipe: one buffer per direction.
type link struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    [2][]byte // buf[i] holds bytes written by side i
	fin    [2]bool   // side i closed its write half
	closed [2]bool   // side i closed entirely
	reset  bool
	paused bool
	rdl    [2]time.Time
	wdl    [2]time.Time
	timers [2]*time.Timer
}

type memEnd struct {
	l    *link
	side int
}

func (e *memEnd) other() int { return 1 - e.side }

// wake re-checks every waiter; deadlines arm a timer that calls it.
func (l *link) wake() { l.cond.Broadcast() }

func (l *link) armLocked(side int) {
	var next time.Time
	for _, t := range []time.Time{l.rdl[side], l.wdl[side]} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if l.timers[side] != nil {
		l.timers[side].Stop()
		l.timers[side] = nil
	}
	if next.IsZero() {
		return
	}
	d := time.Until(next)
	if d < 0 {
		d = 0
	}
	l.timers[side] = time.AfterFunc(d, func() {
		l.mu.Lock()
		l.wake()
		l.mu.Unlock()
	})
}

func expired(t time.Time) bool { return !t.IsZero() && !time.Now().Before(t) }

func (e *memEnd) Read(b []byte) (int, error) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	o := e.other()
	for {
		switch {
		case l.reset:
			return 0, ErrConnReset
		case l.closed[e.side]:
			return 0, ErrClosed
		case expired(l.rdl[e.side]):
			return 0, os.ErrDeadlineExceeded
		case !l.paused && len(l.buf[o]) > 0:
			n := copy(b, l.buf[o])
			l.buf[o] = l.buf[o][n:]
			if len(l.buf[o]) == 0 {
				l.buf[o] = nil
			}
			l.wake()
			return n, nil
		case !l.paused && l.fin[o]:
			return 0, io.EOF
		}
		if len(b) == 0 {
			return 0, nil
		}
		l.cond.Wait()
	}
}

func (e *memEnd) Write(b []byte) (int, error) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	written := 0
	for written < len(b) {
		switch {
		case l.reset:
			return written, ErrConnReset
		case l.closed[e.side] || l.fin[e.side]:
			return written, ErrClosed
		case expired(l.wdl[e.side]):
			return written, os.ErrDeadlineExceeded
		case l.closed[e.other()] && !l.paused:
			// Writing to a peer that has gone: it answers RST.
			l.reset = true
			l.wake()
			return written, ErrConnReset
		}
		room := memBufLimit - len(l.buf[e.side])
		if room <= 0 {
			l.cond.Wait()
			continue
		}
		n := min(room, len(b)-written)
		l.buf[e.side] = append(l.buf[e.side], b[written:written+n]...)
		written += n
		l.wake()
	}
	return written, nil
}

// Close sends FIN and releases this end.
func (e *memEnd) Close() error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed[e.side] {
		return ErrClosed
	}
	l.closed[e.side] = true
	l.fin[e.side] = true
	if l.timers[e.side] != nil {
		l.timers[e.side].Stop()
	}
	l.wake()
	return nil
}

func (e *memEnd) Reset() {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reset = true
	l.wake()
}

func (e *memEnd) Pause(p bool) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paused = p
	l.wake()
}

func (e *memEnd) SetDeadline(t time.Time) error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rdl[e.side], l.wdl[e.side] = t, t
	l.armLocked(e.side)
	l.wake()
	return nil
}

func (e *memEnd) SetReadDeadline(t time.Time) error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rdl[e.side] = t
	l.armLocked(e.side)
	l.wake()
	return nil
}

func (e *memEnd) SetWriteDeadline(t time.Time) error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wdl[e.side] = t
	l.armLocked(e.side)
	l.wake()
	return nil
}
