package fabric

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// Deadline kinds, indexing link.dl and link.timers.
const (
	rd = iota
	wr
)

// stopper is the part of time.Timer and clockwork.Timer the link needs.
type stopper interface{ Stop() bool }

// link is the shared state of an in-memory flow: one buffer per direction,
// under one lock, with one condition variable every waiter re-checks.
type link struct {
	clk clock.Clock // nil: wall time

	mu     sync.Mutex
	cond   *sync.Cond
	buf    [2]bytes.Buffer // buf[i] holds bytes written by side i, unread
	closed [2]bool         // side i closed (FIN sent; it reads and writes no more)
	reset  bool
	// resetBy is the side whose end caused the reset: the one that called
	// Reset, or the closed end that a write reached (it answers RST). A
	// bridge (bridge.go) tells the other process which end that was.
	resetBy int
	paused  bool
	// detached[i] is set when side i's user is gone: a bridge whose real
	// connection died. Its reads and writes fail with errDetached; the
	// other side sees nothing, as a blackhole shows nothing.
	detached [2]bool
	// One deadline and one timer per side and kind: a single timer for the
	// earlier of the two would leave the later deadline without a wake-up.
	dl     [2][2]time.Time
	timers [2][2]stopper

	// Bytes on the wire (injected latency or loss, see fault.go): buf[i]
	// holds them already, but the reader may take only those before
	// wire[i][0].start. sent[i] counts every byte side i wrote, so that
	// offsets in buf are sent[i]-buf[i].Len() onwards.
	sent [2]int64
	wire [2][]flight
	// arrival wakes readers when wire[i][0] is due; arrivalGen tells a
	// stale timer from the current one.
	arrival    [2]stopper
	arrivalGen [2]uint64
}

// flight is a run of bytes that arrives at due: those from offset start
// up to the next flight's start.
type flight struct {
	start int64
	due   time.Time
}

func newLink(c clock.Clock) *link {
	l := &link{clk: c}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *link) now() time.Time {
	if l.clk == nil {
		return time.Now()
	}
	return l.clk.Now()
}

func (l *link) afterFunc(d time.Duration, f func()) stopper {
	if l.clk == nil {
		return time.AfterFunc(d, f)
	}
	return l.clk.AfterFunc(d, f)
}

// expiredLocked reports whether side's deadline of kind k has passed.
func (l *link) expiredLocked(side, k int) bool {
	t := l.dl[side][k]
	return !t.IsZero() && !l.now().Before(t)
}

// setDeadlineLocked records a deadline and arms a timer that wakes the
// waiters when it passes. A dead end arms nothing: its operations fail at
// once, and a timer would only keep the link alive.
func (l *link) setDeadlineLocked(side, k int, t time.Time) {
	l.dl[side][k] = t
	l.stopLocked(side, k)
	if !t.IsZero() && !l.reset && !l.closed[side] {
		if d := t.Sub(l.now()); d > 0 {
			l.timers[side][k] = l.afterFunc(d, func() { l.fire(side, k, t) })
		}
	}
	l.cond.Broadcast()
}

// fire runs when a deadline's timer goes off. A clock whose timers can run
// ahead of its Now (scaled time) gets the timer re-armed for the rest.
func (l *link) fire(side, k int, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dl[side][k].Equal(t) {
		return // replaced since
	}
	l.timers[side][k] = nil
	if !l.expiredLocked(side, k) {
		l.setDeadlineLocked(side, k, t)
		return
	}
	l.cond.Broadcast()
}

func (l *link) stopLocked(side, k int) {
	if tm := l.timers[side][k]; tm != nil {
		tm.Stop()
		l.timers[side][k] = nil
	}
}

func (l *link) stopAllLocked(side int) {
	l.stopLocked(side, rd)
	l.stopLocked(side, wr)
}

type memEnd struct {
	l    *link
	side int
}

func (e *memEnd) other() int { return 1 - e.side }

func (e *memEnd) Read(b []byte) (int, error) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	me, o := e.side, e.other()
	for {
		switch {
		case l.detached[me]:
			return 0, errDetached
		case l.closed[me]:
			return 0, ErrClosed
		case l.reset:
			return 0, ErrConnReset
		case l.expiredLocked(me, rd):
			return 0, os.ErrDeadlineExceeded
		case l.paused:
			// Blackholed: nothing arrives, not even a FIN.
		case l.buf[o].Len() > 0:
			// bytes.Buffer reuses its array once drained, so a steady
			// stream does not allocate.
			if r := l.arrivedLocked(o); r > 0 {
				n, _ := l.buf[o].Read(b[:min(len(b), r)])
				l.cond.Broadcast()
				return n, nil
			}
			// Still on the wire, and the FIN behind it: wait for the
			// arrival timer.
		case l.closed[o]:
			return 0, io.EOF
		}
		if len(b) == 0 {
			return 0, nil
		}
		l.cond.Wait()
	}
}

func (e *memEnd) Write(b []byte) (int, error) { return e.writeDelayed(b, 0) }

// writeDelayed writes b to arrive d from now, and never before the bytes
// written earlier: TCP delivers in order.
func (e *memEnd) writeDelayed(b []byte, d time.Duration) (int, error) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	me, o := e.side, e.other()
	var due time.Time // zero: now
	if d > 0 {
		due = l.now().Add(d)
	}
	written := 0
	for {
		switch {
		case l.detached[me]:
			return written, errDetached
		case l.closed[me]:
			return written, ErrClosed
		case l.reset:
			return written, ErrConnReset
		case l.expiredLocked(me, wr):
			return written, os.ErrDeadlineExceeded
		case l.closed[o] && !l.paused:
			// Writing to a peer that has gone: it answers RST.
			l.resetLocked(o)
			return written, ErrConnReset
		}
		if written == len(b) {
			return written, nil
		}
		room := memBufLimit - l.buf[me].Len()
		if room <= 0 {
			l.cond.Wait()
			continue
		}
		n := min(room, len(b)-written)
		l.onWireLocked(me, due)
		l.buf[me].Write(b[written : written+n])
		l.sent[me] += int64(n)
		written += n
		l.cond.Broadcast()
	}
}

