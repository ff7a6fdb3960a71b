package sshd

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FaultKind is what a Fault breaks.
type FaultKind int

// The faults a server can be given (Server.AddFault).
const (
	// FaultRefuse resets each new TCP connection before the SSH banner:
	// OpenSSH reports "Connection reset by peer" (or "Connection
	// closed"). One hit per connection.
	FaultRefuse FaultKind = iota + 1
	// FaultSlow holds the server's identification banner back for Delay
	// on the server's clock, as an overloaded sshd does. One hit per
	// connection.
	FaultSlow
	// FaultDrop closes a session's TCP connection right after the first
	// write of a command line's output: the client gets that much, then
	// the connection ends without an exit status, as when the network
	// goes. One hit per session cut.
	FaultDrop
	// FaultHang keeps a command line from running: it blocks until the
	// client closes the channel or the connection, or the fault is
	// removed, when it runs as usual. One hit per command line.
	FaultHang
)

func (k FaultKind) String() string {
	switch k {
	case FaultRefuse:
		return "refuse"
	case FaultSlow:
		return "slow"
	case FaultDrop:
		return "drop"
	case FaultHang:
		return "hang"
	}
	return "unknown"
}

// Fault is a standing fault of a server.
type Fault struct {
	Kind FaultKind
	// Delay is FaultSlow's wait.
	Delay time.Duration
	// Command restricts FaultHang and FaultDrop to command lines that
	// start with it (an exec request's command, a line typed at the
	// prompt); "" matches any. A line edited with keys the server does not
	// follow (arrows, history, completion) matches only "".
	Command string
	// Count, if positive, is how many hits the fault makes; then it stops
	// acting, and OnExhausted (if set) is called once, in its own
	// goroutine, when the last hit is over: at once for FaultRefuse and
	// FaultDrop, after the wait for FaultSlow, and for FaultHang when the
	// hung command is released. A hit already made is not undone by the
	// fault running out: only remove releases it.
	Count       int
	OnExhausted func()
}

// faultSet holds a server's standing faults, oldest first.
type faultSet struct {
	mu   sync.Mutex
	list []*standing
	// n is len(list): the connection and session paths pay one atomic
	// load when there is no fault.
	n atomic.Int32
}

// standing is an added Fault and its hits.
type standing struct {
	f    Fault
	hits int // guarded by faultSet.mu
	// open counts hits whose work is not over (a hung command, a slow
	// banner). Guarded by faultSet.mu.
	open    int
	set     *faultSet
	removed chan struct{}
	once    sync.Once // remove
	spent   sync.Once // OnExhausted
}

// AddFault makes the server misbehave as f says, alongside any other
// faults. remove undoes it (idempotent): commands it hangs run, banners it
// holds back go out. hits counts what it has hit so far. Each hit is
// reported as an EventFault.
func (s *Server) AddFault(f Fault) (remove func(), hits func() int) {
	fs := &s.faults
	st := &standing{f: f, set: fs, removed: make(chan struct{})}
	fs.mu.Lock()
	fs.list = append(fs.list, st)
	fs.n.Store(int32(len(fs.list)))
	fs.mu.Unlock()
	remove = func() {
		st.once.Do(func() {
			fs.mu.Lock()
			for i, x := range fs.list {
				if x == st {
					fs.list = append(fs.list[:i:i], fs.list[i+1:]...)
					break
				}
			}
			fs.n.Store(int32(len(fs.list)))
			fs.mu.Unlock()
			close(st.removed)
		})
	}
	hits = func() int {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return st.hits
	}
	return remove, hits
}

