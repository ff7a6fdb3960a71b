package nfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// session is one client connection: the front end's read loop and the
// go-nfs workers behind it.
type session struct {
	srv           *Server
	conn          net.Conn
	remote, local netip.AddrPort
	opts          listenerOpts
	since         time.Time
	handler       *connHandler

	wmu sync.Mutex // one record at a time on conn

	mu       sync.Mutex
	export   string
	ctrNames map[uint64]string // container id -> name, for whitelist checks
	denied   bool              // an nfs-denied event was emitted

	workers []*worker    // under mu: close may run while serve starts them
	idle    chan *worker // worker slots; set before serve's first dispatch

	done      chan struct{}
	closeOnce sync.Once
	// why is the connection error that ended the session ("Connection
	// reset by peer"), for the disconnect event. Under mu.
	why string
}

func newSession(s *Server, c net.Conn, o listenerOpts) *session {
	ss := &session{
		srv: s, conn: c, opts: o,
		remote: addrPort(c.RemoteAddr()), local: addrPort(c.LocalAddr()),
		since:    s.cfg.Clock.Now(),
		ctrNames: map[uint64]string{},
		done:     make(chan struct{}),
	}
	ss.handler = &connHandler{sess: ss, views: map[uint64]*exportFS{}}
	return ss
}

func (ss *session) info() Session {
	return Session{Remote: ss.remote, Local: ss.local, Export: ss.exportName(), Since: ss.since}
}

func (ss *session) exportName() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.export
}

func (ss *session) setExport(path string) {
	ss.mu.Lock()
	ss.export = path
	ss.mu.Unlock()
}

// close ends the connection with FIN and stops its workers.
func (ss *session) close() {
	ss.closeOnce.Do(func() {
		close(ss.done)
		if cw, ok := ss.conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		ss.conn.Close()
		ss.mu.Lock()
		ws := ss.workers
		ss.mu.Unlock()
		for _, w := range ws {
			w.stop()
		}
		ss.srv.forget(ss)
		ss.mu.Lock()
		why := ss.why
		ss.mu.Unlock()
		ss.srv.emit(Event{Type: EventDisconnect, Client: ss.remote, Local: ss.local, Export: ss.exportName(), Detail: why})
	})
}

// panicked drops the connection after a recovered panic.
func (ss *session) panicked(where string, v any) {
	ss.srv.emit(Event{Type: EventPanic, Client: ss.remote, Local: ss.local, Export: ss.exportName(),
		Detail: fmt.Sprintf("%s: %v", where, v)})
	go ss.close()
}

// allowed reports whether the client may use an export.
func (ss *session) allowed(e Export) bool {
	return ss.opts.allowAll || e.allows(ss.remote.Addr())
}

// write sends one complete record (mark included), unless the server is
// hung: a hung Stargate never answers.
func (ss *session) write(rec []byte) error {
	if ss.srv.Mode() == Hung {
		return nil
	}
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_, err := ss.conn.Write(rec)
	return err
}

func (ss *session) serve() {
	defer ss.close()
	defer func() {
		if v := recover(); v != nil {
			ss.panicked("rpc", v)
		}
	}()
	ss.startWorkers()
	br := bufio.NewReaderSize(ss.conn, 64<<10)
	for {
		rec, err := readRecord(br, maxRecord)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.Is(err, errRecordTooLong), errors.Is(err, io.ErrUnexpectedEOF):
				// A malformed record stream: worth its own event.
				select {
				case <-ss.done:
				default:
					ss.srv.emit(Event{Type: EventBadRecord, Client: ss.remote, Local: ss.local, Detail: err.Error()})
				}
			default:
				// The connection itself failed (RST after a route
				// change, a deadline): the disconnect event says so.
				ss.mu.Lock()
				ss.why = err.Error()
				ss.mu.Unlock()
			}
			return
		}
		switch ss.srv.Mode() {
		case Hung:
			continue
		case Down:
			return
		}
		if err := ss.dispatch(rec); err != nil {
			ss.srv.emit(Event{Type: EventBadRecord, Client: ss.remote, Local: ss.local, Detail: err.Error()})
			return
		}
	}
}

// dispatch answers one record. rec has recordHeadroom spare bytes in
// front. An error ends the connection.
func (ss *session) dispatch(rec []byte) error {
	h, args, err := parseCall(rec[recordHeadroom:])
	if errors.Is(err, errNotCall) {
		return nil // a stray reply: nothing to answer
	}
	if err != nil {
		return err
	}
	if h.rpcvers != 2 {
		return ss.write(rpcMismatchReply(h.xid))
	}
	switch h.prog {
	case progPortmap:
		if h.vers != 2 {
			return ss.write(mismatchReply(h.xid, 2, 2))
		}
		return ss.write(ss.portmap(h, args))
	case progMount:
		if h.vers != 3 {
			return ss.write(mismatchReply(h.xid, 3, 3))
		}
		return ss.write(ss.mount(h, args))
	case progNFS:
		if h.vers != 3 {
			return ss.write(mismatchReply(h.xid, 3, 3))
		}
		return ss.nfs(h, rec, args)
	}
	return ss.write(acceptedReply(h.xid, acceptProgUnavail, nil))
}
