package e2e

// Seed 001's failure scenarios end to end: the lab runs in process on the
// real clock (fast VM IO, short CVM boot and NFS heartbeat timers, so APD
// is real), Genesis runs on a fake clock of its own and is stepped one
// 30 s round at a time. Every scenario is checked in the model and through
// what real clients see: host A's `esxcfg-route -l` and `esxcfg-nas -l`
// over OpenSSH, the remote CVM's `netstat -a | grep 192.168.5.2` over
// OpenSSH, and the VM's IO report.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmio"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/topology"
)

const (
	cvmC = "NTNX-BLOCK1-C-CVM"

	gwB = "192.168.1.28" // CVM B's eth0
	gwC = "192.168.1.29" // CVM C's eth0

	nasAvailable   = "ctr1 is /ctr1 from 192.168.5.2 mounted available\n"
	nasUnavailable = "ctr1 is /ctr1 from 192.168.5.2 mounted unavailable\n"

	genesisInterval = 30 * time.Second
)

// scenarioBoot is a CVM boot sequence a test on real time waits for.
var scenarioBoot = cvmsim.Timers{PingAfter: 20 * time.Millisecond, StargateAfter: 40 * time.Millisecond, InitAfter: 60 * time.Millisecond}

// routesVia is host A's `esxcfg-route -l` with the autopath route to
// 192.168.5.2 via gw.
func routesVia(gw string) string {
	return "VMkernel Routes:\n" +
		"Network          Netmask          Gateway          Interface\n" +
		"192.168.1.0      255.255.255.0    Local Subnet     vmk0\n" +
		"192.168.5.0      255.255.255.0    Local Subnet     vmk1\n" +
		fmt.Sprintf("%-17s%-17s%-17s%s\n", "192.168.5.2", "255.255.255.255", gw, "vmk0") +
		"default          0.0.0.0          192.168.1.1      vmk0\n"
}

// scenario is one in-process lab with Genesis stepped by the test.
type scenario struct {
	t    *testing.T
	lab  *harness.Lab
	clk  *clockwork.FakeClock
	done chan struct{} // one per finished Genesis round
	host *esxisim.Host // host A
	ds   *datastore.Datastore
	w    *vmio.Workload
	ssh  *sshClient // root on host A

	mu  sync.Mutex
	gen []harness.Event // Genesis' events
	t0  time.Time
}

// startScenario starts the default lab with a 5 ms VM on host A, fast NFS
// heartbeats on every host, short CVM boots, and Genesis on a fake clock;
// it returns once the first round (the one Run starts with) is done and
// host A's IO flows through CVM A.
func startScenario(t *testing.T) *scenario {
	t.Helper()
	t0 := time.Now()
	topo := topology.Default()
	for i := range topo.Hosts {
		// A fast VM on host A; none elsewhere, to keep the machine quiet.
		topo.Hosts[i].Workload = &topology.Workload{Interval: "5ms", Disabled: i != 0}
		topo.Hosts[i].NFS = &topology.NFSSettings{
			HeartbeatFrequency: "100ms", HeartbeatTimeout: "100ms", HeartbeatMaxFailures: 2, APDTimeout: "5s",
		}
	}
	s := &scenario{t: t, clk: clock.NewFake(), done: make(chan struct{}, 64), t0: t0}
	s.lab = harness.Start(t, topo, harness.Options{
		CVMTimers: scenarioBoot,
		// A 500 ms probe timeout: a hung Stargate (g) delays the round by
		// that, well inside the 5 s APD timeout, so IO stalls but never fails.
		Genesis: &harness.GenesisOptions{Interval: genesisInterval, StablePeriod: 30 * time.Second, Clock: s.clk,
			ProbeTimeout: 500 * time.Millisecond},
	})
	t.Cleanup(s.lab.Events.Subscribe(func(e harness.Event) {
		if !strings.HasPrefix(e.Kind, "genesis.") {
			return
		}
		s.mu.Lock()
		s.gen = append(s.gen, e)
		s.mu.Unlock()
		if e.Kind == "genesis.round" {
			s.done <- struct{}{}
		}
	}))
	if len(s.lab.MountErrors) > 0 {
		t.Fatalf("mount errors: %v", s.lab.MountErrors)
	}
	s.host = s.lab.Host(hostA)
	s.w = s.lab.Workload(hostA)
	ds, ok := s.host.Datastores().Get("ctr1")
	if s.w == nil || !ok {
		t.Fatalf("host A: workload %v, datastore ctr1 found %v", s.w, ok)
	}
	s.ds = ds
	s.ssh = sshTo(t, s.host.Addr())
	s.waitRound()
	serves(t, s.lab, cvmA, "192.168.5.1")
	ioFlows(t, s.w, 20)
	s.ssh.want(t, "esxcfg-route -l", routesA)
	s.ssh.want(t, "esxcfg-nas -l", nasAvailable)
	if gw := s.route(); gw != "" {
		t.Fatalf("healthy cluster: host A forwards via %s", gw)
	}
	return s
}

