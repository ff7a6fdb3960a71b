// Package sshd models an OpenSSH daemon serving a shell.Session per
// session channel: the part an ESXi host and a Nutanix CVM have in common.
// What tells them apart (methods offered, users, MOTD, prompt, the shell
// and its commands, the identification string) is the Config.
//
// A Server is used like an httptest.Server:
//
//	srv, err := sshd.New(cfg)
//	err = srv.Start()    // Config.Addr, default 127.0.0.1 on a free port
//	addr := srv.Addr()   // the real listener
//	defer srv.Close()    // closes every connection and waits for them
//
// gliderlabs/ssh does the handshake and authentication; the "session"
// channel is ours (session.go), because gliderlabs' session blocks its
// request loop on a window-change that arrives before the handler reads
// the window channel, and it cannot refuse subsystems explicitly or
// recover panics. The accept loop is ours too, so that Close can close
// connections still in their handshake and wait for every goroutine it
// started.
//
// AddFault (fault.go) makes a server misbehave on command, as the lab's
// fault injection needs: refused connections, a slow banner, sessions cut
// mid-output, hung commands.
package sshd

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// identTimeout bounds the wait for a client's SSH identification line.
const identTimeout = 30 * time.Second

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("sshd: server closed")

// Server is one SSH daemon.
type Server struct {
	cfg Config
	srv *ssh.Server

	ecdsaKey gossh.Signer
	rsaKey   gossh.Signer
	rsaErr   error
	rsaDone  chan struct{}
	keysOnce sync.Once

	// ctx is cancelled by Close: sessions' commands stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	ln     net.Listener
	conns  map[net.Conn]*connState
	wg     sync.WaitGroup

	faults faultSet // see fault.go
}

// New prepares a server; it does not listen: call Start or Serve. The RSA
// host key is derived in the background from here on, so that servers
// built one after another derive theirs in parallel.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Shell == nil {
		return nil, errors.New("sshd: Config.Shell is required")
	}
	if cfg.Auth.Methods&(PublicKey|KeyboardInteractive|Password) == 0 {
		// gliderlabs would let everyone in without authentication.
		return nil, errors.New("sshd: Config.Auth.Methods offers no method")
	}
	if cfg.HostKeySeed == "" {
		return nil, errors.New("sshd: Config.HostKeySeed is required")
	}
	s := &Server{
		cfg:     cfg,
		conns:   map[net.Conn]*connState{},
		rsaDone: make(chan struct{}),
	}
	var err error
	if s.ecdsaKey, err = ecdsaHostKey(cfg.HostKeySeed); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.ECDSAOnly {
		close(s.rsaDone)
	} else {
		seed := cfg.RSAKeySeed
		if seed == "" {
			seed = cfg.HostKeySeed
		}
		go func() {
			defer close(s.rsaDone)
			if cfg.Keyring != nil {
				s.rsaKey, s.rsaErr = cfg.Keyring.RSA(seed)
			} else {
				s.rsaKey, s.rsaErr = rsaHostKey(seed)
			}
		}()
	}
	s.srv = s.newSSHServer()
	return s, nil
}

// Start listens on Config.Addr and serves in the background. The listener
// is open when Start returns; connections made before the host keys are
// derived (the RSA key takes a moment) wait for them.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	if err := s.adopt(ln); err != nil {
		return err
	}
	go func() {
		defer s.wg.Done()
		_ = s.serve(ln)
	}()
	return nil
}

// Serve accepts SSH connections on ln until Close, which closes ln. It
// returns ErrServerClosed after Close, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.adopt(ln); err != nil {
		return err
	}
	defer s.wg.Done()
	return s.serve(ln)
}

// adopt makes ln the server's one listener and counts its accept loop in
// wg; it closes ln if the server is closed or already serving.
func (s *Server) adopt(ln net.Listener) error {
	s.mu.Lock()
	var err error
	switch {
	case s.closed:
		err = ErrServerClosed
	case s.ln != nil:
		err = errors.New("sshd: already serving")
	default:
		s.ln = ln
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if err != nil {
		ln.Close()
	}
	return err
}

func (s *Server) serve(ln net.Listener) error {
	defer ln.Close()
	if err := s.waitHostKeys(); err != nil {
		return err
	}
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE and the like: back off and retry, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
			}
			continue
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return ErrServerClosed
		}
		st := &connState{source: c.RemoteAddr().String()}
		s.conns[c] = st
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handleConn(c, st)
		}()
	}
}

// Addr returns the listener's address, nil before Start or Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops the server: it closes the listener and every connection
// (sessions end, their commands' contexts are cancelled) and waits for all
// the goroutines it started, the host key derivation included. Close is
// idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		<-s.rsaDone
		return nil
	}
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	<-s.rsaDone
	return err
}

// track registers a goroutine that Close must wait for; it returns false
// once Close has begun.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) waitHostKeys() error {
	select {
	case <-s.rsaDone:
	case <-s.ctx.Done():
		return ErrServerClosed
	}
	if s.rsaErr != nil {
		return s.rsaErr
	}
	s.keysOnce.Do(func() {
		s.srv.AddHostKey(s.ecdsaKey)
		if s.rsaKey != nil {
			s.srv.AddHostKey(s.rsaKey)
		}
	})
	return nil
}

// HostKeys returns the server's public keys (ECDSA first, then RSA unless
// Config.ECDSAOnly), e.g. to write a known_hosts file. It waits for the
// RSA key's derivation.
func (s *Server) HostKeys() ([]gossh.PublicKey, error) {
	if err := s.waitHostKeys(); err != nil {
		return nil, err
	}
	keys := []gossh.PublicKey{s.ecdsaKey.PublicKey()}
	if s.rsaKey != nil {
		keys = append(keys, s.rsaKey.PublicKey())
	}
	return slices.Clip(keys), nil
}
