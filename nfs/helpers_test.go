package nfs

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

var everyone = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}

// eventLog collects a Server's events.
type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) types() []EventType {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []EventType
	for _, e := range l.ev {
		out = append(out, e.Type)
	}
	return out
}

func (l *eventLog) events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.ev...)
}

func (l *eventLog) has(t EventType) bool {
	for _, x := range l.types() {
		if x == t {
			return true
		}
	}
	return false
}

// newTestStore returns a memory store with container ctr1.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	st := NewMemStore()
	require.NoError(t, st.CreateContainer("ctr1"))
	return st
}

// serveTCP serves srv on a loopback port and returns its address.
func serveTCP(t testing.TB, srv *Server, opts ...ServeOption) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l, opts...)
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().(*net.TCPAddr).AddrPort()
}

func errConnReset() error { return syscall.ECONNRESET }
