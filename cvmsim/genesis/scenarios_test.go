package genesis_test

import (
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"net/netip"

	"github.com/autopathlab/autopathlab/cvmsim/genesis"
	"github.com/autopathlab/autopathlab/nfs"
)

// Seed 001's scenarios at the model level: Genesis reaches the hosts over
// real SSH, probes the Stargates over the modelled network, and the
// assertions read the hosts' routing tables and the Stargates' sessions.

func TestHealthyClusterLeavesRoutesAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 3 {
		e.tick()
		e.advance(30 * time.Second)
	}
	for _, h := range []string{hostA, hostB, hostC} {
		e.wantVia(h)
	}
	evs, _ := e.events.since(0)
	if c := changes(evs); len(c) != 0 {
		t.Errorf("changes in a healthy cluster: %v", c)
	}
	if n := len(e.log.lines("All 3 Stargates are alive and functioning")); n != 3 {
		t.Errorf("%d \"all alive\" lines, want 3:\n%s", n, e.log)
	}
	// One permanent SSH connection per host across the rounds.
	for _, h := range []string{hostA, hostB, hostC} {
		if n := len(e.labEvents("ssh.login", h)); n != 1 {
			t.Errorf("%s: %d SSH logins, want 1", h, n)
		}
	}
}

// (a) An untrained administrator injects a valid route into a healthy
// cluster: Genesis sends NfsTerminateConnection to the CVM it leads to,
// then deletes it.
func TestScenarioA_ValidRouteInjected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tick()
	e.inject(hostA, ipCVMB)
	// The fabric resets host A's NFS flow; the datastore reconnects
	// through CVM B at its next call.
	e.nfsIO(hostA)
	eventually(t, "host A's NFS through CVM B", func() bool { return slices.Contains(e.clients(cvmB), "192.168.1.24") })
	mark := e.events.mark()
	e.tick()
	e.wantVia(hostA)
	evs, _ := e.events.since(mark)
	want := []string{
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
	// On CVM B's Stargate, the termination comes before the route goes.
	all := e.lab.Events.Events()
	terminated, deleted := -1, -1
	for i, ev := range all {
		if ev.Kind == "nfs.terminate" && ev.Node == cvmB && strings.HasPrefix(ev.Client, "192.168.1.24:") && terminated < 0 {
			terminated = i
		}
		if ev.Kind == "route.delete" && ev.Node == hostA && ev.Network == "192.168.5.2/32" {
			deleted = i
		}
	}
	if terminated < 0 || deleted < 0 || terminated > deleted {
		t.Errorf("nfs.terminate at %d, route.delete at %d: want the termination first", terminated, deleted)
	}
	e.nfsIO(hostA)
	eventually(t, "host A's NFS back on CVM A", func() bool {
		return slices.Contains(e.clients(cvmA), "192.168.5.1") && !slices.Contains(e.clients(cvmB), "192.168.1.24")
	})
	for _, s := range []string{
		"Illegal forwarding of 192.168.5.2 via CVM 192.168.1.28 on hypervisor 192.168.1.24",
		"creating a task to delete the route",
		"Sending NfsTerminateConnection for client 192.168.1.24 to Stargate on CVM 192.168.1.28",
		"Removing route to 192.168.5.2 via 192.168.1.28 on hypervisor 192.168.1.24",
	} {
		if len(e.log.lines(s)) == 0 {
			t.Errorf("genesis.out has no %q:\n%s", s, e.log)
		}
	}
}

// (b) A route to an address that is no CVM is deleted, with no
// NfsTerminateConnection: there is no Stargate to ask.
func TestScenarioB_BogusRouteInjected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.inject(hostA, netip.MustParseAddr("192.168.1.99"))
	mark := e.events.mark()
	e.tick()
	e.wantVia(hostA)
	evs, _ := e.events.since(mark)
	want := []string{"genesis.route_delete NTNX-BLOCK1-A 192.168.1.99"}
	if got := changes(evs); !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	if len(e.log.lines("Illegal forwarding of 192.168.5.2 via 192.168.1.99 on hypervisor 192.168.1.24, which is not a healthy CVM")) != 1 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
}

