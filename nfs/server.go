package nfs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("nfs: server closed")

// Export is one exported container. Path is "/" + the container name.
// Whitelist is evaluated on the client's modelled address; an empty
// whitelist admits nobody (0.0.0.0/0 admits everybody), so a forgotten
// whitelist fails closed, as a real filer does.
type Export struct {
	Path      string
	Whitelist []netip.Prefix
}

func (e Export) container() string { return strings.Trim(e.Path, "/") }

func (e Export) allows(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range e.Whitelist {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Mode is a Server's health, set by fault injection.
type Mode int

const (
	// Up serves.
	Up Mode = iota
	// Down: Stargate is not running. New connections are reset at once,
	// existing ones are closed.
	Down
	// Hung: Stargate runs but never answers. Connections are accepted and
	// requests read and discarded (a client retransmits on timeout, so
	// nothing is lost when the server comes back Up).
	Hung
)

func (m Mode) String() string {
	switch m {
	case Up:
		return "up"
	case Down:
		return "down"
	case Hung:
		return "hung"
	}
	return "unknown"
}

// Config configures a Server.
type Config struct {
	Name    string // for events, e.g. the CVM name
	Exports []Export
	Clock   clock.Clock // default real time
	OnEvent func(Event) // called synchronously, never under a Server lock

	// Ports the portmapper hands out (default 2049 for both: Stargate
	// serves MOUNT on the NFS port).
	NFSPort, MountPort uint16
	// Workers is how many requests of one connection go-nfs works on at
	// once (default 4; go-nfs itself serves a connection serially).
	Workers int
}

// EventType names what happened.
type EventType string

// Event types.
const (
	EventConnect     EventType = "connect"
	EventDisconnect  EventType = "disconnect"
	EventRefused     EventType = "refused" // accepted while Down, reset
	EventMount       EventType = "mount"
	EventMountDenied EventType = "mount-denied"
	EventUnmount     EventType = "unmount"
	EventNFSDenied   EventType = "nfs-denied" // first denied NFS call of a connection
	EventTerminate   EventType = "terminate"
	EventPanic       EventType = "panic"
	EventBadRecord   EventType = "bad-record"
	EventMode        EventType = "mode"
)

// Event is one thing that happened on a Server.
type Event struct {
	Time   time.Time
	Server string
	Type   EventType
	Client netip.AddrPort // remote end (modelled address on the fabric)
	Local  netip.AddrPort
	Export string
	Detail string
}

// Session describes a live client connection (for the CVM's netstat).
type Session struct {
	Remote, Local netip.AddrPort
	Export        string // last export mounted or used on it, if any
	Since         time.Time
}

// Server is one Stargate: an NFSv3 server with MOUNT and a portmapper,
// over a shared Store.
type Server struct {
	cfg   Config
	store *Store
	verf  [8]byte // WRITE/COMMIT verifier: one per Server instance

	mu        sync.Mutex
	exports   map[string]Export // by container name
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	mounts    []mountEntry
	mode      Mode
	closed    bool
}

type mountEntry struct {
	host, dir string
}

// NewServer returns a Server over store. It serves nothing until Serve.
func NewServer(store *Store, cfg Config) *Server {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.NFSPort == 0 {
		cfg.NFSPort = 2049
	}
	if cfg.MountPort == 0 {
		cfg.MountPort = cfg.NFSPort
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	s := &Server{
		cfg: cfg, store: store,
		listeners: map[net.Listener]struct{}{},
		sessions:  map[*session]struct{}{},
	}
	_, _ = rand.Read(s.verf[:])
	s.SetExports(cfg.Exports)
	return s
}

// SetExports replaces the export list (a whitelist change takes effect on
// the next call of every connection, mounted or not).
func (s *Server) SetExports(exports []Export) {
	m := map[string]Export{}
	for _, e := range exports {
		e.Whitelist = slices.Clone(e.Whitelist)
		m[e.container()] = e
	}
	s.mu.Lock()
	s.exports = m
	s.mu.Unlock()
}

// Exports returns the export list, sorted by path.
func (s *Server) Exports() []Export {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Export, 0, len(s.exports))
	for _, e := range s.exports {
		e.Whitelist = slices.Clone(e.Whitelist)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Export) int { return strings.Compare(a.Path, b.Path) })
	return out
}

func (s *Server) export(ctr string) (Export, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.exports[ctr]
	return e, ok
}

// ServeOption adjusts one listener.
type ServeOption func(*listenerOpts)

type listenerOpts struct {
	allowAll  bool
	advertise uint16
}

// AllowAll admits every client of this listener regardless of whitelists:
// for the lab's loopback debug port, where clients are 127.0.0.1 and tools
// like nfs-ls should see the store, while the modelled port keeps
// enforcing the modelled whitelist.
func AllowAll() ServeOption { return func(o *listenerOpts) { o.allowAll = true } }

// AdvertisePort makes the portmapper on this listener hand out port for
// MOUNT and NFS (on a loopback debug port: that port itself).
func AdvertisePort(port uint16) ServeOption { return func(o *listenerOpts) { o.advertise = port } }

// Serve accepts connections on l until Close (ErrServerClosed) or until
// l fails. It may run on several listeners at once; every listener serves
// every program (portmapper, MOUNT, NFS), so a CVM listens on 111 and 2049
// with the same Server.
func (s *Server) Serve(l net.Listener, opts ...ServeOption) error {
	var o listenerOpts
	for _, f := range opts {
		f(&o)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Transient (EMFILE and the like): back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.accept(c, o)
	}
}

func (s *Server) accept(c net.Conn, o listenerOpts) {
	sess := newSession(s, c, o)
	s.mu.Lock()
	if s.closed || s.mode == Down {
		s.mu.Unlock()
		resetConn(c)
		s.emit(Event{Type: EventRefused, Client: sess.remote, Local: sess.local})
		return
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	s.emit(Event{Type: EventConnect, Client: sess.remote, Local: sess.local})
	go sess.serve()
}

// resetConn aborts a connection with RST where the transport can, as a
// port nobody listens on answers.
func resetConn(c net.Conn) {
	switch t := c.(type) {
	case interface{ Reset() }: // fabric.Conn
		t.Reset()
	case *net.TCPConn:
		_ = t.SetLinger(0)
		t.Close()
	default:
		c.Close()
	}
}

// Close stops every listener and closes every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	ls := make([]net.Listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	sess := s.sessionList()
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, ss := range sess {
		ss.close()
	}
	return nil
}

func (s *Server) sessionList() []*session {
	out := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

func (s *Server) forget(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
}

// Sessions lists the live client connections, oldest first.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	list := s.sessionList()
	s.mu.Unlock()
	out := make([]Session, 0, len(list))
	for _, ss := range list {
		out = append(out, ss.info())
	}
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Remote.String(), b.Remote.String())
	})
	return out
}

