package shell

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bufPipe is a buffered, in-memory pipe: writes never block, reads block
// until data or Close. net.Pipe would deadlock the terminal's echo.
type bufPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	closed bool
}

func newBufPipe() *bufPipe {
	p := &bufPipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *bufPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *bufPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func (p *bufPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.cond.Broadcast()
	return nil
}

// terminal is the client side of an Interactive session.
type terminal struct {
	t      *testing.T
	in     *bufPipe // what the user types
	out    *bufPipe // what the session prints
	seen   strings.Builder
	done   chan int
	status int
}

func startInteractive(t *testing.T, e *testEnv) *terminal {
	term := &terminal{t: t, in: newBufPipe(), out: newBufPipe(), done: make(chan int, 1)}
	rw := struct {
		io.Reader
		io.Writer
	}{term.in, term.out}
	go func() {
		term.done <- e.s.Interactive(context.Background(), rw, 80, 24)
		term.out.Close()
	}()
	t.Cleanup(func() { term.in.Close() })
	return term
}

func (term *terminal) typeText(s string) {
	_, err := term.in.Write([]byte(s))
	require.NoError(term.t, err)
}

// expect reads the session's output until it contains want (after what
// earlier expects consumed) and returns everything read up to there.
func (term *terminal) expect(want string) string {
	term.t.Helper()
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 1024)
		for {
			if i := strings.Index(term.seen.String(), want); i >= 0 {
				s := term.seen.String()
				term.seen.Reset()
				term.seen.WriteString(s[i+len(want):])
				got <- s[:i+len(want)]
				return
			}
			n, err := term.out.Read(buf)
			term.seen.Write(buf[:n])
			if err != nil {
				got <- ""
				return
			}
		}
	}()
	select {
	case s := <-got:
		require.NotEmpty(term.t, s, "output ended before %q; saw %q", want, term.seen.String())
		return s
	case <-time.After(10 * time.Second):
		term.t.Fatalf("timed out waiting for %q", want)
		return ""
	}
}

func (term *terminal) wait() int {
	term.t.Helper()
	select {
	case st := <-term.done:
		return st
	case <-time.After(10 * time.Second):
		term.t.Fatal("Interactive did not return")
		return -1
	}
}

func TestInteractivePromptCdPipeExit(t *testing.T) {
	e := newEnv(t)
	var lines []string
	var mu sync.Mutex
	e.s.cfg.OnCommand = func(line string, status int) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, line)
	}
	term := startInteractive(t, e)
	term.expect("[root@esxi:~] ")
	term.typeText("cd /etc\r")
	term.expect("[root@esxi:/etc] ")
	term.typeText("echo hello | tr a-z A-Z\r")
	out := term.expect("[root@esxi:/etc] ")
	assert.Contains(t, out, "HELLO\r\n")
	term.typeText("nosuch\r")
	out = term.expect("[root@esxi:/etc] ")
	assert.Contains(t, out, "-sh: nosuch: not found\r\n")
	term.typeText("ls -d /etc /tmp; echo tty=$(ls /dev | wc -l)\r")
	out = term.expect("[root@esxi:/etc] ")
	assert.Contains(t, out, "/etc  /tmp\r\n")
	term.typeText("exit 3\r")
	assert.Equal(t, 3, term.wait())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"cd /etc", "echo hello | tr a-z A-Z", "nosuch", "ls -d /etc /tmp; echo tty=$(ls /dev | wc -l)", "exit 3"}, lines)
}

func TestInteractiveCtrlCAtPrompt(t *testing.T) {
	e := newEnv(t)
	term := startInteractive(t, e)
	term.expect("[root@esxi:~] ")
	term.typeText("echo abandoned\x03")
	out := term.expect("[root@esxi:~] ")
	assert.Contains(t, out, "echo abandoned^C\r\n")
	term.typeText("echo kept\r")
	out = term.expect("[root@esxi:~] ")
	assert.Contains(t, out, "kept\r\n")
	assert.NotContains(t, out, "abandoned")
	// The abandoned line is not in the history: Up brings back "echo kept".
	term.typeText("\x1b[A\r")
	out = term.expect("[root@esxi:~] ")
	assert.Contains(t, out, "kept\r\n")
	term.typeText("\x04") // Ctrl-D at an empty prompt ends the session
	assert.Equal(t, 0, term.wait())
}

func TestInteractiveCtrlCCancelsCommand(t *testing.T) {
	e := newEnv(t)
	term := startInteractive(t, e)
	term.expect("[root@esxi:~] ")
	term.typeText("sleep 100; echo not reached\r")
	require.NoError(t, e.clock.BlockUntilContext(context.Background(), 1))
	term.typeText("\x03")
	term.expect("^C")
	out := term.expect("[root@esxi:~] ")
	assert.Equal(t, "\r\n[root@esxi:~] ", out)
	term.typeText("echo status=$?\r")
	out = term.expect("[root@esxi:~] ")
	assert.Contains(t, out, "status=130\r\n")
	term.in.Close() // the client went away
	assert.Equal(t, 0, term.wait())
}

func TestInteractiveContinuationAndSyntaxError(t *testing.T) {
	e := newEnv(t)
	term := startInteractive(t, e)
	term.expect("[root@esxi:~] ")
	term.typeText("if true; then\r")
	term.expect("> ")
	term.typeText("echo inside\r")
	term.expect("> ")
	term.typeText("fi\r")
	out := term.expect("[root@esxi:~] ")
	assert.Contains(t, out, "inside\r\n")
	term.typeText("fi\r")
	out = term.expect("[root@esxi:~] ")
	assert.Contains(t, out, "-sh: syntax error: unexpected \"fi\"\r\n")
	term.typeText("exit\r")
	assert.Equal(t, 2, term.wait())
}

func TestInteractiveCommandReadsTerminal(t *testing.T) {
	e := newEnv(t)
	var tty bool
	e.reg.Register("/bin/ask", func(ctx context.Context, inv *Invocation) int {
		tty = inv.TTY
		io.WriteString(inv.Stdout, "continue? ")
		buf := make([]byte, 16)
		n, _ := inv.Stdin.Read(buf)
		io.WriteString(inv.Stdout, "answer="+string(buf[:n]))
		return 0
	})
	term := startInteractive(t, e)
	term.expect("[root@esxi:~] ")
	term.typeText("ask\r")
	term.expect("continue? ")
	term.typeText("yx\x7f\r")
	out := term.expect("[root@esxi:~] ")
	assert.Contains(t, out, "answer=y\r\n")
	assert.True(t, tty)
	e.s.Resize(120, 40)
	term.typeText("exit\r")
	assert.Equal(t, 0, term.wait())
}

func TestResizeWithoutTerminal(t *testing.T) {
	e := newEnv(t)
	e.s.Resize(100, 30) // no Interactive running: nothing happens
}
