package shell

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/term"
	"mvdan.cc/sh/v3/syntax"
)

// keyInterrupt is the byte the input pump sends the line editor in place
// of Ctrl-C. x/term's ReadLine turns 0x03 into io.EOF and keeps the line,
// so Ctrl-C at the prompt is sent as this otherwise unused key (Ctrl-\,
// which ash ignores too) followed by Enter; the editor's completion hook
// marks the line abandoned and shows "^C".
const keyInterrupt = 0x1c

// Interactive runs a read-eval-print loop on a PTY channel: it prints
// Prompt(cwd), reads a line with history and editing, and runs it. It
// returns the exit status on `exit [n]`, on Ctrl-D at an empty prompt and
// when rw's input ends or ctx is done.
//
// Ctrl-C at the prompt abandons the line; while a command runs it cancels
// that command's context and the session carries on, as in ash. Input
// typed while a command runs is its standard input, echoed and cooked.
//
// A goroutine reads rw until its Read fails, which may be after Interactive
// returned: the caller closes the channel.
func (s *Session) Interactive(ctx context.Context, rw io.ReadWriter, width, height int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	in := newInputQueue()
	ia := &repl{s: s, in: in}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, rw}, "")
	ia.t = t
	t.History = &history{ia: ia}
	t.AutoCompleteCallback = ia.complete
	if width > 0 && height > 0 {
		_ = t.SetSize(width, height)
	}
	s.termMu.Lock()
	s.term = t
	s.termMu.Unlock()
	defer func() {
		s.termMu.Lock()
		s.term = nil
		s.termMu.Unlock()
	}()
	stop := context.AfterFunc(ctx, in.close)
	defer stop()
	go ia.pump(rw)

	name := "-" + s.cfg.Name
	status := 0
	var pending string // lines of an unfinished construct (if ...; then)
	for {
		prompt := s.cfg.Prompt(s.runner.Dir)
		if pending != "" {
			prompt = "> "
		}
		t.SetPrompt(prompt)
		line, err := t.ReadLine()
		if ia.lineInterrupted.Swap(false) {
			pending = ""
			continue
		}
		if err != nil {
			return status
		}
		src := pending + line
		f, perr := s.parse(src, name)
		if perr != nil && syntax.IsIncomplete(perr) {
			pending = src + "\n"
			continue
		}
		pending = ""
		if strings.TrimSpace(src) == "" {
			continue
		}
		exited := false
		if perr != nil {
			fmt.Fprintf(t, "%s: syntax error: %s\n", name, syntaxMessage(perr))
			status = 2
			s.setStatus(status)
		} else {
			status, exited = ia.run(ctx, f, name)
		}
		s.cfg.OnCommand(src, status)
		if exited || ctx.Err() != nil {
			return status
		}
	}
}

// Resize changes the terminal size of a running Interactive session, for
// SSH window-change requests. It does nothing when none runs.
func (s *Session) Resize(width, height int) {
	s.termMu.Lock()
	defer s.termMu.Unlock()
	if s.term != nil && width > 0 && height > 0 {
		_ = s.term.SetSize(width, height)
	}
}

// repl is the state of one Interactive call.
type repl struct {
	s  *Session
	in *inputQueue
	t  *term.Terminal

	mu          sync.Mutex
	cancelRun   context.CancelFunc // non-nil while a command line runs
	interrupted bool               // Ctrl-C ended the running line

	lineInterrupted atomic.Bool // the line being read was abandoned
}

// interruptKey carries a line's *caught into its commands' context.
type interruptKey struct{}

// caught records that the running command handled Ctrl-C itself.
type caught struct {
	handled atomic.Bool
	status  atomic.Int32
}

// CaughtInterrupt tells the interactive shell that the command running
// under ctx caught Ctrl-C itself, as tcpdump does (it prints its counters
// and exits normally): the shell then adds no newline of its own and the
// line's status is status, not 130. Outside an interactive line it does
// nothing.
func CaughtInterrupt(ctx context.Context, status int) {
	if c, ok := ctx.Value(interruptKey{}).(*caught); ok {
		c.status.Store(int32(status))
		c.handled.Store(true)
	}
}

// run runs one parsed line with a context Ctrl-C can cancel.
func (ia *repl) run(ctx context.Context, f *syntax.File, name string) (int, bool) {
	c := &caught{}
	runCtx, cancel := context.WithCancel(context.WithValue(ctx, interruptKey{}, c))
	defer cancel()
	ia.mu.Lock()
	ia.cancelRun, ia.interrupted = cancel, false
	ia.mu.Unlock()

	rs := &runState{name: name, stdin: &ttyReader{ia: ia, ctx: runCtx}, tty: true}
	out, errw := syncWriters(ia.t, ia.t)
	status, exited := ia.s.runFileExit(runCtx, f, nil, rs, out, errw)

	ia.mu.Lock()
	ia.cancelRun = nil
	interrupted := ia.interrupted
	ia.mu.Unlock()
	if interrupted && c.handled.Load() {
		st := int(c.status.Load())
		ia.s.setStatus(st)
		return st, false
	}
	if interrupted {
		_, _ = ia.t.Write([]byte("\n"))
		// 128 + SIGINT, as ash reports a job killed by Ctrl-C.
		ia.s.setStatus(130)
		return 130, false
	}
	return status, exited
}

