package esxisim

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// The SSH server. gliderlabs/ssh does the handshake and authentication; the
// "session" channel is ours (session.go), because gliderlabs' session
// blocks its request loop on a window-change that arrives before the
// handler reads the window channel, and it cannot refuse subsystems
// explicitly or recover panics.
//
// The accept loop is ours too, so that Close can close connections still in
// their handshake and wait for every goroutine it started.

// identTimeout bounds the wait for a client's SSH identification line.
const identTimeout = 30 * time.Second

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("esxisim: server closed")

// pubKeyAlgorithms are the user key signature algorithms ESXi 8's sshd
// accepts: RSA with SHA-2 and ECDSA (certificates of those follow), never
// ed25519, which FIPS mode rejects (reference §8.4), nor SHA-1 "ssh-rsa",
// off by default since OpenSSH 8.8.
func pubKeyAlgorithms() []string {
	return []string{
		gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSASHA512,
		gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA384, gossh.KeyAlgoECDSA521,
	}
}

func (h *Host) newServer() *ssh.Server {
	srv := &ssh.Server{
		Version:                    h.cfg.ServerVersion,
		KeyboardInteractiveHandler: h.keyboardInteractive,
		PublicKeyHandler:           h.publicKey,
		ChannelHandlers:            map[string]ssh.ChannelHandler{"session": h.handleSession},
		// No global requests (tcpip-forward, keepalive@openssh.com): all
		// are answered with failure, which OpenSSH takes as "alive".
		RequestHandlers:   map[string]ssh.RequestHandler{},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
		// The connection's state travels in its context from the accept
		// loop to the authentication log.
		ConnCallback: func(ctx ssh.Context, c net.Conn) net.Conn {
			if ic, ok := c.(*identConn); ok {
				h.mu.Lock()
				st := h.conns[ic.Conn]
				h.mu.Unlock()
				ctx.SetValue(connStateKey{}, st)
			}
			return c
		},
		ServerConfigCallback: func(ctx ssh.Context) *gossh.ServerConfig {
			st, _ := ctx.Value(connStateKey{}).(*connState)
			cfg := &gossh.ServerConfig{
				PublicKeyAuthAlgorithms: pubKeyAlgorithms(),
				MaxAuthTries:            h.cfg.MaxAuthTries,
				AuthLogCallback: func(conn gossh.ConnMetadata, method string, err error) {
					if err == nil && st != nil {
						st.user.Store(conn.User())
						st.loggedIn.Store(true)
					}
					h.authLog(conn, method, err)
				},
			}
			if st != nil && isParamiko(st.clientVersion) {
				// See version.go. Replaced by gliderlabs when PasswordAuth
				// is on, with the same check.
				cfg.PasswordCallback = func(conn gossh.ConnMetadata, password []byte) (*gossh.Permissions, error) {
					if !h.checkPassword(conn.User(), string(password)) {
						return nil, errors.New("permission denied")
					}
					return nil, nil
				}
			}
			return cfg
		},
	}
	// ESXi offers "password" only if sshd_config says so; by default it
	// does not, and OpenSSH clients then end with "Permission denied
	// (publickey,keyboard-interactive)."
	if h.cfg.PasswordAuth {
		srv.PasswordHandler = func(ctx ssh.Context, password string) bool {
			return h.checkPassword(ctx.User(), password)
		}
	}
	return srv
}

func (h *Host) checkPassword(user, password string) bool {
	want, ok := h.cfg.Users[user]
	// Compare even for unknown users, so timing does not tell them apart.
	eq := subtle.ConstantTimeCompare([]byte(want.Password), []byte(password)) == 1
	return ok && eq
}

// keyboardInteractive asks PAM's single question, as ESXi's sshd does.
func (h *Host) keyboardInteractive(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	answers, err := challenge("", "", []string{"Password: "}, []bool{false})
	if err != nil || len(answers) != 1 {
		return false
	}
	return h.checkPassword(ctx.User(), answers[0])
}

// publicKey accepts the keys in /etc/ssh/keys-<user>/authorized_keys of the
// host's own filesystem, read at every attempt: a key appended from the
// shell works at once, as on ESXi.
func (h *Host) publicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	user := ctx.User()
	if _, ok := h.cfg.Users[user]; !ok || strings.ContainsAny(user, "/") {
		return false
	}
	data, err := h.fs.ReadFile(path.Join("/etc/ssh", "keys-"+user, "authorized_keys"))
	if err != nil {
		return false
	}
	for len(data) > 0 {
		pk, _, _, rest, err := gossh.ParseAuthorizedKey(data)
		if err != nil {
			break
		}
		if ssh.KeysEqual(pk, key) {
			return true
		}
		data = rest
	}
	return false
}