// (c) CVM A is powered off: within one round host A forwards to CVM B,
// and the leadership passes from A to B.
func TestScenarioC_CVMPoweredOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tick()
	e.power(cvmA, false)
	mark := e.events.mark()
	e.tick()
	e.wantVia(hostA, ipCVMB)
	e.wantVia(hostB)
	e.wantVia(hostC)
	evs, _ := e.events.since(mark)
	if got, want := changes(evs), []string{"genesis.route_add NTNX-BLOCK1-A 192.168.1.28"}; !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	var leaders []string
	for _, ev := range evs {
		if ev.Kind == genesis.EventLeader {
			leaders = append(leaders, ev.Leader)
		}
	}
	if !slices.Equal(leaders, []string{cvmB}) {
		t.Errorf("leader changes %v, want [%s]", leaders, cvmB)
	}
	// The datastore's flow follows the route to CVM B.
	e.nfsIO(hostA)
	eventually(t, "host A's NFS through CVM B", func() bool { return slices.Contains(e.clients(cvmB), "192.168.1.24") })
	for _, s := range []string{
		"This node 192.168.1.28 is the HA leader",
		"Stargate on CVM 192.168.1.27 is down",
		"Hypervisor 192.168.1.24 is not forwarding 192.168.5.2 while Stargate on its CVM 192.168.1.27 is down; creating a task to add a route via 192.168.1.28",
		"Adding route to 192.168.5.2 via 192.168.1.28 on hypervisor 192.168.1.24",
	} {
		if len(e.log.lines(s)) == 0 {
			t.Errorf("genesis.out has no %q:\n%s", s, e.log)
		}
	}
	// Later rounds keep the route as it is.
	mark = e.events.mark()
	e.advance(30 * time.Second)
	e.tick()
	evs, _ = e.events.since(mark)
	if c := changes(evs); len(c) != 0 {
		t.Errorf("second round changed %v", c)
	}
	e.wantVia(hostA, ipCVMB)
}

// (d) During the failure an operator deletes the route: the next round
// adds it again.
func TestScenarioD_RouteDeletedDuringFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.power(cvmA, false)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	e.remove(hostA, ipCVMB)
	e.advance(30 * time.Second)
	mark := e.events.mark()
	e.tick()
	e.wantVia(hostA, ipCVMB)
	evs, _ := e.events.since(mark)
	if got, want := changes(evs), []string{"genesis.route_add NTNX-BLOCK1-A 192.168.1.28"}; !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

// (e) CVM A comes back with its Stargate serving: the route stays until
// the Stargate has been healthy for StablePeriod, then CVM B terminates
// host A's connections and the route goes.
func TestScenarioE_CVMRecovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tick()
	e.power(cvmA, false)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	e.nfsIO(hostA)
	eventually(t, "host A's NFS through CVM B", func() bool { return slices.Contains(e.clients(cvmB), "192.168.1.24") })

	e.power(cvmA, true)
	e.advance(30 * time.Second)
	mark := e.events.mark()
	e.tick() // Stargate A answers again: not yet stable
	e.wantVia(hostA, ipCVMB)
	if len(e.log.lines("Stargate on CVM 192.168.1.27 is alive but not fully initialised yet")) == 0 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
	e.advance(29 * time.Second)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	evs, mark2 := e.events.since(mark)
	if c := changes(evs); len(c) != 0 {
		t.Fatalf("changes before the stable period: %v", c)
	}
	e.advance(time.Second)
	e.tick()
	e.wantVia(hostA)
	evs, _ = e.events.since(mark2)
	want := []string{
		"genesis.terminate NTNX-BLOCK1-B-CVM NTNX-BLOCK1-A 192.168.1.24",
		"genesis.route_delete NTNX-BLOCK1-A 192.168.1.28",
	}
	if got := changes(evs); !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	if len(e.log.lines("All 3 Stargates are alive and functioning")) < 2 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
	for _, ev := range evs {
		if ev.Kind == genesis.EventTerminate && ev.Count < 1 {
			t.Errorf("NfsTerminateConnection on CVM B closed %d connections of host A, want at least 1", ev.Count)
		}
	}
	e.nfsIO(hostA)
	eventually(t, "host A's NFS back on CVM A", func() bool {
		return slices.Contains(e.clients(cvmA), "192.168.5.1") && !slices.Contains(e.clients(cvmB), "192.168.1.24")
	})
}

