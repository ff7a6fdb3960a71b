package harness

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmio"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/topology"
)

// These tests run the default lab in process on the real clock, with the
// VM IO workloads on and fast, and look at NFS from both ends: the host's
// datastore client and the Stargates' sessions. They never sleep for a
// fixed time: every wait polls the model until a condition holds, with a
// deadline that only matters when something is broken.

const (
	hostA = "NTNX-BLOCK1-A"
	cvmA  = "NTNX-BLOCK1-A-CVM"
	cvmB  = "NTNX-BLOCK1-B-CVM"
	// waitLong bounds every wait; a healthy run needs milliseconds, a loaded
	// 2-core machine under -race a few seconds at worst.
	waitLong = 20 * time.Second
)

var (
	privHost  = netip.MustParseAddr("192.168.5.1")  // every host's vmk1
	privCVM   = netip.MustParseAddr("192.168.5.2")  // every CVM's eth1
	pubA      = netip.MustParseAddr("192.168.1.24") // host A's vmk0
	pubCVMB   = netip.MustParseAddr("192.168.1.28") // CVM B's eth0
	seed001   = netip.MustParsePrefix("192.168.5.2/32")
	nfsTarget = netip.AddrPortFrom(privCVM, 2049)
)

// fastTopology is the default lab with a 5 ms workload on the named hosts
// (every host when none is named) and none elsewhere.
func fastTopology(hosts ...string) *topology.Topology {
	topo := topology.Default()
	for i := range topo.Hosts {
		h := &topo.Hosts[i]
		on := len(hosts) == 0
		for _, n := range hosts {
			on = on || n == h.Name
		}
		h.Workload = &topology.Workload{Interval: "5ms", Disabled: !on}
	}
	return topo
}

// waitFor polls cond every few milliseconds until it returns nil, and fails
// the test with cond's last complaint at the deadline.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", waitLong, what, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// nfsLog records the events of every NFS server of a lab.
type nfsLog struct {
	mu sync.Mutex
	ev []nfs.Event
}

func (l *nfsLog) add(e nfs.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

// count counts events of a type, of one server or ("") of all.
func (l *nfsLog) count(typ nfs.EventType, server string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Type == typ && (server == "" || e.Server == server) {
			n++
		}
	}
	return n
}

func (l *nfsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.ev {
		fmt.Fprintf(&b, "%s %s %s->%s %s %s\n", e.Server, e.Type, e.Client, e.Local, e.Export, e.Detail)
	}
	return b.String()
}

// dsLog records a host's datastore events.
type dsLog struct {
	mu sync.Mutex
	ev []datastore.Event
}

func subscribeDatastores(t *testing.T, m *datastore.Manager) *dsLog {
	l := &dsLog{}
	t.Cleanup(m.Subscribe(func(e datastore.Event) {
		l.mu.Lock()
		l.ev = append(l.ev, e)
		l.mu.Unlock()
	}))
	return l
}

// since returns the events of a kind from index from on.
func (l *dsLog) since(from int, kind string) []datastore.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []datastore.Event
	for _, e := range l.ev[min(from, len(l.ev)):] {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// await waits until n events of a kind arrived from index from on, and
// returns them: events are delivered after the state they report changed,
// so the model may show the change first.
func (l *dsLog) await(t *testing.T, from int, kind string, n int) []datastore.Event {
	t.Helper()
	var got []datastore.Event
	waitFor(t, fmt.Sprintf("%d %s events", n, kind), func() error {
		if got = l.since(from, kind); len(got) < n {
			return fmt.Errorf("%d so far", len(got))
		}
		return nil
	})
	require.Len(t, got, n, "%s events", kind)
	return got
}

func (l *dsLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ev)
}

// nfsSessions returns the remote addresses of a Stargate's NFS (port
// 2049) sessions towards 192.168.5.2, the datastores' target; sessions to
// any other local address or port are reported as an error.
func nfsSessions(lab *Lab, cvm string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range lab.NFSServer(cvm).Server.Sessions() {
		if s.Local != nfsTarget {
			return out, fmt.Errorf("%s: session %s->%s (export %q) is not to %s", cvm, s.Remote, s.Local, s.Export, nfsTarget)
		}
		out = append(out, s.Remote.Addr())
	}
	return out, nil
}

