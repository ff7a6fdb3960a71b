package genesis_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim/genesis"
)

// stubCVM is a CVM whose health the test sets.
type stubCVM struct {
	name, host string
	ip         netip.Addr
	down       atomic.Bool
	booting    atomic.Bool // Stargate serves, the CVM is not initialised
	panics     atomic.Bool // a broken implementation
}

func (c *stubCVM) Name() string         { return c.name }
func (c *stubCVM) PublicIP() netip.Addr { return c.ip }
func (c *stubCVM) Host() string         { return c.host }
func (c *stubCVM) Healthy(context.Context) (bool, error) {
	if c.panics.Load() {
		panic("broken CVM")
	}
	if c.down.Load() {
		return false, errors.New("Connection refused")
	}
	if c.booting.Load() {
		return false, genesis.ErrNotInitialised
	}
	return true, nil
}
func (c *stubCVM) TerminateNFS(context.Context, netip.Addr) (int, error) { return 0, nil }

func stubCluster() []*stubCVM {
	return []*stubCVM{
		// Given out of order: Genesis orders CVMs by name.
		{name: cvmC, host: hostC, ip: ipCVMC},
		{name: cvmA, host: hostA, ip: ipCVMA},
		{name: cvmB, host: hostB, ip: ipCVMB},
	}
}

func asCVMs(s []*stubCVM) []genesis.CVM {
	out := make([]genesis.CVM, len(s))
	for i, c := range s {
		out[i] = c
	}
	return out
}

// Run's rounds follow the clock: one at once, then one per Interval.
func TestRunFollowsTheClock(t *testing.T) {
	clk := clock.NewFake()
	checks := make(chan genesis.Event, 10)
	g, err := genesis.New(genesis.Config{
		CVMs: asCVMs(stubCluster()), Clock: clk, TimeoutClock: clock.Real(),
		OnEvent: func(e genesis.Event) {
			if e.Kind == genesis.EventCheck {
				checks <- e
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- g.Run(ctx) }()
	<-checks
	for range 3 {
		// Run waits on exactly one timer of the fake clock.
		if err := clk.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(29 * time.Second)
		select {
		case e := <-checks:
			t.Fatalf("round after 29 s: %+v", e)
		default:
		}
		clk.Advance(time.Second)
		if e := <-checks; e.Leader != cvmA {
			t.Errorf("round led by %s, want %s", e.Leader, cvmA)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
}

// The lowest-named healthy CVM leads; when it fails the next one does and
// keeps leading while healthy; with none, no round runs.
func TestElection(t *testing.T) {
	cl := stubCluster()
	a, b, c := cl[1], cl[2], cl[0]
	var leaders []string
	g, err := genesis.New(genesis.Config{
		CVMs: asCVMs(cl), Clock: clock.NewFake(), TimeoutClock: clock.Real(),
		OnEvent: func(e genesis.Event) {
			if e.Kind == genesis.EventLeader {
				leaders = append(leaders, e.Leader)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	step := func(wantErr error) {
		t.Helper()
		if err := g.Tick(ctx); !errors.Is(err, wantErr) {
			t.Fatalf("Tick: %v, want %v", err, wantErr)
		}
	}
	step(nil)
	a.down.Store(true)
	step(nil)
	b.down.Store(true)
	step(nil)
	c.down.Store(true)
	step(genesis.ErrNoLeader)
	a.down.Store(false)
	step(nil)
	// The leader stays while healthy: C's return does not move it.
	c.down.Store(false)
	step(nil)
	a.down.Store(true)
	step(nil)
	if want := []string{cvmA, cvmB, cvmC, "", cvmA, cvmC}; !slices.Equal(leaders, want) {
		t.Errorf("leaders %q, want %q", leaders, want)
	}
}

// A configured leader runs the round while it is healthy; down, it
// cannot.
func TestConfiguredLeader(t *testing.T) {
	cl := stubCluster()
	c := cl[0]
	var leader string
	g, err := genesis.New(genesis.Config{
		CVMs: asCVMs(cl), TimeoutClock: clock.Real(),
		Leader: func() genesis.CVM { return c },
		OnEvent: func(e genesis.Event) {
			if e.Kind == genesis.EventCheck {
				leader = e.Leader
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Tick(t.Context()); err != nil || leader != cvmC {
		t.Fatalf("Tick: %v, leader %q", err, leader)
	}
	c.down.Store(true)
	if err := g.Tick(t.Context()); !errors.Is(err, genesis.ErrNoLeader) {
		t.Fatalf("Tick with the leader down: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	cl := stubCluster()
	for name, cfg := range map[string]genesis.Config{
		"no CVMs":      {},
		"same CVM":     {CVMs: []genesis.CVM{cl[0], cl[0]}},
		"host no addr": {CVMs: asCVMs(cl), Hosts: []genesis.Host{{Name: hostA}}},
	} {
		if _, err := genesis.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// A Stargate serving on a CVM still booting is reported in seed 001's
// words, not as down.
func TestNotInitialisedIsLogged(t *testing.T) {
	cl := stubCluster()
	cl[1].booting.Store(true) // CVM A
	var log syncBuffer
	g, err := genesis.New(genesis.Config{CVMs: asCVMs(cl), Clock: clock.NewFake(), TimeoutClock: clock.Real(), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(log.lines("INFO ha_service.py:", "Stargate on CVM 192.168.1.27 is alive but the CVM is not fully initialised yet")) != 1 ||
		len(log.lines("is down")) != 0 || len(log.lines("This node 192.168.1.28 is the HA leader")) != 1 {
		t.Errorf("genesis.out:\n%s", log.String())
	}
}

// A CVM implementation that panics is a down CVM, not a dead Genesis.
func TestPanickingCVMIsDown(t *testing.T) {
	cl := stubCluster()
	cl[1].panics.Store(true) // CVM A
	var log syncBuffer
	g, err := genesis.New(genesis.Config{CVMs: asCVMs(cl), TimeoutClock: clock.Real(), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(log.lines("Stargate on CVM 192.168.1.27 is down: genesis: panic: broken CVM")) != 1 {
		t.Errorf("genesis.out:\n%s", log.String())
	}
}