// (f) The CVM host A forwards to fails too: host A is re-pointed to the
// third CVM, and host B forwards there as well.
func TestScenarioF_RemoteCVMFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.power(cvmA, false)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	e.power(cvmB, false)
	e.advance(30 * time.Second)
	mark := e.events.mark()
	e.tick()
	e.wantVia(hostA, ipCVMC)
	e.wantVia(hostB, ipCVMC)
	e.wantVia(hostC)
	evs, _ := e.events.since(mark)
	got := changes(evs)
	slices.Sort(got) // hosts are served concurrently
	want := []string{
		"genesis.route_add NTNX-BLOCK1-A 192.168.1.29",
		"genesis.route_add NTNX-BLOCK1-B 192.168.1.29",
		"genesis.route_delete NTNX-BLOCK1-A 192.168.1.28",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	if len(e.log.lines("Hypervisor 192.168.1.24 forwards 192.168.5.2 via 192.168.1.28, which is not a healthy CVM")) != 1 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
	// Both come back: every route goes once both are stable, and no
	// NfsTerminateConnection is lost on the way.
	e.power(cvmA, true)
	e.power(cvmB, true)
	e.tick()
	e.advance(30 * time.Second)
	mark = e.events.mark()
	e.tick()
	for _, h := range []string{hostA, hostB, hostC} {
		e.wantVia(h)
	}
	evs, _ = e.events.since(mark)
	got = changes(evs)
	slices.Sort(got)
	want = []string{
		"genesis.route_delete NTNX-BLOCK1-A 192.168.1.29",
		"genesis.route_delete NTNX-BLOCK1-B 192.168.1.29",
		"genesis.terminate NTNX-BLOCK1-C-CVM NTNX-BLOCK1-A 192.168.1.24",
		"genesis.terminate NTNX-BLOCK1-C-CVM NTNX-BLOCK1-B 192.168.1.25",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

// (g) CVM A's Stargate hangs on a live node: it counts as down, and comes
// back like a rebooted one.
func TestScenarioG_StargateHung(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tick()
	e.lab.NFSServer(cvmA).Server.SetMode(nfs.Hung)
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	if len(e.log.lines("Stargate on CVM 192.168.1.27 is down", "timed out")) == 0 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
	e.lab.NFSServer(cvmA).Server.SetMode(nfs.Up)
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	e.advance(30 * time.Second)
	e.tick()
	e.wantVia(hostA)
}

// A Stargate that is down (the process, not the node) refuses at once.
func TestStargateDownRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(cfg *genesis.Config) { cfg.ProbeTimeout = 10 * time.Second })
	e.lab.NFSServer(cvmC).Server.SetMode(nfs.Down)
	start := time.Now()
	e.tick()
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("a round with a refusing Stargate took %v: it should not wait for the probe timeout", d)
	}
	e.wantVia(hostC, ipCVMA) // C's next healthy CVM, wrapping round
	if len(e.log.lines("Stargate on CVM 192.168.1.29 is down")) == 0 {
		t.Errorf("genesis.out:\n%s", e.log)
	}
}

// genesis.out lines follow the CVM's Python log format.
func TestGenesisOutFormat(t *testing.T) {
	t.Parallel()
	perCVM := map[string]*syncBuffer{cvmA: {}, cvmB: {}, cvmC: {}}
	e := newEnv(t, func(cfg *genesis.Config) {
		cfg.LeaderLog = func(l genesis.CVM) io.Writer { return perCVM[l.Name()] }
	})
	e.power(cvmA, false)
	e.tick()
	// The round's lines are in the leader's own genesis.out too.
	if perCVM[cvmB].String() != e.log.String() || perCVM[cvmA].String() != "" {
		t.Errorf("leader B's genesis.out:\n%s\nA's:\n%s", perCVM[cvmB], perCVM[cvmA])
	}
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}Z (INFO|WARNING|ERROR) (ha_service|hypervisor_ha)\.py:\d+ \S`)
	lines := strings.Split(strings.TrimSuffix(e.log.String(), "\n"), "\n")
	if len(lines) < 5 {
		t.Fatalf("genesis.out:\n%s", e.log)
	}
	for _, l := range lines {
		if !re.MatchString(l) {
			t.Errorf("bad genesis.out line %q", l)
		}
	}
	if want := e.clk.Now().UTC().Format("2006-01-02 15:04:05") + ","; !strings.HasPrefix(lines[0], want) {
		t.Errorf("line %q does not start with the fake clock's time %q", lines[0], want)
	}
}