// pump moves the channel's input to the line editor (or the running
// command), catching Ctrl-C on the way.
func (ia *repl) pump(r io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		start := 0
		for i, b := range buf[:n] {
			if b != 0x03 && b != keyInterrupt {
				continue
			}
			ia.in.write(buf[start:i])
			start = i + 1
			if b == 0x03 {
				ia.interrupt()
			}
		}
		ia.in.write(buf[start:n])
		if err != nil {
			ia.in.close()
			ia.mu.Lock()
			if ia.cancelRun != nil {
				ia.cancelRun()
			}
			ia.mu.Unlock()
			return
		}
	}
}

// interrupt handles Ctrl-C: it cancels the running command line, dropping
// type-ahead as the tty driver does, or else abandons the prompt's line.
func (ia *repl) interrupt() {
	ia.mu.Lock()
	if cancel := ia.cancelRun; cancel != nil {
		ia.cancelRun = nil
		ia.interrupted = true
		ia.mu.Unlock()
		ia.in.flush()
		_, _ = ia.t.Write([]byte("^C")) // before cancel: the newline follows it
		cancel()
		return
	}
	ia.mu.Unlock()
	ia.in.write([]byte{keyInterrupt, '\r'})
}

// complete is the line editor's key hook; it only acts on keyInterrupt.
func (ia *repl) complete(line string, _ int, key rune) (string, int, bool) {
	if key != keyInterrupt {
		return "", 0, false
	}
	ia.lineInterrupted.Store(true)
	line += "^C"
	return line, len(line), true
}

// history is the line editor's history: newest first, without blank or
// abandoned lines.
type history struct {
	ia      *repl
	entries []string
}

const historySize = 100

func (h *history) Add(entry string) {
	if strings.TrimSpace(entry) == "" || h.ia.lineInterrupted.Load() {
		return
	}
	h.entries = append([]string{entry}, h.entries...)
	if len(h.entries) > historySize {
		h.entries = h.entries[:historySize]
	}
}

func (h *history) Len() int          { return len(h.entries) }
func (h *history) At(idx int) string { return h.entries[idx] }

// inputQueue is an unbounded buffer between the pump and its readers, so
// the pump never blocks and always sees Ctrl-C.
type inputQueue struct {
	mu      sync.Mutex
	buf     []byte
	changed chan struct{} // closed and replaced on every write
	closed  bool
}

func newInputQueue() *inputQueue { return &inputQueue{changed: make(chan struct{})} }

func (q *inputQueue) write(p []byte) {
	if len(p) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buf = append(q.buf, p...)
	close(q.changed)
	q.changed = make(chan struct{})
}

func (q *inputQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.changed)
		q.changed = make(chan struct{})
	}
}

func (q *inputQueue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buf = nil
}

// Read is the line editor's input; it blocks until input or close.
func (q *inputQueue) Read(p []byte) (int, error) { return q.read(context.Background(), p) }

func (q *inputQueue) read(ctx context.Context, p []byte) (int, error) {
	for {
		q.mu.Lock()
		if len(q.buf) > 0 {
			n := copy(p, q.buf)
			q.buf = q.buf[n:]
			q.mu.Unlock()
			return n, nil
		}
		if q.closed {
			q.mu.Unlock()
			return 0, io.EOF
		}
		changed := q.changed
		q.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// ttyReader is a command's standard input at the prompt: the terminal in
// canonical mode, which echoes, erases with backspace, hands over whole
// lines and reads Ctrl-D at the start of a line as end of file.
type ttyReader struct {
	ia  *repl
	ctx context.Context

	mu    sync.Mutex
	line  []byte
	ready []byte
}

func (r *ttyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b [1]byte
	for len(r.ready) == 0 {
		if _, err := r.ia.in.read(r.ctx, b[:]); err != nil {
			return 0, err
		}
		switch b[0] {
		case '\r', '\n':
			r.ready, r.line = append(r.line, '\n'), nil
			r.echo("\n")
		case 0x04:
			if len(r.line) == 0 {
				return 0, io.EOF
			}
			r.ready, r.line = r.line, nil
		case 0x7f, 0x08:
			if len(r.line) > 0 {
				r.line = r.line[:len(r.line)-1]
				r.echo("\b \b")
			}
		default:
			r.line = append(r.line, b[0])
			r.echo(string(b[:]))
		}
	}
	n := copy(p, r.ready)
	r.ready = r.ready[n:]
	return n, nil
}

func (r *ttyReader) echo(s string) { _, _ = r.ia.t.Write([]byte(s)) }
