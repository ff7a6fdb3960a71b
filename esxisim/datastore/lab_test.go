package datastore

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
)

// testLab is host A of the default lab with Stargates (nfs.Server) on the
// CVMs, all over one store holding container ctr1, so handles from one CVM
// are valid on the others.
type testLab struct {
	*vmkerneltest.Lab
	clk   *clockwork.FakeClock
	store *nfs.Store
	m     *Manager

	mu        sync.Mutex
	servers   map[string]*nfs.Server
	srvEvents []nfs.Event // every server's, in order
}

// clusterWhitelist admits the private network and the cluster's public
// addresses, as Stargate's internal whitelist does (reference §9.6).
var clusterWhitelist = []netip.Prefix{
	netip.MustParsePrefix("192.168.5.0/24"),
	netip.MustParsePrefix("192.168.1.0/24"),
}

func newTestLab(t *testing.T, cfg Config) *testLab {
	t.Helper()
	return newLab(t, cfg)
}

func newBenchLab(b *testing.B) *testLab { return newLab(b, Config{}) }

func newLab(t testing.TB, cfg Config) *testLab {
	t.Helper()
	l := &testLab{Lab: vmkerneltest.New(t), store: nfs.NewMemStore(), servers: map[string]*nfs.Server{}}
	l.clk = l.Clock.(*clockwork.FakeClock)
	if err := l.store.CreateContainer("ctr1"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cvm-a", "cvm-b", "cvm-c"} {
		l.startServer(t, name, clusterWhitelist)
	}
	m, err := New(l.Host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.m = m
	t.Cleanup(m.Close)
	return l
}

// startServer runs a Stargate on a CVM's ports 111 and 2049.
func (l *testLab) startServer(t testing.TB, node string, wl []netip.Prefix) *nfs.Server {
	t.Helper()
	srv := nfs.NewServer(l.store, nfs.Config{
		Name:    node,
		Exports: []nfs.Export{{Path: "/ctr1", Whitelist: wl}},
		OnEvent: func(e nfs.Event) {
			l.mu.Lock()
			l.srvEvents = append(l.srvEvents, e)
			l.mu.Unlock()
		},
	})
	serveOn(t, l.Peers[node], srv)
	l.mu.Lock()
	l.servers[node] = srv
	l.mu.Unlock()
	t.Cleanup(func() { srv.Close() })
	return srv
}

func serveOn(t testing.TB, n *fabric.Node, srv *nfs.Server) {
	t.Helper()
	for _, port := range []uint16{111, 2049} {
		ln, err := n.Listen(port)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
	}
}

// connects returns the client addresses of the connections a server
// accepted, in order.
func (l *testLab) connects(server string, port uint16) []netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []netip.AddrPort
	for _, e := range l.srvEvents {
		if e.Server == server && e.Type == nfs.EventConnect && e.Local.Port() == port {
			out = append(out, e.Client)
		}
	}
	return out
}

func (l *testLab) count(typ nfs.EventType) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.srvEvents {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// add mounts 192.168.5.2:/ctr1 as ctr1.
func (l *testLab) add(t *testing.T) *Datastore {
	t.Helper()
	d, err := l.m.Add(ctxT(t), "ctr1", "192.168.5.2", "/ctr1", false)
	if err != nil {
		t.Fatalf("add: %v\n%s", err, l.Host.Log().Bytes())
	}
	return d
}

// events subscribes to the manager's events.
func (l *testLab) subscribe(t *testing.T) <-chan Event {
	ch := make(chan Event, 256)
	cancel := l.m.Subscribe(func(e Event) { ch <- e })
	t.Cleanup(cancel)
	return ch
}

// ctxT is a context that ends with the test, bounding every wait in wall
// time so that a bug fails the test instead of hanging it.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// hostA is vmkernel's host A, for tests that build their own.
var _ = vmkernel.DefaultNetstack
