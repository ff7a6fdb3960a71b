package esxisim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/shell"
)

// connState is what the server knows of one TCP connection: whether it
// logged in, as whom, for the logout event.
type connState struct {
	source string
	// clientVersion is the client's SSH identification string.
	clientVersion string

	loggedIn atomic.Bool
	user     atomic.Value // string
}

type connStateKey struct{}

// Window is a terminal size in characters.
type Window struct {
	Cols, Rows int
}

// sshSession is one "session" channel: at most one shell, exec or
// subsystem request, preceded by pty-req and env requests.
type sshSession struct {
	h      *Host
	ch     gossh.Channel
	user   string
	source string
	local  string

	mu      sync.Mutex
	env     map[string]string
	pty     bool
	term    string
	win     Window
	started bool
	// resized receives the latest size without ever blocking the request
	// loop: a window-change that nobody reads yet (the shell has not
	// started) replaces the pending one.
	resized chan Window
}

// handleSession is gliderlabs' ChannelHandler for "session" channels.
func (h *Host) handleSession(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, sctx ssh.Context) {
	if !h.track() {
		_ = nc.Reject(gossh.ResourceShortage, "server closing")
		return
	}
	defer h.wg.Done()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	s := &sshSession{
		h: h, ch: ch,
		user:    conn.User(),
		source:  conn.RemoteAddr().String(),
		local:   conn.LocalAddr().String(),
		env:     map[string]string{},
		resized: make(chan Window, 1),
	}
	ctx, cancel := h.sessionContext(sctx)
	defer cancel()
	var done chan struct{}
	for req := range reqs {
		ok := false
		switch req.Type {
		case "pty-req":
			ok = s.ptyReq(req.Payload)
		case "window-change":
			ok = s.windowChange(req.Payload)
		case "env":
			var kv struct{ Name, Value string }
			if gossh.Unmarshal(req.Payload, &kv) == nil && !s.isStarted() {
				s.mu.Lock()
				s.env[kv.Name] = kv.Value
				s.mu.Unlock()
				ok = true
			}
		case "shell", "exec":
			var cmd struct{ Command string }
			if req.Type == "exec" && gossh.Unmarshal(req.Payload, &cmd) != nil {
				break
			}
			s.mu.Lock()
			if !s.started {
				s.started, ok = true, true
			}
			s.mu.Unlock()
			if ok {
				// Reply before the command can finish and close the
				// channel, or the client sees the channel gone instead of
				// its reply.
				if req.WantReply {
					_ = req.Reply(true, nil)
				}
				done = make(chan struct{})
				interactive := req.Type == "shell"
				go func() {
					defer close(done)
					s.run(ctx, interactive, cmd.Command)
				}()
				continue
			}
		case "signal":
			// Only INT would matter (Ctrl-C without a PTY); OpenSSH's
			// client never sends it. Accepted and ignored, like sshd
			// without a process to signal.
			ok = true
		default:
			// "subsystem" (sftp), "x11-req", "auth-agent-req@openssh.com",
			// "break": refused, the client reports it and carries on.
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
	// The client closed the channel (or the connection went): stop the
	// command and wait for it.
	cancel()
	if done != nil {
		<-done
	}
}

func (s *sshSession) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

func (s *sshSession) ptyReq(payload []byte) bool {
	var p struct {
		Term                 string
		Cols, Rows, PxW, PxH uint32
		Modes                string
	}
	if gossh.Unmarshal(payload, &p) != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.pty {
		return false
	}
	s.pty, s.term = true, p.Term
	s.win = Window{Cols: int(p.Cols), Rows: int(p.Rows)}
	return true
}

func (s *sshSession) windowChange(payload []byte) bool {
	var p struct{ Cols, Rows, PxW, PxH uint32 }
	if gossh.Unmarshal(payload, &p) != nil {
		return false
	}
	w := Window{Cols: int(p.Cols), Rows: int(p.Rows)}
	s.mu.Lock()
	s.win = w
	s.mu.Unlock()
	for {
		select {
		case s.resized <- w:
			return true
		default:
		}
		select {
		case <-s.resized:
		default:
		}
	}
}

// run runs the shell or the command, then reports the exit status and
// closes the channel. A panic ends this session only: the client gets a
// message on stderr and exit status 255.
func (s *sshSession) run(ctx context.Context, interactive bool, command string) {
	status := 255
	defer func() {
		_ = s.ch.CloseWrite()
		_, _ = s.ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{uint32(status)}))
		_ = s.ch.Close()
	}()
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("%v", r)
			fmt.Fprintf(s.ch.Stderr(), "esxisim: internal error, session closed: %s\r\n", msg)
			s.h.emitSafe(Event{Kind: EventPanic, User: s.user, Source: s.source, Command: command,
				Error: msg + "\n" + string(debug.Stack())})
			status = 255
		}
	}()
	s.mu.Lock()
	pty, win, term := s.pty, s.win, s.term
	env := map[string]string{}
	for k, v := range s.env {
		env[k] = v
	}
	s.mu.Unlock()

	pid := s.h.nextPID.Add(1)
	sess := s.h.newShell(s, env, pty, term, pid)
	var stdout, stderr io.Writer = s.ch, s.ch.Stderr()
	if pty {
		// A terminal has one output stream, and its line discipline turns
		// "\n" into "\r\n" (onlcr).
		stdout = &crlfWriter{w: s.ch}
		stderr = stdout
	}
	if !interactive {
		status = sess.Run(ctx, command, s.ch, stdout, stderr)
		return
	}
	status = s.h.interactive(ctx, sess, s, stdout, win)
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

// loginEnv is the environment sshd and the login shell give a session.
func (h *Host) loginEnv(s *sshSession, env map[string]string, pty bool, term string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		// sshd accepts only what AcceptEnv allows; ESXi's config allows
		// nothing beyond the terminal's locale. Keep LANG/LC_* only.
		if k == "LANG" || strings.HasPrefix(k, "LC_") {
			out[k] = v
		}
	}
	lhost, lport, _ := net.SplitHostPort(s.local)
	rhost, rport, _ := net.SplitHostPort(s.source)
	out["PATH"] = "/bin:/sbin"
	out["HOME"] = "/"
	out["USER"] = s.user
	out["LOGNAME"] = s.user
	out["SHELL"] = "/bin/sh"
	out["SSH_CLIENT"] = rhost + " " + rport + " " + lport
	out["SSH_CONNECTION"] = rhost + " " + rport + " " + lhost + " " + lport
	if pty {
		out["TERM"] = term
		out["SSH_TTY"] = "/dev/char/pty/t0"
	}
	return out
}

// newShell starts the busybox shell of one SSH session.
func (h *Host) newShell(s *sshSession, env map[string]string, pty bool, term string, pid int64) *shell.Session {
	user := s.user
	return shell.NewSession(shell.Config{
		FS:       h.fs,
		Commands: h.reg,
		Clock:    h.clock,
		Env:      h.loginEnv(s, env, pty, term),
		Dir:      "/",
		Hostname: h.vm.Hostname,
		Uname:    h.uname,
		Prompt:   func(cwd string) string { return h.Prompt(user, cwd) },
		OnCommand: func(line string, status int) {
			h.logShell(pid, user, line)
			h.emit(Event{Kind: EventCommand, User: user, Source: s.source, Command: line, Exit: status})
		},
		// An interactive shell prefixes "-" itself, as a login shell.
		Name: "sh",
	})
}