func (s *scenario) waitRound() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.t.Fatal("no Genesis round finished")
	}
}

// round steps Genesis by one interval and waits for that round's end.
func (s *scenario) round() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.clk.BlockUntilContext(ctx, 1); err != nil { // Run's interval timer
		s.t.Fatalf("Genesis is not waiting for its next round: %v", err)
	}
	s.clk.Advance(genesisInterval)
	s.waitRound()
}

// roundsUntil steps rounds until cond holds, at most max, and returns how
// many it took.
func (s *scenario) roundsUntil(what string, max int, cond func() bool) int {
	s.t.Helper()
	for n := 1; n <= max; n++ {
		s.round()
		if cond() {
			return n
		}
	}
	s.t.Fatalf("%s: not after %d rounds; genesis events:\n%s", what, max, s.genesisLog(0))
	return 0
}

// route is host A's gateway for 192.168.5.2/32 in the model, "" if none.
func (s *scenario) route() string {
	s.t.Helper()
	rs, err := s.host.VMkernel().Routes("")
	if err != nil {
		s.t.Fatalf("routes: %v", err)
	}
	for _, r := range rs {
		if r.Network.String() == "192.168.5.2/32" {
			return r.Gateway.String()
		}
	}
	return ""
}

// mark is the index of Genesis' next event.
func (s *scenario) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.gen)
}

// actions lists Genesis' route and terminate events from index from on, as
// "kind gateway".
func (s *scenario) actions(from int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.gen[from:] {
		switch e.Kind {
		case "genesis.route_add", "genesis.route_delete", "genesis.terminate":
			if e.Server == hostA {
				out = append(out, e.Kind+" "+e.Gateway)
			}
		}
	}
	return out
}

func (s *scenario) genesisLog(from int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, e := range s.gen[from:] {
		fmt.Fprintf(&b, "  %s host=%s cvm=%s gw=%s %s %s\n", e.Kind, e.Server, e.Target, e.Gateway, e.Detail, e.Error)
	}
	return b.String()
}

func (s *scenario) wantActions(from int, want ...string) {
	s.t.Helper()
	if got := s.actions(from); !slices.Equal(got, want) {
		s.t.Errorf("Genesis on host A: got %q, want %q\n%s", got, want, s.genesisLog(from))
	}
}

// cvmNetstat runs `netstat -a | grep 192.168.5.2` on a CVM over OpenSSH,
// as nutanix with a password.
func (s *scenario) cvmNetstat(cvm string) string {
	s.t.Helper()
	return cvmSSHAt(s.t, s.lab.CVM(cvm).SSHAddr(), "netstat -a | grep 192.168.5.2")
}

// wantNetstatFrom checks a CVM's netstat shows an NFS session from addr to
// 192.168.5.2:nfs.
func (s *scenario) wantNetstatFrom(cvm, addr string) {
	s.t.Helper()
	out := s.cvmNetstat(cvm)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "192.168.5.2:nfs ") && strings.Contains(line, " "+addr+":") && strings.Contains(line, "ESTABLISHED") {
			return
		}
	}
	s.t.Errorf("%s netstat: no ESTABLISHED NFS session from %s to 192.168.5.2:nfs:\n%s", cvm, addr, out)
}

// ioDown waits until the VM's IO is in an open outage.
func (s *scenario) ioDown() {
	s.t.Helper()
	eventually(s.t, "the VM's IO outage", func() error {
		r := s.w.Report()
		if n := len(r.Outages); n == 0 || !r.Outages[n-1].Open {
			return fmt.Errorf("no open outage: %v", r)
		}
		return nil
	})
}

// ioBack waits until no outage is open and the datastore is accessible,
// and n more IOs succeeded.
func (s *scenario) ioBack(n uint64) {
	s.t.Helper()
	eventually(s.t, "the VM's IO to come back", func() error {
		r := s.w.Report()
		if k := len(r.Outages); k > 0 && r.Outages[k-1].Open {
			return fmt.Errorf("outage open: %v", r)
		}
		if st := s.ds.State(); st != datastore.Accessible {
			return fmt.Errorf("datastore %v", st)
		}
		return nil
	})
	ioFlows(s.t, s.w, n)
}

