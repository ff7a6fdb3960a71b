package genesis_test

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim/genesis"
	"github.com/autopathlab/autopathlab/fabric"
)

// twoNodes is a leader and a peer on one segment, with no routing tables
// (as today's harness CVMs): probes leave by the connected interface.
func twoNodes(t *testing.T) (leader, peer *fabric.Node, peerIP netip.Addr) {
	t.Helper()
	nw := fabric.New(fabric.WithClock(clock.Real()))
	mk := func(name, ip string) *fabric.Node {
		n, err := nw.AddNode(fabric.NodeConfig{Name: name, AcceptAny: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.AddInterface(fabric.InterfaceConfig{Name: "eth0", Addr: netip.MustParsePrefix(ip), Segment: "public"}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return mk("cvm-a", "192.168.1.27/24"), mk("cvm-b", "192.168.1.28/24"), netip.MustParseAddr("192.168.1.28")
}

// The status page probe: 200 with initialised true is healthy; 200 with
// initialised false is ErrNotInitialised; 503 is not healthy; nothing
// listening refuses.
func TestStargateStatusProbe(t *testing.T) {
	leader, peer, ip := twoNodes(t)
	probe := genesis.StargateStatusProbe()
	ctx := t.Context()
	if err := probe(ctx, leader, ip); !errors.Is(err, fabric.ErrConnRefused) {
		t.Errorf("nothing on 2009: %v, want %v", err, fabric.ErrConnRefused)
	}
	ln, err := peer.Listen(2009)
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		code int
		body string
	}
	pages := make(chan page, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := <-pages
		pages <- p
		if r.URL.Path != "/h/status" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(p.code)
		io.WriteString(w, p.body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	for _, tt := range []struct {
		page
		want error // nil: healthy; errAny: some error
	}{
		{page{http.StatusServiceUnavailable, "Stargate is not running\n"}, errAny},
		{page{http.StatusOK, `{"cvm":"b","initialised":false}`}, genesis.ErrNotInitialised},
		{page{http.StatusOK, `not json`}, errAny},
		{page{http.StatusOK, `{"cvm":"b","state":"up","initialised":true}`}, nil},
	} {
		select {
		case <-pages:
		default:
		}
		pages <- tt.page
		err := probe(ctx, leader, ip)
		switch {
		case tt.want == nil && err != nil, tt.want == errAny && err == nil,
			tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
			t.Errorf("%d %s: %v, want %v", tt.code, tt.body, err, tt.want)
		}
	}
}

var errAny = errors.New("any error")

// FabricCVM's checks go over the fabric: to itself, to a peer, refused
// when no Stargate listens, impossible from a powered-off node.
func TestFabricCVMProbes(t *testing.T) {
	leader, peer, _ := twoNodes(t)
	a, err := genesis.NewFabricCVM(genesis.FabricCVMConfig{Name: "cvm-a", Node: leader})
	if err != nil {
		t.Fatal(err)
	}
	b, err := genesis.NewFabricCVM(genesis.FabricCVMConfig{Name: "cvm-b", Node: peer})
	if err != nil {
		t.Fatal(err)
	}
	if b.PublicIP() != netip.MustParseAddr("192.168.1.28") {
		t.Errorf("PublicIP %s", b.PublicIP())
	}
	ctx := t.Context()
	if ok, err := a.CheckPeer(ctx, b); ok || !errors.Is(err, fabric.ErrConnRefused) {
		t.Errorf("no Stargate on B: %v %v", ok, err)
	}
	peer.SetPowered(false)
	if ok, err := b.Healthy(ctx); ok || !errors.Is(err, fabric.ErrPoweredOff) {
		t.Errorf("B powered off, its own check: %v %v", ok, err)
	}
	if _, err := b.TerminateNFS(ctx, netip.MustParseAddr("192.168.1.24")); err == nil {
		t.Error("NfsTerminateConnection to a powered-off CVM succeeded")
	}
	if _, err := genesis.NewFabricCVM(genesis.FabricCVMConfig{Name: "x"}); err == nil {
		t.Error("NewFabricCVM without a node")
	}
}