// authLog turns authentication attempts into events. Public key queries
// and "none" are probes every client makes before its real attempt, not
// failures worth an event; a publickey attempt is reported only when it
// succeeds.
func (h *Host) authLog(conn gossh.ConnMetadata, method string, err error) {
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
	h.emit(e)
}

// Start listens on Config.Addr and serves in the background. The listener
// is open when Start returns; connections made before the host keys are
// derived (the RSA key takes a moment) wait for them.
func (h *Host) Start() error {
	ln, err := net.Listen("tcp", h.cfg.Addr)
	if err != nil {
		return fmt.Errorf("esxisim: %s: %w", h.vm.Hostname(), err)
	}
	h.mu.Lock()
	switch {
	case h.closed:
		err = ErrServerClosed
	case h.ln != nil:
		err = errors.New("esxisim: already serving")
	default:
		h.ln = ln
		h.wg.Add(1)
	}
	h.mu.Unlock()
	if err != nil {
		ln.Close()
		return err
	}
	go func() {
		defer h.wg.Done()
		_ = h.serve(ln)
	}()
	return nil
}

// Serve accepts SSH connections on ln until Close, which closes ln. It
// returns ErrServerClosed after Close, or the listener's error.
func (h *Host) Serve(ln net.Listener) error {
	h.mu.Lock()
	var err error
	switch {
	case h.closed:
		err = ErrServerClosed
	case h.ln != nil:
		err = errors.New("esxisim: already serving")
	default:
		h.ln = ln
		h.wg.Add(1)
	}
	h.mu.Unlock()
	if err != nil {
		ln.Close()
		return err
	}
	defer h.wg.Done()
	return h.serve(ln)
}

func (h *Host) serve(ln net.Listener) error {
	defer ln.Close()
	if err := h.waitHostKeys(); err != nil {
		return err
	}
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if h.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE and the like: back off and retry, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-h.ctx.Done():
			}
			continue
		}
		delay = 0
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		st := &connState{source: c.RemoteAddr().String()}
		h.conns[c] = st
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			defer func() {
				h.mu.Lock()
				delete(h.conns, c)
				h.mu.Unlock()
				if st.loggedIn.Load() {
					user, _ := st.user.Load().(string)
					h.emitSafe(Event{Kind: EventLogout, User: user, Source: st.source})
				}
			}()
			// A panic in the handshake or auth code ends this connection
			// only.
			defer h.recoverConn(c)
			ic, ident, err := exchangeIdent(c, "SSH-2.0-"+h.cfg.ServerVersion, identTimeout)
			if err != nil {
				c.Close()
				return
			}
			st.clientVersion = ident
			h.srv.HandleConn(ic)
		}()
	}
}

func (h *Host) recoverConn(c net.Conn) {
	if r := recover(); r != nil {
		c.Close()
		h.emitSafe(Event{Kind: EventPanic, Source: c.RemoteAddr().String(), Error: fmt.Sprint(r)})
	}
}

// Addr returns the listener's address, nil before Start or Serve.
func (h *Host) Addr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return nil
	}
	return h.ln.Addr()
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close stops the server: it closes the listener and every connection
// (sessions end, their commands' contexts are cancelled) and waits for all
// the goroutines it started. Close is idempotent.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return nil
	}
	h.closed = true
	var err error
	if h.ln != nil {
		err = h.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	conns := make([]net.Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	h.cancel()
	for _, c := range conns {
		c.Close()
	}
	h.wg.Wait()
	h.ds.Close()
	<-h.rsaDone
	return err
}

// track registers a goroutine that Close must wait for; it returns false
// once Close has begun.
func (h *Host) track() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

func (h *Host) waitHostKeys() error {
	select {
	case <-h.rsaDone:
	case <-h.ctx.Done():
		return ErrServerClosed
	}
	if h.rsaErr != nil {
		return h.rsaErr
	}
	h.keysOnce.Do(func() {
		h.srv.AddHostKey(h.ecdsaKey)
		if h.rsaKey != nil {
			h.srv.AddHostKey(h.rsaKey)
		}
	})
	return nil
}

// HostKeys returns the host's public keys (ECDSA first, then RSA unless
// Config.ECDSAOnly), e.g. to write a known_hosts file. It waits for the
// RSA key's derivation.
func (h *Host) HostKeys() ([]gossh.PublicKey, error) {
	if err := h.waitHostKeys(); err != nil {
		return nil, err
	}
	keys := []gossh.PublicKey{h.ecdsaKey.PublicKey()}
	if h.rsaKey != nil {
		keys = append(keys, h.rsaKey.PublicKey())
	}
	return slices.Clip(keys), nil
}

// sessionContext is the context a session's commands run under: cancelled
// when the SSH channel or connection closes, or the host closes.
func (h *Host) sessionContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(h.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}