// apd waits until host A's datastore is All Paths Down, and checks that
// esxcfg-nas says so.
func (s *scenario) apd() {
	s.t.Helper()
	eventually(s.t, "host A's datastore APD", func() error {
		if st := s.ds.State(); st != datastore.Inaccessible {
			return fmt.Errorf("datastore %v", st)
		}
		return nil
	})
	s.ssh.want(s.t, "esxcfg-nas -l", nasUnavailable)
}

// outagesSince returns the VM's outages that began at or after t0 (and the
// one open or running across it).
func outagesSince(r vmio.Report, t0 time.Time) []vmio.Outage {
	var out []vmio.Outage
	for _, o := range r.Outages {
		if o.Open || !o.End.Before(t0) {
			out = append(out, o)
		}
	}
	return out
}

// resumedAfter is how long after t0 the VM's last outage ended.
func resumedAfter(r vmio.Report, t0 time.Time) time.Duration {
	if n := len(r.Outages); n > 0 && !r.Outages[n-1].Open {
		return r.Outages[n-1].End.Sub(t0).Round(time.Millisecond)
	}
	return 0
}

func outageSummary(outs []vmio.Outage) string {
	var parts []string
	for _, o := range outs {
		parts = append(parts, fmt.Sprintf("%v (%d errors, %s)", o.Duration.Round(time.Millisecond), o.Errors, o.Cause))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// finish verifies every block and logs the VM's account and the wall time.
func (s *scenario) finish() vmio.Report {
	s.t.Helper()
	verifyIO(s.t, s.w)
	r := s.w.Report()
	if !r.Integrity.OK {
		s.t.Errorf("lost or corrupt writes: %v", r)
	}
	s.t.Logf("IO: %v", r)
	s.t.Logf("wall time %v", time.Since(s.t0).Round(time.Millisecond))
	return r
}

// cvmSSHAt runs one command on a CVM's SSH listener with OpenSSH through
// sshpass, as nutanix with a password.
func cvmSSHAt(t *testing.T, addr net.Addr, command string) string {
	t.Helper()
	requireTool(t, "ssh")
	requireTool(t, "sshpass")
	if addr == nil {
		t.Fatal("the CVM has no SSH listener")
	}
	ip, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sshpass", "-p", "nutanix/4u", "ssh",
		"-p", port,
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile="+filepath.Join(t.TempDir(), "known_hosts"),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "PreferredAuthentications=password",
		"-o", "PubkeyAuthentication=no",
		"-o", "NumberOfPasswordPrompts=1",
		"-o", "ConnectTimeout=10",
		"-o", "LogLevel=ERROR",
		"-F", "/dev/null",
		"nutanix@"+ip, command)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("ssh nutanix@%s %q: %v\nstdout %q\nstderr %q", addr, command, err, o.String(), e.String())
	}
	return o.String()
}

// injectRoute is scenarios a and b: the operator adds a route on host A in
// a healthy cluster; the next round removes it.
func injectRoute(t *testing.T, gw string, terminate bool) {
	s := startScenario(t)
	from := s.mark()
	s.ssh.want(t, "esxcfg-route -a 192.168.5.2 255.255.255.255 "+gw, "Adding static route 192.168.5.2/32 to VMkernel\n")
	s.ssh.want(t, "esxcfg-route -l", routesVia(gw))
	if got := s.route(); got != gw {
		t.Fatalf("model: route via %q, want %s", got, gw)
	}
	if gw == gwB {
		serves(t, s.lab, cvmB, "192.168.1.24", "192.168.5.1")
		s.wantNetstatFrom(cvmB, "192.168.1.24")
	}
	injected := time.Now()
	n := s.roundsUntil("the injected route removed", 3, func() bool { return s.route() == "" })
	if n != 1 {
		t.Errorf("route removed after %d rounds, want 1", n)
	}
	if terminate {
		s.wantActions(from, "genesis.terminate "+gw, "genesis.route_delete "+gw)
	} else {
		s.wantActions(from, "genesis.route_delete "+gw)
	}
	s.ssh.want(t, "esxcfg-route -l", routesA)
	serves(t, s.lab, cvmA, "192.168.5.1")
	serves(t, s.lab, cvmB, "192.168.5.1")
	s.ioBack(50)
	s.ssh.want(t, "esxcfg-nas -l", nasAvailable)
	r := s.finish()
	t.Logf("scenario: route via %s removed after %d round(s); IO outages since the injection: %s",
		gw, n, outageSummary(outagesSince(r, injected)))
	if gw == gwB && r.Errors != 0 {
		t.Errorf("IO errors with a route to a healthy CVM: %v", r)
	}
}