// take finds the oldest fault of kind that still acts and matches line,
// and counts a hit on it; nil if none. known says whether line is what was
// really typed.
func (fs *faultSet) take(kind FaultKind, line string, known bool) *standing {
	if fs.n.Load() == 0 {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, st := range fs.list {
		f := &st.f
		if f.Kind != kind || (f.Count > 0 && st.hits >= f.Count) {
			continue
		}
		if f.Command != "" && (!known || !strings.HasPrefix(line, f.Command)) {
			continue
		}
		st.hits++
		st.open++
		return st
	}
	return nil
}

// done ends a hit's work; the last one of a counted fault calls
// OnExhausted.
func (st *standing) done() {
	fs := st.set
	fs.mu.Lock()
	st.open--
	spent := st.f.Count > 0 && st.hits >= st.f.Count && st.open == 0
	fs.mu.Unlock()
	if spent && st.f.OnExhausted != nil {
		st.spent.Do(func() { go st.f.OnExhausted() })
	}
}

// faultEvent reports a hit.
func (s *Server) faultEvent(k FaultKind, user, source, command string) {
	s.emitSafe(Event{Kind: EventFault, Detail: k.String(), User: user, Source: source, Command: command})
}

// connFaults applies FaultRefuse and FaultSlow to a new connection; false
// if the connection was refused.
func (s *Server) connFaults(c net.Conn) bool {
	if st := s.faults.take(FaultRefuse, "", false); st != nil {
		s.faultEvent(FaultRefuse, "", c.RemoteAddr().String(), "")
		abort(c)
		st.done()
		return false
	}
	if st := s.faults.take(FaultSlow, "", false); st != nil {
		s.faultEvent(FaultSlow, "", c.RemoteAddr().String(), "")
		t := s.cfg.Clock.NewTimer(st.f.Delay)
		select {
		case <-t.Chan():
		case <-st.removed:
		case <-s.ctx.Done():
		}
		t.Stop()
		st.done()
	}
	return true
}

// abort closes c with an RST rather than a FIN: SO_LINGER 0 on a TCP
// socket, Reset on a modelled flow (package fabric).
func abort(c net.Conn) {
	switch x := c.(type) {
	case *net.TCPConn:
		_ = x.SetLinger(0)
	case interface{ Reset() }:
		x.Reset()
		return
	}
	_ = c.Close()
}

// hang holds a command line while a FaultHang takes it: until the fault is
// removed (true: run it) or ctx ends with the channel (false).
func (ss *session) hang(ctx context.Context, line string, known bool) bool {
	st := ss.srv.faults.take(FaultHang, line, known)
	if st == nil {
		return true
	}
	defer st.done()
	ss.srv.faultEvent(FaultHang, ss.user, ss.source, line)
	select {
	case <-st.removed:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// cutter implements FaultDrop for one session: it watches the output and,
// at the first write of a command line's output, asks the faults whether
// to cut the connection after it.
type cutter struct {
	ss          *session
	interactive bool

	mu    sync.Mutex
	armed bool // a command line runs and has not written yet
	line  string
	known bool
	// echoed: the line editor has echoed the Enter (interactive only).
	// Everything the editor writes up to it, typed characters included,
	// ends with "\r\n": the command's output comes after.
	echoed bool
}

// arm starts watching for a command line's first output.
func (c *cutter) arm(line string, known bool) {
	c.mu.Lock()
	c.armed, c.line, c.known, c.echoed = true, line, known, !c.interactive
	c.mu.Unlock()
}

// check is called before each write: the fault that cuts the connection
// after it, or nil.
func (c *cutter) check(p []byte) *standing {
	if len(p) == 0 || c.ss.srv.faults.n.Load() == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return nil
	}
	if !c.echoed {
		c.echoed = strings.HasSuffix(string(p), "\r\n")
		return nil
	}
	c.armed = false
	return c.ss.srv.faults.take(FaultDrop, c.line, c.known)
}

// writer wraps one of the session's output streams.
func (c *cutter) writer(w io.Writer) io.Writer { return &cutWriter{c: c, w: w} }

type cutWriter struct {
	c *cutter
	w io.Writer
}

func (cw *cutWriter) Write(p []byte) (int, error) {
	st := cw.c.check(p)
	n, err := cw.w.Write(p)
	if st != nil {
		// x/crypto has flushed the packet to the socket when Write
		// returns; a plain close (FIN, not RST) lets it arrive, where an
		// RST would let the kernel discard it.
		ss := cw.c.ss
		ss.srv.faultEvent(FaultDrop, ss.user, ss.source, cw.c.line)
		_ = ss.conn.Close()
		st.done()
	}
	return n, err
}

// lineGate stands between the channel and an interactive shell. It
// follows the keys typed to know each command line when Enter comes, and
// holds the Enter back while a FaultHang takes the line: the shell has
// echoed what was typed and runs nothing. It follows what x/term's line
// editor does with printable characters, backspace, Ctrl-U, Ctrl-W and
// Ctrl-C; after other editing keys (arrows, history, completion) the line
// is unknown, and only faults for any command take it.
type lineGate struct {
	ss  *session
	ctx context.Context
	r   io.Reader
	cut *cutter

	buf     [4096]byte
	pending []byte
	err     error

	line    []byte
	known   bool
	escape  bool // inside an escape sequence
	csi     bool // ... after "ESC ["
	afterCR bool // the last byte was '\r': a '\n' after it is the same Enter
	checked bool // the Enter at pending[0] has been through the faults
}

func newLineGate(ctx context.Context, ss *session, r io.Reader, cut *cutter) *lineGate {
	return &lineGate{ss: ss, ctx: ctx, r: r, cut: cut, known: true}
}

func (g *lineGate) Read(p []byte) (int, error) {
	if len(g.pending) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		n, err := g.r.Read(g.buf[:])
		g.pending, g.err = g.buf[:n], err
		if n == 0 {
			return 0, err
		}
	}
	n := 0
	for n < len(p) && len(g.pending) > 0 {
		b := g.pending[0]
		if g.isEnter(b) && !g.checked {
			if n > 0 {
				// Hand over the line first, then decide on its Enter.
				break
			}
			if !g.ss.hang(g.ctx, string(g.line), g.known) {
				return 0, io.EOF
			}
			g.cut.arm(string(g.line), g.known)
			g.checked = true
		}
		g.track(b)
		p[n] = b
		n++
		g.pending = g.pending[1:]
	}
	return n, nil
}

func (g *lineGate) isEnter(b byte) bool {
	return b == '\r' || (b == '\n' && !g.afterCR)
}

// track follows the line editor through one key.
func (g *lineGate) track(b byte) {
	wasCR := g.afterCR
	g.afterCR = b == '\r'
	switch {
	case g.escape:
		// ESC O x, ESC [ params final: the final byte ends it.
		switch {
		case g.csi:
			g.escape = b < 0x40 || b > 0x7e
		case b == '[':
			g.csi = true
		default:
			g.escape = false
		}
	case b == 0x1b:
		g.escape, g.csi, g.known = true, false, false
	case b == '\r' || b == '\n':
		if b == '\n' && wasCR {
			return
		}
		g.line, g.known, g.checked = g.line[:0], true, false
	case b == 0x7f || b == 0x08:
		if len(g.line) > 0 {
			g.line = g.line[:len(g.line)-1]
		}
	case b == 0x15 || b == 0x03 || b == 0x1c:
		// Ctrl-U kills the line (the cursor is at its end while we
		// know it); Ctrl-C abandons it.
		g.line, g.known = g.line[:0], true
	case b == 0x17:
		// Ctrl-W: the word before the cursor, and the spaces after it.
		s := strings.TrimRight(string(g.line), " ")
		g.line = g.line[:strings.LastIndexByte(s, ' ')+1]
	case b == 0x0c || b == 0x04:
		// Ctrl-L redraws; Ctrl-D at the end of a line deletes nothing.
	case b < 0x20:
		// Tab, Ctrl-A/E/K/B/F...: the editor moved or changed the line.
		g.known = false
	default:
		g.line = append(g.line, b)
	}
}