// Close sends FIN and releases this end: the peer reads the bytes already
// written, then EOF. Bytes sent to this end and not read are dropped.
func (e *memEnd) Close() error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed[e.side] {
		return ErrClosed
	}
	l.closed[e.side] = true
	l.buf[e.other()] = bytes.Buffer{} // free it, not just empty it
	l.landLocked(e.other())
	l.stopAllLocked(e.side)
	l.cond.Broadcast()
	return nil
}

func (e *memEnd) Reset() {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.reset {
		l.resetLocked(e.side)
	}
}

func (l *link) resetLocked(by int) {
	l.reset = true
	l.resetBy = by
	l.buf = [2]bytes.Buffer{}
	l.landLocked(0)
	l.landLocked(1)
	l.stopAllLocked(0)
	l.stopAllLocked(1)
	l.cond.Broadcast()
}

// detach marks this end's user gone (see link.detached) and wakes it.
func (e *memEnd) detach() {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.detached[e.side] = true
	l.cond.Broadcast()
}

// peerDone waits until the other end is done with the flow: reset, or
// closed (FIN) while the flow is not paused — a FIN does not cross a
// blackhole, unless ignorePause. It reports whether the flow was reset,
// and by which side.
func (e *memEnd) peerDone(ignorePause bool) (reset bool, by int) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		switch {
		case l.reset:
			return true, l.resetBy
		case l.closed[e.other()] && (ignorePause || !l.paused):
			return false, 0
		}
		l.cond.Wait()
	}
}

// over waits until this end has nothing more to do: the flow reset, this
// end closed or detached. It reports whether the flow was reset.
func (e *memEnd) over() (reset bool) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		switch {
		case l.reset:
			return true
		case l.closed[e.side], l.detached[e.side]:
			return false
		}
		l.cond.Wait()
	}
}

// resetSide reports which side caused the reset (see link.resetBy).
func (e *memEnd) resetSide() int {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.resetBy
}

func (e *memEnd) Pause(p bool) {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused != p {
		l.paused = p
		l.cond.Broadcast()
	}
}

func (e *memEnd) SetDeadline(t time.Time) error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setDeadlineLocked(e.side, rd, t)
	l.setDeadlineLocked(e.side, wr, t)
	return nil
}

func (e *memEnd) SetReadDeadline(t time.Time) error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setDeadlineLocked(e.side, rd, t)
	return nil
}

func (e *memEnd) SetWriteDeadline(t time.Time) error {
	l := e.l
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setDeadlineLocked(e.side, wr, t)
	return nil
}

// onWireLocked records that the bytes side is about to write arrive at
// due (zero: now), or with the last bytes still on the wire if those come
// later. Without bytes on the wire, bytes due now are plain buffered bytes:
// the common case costs no clock reading.
func (l *link) onWireLocked(side int, due time.Time) {
	if due.IsZero() && len(l.wire[side]) == 0 {
		return
	}
	l.pruneLocked(side)
	w := l.wire[side]
	switch {
	case len(w) == 0 && !due.After(l.now()):
	case len(w) > 0 && !due.After(w[len(w)-1].due):
		// They join the last run: TCP does not reorder.
	default:
		l.wire[side] = append(w, flight{start: l.sent[side], due: due})
		if len(w) == 0 {
			l.armArrivalLocked(side)
		}
	}
}

// pruneLocked drops the runs that have arrived.
func (l *link) pruneLocked(side int) {
	w := l.wire[side]
	if len(w) == 0 {
		return
	}
	now := l.now()
	k := 0
	for k < len(w) && !now.Before(w[k].due) {
		k++
	}
	if k == len(w) {
		l.wire[side] = w[:0]
	} else if k > 0 {
		l.wire[side] = append(w[:0], w[k:]...)
	}
}

// arrivedLocked is how many of side's unread bytes have arrived.
func (l *link) arrivedLocked(side int) int {
	l.pruneLocked(side)
	n := l.buf[side].Len()
	if len(l.wire[side]) == 0 {
		return n
	}
	unread := l.sent[side] - int64(n)
	return int(l.wire[side][0].start - unread)
}

// armArrivalLocked sets the timer that wakes readers when side's first
// run on the wire arrives.
func (l *link) armArrivalLocked(side int) {
	if t := l.arrival[side]; t != nil {
		t.Stop()
	}
	l.arrivalGen[side]++
	gen := l.arrivalGen[side]
	l.arrival[side] = l.afterFunc(l.wire[side][0].due.Sub(l.now()), func() { l.arrive(side, gen) })
}

// arrive runs when a run is due: readers wake, and the timer is set for
// the next run. A clock whose timers run ahead of its Now (scaled time)
// finds the run not due yet and re-arms.
func (l *link) arrive(side int, gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.arrivalGen[side] {
		return
	}
	l.arrival[side] = nil
	l.pruneLocked(side)
	if len(l.wire[side]) > 0 {
		l.armArrivalLocked(side)
	}
	l.cond.Broadcast()
}

// landLocked forgets side's bytes on the wire (they were dropped).
func (l *link) landLocked(side int) {
	l.wire[side] = nil
	if t := l.arrival[side]; t != nil {
		t.Stop()
		l.arrival[side] = nil
	}
	l.arrivalGen[side]++
}