// (a) A route via a healthy CVM injected in a healthy cluster goes within a
// round, gracefully: NfsTerminateConnection first, then the delete.
func TestScenarioInjectedRouteToCVM(t *testing.T) { injectRoute(t, gwB, true) }

// (b) A route via an address that is no CVM goes too, without
// NfsTerminateConnection.
func TestScenarioInjectedRouteToNothing(t *testing.T) { injectRoute(t, "192.168.1.99", false) }

// failA is scenario c: CVM A powers off, host A's datastore goes APD, the
// next round routes host A via CVM B, IO comes back. It returns when the
// datastore is accessible again through CVM B.
func (s *scenario) failA() {
	t := s.t
	t.Helper()
	from := s.mark()
	off := time.Now()
	s.lab.CVM(cvmA).PowerOff()
	s.apd()
	s.ioDown()
	t.Logf("APD %v after the power-off", time.Since(off).Round(time.Millisecond))
	stepped := time.Now()
	n := s.roundsUntil("host A routed via CVM B", 3, func() bool { return s.route() == gwB })
	if n != 1 {
		t.Errorf("host A routed via CVM B after %d rounds, want 1", n)
	}
	s.wantActions(from, "genesis.route_add "+gwB)
	s.ssh.want(t, "esxcfg-route -l", routesVia(gwB))
	serves(t, s.lab, cvmB, "192.168.1.24", "192.168.5.1")
	s.ioBack(50)
	s.ssh.want(t, "esxcfg-nas -l", nasAvailable)
	s.wantNetstatFrom(cvmB, "192.168.1.24")
	r := s.w.Report()
	outs := outagesSince(r, off)
	if len(outs) != 1 {
		t.Errorf("want one outage for CVM A's failure, got %s", outageSummary(outs))
	}
	t.Logf("scenario c: detected in %d round(s); IO outage %s, IO resumed %v after the round was stepped",
		n, outageSummary(outs), resumedAfter(r, stepped))
}

// (c) CVM A powered off: within a round host A routes via CVM B, the
// datastore comes back without a remount, no write is lost.
func TestScenarioCVMPowerOff(t *testing.T) {
	s := startScenario(t)
	uuid := s.ds.UUID()
	s.failA()
	sameMount(t, s.host.Datastores(), s.ds, uuid)
	s.finish()
}

// (d) During the failure the operator deletes the route: the next round
// adds it again.
func TestScenarioRouteDeletedDuringFailure(t *testing.T) {
	s := startScenario(t)
	s.failA()
	from := s.mark()
	deleted := time.Now()
	s.ssh.want(t, "esxcfg-route -d 192.168.5.2 255.255.255.255 "+gwB, "Deleting static route 192.168.5.2/32 from VMkernel\n")
	s.ssh.want(t, "esxcfg-route -l", routesA)
	n := s.roundsUntil("the route re-added", 3, func() bool { return s.route() == gwB })
	if n != 1 {
		t.Errorf("route re-added after %d rounds, want 1", n)
	}
	s.wantActions(from, "genesis.route_add "+gwB)
	s.ssh.want(t, "esxcfg-route -l", routesVia(gwB))
	serves(t, s.lab, cvmB, "192.168.1.24", "192.168.5.1")
	s.ioBack(50)
	s.ssh.want(t, "esxcfg-nas -l", nasAvailable)
	s.wantNetstatFrom(cvmB, "192.168.1.24")
	r := s.finish()
	t.Logf("scenario d: re-added in %d round(s); IO outages since the delete: %s", n, outageSummary(outagesSince(r, deleted)))
}

