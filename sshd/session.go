package sshd

import (
	"context"
	"sync"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Window is a terminal size in characters.
type Window struct {
	Cols, Rows int
}

// session is one "session" channel: at most one shell or exec request,
// preceded by pty-req and env requests.
type session struct {
	srv    *Server
	conn   *gossh.ServerConn // closed abruptly by FaultDrop
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
func (s *Server) handleSession(_ *ssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, sctx ssh.Context) {
	if !s.track() {
		_ = nc.Reject(gossh.ResourceShortage, "server closing")
		return
	}
	defer s.wg.Done()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	ss := &session{
		srv: s, ch: ch, conn: conn,
		user:    conn.User(),
		source:  conn.RemoteAddr().String(),
		local:   conn.LocalAddr().String(),
		env:     map[string]string{},
		resized: make(chan Window, 1),
	}
	// Commands run under a context cancelled when the channel or the
	// connection closes, or the server closes.
	ctx, cancel := context.WithCancel(sctx)
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	defer cancel()
	var done chan struct{}
	for req := range reqs {
		ok := false
		switch req.Type {
		case "pty-req":
			ok = ss.ptyReq(req.Payload)
		case "window-change":
			ok = ss.windowChange(req.Payload)
		case "env":
			ok = ss.setenv(req.Payload)
		case "shell", "exec":
			var cmd struct{ Command string }
			if req.Type == "exec" && gossh.Unmarshal(req.Payload, &cmd) != nil {
				break
			}
			ss.mu.Lock()
			if !ss.started {
				ss.started, ok = true, true
			}
			ss.mu.Unlock()
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
					ss.run(ctx, interactive, cmd.Command)
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

// setenv keeps the variables AcceptEnv allows. Others are acknowledged
// all the same and dropped: clients carry on either way, and the session
// has always answered so.
func (ss *session) setenv(payload []byte) bool {
	var kv struct{ Name, Value string }
	if gossh.Unmarshal(payload, &kv) != nil {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.started {
		return false
	}
	for _, pat := range ss.srv.cfg.AcceptEnv {
		if matchPattern(pat, kv.Name) {
			ss.env[kv.Name] = kv.Value
			break
		}
	}
	return true
}

func (ss *session) ptyReq(payload []byte) bool {
	var p struct {
		Term                 string
		Cols, Rows, PxW, PxH uint32
		Modes                string
	}
	if gossh.Unmarshal(payload, &p) != nil {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.started || ss.pty {
		return false
	}
	ss.pty, ss.term = true, p.Term
	ss.win = Window{Cols: int(p.Cols), Rows: int(p.Rows)}
	return true
}

func (ss *session) windowChange(payload []byte) bool {
	var p struct{ Cols, Rows, PxW, PxH uint32 }
	if gossh.Unmarshal(payload, &p) != nil {
		return false
	}
	w := Window{Cols: int(p.Cols), Rows: int(p.Rows)}
	ss.mu.Lock()
	ss.win = w
	ss.mu.Unlock()
	for {
		select {
		case ss.resized <- w:
			return true
		default:
		}
		select {
		case <-ss.resized:
		default:
		}
	}
}

// matchPattern is OpenSSH's match_pattern: "*" matches any run of
// characters, "?" any one (unlike path.Match, "/" included).
func matchPattern(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if matchPattern(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
		default:
			if len(s) == 0 || s[0] != pat[0] {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return len(s) == 0
}
