package sshd

import (
	"fmt"
	"net"
	"sync/atomic"
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

// handleConn runs one connection from identification to logout.
func (s *Server) handleConn(c net.Conn, st *connState) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		if st.loggedIn.Load() {
			user, _ := st.user.Load().(string)
			s.emitSafe(Event{Kind: EventLogout, User: user, Source: st.source})
		}
	}()
	// A panic in the handshake or auth code ends this connection only.
	defer s.recoverConn(c)
	if !s.connFaults(c) {
		return
	}
	ic, ident, err := exchangeIdent(c, "SSH-2.0-"+s.cfg.ServerVersion, identTimeout)
	if err != nil {
		c.Close()
		return
	}
	st.clientVersion = ident
	s.srv.HandleConn(ic)
}

func (s *Server) recoverConn(c net.Conn) {
	if r := recover(); r != nil {
		c.Close()
		s.emitSafe(Event{Kind: EventPanic, Source: c.RemoteAddr().String(), Error: fmt.Sprint(r)})
	}
}
