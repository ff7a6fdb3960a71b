package harness

import (
	"bufio"
	"context"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/sshd"
	"github.com/autopathlab/autopathlab/topology"
)

// BenchmarkLabStartScale starts labs of n hosts and n CVMs
// (topology.Generate) and measures New until every SSH listener (hosts'
// and CVMs') accepts a connection and every host has mounted its
// datastore. One Keyring is shared by the iterations, so the one RSA
// host-key derivation per lab is not in the loop; it is reported once as
// rsa-ms. Memory after start: heap-MB (HeapInuse after a GC), rss-MB (the
// process's VmRSS) and rss-delta-MB (VmRSS over the process before the
// first lab, the largest of the iterations).
func BenchmarkLabStartScale(b *testing.B) {
	for _, n := range []int{32, 128} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchLabStartScale(b, n) })
	}
}

func benchLabStartScale(b *testing.B, n int) {
	topo := topology.Generate(n)
	kr := sshd.NewKeyring()
	t0 := time.Now()
	if _, err := kr.RSA("autopathlab/" + topo.Name); err != nil { // New's default HostKeySeed
		b.Fatal(err)
	}
	rsa := time.Since(t0)
	debug.FreeOSMemory() // what earlier benchmarks left is not this lab's
	rss0 := vmRSS(b)
	var heap, rss, delta, started float64
	for b.Loop() {
		lab, err := New(topo, Options{Keyring: kr})
		if err != nil {
			b.Fatal(err)
		}
		readyLab(b, lab, n)
		b.StopTimer()
		started += float64(lab.Started) / float64(time.Millisecond)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, float64(ms.HeapInuse)/(1<<20))
		r := vmRSS(b)
		rss = max(rss, r)
		delta = max(delta, r-rss0)
		lab.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rsa)/float64(time.Millisecond), "rsa-ms")
	b.ReportMetric(started/float64(b.N), "new-ms")
	b.ReportMetric(heap, "heap-MB")
	b.ReportMetric(rss, "rss-MB")
	b.ReportMetric(delta, "rss-delta-MB")
}