// DropSessions forgets every client connection at once, as a server
// process that dies does: used when the node under the server loses power
// (the network below decides what the clients see — on a powered-off
// node, nothing). reason goes into each disconnect event.
func (s *Server) DropSessions(reason string) int {
	s.mu.Lock()
	all := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.mu.Lock()
		ss.why = reason
		ss.mu.Unlock()
		ss.close()
	}
	return len(all)
}

// TerminateClient closes every connection from addr cleanly (FIN): the
// client reads EOF and reconnects. It is Nutanix's NfsTerminateConnection,
// which Genesis sends before it moves a host's route. It returns how many
// connections it closed.
//
// Every call emits one EventTerminate, even one that closes nothing, so
// that the event log shows the request whoever sent it (the built-in
// Genesis or an external autopath through the status page's RPC): Client
// is addr with port 0 (the client as a whole, not one connection), Detail
// "N connection(s)". Each connection closed then emits its
// EventDisconnect with Detail TerminateReason.
func (s *Server) TerminateClient(addr netip.Addr) int {
	addr = addr.Unmap()
	s.mu.Lock()
	var hit []*session
	for ss := range s.sessions {
		if ss.remote.Addr() == addr {
			hit = append(hit, ss)
		}
	}
	s.mu.Unlock()
	s.emit(Event{Type: EventTerminate, Client: netip.AddrPortFrom(addr, 0), Detail: fmt.Sprintf("%d connection(s)", len(hit))})
	for _, ss := range hit {
		ss.mu.Lock()
		if ss.why == "" {
			ss.why = TerminateReason
		}
		ss.mu.Unlock()
		ss.close()
	}
	return len(hit)
}

// TerminateReason is the Detail of the EventDisconnect of a connection
// TerminateClient closed.
const TerminateReason = "NfsTerminateConnection"

// SetMode changes the Server's health: see Mode.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	old := s.mode
	s.mode = m
	var drop []*session
	if m == Down {
		drop = s.sessionList()
	}
	s.mu.Unlock()
	if old != m {
		s.emit(Event{Type: EventMode, Detail: old.String() + "->" + m.String()})
	}
	for _, ss := range drop {
		ss.close()
	}
}

// Mode returns the Server's health.
func (s *Server) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

func (s *Server) emit(e Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	e.Time = s.cfg.Clock.Now()
	e.Server = s.cfg.Name
	s.cfg.OnEvent(e)
}

// addrPort converts a net.Addr (TCP, fabric or otherwise) to an AddrPort.
func addrPort(a net.Addr) netip.AddrPort {
	if a == nil {
		return netip.AddrPort{}
	}
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