// servesExactly waits until a Stargate's only sessions are NFS sessions
// from the given addresses, one each, in any order (none: no session).
func servesExactly(t *testing.T, lab *Lab, cvm string, from ...netip.Addr) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to serve exactly %v", cvm, from), func() error {
		got, err := nfsSessions(lab, cvm)
		if err != nil {
			return err
		}
		if !assert.ElementsMatch(noT{}, from, got) {
			return fmt.Errorf("%s serves %v", cvm, got)
		}
		return nil
	})
}

// noT is an assert.TestingT that records nothing: assert's comparisons
// used as predicates.
type noT struct{}

func (noT) Errorf(string, ...any) {}

// successes is how many of a workload's operations succeeded so far.
func successes(w *vmio.Workload) uint64 {
	r := w.Report()
	return r.Ops - r.Errors
}

// flowing waits until n more operations of the workload succeeded.
func flowing(t *testing.T, w *vmio.Workload, n uint64) {
	t.Helper()
	want := successes(w) + n
	waitFor(t, fmt.Sprintf("%d more successful IOs", n), func() error {
		if got := successes(w); got < want {
			return fmt.Errorf("%d of %d; %v", got, want, w.Report())
		}
		return nil
	})
}

// verify reads every block back while the workload runs: no acknowledged
// write may be lost or corrupt.
func verify(t *testing.T, w *vmio.Workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	integ, err := w.Verify(ctx)
	require.NoError(t, err)
	require.True(t, integ.OK, "integrity: %v", w.Report())
	require.Zero(t, integ.ViolationCount, "%+v", integ.Violations)
}

