package sshd

import (
	"errors"
	"net"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// newSSHServer configures gliderlabs for the policy: a handler per offered
// method (x/crypto offers exactly the methods that have a callback), our
// session channel, nothing else.
func (s *Server) newSSHServer() *ssh.Server {
	a := &s.cfg.Auth
	srv := &ssh.Server{
		Version:         s.cfg.ServerVersion,
		ChannelHandlers: map[string]ssh.ChannelHandler{"session": s.handleSession},
		// No global requests (tcpip-forward, keepalive@openssh.com): all
		// are answered with failure, which OpenSSH takes as "alive".
		RequestHandlers:   map[string]ssh.RequestHandler{},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
		// The connection's state travels in its context from the accept
		// loop to the authentication log.
		ConnCallback: func(ctx ssh.Context, c net.Conn) net.Conn {
			if ic, ok := c.(*identConn); ok {
				s.mu.Lock()
				st := s.conns[ic.Conn]
				s.mu.Unlock()
				ctx.SetValue(connStateKey{}, st)
			}
			return c
		},
		ServerConfigCallback: func(ctx ssh.Context) *gossh.ServerConfig {
			st, _ := ctx.Value(connStateKey{}).(*connState)
			cfg := &gossh.ServerConfig{
				PublicKeyAuthAlgorithms: a.PublicKeyAlgorithms,
				MaxAuthTries:            a.MaxTries,
				AuthLogCallback: func(conn gossh.ConnMetadata, method string, err error) {
					if err == nil && st != nil {
						st.user.Store(conn.User())
						st.loggedIn.Store(true)
					}
					s.authLog(conn, method, err)
				},
			}
			if st != nil && paramikoFallback(a.Methods, st.clientVersion) {
				// See ident.go.
				cfg.PasswordCallback = func(conn gossh.ConnMetadata, password []byte) (*gossh.Permissions, error) {
					if !a.checkPassword(conn.User(), string(password)) {
						return nil, errors.New("permission denied")
					}
					return nil, nil
				}
			}
			return cfg
		},
	}
	if a.Methods.Has(PublicKey) {
		srv.PublicKeyHandler = func(ctx ssh.Context, key ssh.PublicKey) bool {
			return a.authorized(ctx.User(), key)
		}
	}
	if a.Methods.Has(KeyboardInteractive) {
		srv.KeyboardInteractiveHandler = func(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
			// PAM's single question, without echo.
			answers, err := challenge("", "", []string{a.PasswordPrompt}, []bool{false})
			if err != nil || len(answers) != 1 {
				return false
			}
			return a.checkPassword(ctx.User(), answers[0])
		}
	}
	if a.Methods.Has(Password) {
		srv.PasswordHandler = func(ctx ssh.Context, password string) bool {
			return a.checkPassword(ctx.User(), password)
		}
	}
	return srv
}

// authLog turns authentication attempts into events. Public key queries
// and "none" are probes every client makes before its real attempt, not
// failures worth an event; a publickey attempt is reported only when it
// succeeds.
func (s *Server) authLog(conn gossh.ConnMetadata, method string, err error) {
	if method == "none" {
		return
	}
	e := Event{User: conn.User(), Source: conn.RemoteAddr().String(), Method: method}
	switch {
	case err == nil:
		e.Kind = EventLogin
	case method == "publickey":
		return
	default:
		e.Kind = EventLoginFailed
		e.Error = err.Error()
	}
	s.emit(e)
}
