package genesis_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/cvmsim/genesis"
	"github.com/autopathlab/autopathlab/esxisim"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/topology"
)

// Names and addresses of the default lab (seed 001's cluster).
const (
	hostA = "NTNX-BLOCK1-A"
	hostB = "NTNX-BLOCK1-B"
	hostC = "NTNX-BLOCK1-C"
	cvmA  = "NTNX-BLOCK1-A-CVM"
	cvmB  = "NTNX-BLOCK1-B-CVM"
	cvmC  = "NTNX-BLOCK1-C-CVM"
)

var (
	ipHostA = netip.MustParseAddr("192.168.1.24")
	ipCVMA  = netip.MustParseAddr("192.168.1.27")
	ipCVMB  = netip.MustParseAddr("192.168.1.28")
	ipCVMC  = netip.MustParseAddr("192.168.1.29")
	fwdNet  = netip.MustParsePrefix("192.168.5.2/32")
)

// env is a lab on a fake clock with Genesis over it. The test calls Tick
// and advances the clock; probes and SSH run on real time (a dead
// Stargate costs one ProbeTimeout of wall time).
type env struct {
	t      *testing.T
	lab    *harness.Lab
	clk    *clockwork.FakeClock
	g      *genesis.Genesis
	log    *syncBuffer
	events *recorder
	cvms   []*genesis.FabricCVM
	hosts  []genesis.Host
}

// labCVMs builds Genesis' view of a lab's CVMs: what the lab needs to
// offer until the CVM emulator implements genesis.CVM itself.
func labCVMs(t *testing.T, lab *harness.Lab) []*genesis.FabricCVM {
	t.Helper()
	var out []*genesis.FabricCVM
	for _, c := range lab.Topology.CVMs {
		fc, err := genesis.NewFabricCVM(genesis.FabricCVMConfig{
			Name: c.Name, Host: c.Host, Node: lab.Nodes[c.Name], Stargate: lab.NFSServer(c.Name).Server,
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fc)
	}
	return out
}

// labHosts builds Genesis' view of a lab's ESXi hosts: vmk0's address and
// the real SSH listener.
func labHosts(t *testing.T, lab *harness.Lab) []genesis.Host {
	t.Helper()
	var out []genesis.Host
	for i, th := range lab.Topology.Hosts {
		ip := netip.MustParsePrefix(th.Vmknics[0].IP).Addr()
		out = append(out, genesis.Host{Name: th.Name, PublicIP: ip, SSHAddr: lab.Hosts[i].Addr().String(),
			User: esxisim.DefaultUser, Password: esxisim.DefaultPassword})
	}
	return out
}

func newEnv(t *testing.T, tweak ...func(*genesis.Config)) *env {
	t.Helper()
	clk := clock.NewFake()
	lab := harness.Start(t, topology.Default(), harness.Options{Clock: clk, NoWorkload: true, CVMTimers: fastBoot})
	if len(lab.MountErrors) > 0 {
		t.Fatalf("mount errors: %v", lab.MountErrors)
	}
	e := &env{t: t, lab: lab, clk: clk, log: &syncBuffer{}, events: &recorder{}, cvms: labCVMs(t, lab), hosts: labHosts(t, lab)}
	var cvms []genesis.CVM
	for _, c := range e.cvms {
		cvms = append(cvms, c)
	}
	cfg := genesis.Config{
		CVMs: cvms, Hosts: e.hosts, Clock: clk,
		// Probes and SSH are real I/O: nothing advances the fake clock
		// while a round waits for them.
		TimeoutClock: clock.Real(),
		ProbeTimeout: 2 * time.Second,
		HostTimeout:  10 * time.Second,
		Log:          e.log,
		OnEvent:      e.events.add,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	g, err := genesis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Close()
		if testing.Verbose() {
			t.Logf("genesis.out:\n%s", e.log)
		}
	})
	e.g = g
	return e
}

// tick runs one round that must succeed.
func (e *env) tick() {
	e.t.Helper()
	if err := e.g.Tick(context.Background()); err != nil {
		e.t.Fatalf("round: %v", err)
	}
}

// advance moves the fake clock on.
func (e *env) advance(d time.Duration) { e.clk.Advance(d) }

// forwardedVia returns the gateways of host's routes to 192.168.5.2/32,
// read from the model.
func (e *env) forwardedVia(host string) []netip.Addr {
	e.t.Helper()
	routes, err := e.lab.Host(host).VMkernel().Routes(vmkernel.DefaultNetstack)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []netip.Addr
	for _, r := range routes {
		if r.Network == fwdNet {
			out = append(out, r.Gateway)
		}
	}
	return out
}

