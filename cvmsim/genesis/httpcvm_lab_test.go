package genesis_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim/genesis"
)

// newHTTPEnv is newEnv with Genesis over HTTPCVMs: every Stargate check
// and NfsTerminateConnection goes over real HTTP to the lab's real status
// page listeners, as the standalone genesis command's do, instead of over
// the modelled network.
func newHTTPEnv(t *testing.T, probeTimeout time.Duration) *env {
	t.Helper()
	e := newEnv(t)
	// newEnv's Genesis never ran a round: it holds no connection.
	e.g.Close()
	var cvms []genesis.CVM
	for _, c := range e.lab.Topology.CVMs {
		cvm := e.lab.CVM(c.Name)
		hc, err := genesis.NewHTTPCVM(genesis.HTTPCVMConfig{
			Name: c.Name, Host: c.Host, PublicIP: cvm.IP(),
			StatusURL: "http://" + cvm.StatusAddr().String() + "/h/status",
			Timeout:   probeTimeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		cvms = append(cvms, hc)
	}
	g, err := genesis.New(genesis.Config{
		CVMs: cvms, Hosts: e.hosts, Clock: e.clk,
		// Probes and SSH are real I/O: nothing advances the fake clock
		// while a round waits for them.
		TimeoutClock: clock.Real(),
		ProbeTimeout: probeTimeout,
		HostTimeout:  10 * time.Second,
		Log:          e.log,
		OnEvent:      e.events.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	e.g = g
	return e
}

// Seed 001's failover and switch-back with Genesis over HTTP: CVM A off,
// host A forwarded to CVM B; CVM A back, and after the stable period
// NfsTerminateConnection goes to CVM B's status page, then the route.
func TestHTTPCVMGenesisFailoverAndBack(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, 2*time.Second)
	e.tick()
	for _, h := range []string{hostA, hostB, hostC} {
		e.wantVia(h)
	}

	e.power(cvmA, false)
	e.advance(30 * time.Second)
	mark := e.events.mark()
	e.tick()
	e.wantVia(hostA, ipCVMB)
	e.wantVia(hostB)
	e.wantVia(hostC)
	if n := len(e.log.lines("Stargate on CVM 192.168.1.27 is down: status page: 503 Service Unavailable")); n != 1 {
		t.Errorf("%d lines saying why CVM A is down, want 1:\n%s", n, e.log)
	}
	e.nfsIO(hostA)
	eventually(t, "host A's NFS through CVM B", func() bool { return slices.Contains(e.clients(cvmB), "192.168.1.24") })

	e.power(cvmA, true)
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA, ipCVMB) // healthy, not yet for the stable period
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA)

	evs, _ := e.events.since(mark)
	want := []string{
		"genesis.route_add NTNX-BLOCK1-A 192.168.1.28",
		"genesis.terminate NTNX-BLOCK1-B-CVM NTNX-BLOCK1-A 192.168.1.24",
		"genesis.route_delete NTNX-BLOCK1-A 192.168.1.28",
	}
	if got := changes(evs); !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for _, ev := range evs {
		if ev.Kind == genesis.EventTerminate && ev.Count < 1 {
			t.Errorf("NfsTerminateConnection closed %d connections, want at least 1", ev.Count)
		}
	}
	// The RPC reached CVM B's Stargate (the lab logs it), before the
	// route went.
	terminated, deleted := -1, -1
	for i, ev := range e.lab.Events.Events() {
		if ev.Kind == "nfs.terminate" && ev.Node == cvmB && strings.HasPrefix(ev.Client, "192.168.1.24") && terminated < 0 {
			terminated = i
		}
		if ev.Kind == "route.delete" && ev.Node == hostA && ev.Network == "192.168.5.2/32" {
			deleted = i
		}
	}
	if terminated < 0 || deleted < 0 || terminated > deleted {
		t.Errorf("nfs.terminate on CVM B at %d, route delete at %d: want the termination first", terminated, deleted)
	}
}

// A hung Stargate is seen by the probe timeout: the status page accepts
// the request and never answers.
func TestHTTPCVMGenesisStargateHung(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, 300*time.Millisecond)
	e.tick()
	if err := e.lab.SetStargate(cvmA, "hung"); err != nil {
		t.Fatal(err)
	}
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	if n := len(e.log.lines("Stargate on CVM 192.168.1.27 is down:", "timed out after 300ms")); n != 1 {
		t.Errorf("%d lines saying CVM A's Stargate timed out, want 1:\n%s", n, e.log)
	}
	if err := e.lab.SetStargate(cvmA, "up"); err != nil {
		t.Fatal(err)
	}
	e.advance(30 * time.Second)
	e.tick()
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA)
}
