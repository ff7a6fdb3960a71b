package cvmsim

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// epoch is the fake clock's start, so that outputs are stable.
var epoch = time.Date(2024, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// lab is seed 001's cluster in miniature: three CVMs, each on its host's
// private segment and the public one, and the hosts' VMkernel stacks as
// bare fabric nodes with their own routing tables.
type lab struct {
	clk   *clockwork.FakeClock
	net   *fabric.Network
	cvms  []*CVM
	hosts []*fabric.Node
	rts   []*fabric.RouteTable
	store *nfs.Store
}

type labOpt func(*Config)

func newLab(t testing.TB, opts ...labOpt) *lab {
	t.Helper()
	clk := clockwork.NewFakeClockAt(epoch)
	l := &lab{clk: clk, net: fabric.New(fabric.WithClock(clk))}
	l.store = nfs.NewMemStore(nfs.WithStoreClock(clk))
	require.NoError(t, l.store.CreateContainer("ctr1"))
	wl := []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24"), netip.MustParsePrefix("192.168.1.0/24")}
	for i, x := range []string{"A", "B", "C"} {
		host := "NTNX-BLOCK1-" + x
		priv := host + "/vSwitchNutanix"
		h, err := l.net.AddNode(fabric.NodeConfig{Name: host})
		require.NoError(t, err)
		for _, ic := range []fabric.InterfaceConfig{
			{Name: "vmk0", Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, 1, byte(24 + i)}), 24), MAC: net.HardwareAddr{0, 0x0c, 0x29, 0, 1, byte(i)}, Segment: "public"},
			{Name: "vmk1", Addr: netip.MustParsePrefix("192.168.5.1/24"), MAC: net.HardwareAddr{0, 0x0c, 0x29, 0, 2, byte(i)}, Segment: priv},
		} {
			_, err := h.AddInterface(ic)
			require.NoError(t, err)
		}
		rt := fabric.NewRouteTable(h.Interfaces, h.Reevaluate)
		h.SetRouter(rt)
		l.hosts = append(l.hosts, h)
		l.rts = append(l.rts, rt)

		cfg := Config{
			Name: host + "-CVM",
			Host: host,
			Interfaces: []Interface{
				{Name: "eth0", Segment: "public", Addr: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, 1, byte(27 + i)}), 24)},
				{Name: "eth1", Segment: priv, Addr: netip.MustParsePrefix("192.168.5.2/24")},
				{Name: "eth1:1", Segment: priv, Addr: netip.MustParsePrefix("192.168.5.254/24")},
			},
			Gateway:    netip.MustParseAddr("192.168.1.1"),
			Store:      l.store,
			Exports:    []nfs.Export{{Path: "/ctr1", Whitelist: wl}},
			SSHAddr:    "-",
			StatusAddr: "-",
			NFSAddr:    "-",
			Cluster:    l.status,
		}
		for _, o := range opts {
			o(&cfg)
		}
		c, err := New(l.net, cfg)
		require.NoError(t, err)
		require.NoError(t, c.Start())
		t.Cleanup(func() { c.Close() })
		l.cvms = append(l.cvms, c)
	}
	// The public segment's gateway, so that the default routes resolve.
	gw, err := l.net.AddNode(fabric.NodeConfig{Name: "gateway", TTL: 255})
	require.NoError(t, err)
	_, err = gw.AddInterface(fabric.InterfaceConfig{Name: "vlan1", Addr: netip.MustParsePrefix("192.168.1.1/24"), MAC: net.HardwareAddr{0, 0x0c, 0x29, 0xff, 0, 1}, Segment: "public"})
	require.NoError(t, err)
	return l
}

func (l *lab) status() []PeerStatus {
	out := make([]PeerStatus, len(l.cvms))
	for i, c := range l.cvms {
		out[i] = c.Status()
	}
	return out
}

// events collects a CVM's events on a channel.
func events(t *testing.T, c *CVM) <-chan Event {
	ch := make(chan Event, 256)
	cancel := c.Subscribe(func(e Event) { ch <- e })
	t.Cleanup(cancel)
	return ch
}

// waitEvent waits for an event of kind, skipping others. The timeout is
// a guard against a hang, not a delay: events arrive as soon as the fake
// clock's timers run.
func waitEvent(t *testing.T, ch <-chan Event, kind string) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

// noEvent checks that nothing is pending.
func noEvent(t *testing.T, ch <-chan Event) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected event %+v", e)
	default:
	}
}

// dial opens a flow from node to dst.
func dial(node *fabric.Node, dst string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return node.Dial(ctx, netip.MustParseAddrPort(dst), fabric.DialOptions{})
}

// nfsNull sends an NFSv3 NULL call and reads the reply (xid and accept
// state), with a real-time read deadline as the guard for the
// no-answer cases.
func nfsNull(c net.Conn, wait time.Duration) error {
	var call []byte
	for _, v := range []uint32{0x8000_0028, 0x1234, 0, 2, 100003, 3, 0, 0, 0, 0, 0} {
		call = binary.BigEndian.AppendUint32(call, v)
	}
	if _, err := c.Write(call); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:])&0x7fff_ffff)
	if _, err := io.ReadFull(c, body); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(body[0:4]) != 0x1234 || binary.BigEndian.Uint32(body[4:8]) != 1 {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// run runs a command line in a fresh nutanix shell on c; the clock
// stands still.
func run(t *testing.T, c *CVM, line string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = c.NewShell().Run(context.Background(), line, nil, &o, &e)
	return o.String(), e.String(), code
}

// runClock runs a command line in a fresh nutanix shell on c, advancing
// the fake clock a second at a time whenever something waits on it
// (ping's interval), until the command ends. Only for CVMs with no boot
// timer pending.
func runClock(t testing.TB, l *lab, c *CVM, line string) (stdout, stderr string, code int) {
	t.Helper()
	sh := c.NewShell()
	var o, e bytes.Buffer
	done := make(chan int)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- sh.Run(ctx, line, nil, &o, &e) }()
	bctx, bcancel := context.WithCancel(context.Background())
	go func() {
		for {
			if l.clk.BlockUntilContext(bctx, 1) != nil {
				return
			}
			l.clk.Advance(time.Second)
		}
	}()
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%q did not end", line)
	}
	bcancel()
	return o.String(), e.String(), code
}

// golden compares got with testdata/name.golden (-update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(p, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test -update to create it")
	if string(want) != got {
		t.Errorf("%s differs from %s:\n%s", name, p, diff(string(want), got))
	}
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("-" + a + "\n+" + c + "\n")
		}
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func ctxCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
