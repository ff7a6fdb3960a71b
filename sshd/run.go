package sshd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"runtime/debug"
	"sync"

	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/shell"
)

// Login is what the daemon knows of a session when it asks the policy for
// its shell (Config.Shell).
type Login struct {
	User string
	// Source and Local are the client's and the server's "ip:port".
	Source, Local string
	// PTY is set for a session with a terminal; Term is its TERM.
	PTY  bool
	Term string
	// Env is what sshd itself puts in the environment: the variables the
	// client sent that AcceptEnv allows, USER, LOGNAME, SSH_CLIENT,
	// SSH_CONNECTION, and TERM with a terminal. The policy adds what its
	// login shell and OS would (PATH, HOME, SHELL, SSH_TTY).
	Env map[string]string
}

func (ss *session) login(pty bool, term string, env map[string]string) Login {
	lhost, lport, _ := net.SplitHostPort(ss.local)
	rhost, rport, _ := net.SplitHostPort(ss.source)
	env["USER"] = ss.user
	env["LOGNAME"] = ss.user
	env["SSH_CLIENT"] = rhost + " " + rport + " " + lport
	env["SSH_CONNECTION"] = rhost + " " + rport + " " + lhost + " " + lport
	if pty {
		env["TERM"] = term
	}
	return Login{User: ss.user, Source: ss.source, Local: ss.local, PTY: pty, Term: term, Env: env}
}

// newShell builds the session's shell from the policy's description, with
// the daemon's command event after the policy's own hook.
func (ss *session) newShell(l Login) *shell.Session {
	srv := ss.srv
	cfg := srv.cfg.Shell(l)
	if cfg.Prompt == nil && srv.cfg.Prompt != nil {
		cfg.Prompt = func(cwd string) string { return srv.cfg.Prompt(l.User, cwd) }
	}
	own := cfg.OnCommand
	cfg.OnCommand = func(line string, status int) {
		if own != nil {
			own(line, status)
		}
		srv.emit(Event{Kind: EventCommand, User: l.User, Source: l.Source, Command: line, Exit: status})
	}
	return shell.NewSession(cfg)
}

// run runs the shell or the command, then reports the exit status and
// closes the channel. A panic ends this session only: the client gets a
// message on stderr and exit status 255.
func (ss *session) run(ctx context.Context, interactive bool, command string) {
	status := 255
	defer func() {
		_ = ss.ch.CloseWrite()
		_, _ = ss.ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{uint32(status)}))
		_ = ss.ch.Close()
	}()
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("%v", r)
			fmt.Fprintf(ss.ch.Stderr(), "%s: internal error, session closed: %s\r\n", ss.srv.cfg.Name, msg)
			ss.srv.emitSafe(Event{Kind: EventPanic, User: ss.user, Source: ss.source, Command: command,
				Error: msg + "\n" + string(debug.Stack())})
			status = 255
		}
	}()
	if !interactive && !ss.hang(ctx, command, true) {
		// The client gave up on a hung command: it never ran.
		return
	}
	ss.mu.Lock()
	pty, win, term := ss.pty, ss.win, ss.term
	env := maps.Clone(ss.env)
	ss.mu.Unlock()

	sh := ss.newShell(ss.login(pty, term, env))
	cut := &cutter{ss: ss, interactive: interactive}
	var stdout, stderr io.Writer = cut.writer(ss.ch), cut.writer(ss.ch.Stderr())
	if pty {
		// A terminal has one output stream, and its line discipline turns
		// "\n" into "\r\n" (onlcr).
		stdout = &crlfWriter{w: stdout}
		stderr = stdout
	}
	if !interactive {
		cut.arm(command, true)
		status = sh.Run(ctx, command, ss.ch, stdout, stderr)
		return
	}
	status = ss.interactive(ctx, sh, stdout, win, cut)
}

// interactive runs a login shell on the session's terminal: the MOTD, then
// the prompt loop. Window changes reach the shell's line editor as they
// come.
func (ss *session) interactive(ctx context.Context, sh *shell.Session, stdout io.Writer, win Window, cut *cutter) int {
	if motd := ss.srv.cfg.MOTD; motd != nil {
		if b := motd(); len(b) > 0 {
			_, _ = stdout.Write(b)
		}
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case w := <-ss.resized:
				sh.Resize(w.Cols, w.Rows)
			case <-stop:
				return
			}
		}
	}()
	// The line editor writes "\r\n" itself; stdout's onlcr leaves that
	// alone and fixes bare "\n" from commands. The input goes through the
	// gate of FaultHang and FaultDrop.
	rw := struct {
		io.Reader
		io.Writer
	}{newLineGate(ctx, ss, ss.ch, cut), stdout}
	return sh.Interactive(ctx, rw, win.Cols, win.Rows)
}

// crlfWriter translates "\n" to "\r\n" as a terminal's onlcr does, leaving
// an existing "\r\n" alone.
type crlfWriter struct {
	w    io.Writer
	mu   sync.Mutex
	last byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.IndexByte(p, '\n') < 0 {
		if len(p) > 0 {
			c.last = p[len(p)-1]
		}
		_, err := c.w.Write(p)
		return len(p), err
	}
	out := make([]byte, 0, len(p)+8)
	prev := c.last
	for _, b := range p {
		if b == '\n' && prev != '\r' {
			out = append(out, '\r')
		}
		out = append(out, b)
		prev = b
	}
	c.last = prev
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