// wantVia fails unless host forwards 192.168.5.2 exactly via gws (none:
// not at all).
func (e *env) wantVia(host string, gws ...netip.Addr) {
	e.t.Helper()
	if got := e.forwardedVia(host); !slices.Equal(got, gws) {
		e.t.Fatalf("%s forwards 192.168.5.2 via %v, want %v", host, got, gws)
	}
}

// inject adds a route as an operator typing esxcfg-route -a would.
func (e *env) inject(host string, gw netip.Addr) {
	e.t.Helper()
	if err := e.lab.Host(host).VMkernel().AddRoute(vmkernel.DefaultNetstack, fwdNet, gw); err != nil {
		e.t.Fatal(err)
	}
}

// remove deletes a route as an operator typing esxcfg-route -d would.
func (e *env) remove(host string, gw netip.Addr) {
	e.t.Helper()
	if err := e.lab.Host(host).VMkernel().DeleteRoute(vmkernel.DefaultNetstack, fwdNet, gw); err != nil {
		e.t.Fatal(err)
	}
}

// fastBoot is a CVM boot that costs the fake clock next to nothing, so
// that powering a CVM on does not eat into Genesis' stable period.
var fastBoot = cvmsim.Timers{PingAfter: time.Millisecond, StargateAfter: 2 * time.Millisecond, InitAfter: 3 * time.Millisecond}

// power switches a CVM off, or on and through its (fast) boot: the CVM
// owns its node's power.
func (e *env) power(cvm string, on bool) {
	e.t.Helper()
	c := e.lab.CVM(cvm)
	if !on {
		c.PowerOff()
		return
	}
	c.PowerOn()
	e.clk.Advance(fastBoot.InitAfter)
	deadline := time.Now().Add(10 * time.Second)
	for !c.Ready() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s did not boot: %v", cvm, c.Power())
		}
		time.Sleep(time.Millisecond)
	}
}

// labEvents returns the lab's events of a kind on a node.
func (e *env) labEvents(kind, node string) []harness.Event {
	var out []harness.Event
	for _, ev := range e.lab.Events.Events() {
		if ev.Kind == kind && ev.Node == node {
			out = append(out, ev)
		}
	}
	return out
}

// clients returns the client addresses of a Stargate's sessions.
func (e *env) clients(cvm string) []string {
	var out []string
	for _, s := range e.lab.NFSServer(cvm).Server.Sessions() {
		out = append(out, s.Remote.Addr().String())
	}
	slices.Sort(out)
	return out
}

// eventually waits for cond, which depends on goroutines of the lab (a
// datastore reconnecting after a reset), and fails after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recorder keeps Genesis' events.
type recorder struct {
	mu sync.Mutex
	ev []genesis.Event
}

func (r *recorder) add(e genesis.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ev = append(r.ev, e)
}

// since returns the events from index i on, and the next index.
func (r *recorder) since(i int) ([]genesis.Event, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]genesis.Event(nil), r.ev[i:]...), len(r.ev)
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ev)
}

// kinds summarises events that change something, for comparison:
// "genesis.route_add NTNX-BLOCK1-A 192.168.1.28".
func changes(evs []genesis.Event) []string {
	var out []string
	for _, e := range evs {
		switch e.Kind {
		case genesis.EventRouteAdd, genesis.EventRouteDelete:
			out = append(out, fmt.Sprintf("%s %s %s%s", e.Kind, e.Host, e.Gateway, errSuffix(e.Err)))
		case genesis.EventTerminate:
			out = append(out, fmt.Sprintf("%s %s %s %s%s", e.Kind, e.CVM, e.Host, e.Client, errSuffix(e.Err)))
		case genesis.EventSSHError, genesis.EventNoTarget:
			out = append(out, fmt.Sprintf("%s %s", e.Kind, e.Host))
		}
	}
	return out
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " error"
}

// syncBuffer is genesis.out in memory.
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

// lines returns the genesis.out lines containing all of subs.
func (s *syncBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		ok := l != ""
		for _, sub := range subs {
			ok = ok && strings.Contains(l, sub)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// nfsIO makes host's datastore ctr1 talk to its server (FSSTAT), as a VM's
// IO would: the datastore reconnects lazily, on its next call.
func (e *env) nfsIO(host string) {
	e.t.Helper()
	ds, ok := e.lab.Host(host).Datastores().Get("ctr1")
	if !ok {
		e.t.Fatalf("%s has no datastore ctr1", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ds.FSStat(ctx); err != nil {
		e.t.Fatalf("%s: FSSTAT on ctr1: %v", host, err)
	}
}