// nfsFlow returns the host's open NFS (port 2049) flow.
func nfsFlow(lab *Lab, host string) (fabric.FlowInfo, error) {
	var found []fabric.FlowInfo
	for _, f := range lab.Host(host).VMkernel().Node().Flows() {
		if f.Remote.Port() == 2049 {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		return fabric.FlowInfo{}, fmt.Errorf("%s has %d NFS flows: %+v", host, len(found), found)
	}
	return found[0], nil
}

// The default lab mounts ctr1 on every host from its own CVM, over the
// private vSwitchNutanix: each Stargate serves exactly one client,
// 192.168.5.1, its own host. The VMs' IO flows without outage.
func TestDefaultLabNFS(t *testing.T) {
	var events nfsLog
	lab := Start(t, fastTopology(), Options{OnNFSEvent: events.add})
	require.Empty(t, lab.MountErrors)

	for i, th := range lab.Topology.Hosts {
		h := lab.Hosts[i]
		list := h.Datastores().List()
		require.Len(t, list, 1, th.Name)
		d := list[0]
		assert.Equal(t, "ctr1", d.Name, th.Name)
		assert.Equal(t, "192.168.5.2", d.Host, th.Name)
		assert.Equal(t, "/ctr1", d.Share, th.Name)
		assert.True(t, d.Mounted && d.Accessible, "%s: %+v", th.Name, d)
		assert.Equal(t, datastore.Accessible, d.State, th.Name)

		cvm := th.Name + "-CVM"
		servesExactly(t, lab, cvm, privHost)
		f, err := nfsFlow(lab, th.Name)
		require.NoError(t, err)
		assert.Equal(t, "vmk1", f.Egress, th.Name)
		assert.Equal(t, cvm, f.Target, "%s's NFS goes to its own CVM", th.Name)
		assert.Equal(t, privHost, f.Local.Addr(), th.Name)
		assert.Equal(t, 1, events.count(nfs.EventMount, cvm), "%s mounted once\n%s", cvm, &events)
	}
	assert.Zero(t, events.count(nfs.EventMountDenied, ""), &events)
	assert.Zero(t, events.count(nfs.EventNFSDenied, ""), &events)

	for _, th := range lab.Topology.Hosts {
		w := lab.Workload(th.Name)
		require.NotNil(t, w, th.Name)
		flowing(t, w, 50)
		verify(t, w)
		r := w.Report()
		assert.Empty(t, r.Outages, "%s: %v", th.Name, r)
		assert.Zero(t, r.Errors, "%s: %v", th.Name, r)
		t.Log(r)
	}
}

// Seed 001, "Untrained Administrator Injects Route into Healthy Cluster",
// through the model: host A's route to 192.168.5.2 via CVM B's public
// address sends A's NFS out of vmk0 from 192.168.1.24 to CVM B, whose
// Stargate serves it (the whitelist admits the cluster's hypervisors).
// The datastore follows without a remount and the VM loses no write.
// Deleting the route brings A back to CVM A over vmk1.
func TestSeed001RouteMovesNFS(t *testing.T) {
	var events nfsLog
	lab := Start(t, fastTopology(hostA), Options{OnNFSEvent: events.add})
	require.Empty(t, lab.MountErrors)
	a := lab.Host(hostA)
	dsEvents := subscribeDatastores(t, a.Datastores())
	w := lab.Workload(hostA)
	require.NotNil(t, w)

	ds, ok := a.Datastores().Get("ctr1")
	require.True(t, ok)
	uuid := ds.UUID()
	servesExactly(t, lab, cvmA, privHost)
	servesExactly(t, lab, cvmB, privHost) // host B's own mount
	flowing(t, w, 20)
	mounts := events.count(nfs.EventMount, "")
	require.Equal(t, 3, mounts, &events)

	mark := dsEvents.len()
	t0 := time.Now()
	require.NoError(t, a.VMkernel().AddRoute("", seed001, pubCVMB))
	servesExactly(t, lab, cvmB, privHost, pubA)
	servesExactly(t, lab, cvmA) // host A's old session is gone
	flowing(t, w, 1)
	t.Logf("route added: first IO through CVM B after %v", time.Since(t0))
	flowing(t, w, 50)

	f, err := nfsFlow(lab, hostA)
	require.NoError(t, err)
	assert.Equal(t, "vmk0", f.Egress)
	assert.Equal(t, pubA, f.Local.Addr())
	assert.Equal(t, cvmB, f.Target)
	assert.Equal(t, nfsTarget, f.Remote, "the target stays 192.168.5.2")
	rc := dsEvents.await(t, mark, datastore.EventReconnected, 1)
	assert.Equal(t, "vmk0", rc[0].Egress)
	assert.Equal(t, cvmB, rc[0].Target)
	assert.True(t, strings.HasPrefix(rc[0].Local, "192.168.1.24:"), rc[0].Local)

	assertSameMount(t, a.Datastores(), ds, uuid)
	assert.Equal(t, mounts, events.count(nfs.EventMount, ""), "no MOUNT after the route change\n%s", &events)
	assert.Zero(t, events.count(nfs.EventNFSDenied, ""), "CVM B admits 192.168.1.24\n%s", &events)
	verify(t, w)

	mark = dsEvents.len()
	t0 = time.Now()
	require.NoError(t, a.VMkernel().DeleteRoute("", seed001, pubCVMB))
	servesExactly(t, lab, cvmA, privHost)
	servesExactly(t, lab, cvmB, privHost)
	flowing(t, w, 1)
	t.Logf("route deleted: first IO through CVM A after %v", time.Since(t0))
	flowing(t, w, 50)
	f, err = nfsFlow(lab, hostA)
	require.NoError(t, err)
	assert.Equal(t, "vmk1", f.Egress)
	assert.Equal(t, privHost, f.Local.Addr())
	assert.Equal(t, cvmA, f.Target)
	rc = dsEvents.await(t, mark, datastore.EventReconnected, 1)
	assert.Equal(t, "vmk1", rc[0].Egress)
	assert.Equal(t, cvmA, rc[0].Target)

	assertSameMount(t, a.Datastores(), ds, uuid)
	assert.Equal(t, mounts, events.count(nfs.EventMount, ""), &events)
	verify(t, w)
	r := w.Report()
	t.Log(r)
	// The datastore re-sends what was in flight on the new connection: the
	// VM sees no error, at most a stall.
	assert.Zero(t, r.Errors, "%v", r)
	for _, o := range r.Outages {
		assert.Less(t, o.Duration, 2*time.Second, "outage %+v", o)
	}
	assert.Empty(t, dsEvents.since(0, datastore.EventAPD))
}

// assertSameMount checks that the datastore is the one mounted at start,
// still mounted and accessible.
func assertSameMount(t *testing.T, m *datastore.Manager, ds *datastore.Datastore, uuid string) {
	t.Helper()
	got, ok := m.Get("ctr1")
	require.True(t, ok)
	assert.Same(t, ds, got, "the datastore was not remounted")
	assert.Equal(t, uuid, got.UUID())
	list := m.List()
	require.Len(t, list, 1)
	assert.True(t, list[0].Mounted && list[0].Accessible, "%+v", list[0])
}

// Seed 001, "Nutanix CVM A Fails (powered off)": host A's datastore goes
// All Paths Down and the VM's IO stops. The autopath route (here added by
// hand, as Genesis' hypervisor_ha.py does) brings the IO back through CVM
// B without a remount, and closes the outage. Once CVM A is back and the
// route is gone, the IO runs on CVM A again; no write was lost.
func TestCVMFailureAPDAndAutopath(t *testing.T) {
	topo := fastTopology(hostA)
	topo.Hosts[0].NFS = &topology.NFSSettings{
		HeartbeatFrequency: "100ms", HeartbeatTimeout: "100ms", HeartbeatMaxFailures: 2, APDTimeout: "2s",
	}
	var events nfsLog
	lab := Start(t, topo, Options{OnNFSEvent: events.add, CVMTimers: fastBoot})
	require.Empty(t, lab.MountErrors)
	a := lab.Host(hostA)
	dsEvents := subscribeDatastores(t, a.Datastores())
	w := lab.Workload(hostA)
	require.NotNil(t, w)
	ds, ok := a.Datastores().Get("ctr1")
	require.True(t, ok)
	uuid := ds.UUID()
	servesExactly(t, lab, cvmA, privHost)
	flowing(t, w, 20)
	mounts := events.count(nfs.EventMount, "")

	// CVM A fails.
	powerOff := time.Now()
	lab.CVM(cvmA).PowerOff()
	dsEvents.await(t, 0, datastore.EventAPD, 1)
	t.Logf("APD after %v", time.Since(powerOff))
	assert.Equal(t, datastore.Inaccessible, ds.State())
	assert.Contains(t, string(a.VMkernel().Log().Bytes()), "NFS: 337: Lost connection to the server 192.168.5.2 mount point /ctr1")
	waitFor(t, "the VM's IO outage", func() error {
		r := w.Report()
		if n := len(r.Outages); n == 0 || !r.Outages[n-1].Open {
			return fmt.Errorf("no open outage: %v", r)
		}
		return nil
	})
	list := a.Datastores().List()
	require.Len(t, list, 1)
	assert.True(t, list[0].Mounted, "APD keeps the datastore mounted")
	assert.False(t, list[0].Accessible)

	// Autopath: host A's NFS goes to CVM B.
	routeAdded := time.Now()
	require.NoError(t, a.VMkernel().AddRoute("", seed001, pubCVMB))
	servesExactly(t, lab, cvmB, privHost, pubA)
	waitFor(t, "the outage to end", func() error {
		r := w.Report()
		if n := len(r.Outages); n == 0 || r.Outages[n-1].Open {
			return fmt.Errorf("outage still open: %v", r)
		}
		return nil
	})
	t.Logf("IO back %v after the route", time.Since(routeAdded))
	flowing(t, w, 50)
	assert.Equal(t, datastore.Accessible, ds.State())
	restored := dsEvents.await(t, 0, datastore.EventRestored, 1)
	assert.Positive(t, restored[0].Outage)
	assertSameMount(t, a.Datastores(), ds, uuid)
	assert.Equal(t, mounts, events.count(nfs.EventMount, ""), "no remount through CVM B\n%s", &events)
	f, err := nfsFlow(lab, hostA)
	require.NoError(t, err)
	assert.Equal(t, cvmB, f.Target)
	verify(t, w)

	// CVM A is back; the route goes (as Genesis deletes it).
	lab.CVM(cvmA).PowerOn()
	requireStargateServing(t, lab, cvmA)
	require.NoError(t, a.VMkernel().DeleteRoute("", seed001, pubCVMB))
	servesExactly(t, lab, cvmA, privHost)
	servesExactly(t, lab, cvmB, privHost)
	flowing(t, w, 50)
	f, err = nfsFlow(lab, hostA)
	require.NoError(t, err)
	assert.Equal(t, cvmA, f.Target)
	assert.Equal(t, "vmk1", f.Egress)
	assertSameMount(t, a.Datastores(), ds, uuid)
	assert.Equal(t, mounts, events.count(nfs.EventMount, ""), &events)
	verify(t, w)

	r := w.Report()
	t.Log(r)
	require.Len(t, r.Outages, 1, "one outage, CVM A's failure: %v", r)
	o := r.Outages[0]
	assert.False(t, o.Open)
	// It began with the first IO that hung, which may have left just before
	// the power-off, and spans the route that ended it.
	assert.True(t, o.Start.After(powerOff.Add(-500*time.Millisecond)), "outage %+v began long before the power-off at %v", o, powerOff)
	assert.True(t, o.Start.Before(routeAdded), "outage %+v began after the route at %v", o, routeAdded)
	assert.True(t, o.End.After(routeAdded), "outage %+v ended before the route at %v", o, routeAdded)
	assert.True(t, r.Integrity.OK, "%v", r)
}

// fastBoot is a CVM boot sequence a test on real time can wait for.
var fastBoot = cvmsim.Timers{PingAfter: 20 * time.Millisecond, StargateAfter: 50 * time.Millisecond, InitAfter: 80 * time.Millisecond}

// requireStargateServing waits for a CVM that was powered on to finish its
// boot, then checks that its Stargate serves NFS again: its modelled ports
// are taken.
func requireStargateServing(t *testing.T, lab *Lab, cvm string) {
	t.Helper()
	c := lab.CVM(cvm)
	require.NotNil(t, c)
	waitFor(t, cvm+" fully initialised", func() error {
		if !c.Ready() || c.StargateState() != cvmsim.StargateUp {
			return fmt.Errorf("power %v, stargate %v", c.Power(), c.StargateState())
		}
		return nil
	})
	s := lab.NFSServer(cvm)
	for _, p := range []uint16{portmapPort, nfsPort} {
		_, err := s.Node.Listen(p)
		require.ErrorIs(t, err, fabric.ErrAddrInUse, "%s: nothing listens on %d after power-on", cvm, p)
	}
}

// A CVM's Stargate lives and dies with the CVM: power-off forgets its
// sessions at once (the host sees nothing: its flow is blackholed), and
// once the CVM has booted again Stargate serves the modelled ports.
func TestStargateFollowsPower(t *testing.T) {
	clk := clock.NewFake()
	lab := Start(t, topology.Default(), Options{Clock: clk, NoWorkload: true, CVMTimers: fastBoot})
	c := lab.CVM("NTNX-BLOCK1-A-CVM")
	s := lab.NFSServer("NTNX-BLOCK1-A-CVM")
	require.Same(t, c.NFS(), s.Server)
	require.Len(t, s.Server.Sessions(), 1)
	c.PowerOff()
	assert.Empty(t, s.Server.Sessions())
	_, err := s.Node.Listen(nfsPort)
	require.ErrorIs(t, err, fabric.ErrPoweredOff)
	c.PowerOn()
	clk.Advance(fastBoot.InitAfter)
	requireStargateServing(t, lab, "NTNX-BLOCK1-A-CVM")
}