// readyLab checks a lab New returned: every datastore mounted, every SSH
// listener (hosts' and CVMs') accepting.
func readyLab(b *testing.B, lab *Lab, n int) {
	if len(lab.MountErrors) > 0 {
		b.Fatalf("%d mount errors, first: %v", len(lab.MountErrors), lab.MountErrors[0])
	}
	if len(lab.Hosts) != n || len(lab.CVMs) != n {
		b.Fatalf("%d hosts, %d CVMs; want %d of each", len(lab.Hosts), len(lab.CVMs), n)
	}
	var addrs []string
	for _, h := range lab.Hosts {
		list := h.Datastores().List()
		if len(list) != 1 || !list[0].Mounted || !list[0].Accessible {
			b.Fatalf("%s: datastores %+v", h.VMkernel().Hostname(), list)
		}
		addrs = append(addrs, h.Addr().String())
	}
	for _, c := range lab.CVMs {
		addrs = append(addrs, c.SSHAddr().String())
	}
	for _, a := range addrs {
		c, err := net.Dial("tcp", a)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// vmRSS is the process's resident set (VmRSS) in MB.
func vmRSS(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Skip("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkFailoverOutage is seed 001's failover in the default lab on the
// real clock, with a 5 ms VM IO workload on host A, short NFS timers on
// host A, and Genesis on a fake clock of its own, stepped by the
// benchmark. Each iteration builds a fresh lab (not timed), powers CVM A
// off, waits for the VM's IO outage, steps one Genesis round, and waits
// for the outage's end. Metrics, ms, mean over the iterations:
//
//   - reaction-ms: the emulator's reaction, from host A's route to
//     192.168.5.2 appearing in the model (the route.add change) to the VM's
//     next successful IO on host A (io.outage.end);
//   - reaction-event-ms: the same from Genesis' genesis.route_add event,
//     which Genesis emits once esxcfg-route has returned over SSH: negative
//     when the IO resumed before that;
//   - round-ms: the stepped round, from the clock step to the route in the
//     model (Genesis' probes and esxcfg-route over real SSH);
//   - detect-ms: power-off until the round was stepped. Here that is how
//     long the host took to notice (the NFS heartbeat timers); with real
//     Genesis, detection is up to one 30 s interval plus its probe
//     timeouts, and dominates the outage;
//   - outage-ms: the VM's outage as the workload reported it (detect +
//     round + reaction).
func BenchmarkFailoverOutage(b *testing.B) {
	kr := sshd.NewKeyring()
	var reaction, reactionEv, round, detect, outage float64
	for b.Loop() {
		b.StopTimer()
		f := newFailover(b, kr)
		b.StartTimer()
		f.run()
		b.StopTimer()
		reaction += ms(f.ioEnd.Sub(f.routeModel))
		reactionEv += ms(f.ioEnd.Sub(f.routeEvent))
		round += ms(f.routeModel.Sub(f.stepped))
		detect += ms(f.stepped.Sub(f.poweredOff))
		outage += f.outage
		f.lab.Close()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(reaction/n, "reaction-ms")
	b.ReportMetric(reactionEv/n, "reaction-event-ms")
	b.ReportMetric(round/n, "round-ms")
	b.ReportMetric(detect/n, "detect-ms")
	b.ReportMetric(outage/n, "outage-ms")
}

// failover is one iteration of BenchmarkFailoverOutage.
type failover struct {
	b   *testing.B
	lab *Lab
	clk interface {
		BlockUntilContext(context.Context, int) error
		Advance(time.Duration)
	}
	events chan Event

	mu                                                 sync.Mutex
	poweredOff, stepped, routeModel, routeEvent, ioEnd time.Time
	outage                                             float64
}

const failoverInterval = 30 * time.Second

func newFailover(b *testing.B, kr *sshd.Keyring) *failover {
	topo := fastTopology(hostA)
	topo.Hosts[0].NFS = &topology.NFSSettings{HeartbeatFrequency: "100ms", HeartbeatTimeout: "100ms", HeartbeatMaxFailures: 2}
	gclk := clock.NewFake()
	lab, err := New(topo, Options{Keyring: kr, CVMTimers: fastBoot,
		Genesis: &GenesisOptions{Interval: failoverInterval, StablePeriod: failoverInterval, Clock: gclk}})
	if err != nil {
		b.Fatal(err)
	}
	if len(lab.MountErrors) > 0 {
		lab.Close()
		b.Fatal(lab.MountErrors)
	}
	f := &failover{b: b, lab: lab, clk: gclk, events: make(chan Event, 1024)}
	// Times are taken here, on receipt (events are delivered
	// synchronously): Genesis' own carry its fake clock's time.
	lab.Events.Subscribe(func(e Event) {
		now := time.Now()
		switch {
		case e.Kind == "route.add" && e.Node == hostA && e.Network == seed001.String():
			f.set(&f.routeModel, now)
		case e.Kind == "genesis.route_add":
			f.set(&f.routeEvent, now)
		case e.Kind == "io.outage.end" && e.Node == hostA:
			f.mu.Lock()
			if f.ioEnd.IsZero() {
				f.ioEnd, f.outage = now, e.DurationMS
			}
			f.mu.Unlock()
		}
		select {
		case f.events <- e:
		default:
		}
	})
	f.waitTimer() // Genesis' first round is over
	w := lab.Workload(hostA)
	deadline := time.Now().Add(waitLong)
	for successes(w) < 20 {
		if time.Now().After(deadline) {
			b.Fatalf("no IO flowing on %s: %v", hostA, w.Report())
		}
		time.Sleep(time.Millisecond)
	}
	return f
}

func (f *failover) set(t *time.Time, now time.Time) {
	f.mu.Lock()
	if t.IsZero() {
		*t = now
	}
	f.mu.Unlock()
}

func (f *failover) get(t *time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *t
}

// await waits for an event of a kind (on a node, or any).
func (f *failover) await(kind, node, what string) {
	timeout := time.After(waitLong)
	for {
		select {
		case e := <-f.events:
			if e.Kind == kind && (node == "" || e.Node == node) {
				return
			}
		case <-timeout:
			f.b.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitTimer waits until Genesis' loop waits for its interval timer.
func (f *failover) waitTimer() {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := f.clk.BlockUntilContext(ctx, 1); err != nil {
		f.b.Fatal(err)
	}
}

func (f *failover) run() {
	f.mu.Lock()
	f.routeModel, f.routeEvent, f.ioEnd = time.Time{}, time.Time{}, time.Time{}
	f.mu.Unlock()
	f.poweredOff = time.Now()
	f.lab.CVM(cvmA).PowerOff()
	f.await("io.outage.start", hostA, "the VM's IO outage on host A")
	f.waitTimer()
	f.stepped = time.Now()
	f.clk.Advance(failoverInterval)
	f.await("io.outage.end", hostA, "the VM's IO to resume on host A")
	// Genesis reports the route once esxcfg-route has returned, which may
	// be after the IO resumed.
	deadline := time.Now().Add(waitLong)
	for f.get(&f.routeEvent).IsZero() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.routeModel.IsZero() || f.routeEvent.IsZero() {
		f.b.Fatalf("IO resumed without the route: model %v, event %v", f.routeModel, f.routeEvent)
	}
	if f.routeModel.Before(f.stepped) {
		f.b.Fatal("route before the round was stepped")
	}
}