// (e) CVM A comes back: the route stays through the first round after its
// boot and goes once it has been stable for the stable period, gracefully;
// the VM's IO sees no error across the switch-back.
func TestScenarioCVMPowerOn(t *testing.T) {
	s := startScenario(t)
	uuid := s.ds.UUID()
	s.failA()
	a := s.lab.CVM(cvmA)
	a.PowerOn()
	eventually(t, "CVM A fully initialised", func() error {
		if !a.Ready() || a.StargateState() != cvmsim.StargateUp {
			return fmt.Errorf("power %v, stargate %v", a.Power(), a.StargateState())
		}
		return nil
	})
	from := s.mark()
	s.round()
	if got := s.route(); got != gwB {
		t.Errorf("first round after the boot: route via %q, want it kept via %s", got, gwB)
	}
	s.ssh.want(t, "esxcfg-route -l", routesVia(gwB))
	s.wantActions(from)
	before := s.w.Report()
	switched := time.Now()
	n := 1 + s.roundsUntil("the route removed after the stable period", 3, func() bool { return s.route() == "" })
	if n != 2 {
		t.Errorf("route removed in round %d after the boot, want 2 (stable period 30 s = one interval)", n)
	}
	s.wantActions(from, "genesis.terminate "+gwB, "genesis.route_delete "+gwB)
	s.ssh.want(t, "esxcfg-route -l", routesA)
	serves(t, s.lab, cvmA, "192.168.5.1")
	serves(t, s.lab, cvmB, "192.168.5.1")
	s.ioBack(50)
	s.ssh.want(t, "esxcfg-nas -l", nasAvailable)
	sameMount(t, s.host.Datastores(), s.ds, uuid)
	r := s.finish()
	if r.Errors != before.Errors {
		t.Errorf("%d IO errors across the switch-back: %v", r.Errors-before.Errors, r)
	}
	outs := outagesSince(r, switched)
	// The datastore may hit a reset between NfsTerminateConnection and the
	// route's delete and then waits its reconnect interval (1 s) before
	// the next attempt: a stall, never an error.
	for _, o := range outs {
		if o.Duration >= 3*time.Second || o.Errors != 0 {
			t.Errorf("switch-back outage %+v", o)
		}
	}
	t.Logf("scenario e: route removed in round %d after the boot; switch-back IO outage: %s", n, outageSummary(outs))
}

// (f) During the failure the remote CVM fails too: host A is re-pointed to
// CVM C.
func TestScenarioRemoteCVMFails(t *testing.T) {
	s := startScenario(t)
	s.failA()
	from := s.mark()
	off := time.Now()
	s.lab.CVM(cvmB).PowerOff()
	s.apd()
	n := s.roundsUntil("host A re-pointed to CVM C", 3, func() bool { return s.route() == gwC })
	if n != 1 {
		t.Errorf("re-pointed after %d rounds, want 1", n)
	}
	s.wantActions(from, "genesis.route_delete "+gwB, "genesis.route_add "+gwC)
	s.ssh.want(t, "esxcfg-route -l", routesVia(gwC))
	eventually(t, "CVM C to serve host A", func() error {
		got, err := stargateClients(s.lab, cvmC)
		if err != nil {
			return err
		}
		if !slices.Contains(got, "192.168.1.24") {
			return fmt.Errorf("CVM C serves %v", got)
		}
		return nil
	})
	s.ioBack(50)
	s.ssh.want(t, "esxcfg-nas -l", nasAvailable)
	s.wantNetstatFrom(cvmC, "192.168.1.24")
	r := s.finish()
	t.Logf("scenario f: re-pointed in %d round(s); IO outages since CVM B's power-off: %s", n, outageSummary(outagesSince(r, off)))
}

// (g) CVM A's Stargate hangs while the CVM stays up: Genesis treats it as
// down and routes host A via a healthy CVM.
func TestScenarioStargateHung(t *testing.T) {
	s := startScenario(t)
	from := s.mark()
	hung := time.Now()
	s.lab.CVM(cvmA).SetStargate(cvmsim.StargateHung)
	s.apd()
	s.ioDown()
	if !s.lab.CVM(cvmA).Ready() {
		t.Errorf("CVM A is not up: %v", s.lab.CVM(cvmA).Power())
	}
	roundStart := time.Now()
	n := s.roundsUntil("host A routed via CVM B", 3, func() bool { return s.route() == gwB })
	if n != 1 {
		t.Errorf("routed after %d rounds, want 1", n)
	}
	t.Logf("the round(s) took %v (the hung Stargate's probe times out)", time.Since(roundStart).Round(time.Millisecond))
	s.wantActions(from, "genesis.route_add "+gwB)
	s.ssh.want(t, "esxcfg-route -l", routesVia(gwB))
	eventually(t, "CVM B to serve host A", func() error {
		got, err := stargateClients(s.lab, cvmB)
		if err != nil {
			return err
		}
		if !slices.Equal(got, []string{"192.168.1.24", "192.168.5.1"}) {
			return fmt.Errorf("CVM B serves %v", got)
		}
		return nil
	})
	s.ioBack(50)
	s.ssh.want(t, "esxcfg-nas -l", nasAvailable)
	s.wantNetstatFrom(cvmB, "192.168.1.24")
	r := s.finish()
	t.Logf("scenario g: detected in %d round(s); IO outage since the hang: %s, IO resumed %v after the round was stepped",
		n, outageSummary(outagesSince(r, hung)), resumedAfter(r, roundStart))
}
