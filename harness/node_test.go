package harness

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/sshd"
	"github.com/autopathlab/autopathlab/topology"
)

// fakeFabric records what a lab of one node asks of the cross-process
// fabric.
type fakeFabric struct {
	mu      sync.Mutex
	remote  map[string]string
	served  net.Listener
	every   time.Duration
	watched chan struct{} // closed when watch starts
	stopped chan struct{} // closed when watch's ctx ends
}

func newFakeFabric() *fakeFabric {
	return &fakeFabric{remote: map[string]string{}, watched: make(chan struct{}), stopped: make(chan struct{})}
}

func (f *fakeFabric) funcs() *crossProcessFuncs {
	return &crossProcessFuncs{
		setRemote: func(n *fabric.Node, owner string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.remote[n.Name()] = owner
		},
		serve: func(_ *fabric.Network, ln net.Listener) error {
			f.mu.Lock()
			f.served = ln
			f.mu.Unlock()
			for {
				c, err := ln.Accept()
				if err != nil {
					return nil // closed: the lab stops
				}
				c.Close()
			}
		},
		watch: func(_ *fabric.Network, ctx context.Context, every time.Duration) {
			f.mu.Lock()
			f.every = every
			f.mu.Unlock()
			close(f.watched)
			<-ctx.Done()
			close(f.stopped)
		},
	}
}

func (f *fakeFabric) remotes() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.remote {
		out[k] = v
	}
	return out
}

// newNode starts a lab of one node for a test on free loopback ports.
func newNode(t *testing.T, self string, o NodeOptions) *Lab {
	t.Helper()
	if o.Keyring == nil {
		o.Keyring = testKeyring
	}
	l, err := NewNode(Default(), self, o)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

var testKeyring = sshd.NewKeyring()

type ifaceDesc struct {
	Name, Addr, MAC, Segment string
}

func describeNodes(nw *fabric.Network) map[string][]ifaceDesc {
	out := map[string][]ifaceDesc{}
	for _, n := range nw.Nodes() {
		var d []ifaceDesc
		for _, i := range n.Interfaces() {
			seg := ""
			if s := i.Segment(); s != nil {
				seg = s.Name()
			}
			d = append(d, ifaceDesc{i.Name(), i.Addr().String(), i.MAC().String(), seg})
		}
		out[n.Name()] = d
	}
	return out
}

// A host's process has the whole lab in its model: every node, with the
// interfaces, addresses, MACs and segments of the lab in one process; the
// other hosts and CVMs are remote, owned by their services.
func TestNewNodeHostModelIsTheWholeLab(t *testing.T) {
	whole := Start(t, Default(), Options{NoWorkload: true, Keyring: testKeyring})
	ff := newFakeFabric()
	n := newNode(t, "NTNX-BLOCK1-A", NodeOptions{Options: Options{NoWorkload: true}, fabric: ff.funcs()})

	assert.Equal(t, describeNodes(whole.Net), describeNodes(n.Net))
	assert.Equal(t, "NTNX-BLOCK1-A", n.Self())
	require.Len(t, n.Hosts, 1)
	assert.Empty(t, n.CVMs)
	assert.Nil(t, n.Store, "a host runs no Stargate")
	want := map[string]string{
		"NTNX-BLOCK1-B": "esxi-b:7000", "NTNX-BLOCK1-C": "esxi-c:7000",
		"NTNX-BLOCK1-A-CVM": "cvm-a:7000", "NTNX-BLOCK1-B-CVM": "cvm-b:7000", "NTNX-BLOCK1-C-CVM": "cvm-c:7000",
	}
	assert.Equal(t, want, ff.remotes())
	for name, owner := range want {
		assert.Equal(t, owner, n.Owner(name))
	}
	assert.Empty(t, n.Owner("NTNX-BLOCK1-A"))
	assert.Empty(t, n.Owner("gw"), "the gateway is modelled in every process")
}

// Routing and ARP decide on the sending node's own model: host A's NFS
// traffic for 192.168.5.2 leaves vmk1 for CVM A's placeholder, and after
// seed 001's route it leaves vmk0 for CVM B's.
func TestNewNodeRoutesOnTheLocalModel(t *testing.T) {
	n := newNode(t, "esxi-a", NodeOptions{Options: Options{NoWorkload: true}, fabric: newFakeFabric().funcs()})
	h := n.Host("NTNX-BLOCK1-A")
	require.NotNil(t, h)
	ns, err := h.VMkernel().Netstack("defaultTcpipStack")
	require.NoError(t, err)
	dst := netip.MustParseAddr("192.168.5.2")

	r, err := ns.Routes.Lookup(dst)
	require.NoError(t, err)
	assert.Equal(t, "vmk1", r.Iface.Name())
	assert.Equal(t, "NTNX-BLOCK1-A/vSwitchNutanix", r.Iface.Segment().Name())
	assert.Contains(t, r.Iface.Segment().Interfaces(), n.placeholders["NTNX-BLOCK1-A-CVM"].Interface("eth1"))

	require.NoError(t, n.AddRoute("a", "", "192.168.5.2/32", "192.168.1.28"))
	r, err = ns.Routes.Lookup(dst)
	require.NoError(t, err)
	assert.Equal(t, "vmk0", r.Iface.Name())
	assert.Equal(t, "192.168.1.28", r.Gateway.String())

	// The flow's target is CVM B's placeholder, which (without the
	// cross-process fabric) listens on nothing here: refused at once,
	// not a timeout on an unknown next hop.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = h.VMkernel().Node().Dial(ctx, netip.AddrPortFrom(dst, 2049), fabric.DialOptions{})
	assert.ErrorIs(t, err, fabric.ErrConnRefused)
}

// The placeholders' owners come from Peers (by topology or service name),
// else from the service names and FabricPort.
func TestNewNodePeers(t *testing.T) {
	ff := newFakeFabric()
	newNode(t, "NTNX-BLOCK1-B-CVM", NodeOptions{Options: Options{NoWorkload: true}, FabricPort: 7100,
		Peers: map[string]string{"ntnx-block1-a": "10.0.0.1:1", "cvm-c": "10.0.0.3:3"}, fabric: ff.funcs()})
	assert.Equal(t, map[string]string{
		"NTNX-BLOCK1-A": "10.0.0.1:1", "NTNX-BLOCK1-B": "esxi-b:7100", "NTNX-BLOCK1-C": "esxi-c:7100",
		"NTNX-BLOCK1-A-CVM": "cvm-a:7100", "NTNX-BLOCK1-C-CVM": "10.0.0.3:3",
	}, ff.remotes())
}

// The fabric listener takes the other processes' flows (serve); the peer
// watch runs until the lab closes.
func TestNewNodeServesTheFabricAndWatchesPeers(t *testing.T) {
	ff := newFakeFabric()
	n, err := NewNode(Default(), "cvm-a", NodeOptions{Options: Options{NoWorkload: true, Keyring: testKeyring}, FabricAddr: "127.0.0.1:0", WatchEvery: 250 * time.Millisecond, fabric: ff.funcs()})
	require.NoError(t, err)
	<-ff.watched
	require.NotNil(t, n.FabricAddr())
	c, err := net.Dial("tcp", n.FabricAddr().String())
	require.NoError(t, err, "the fabric port answers")
	c.Close()
	ff.mu.Lock()
	assert.Equal(t, n.FabricAddr(), ff.served.Addr())
	assert.Equal(t, 250*time.Millisecond, ff.every)
	ff.mu.Unlock()

	require.NoError(t, n.Close())
	<-ff.stopped
	_, err = net.Dial("tcp", n.FabricAddr().String())
	assert.Error(t, err, "the fabric port closes with the lab")
}

// peersAt gives every host and CVM of the default lab a fabric address:
// those given, else one that refuses at once.
func peersAt(given map[string]string) map[string]string {
	out := map[string]string{}
	for _, n := range nodeNames(Default()) {
		out[n] = "127.0.0.1:1"
	}
	for k, v := range given {
		n, _ := NodeForService(Default(), k)
		out[n] = v
	}
	return out
}

// Two processes' worth of nodes, joined by the cross-process fabric over
// loopback: host A mounts its datastore from CVM A in the other "process"
// (the modelled source address is what Stargate sees), and sees CVM A go
// off and come back when that process powers it off and on.
func TestNewNodeAcrossProcesses(t *testing.T) {
	lnHost, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	lnCVM, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	peers := peersAt(map[string]string{"esxi-a": lnHost.Addr().String(), "cvm-a": lnCVM.Addr().String()})
	timers := cvmsim.Timers{PingAfter: 10 * time.Millisecond, StargateAfter: 20 * time.Millisecond, InitAfter: 30 * time.Millisecond}
	cvm := newNode(t, "cvm-a", NodeOptions{Options: Options{NoWorkload: true, CVMTimers: timers}, FabricListener: lnCVM, Peers: peers, WatchEvery: 50 * time.Millisecond})
	host := newNode(t, "esxi-a", NodeOptions{Options: Options{NoWorkload: true}, FabricListener: lnHost, Peers: peers, WatchEvery: 50 * time.Millisecond})
	assert.Equal(t, lnCVM.Addr().String(), host.placeholders["NTNX-BLOCK1-A-CVM"].Remote())

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := host.Host("NTNX-BLOCK1-A")
	require.NoError(t, host.WaitUntil(ctx, func() bool {
		d, ok := h.Datastores().Get("ctr1")
		return ok && d.Info().Accessible
	}), "host A mounts ctr1 from CVM A's process")
	v, err := cvm.CVMView("a")
	require.NoError(t, err)
	require.NotEmpty(t, v.Sessions)
	assert.Equal(t, "192.168.5.1", strings.Split(v.Sessions[0].Client, ":")[0], "Stargate sees the modelled client")

	ph := host.placeholders["NTNX-BLOCK1-A-CVM"]
	require.NoError(t, cvm.PowerOff("a"))
	require.NoError(t, host.WaitUntil(ctx, func() bool { return !ph.Powered() }), "the peer watch sees CVM A off")
	require.NoError(t, cvm.PowerOn("a"))
	require.NoError(t, host.WaitUntil(ctx, ph.Powered), "and on again")
	var kinds []string
	for _, e := range host.Events.Events() {
		if e.Node == "NTNX-BLOCK1-A-CVM" {
			kinds = append(kinds, e.Kind)
		}
	}
	assert.Subset(t, kinds, []string{"peer.down", "peer.up"})
}

// A process's placeholders go down and up with their owners (the peer
// watch powers them): peer.down and peer.up events, and the CVM's cluster
// status sees a CVM whose process does not answer as down.
func TestNewNodePeerDownAndUp(t *testing.T) {
	n := newNode(t, "cvm-a", NodeOptions{Options: Options{NoWorkload: true}, fabric: newFakeFabric().funcs()})
	ph := n.placeholders["NTNX-BLOCK1-B-CVM"]
	require.NotNil(t, ph)
	st := placeholderStatus("NTNX-BLOCK1-B-CVM", ph)
	assert.True(t, st.Ready)
	assert.Equal(t, "192.168.1.28", st.IP.String())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ph.SetPowered(false) // the power hooks log synchronously
	st = placeholderStatus("NTNX-BLOCK1-B-CVM", ph)
	assert.False(t, st.Reachable)
	assert.Equal(t, cvmsim.PowerOff, st.Power)
	ph.SetPowered(true)
	var kinds []string
	for _, e := range n.Events.Events() {
		if e.Node == "NTNX-BLOCK1-B-CVM" {
			kinds = append(kinds, e.Kind+": "+e.Detail)
		}
	}
	assert.Equal(t, []string{
		"peer.down: seen from NTNX-BLOCK1-A-CVM: its process (cvm-b:7000) does not answer, or says the node is off",
		"peer.up: seen from NTNX-BLOCK1-A-CVM: its process (cvm-b:7000) answers: the node is on",
	}, kinds)

	var out bytesBuf
	s := n.CVMs[0].NewShell()
	code := s.Run(ctx, "cluster status", nil, &out, &out)
	require.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "CVM: 192.168.1.28 Up")
	assert.Contains(t, out.String(), "CVM: 192.168.1.27 Up, ZeusLeader")
}

// A CVM process starts up at once, or with Boot (its container started
// again) goes through the boot sequence on the lab's clock.
func TestNewNodeCVMBoot(t *testing.T) {
	timers := cvmsim.Timers{PingAfter: 10 * time.Second, StargateAfter: 20 * time.Second, InitAfter: 30 * time.Second}
	first := newNode(t, "cvm-a", NodeOptions{Options: Options{NoWorkload: true, CVMTimers: timers, Clock: clock.NewFake()}, fabric: newFakeFabric().funcs()})
	require.Len(t, first.CVMs, 1)
	assert.Equal(t, cvmsim.PowerUp, first.CVMs[0].Power())

	again := newNode(t, "NTNX-BLOCK1-A-CVM", NodeOptions{Options: Options{NoWorkload: true, CVMTimers: timers, Clock: clock.NewFake()}, Boot: true, fabric: newFakeFabric().funcs()})
	c := again.CVMs[0]
	assert.Equal(t, cvmsim.PowerBooting, c.Power())
	assert.False(t, c.Reachable())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	again.FakeClock().Advance(30 * time.Second)
	require.NoError(t, again.Wait(ctx, "cvm a ready"))
	var kinds []string
	for _, e := range again.Events.Events() {
		if e.Node == c.Name() {
			kinds = append(kinds, e.Kind)
		}
	}
	assert.Subset(t, kinds, []string{"power.on", "booted"})
}

// A node's views, actions, faults and waits cover its own node; another
// process's is a 404 that names its owner.
func TestNewNodeViewsAndFaultsAreLocal(t *testing.T) {
	n := newNode(t, "NTNX-BLOCK1-A", NodeOptions{Options: Options{NoWorkload: true}, fabric: newFakeFabric().funcs()})
	v := n.View()
	assert.Equal(t, []string{"NTNX-BLOCK1-A"}, v.Hosts)
	assert.Empty(t, v.CVMs)
	var names []string
	for _, e := range v.Endpoints {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"NTNX-BLOCK1-A", "gw"}, names)
	require.Len(t, n.HostViews(), 1)
	assert.Empty(t, n.CVMViews())

	_, err := n.HostView("b")
	var nf *NotFoundError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, "NTNX-BLOCK1-B", nf.Name)
	assert.Equal(t, "esxi-b:7000", nf.Owner)
	assert.EqualError(t, err, "host NTNX-BLOCK1-B runs in another process (esxi-b:7000), not in this one (NTNX-BLOCK1-A): ask the lab's gateway")
	require.ErrorAs(t, n.PowerOff("a"), &nf)
	assert.Equal(t, "cvm-a:7000", nf.Owner)
	_, err = n.AddFault(FaultSpec{Kind: FaultLinkDown, Node: "NTNX-BLOCK1-A-CVM", Interface: "eth0"})
	require.ErrorAs(t, err, &nf)
	_, err = n.ParseCondition("cvm a power off")
	assert.ErrorContains(t, err, "runs in another process")

	// The names still resolve, for event filters and the gateway.
	name, err := n.ResolveCVM("a")
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-A-CVM", name)

	// A partition with another process's node cuts this end.
	f, err := n.AddFault(FaultSpec{Kind: FaultPartition, Node: "NTNX-BLOCK1-A-CVM", Peer: "a"})
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-A-CVM", f.Spec.Node)
	assert.Equal(t, "NTNX-BLOCK1-A", f.Spec.Peer)
	_, err = n.AddFault(FaultSpec{Kind: FaultPartition, Node: "NTNX-BLOCK1-B-CVM", Peer: "NTNX-BLOCK1-C"})
	require.ErrorAs(t, err, &nf, "a partition between two other processes' nodes is theirs")
	_, err = n.AddFault(FaultSpec{Kind: FaultLinkDown, Node: "a", Interface: "vmnic0"})
	require.NoError(t, err)
	assert.Len(t, n.Faults(), 2)
	_, err = n.Reset(context.Background())
	require.NoError(t, err)
	assert.Empty(t, n.Faults())
}

// Listeners on every interface are advertised under the service name,
// which the other containers resolve.
func TestNewNodeAdvertisesTheServiceName(t *testing.T) {
	n := newNode(t, "cvm-b", NodeOptions{Options: Options{NoWorkload: true, ListenHost: "0.0.0.0"}, NFSPort: -1, fabric: newFakeFabric().funcs()})
	eps := n.Endpoints()
	require.Len(t, eps, 2)
	e := eps[0]
	assert.Equal(t, "NTNX-BLOCK1-B-CVM", e.Name)
	assert.Regexp(t, `^cvm-b:\d+$`, e.Listeners["ssh"])
	assert.Regexp(t, `^cvm-b:\d+$`, e.Listeners["status"])
	assert.NotContains(t, e.Listeners, "nfs", "NFSPort -1: no real NFS port")
}

// Every CVM process serves the one cluster store, a directory they share
// (a named volume in compose).
func TestNewNodeSharedStore(t *testing.T) {
	dir := t.TempDir()
	a := newNode(t, "cvm-a", NodeOptions{Options: Options{NoWorkload: true}, StoreDir: dir, fabric: newFakeFabric().funcs()})
	b := newNode(t, "cvm-b", NodeOptions{Options: Options{NoWorkload: true}, StoreDir: dir, fabric: newFakeFabric().funcs()})
	require.NotNil(t, a.Store)
	f, err := a.Store.FS().Create("ctr1/disk.vmdk")
	require.NoError(t, err)
	_, err = f.Write([]byte("written through CVM A"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	g, err := b.Store.FS().Open("ctr1/disk.vmdk")
	require.NoError(t, err)
	defer g.Close()
	buf := make([]byte, 64)
	k, _ := g.Read(buf)
	assert.Equal(t, "written through CVM A", string(buf[:k]))
}

// A host's process mounts its datastore as soon as its CVM answers: here
// the test serves a Stargate on CVM A's placeholder, as the cross-process
// fabric delivers a flow to CVM A's process.
func TestNewNodeHostMountsWhenItsCVMAnswers(t *testing.T) {
	n := newNode(t, "esxi-a", NodeOptions{Options: Options{NoWorkload: true}, fabric: newFakeFabric().funcs()})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, n.Wait(ctx, "event datastore.mount_failed on a"), "CVM A listens on nothing yet")

	store := nfs.NewMemStore()
	require.NoError(t, store.CreateContainer("ctr1"))
	srv := nfs.NewServer(store, nfs.Config{Name: "NTNX-BLOCK1-A-CVM", Exports: []nfs.Export{{Path: "/ctr1", Whitelist: clusterWhitelist(n.Topology)}}})
	t.Cleanup(func() { srv.Close() })
	require.NoError(t, n.listenModelled("NTNX-BLOCK1-A-CVM", n.placeholders["NTNX-BLOCK1-A-CVM"], srv))

	h := n.Host("NTNX-BLOCK1-A")
	require.NoError(t, n.WaitUntil(ctx, func() bool {
		d, ok := h.Datastores().Get("ctr1")
		return ok && d.Info().Accessible && n.mountedAtStart("NTNX-BLOCK1-A", "ctr1")
	}), "mounted, and what Reset restores")
}

func TestServiceNames(t *testing.T) {
	topo := Default()
	for name, svc := range map[string]string{"NTNX-BLOCK1-A": "esxi-a", "NTNX-BLOCK1-C": "esxi-c", "NTNX-BLOCK1-A-CVM": "cvm-a", "ntnx-block1-b-cvm": "cvm-b"} {
		got, err := ServiceName(topo, name)
		require.NoError(t, err)
		assert.Equal(t, svc, got, name)
	}
	n, err := NodeForService(topo, "CVM-C")
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-C-CVM", n)
	_, err = ServiceName(topo, "gw")
	assert.Error(t, err)

	big := topology.Generate(30)
	got, err := ServiceName(big, big.Hosts[26].Name)
	require.NoError(t, err)
	assert.Equal(t, "esxi-27", got)
	got, err = ServiceName(big, big.CVMs[25].Name)
	require.NoError(t, err)
	assert.Equal(t, "cvm-z", got)

	_, err = NewNode(topo, "esxi-q", NodeOptions{})
	assert.ErrorContains(t, err, `NTNX-BLOCK1-A (esxi-a)`)
	_, err = NewNode(topo, "a", NodeOptions{Options: Options{Genesis: &GenesisOptions{}}})
	assert.ErrorContains(t, err, "runs no Genesis")
}

// Nodes of one lab, each in a "process" of its own, start and stop
// without leaving a goroutine behind.
func TestNewNodeCloseLeavesNothing(t *testing.T) {
	warm := newNode(t, "cvm-a", NodeOptions{Options: Options{NoWorkload: true}, fabric: newFakeFabric().funcs()})
	require.NoError(t, warm.Close())
	base := runtime.NumGoroutine()
	var labs []*Lab
	for _, self := range []string{"esxi-a", "esxi-b", "cvm-a", "cvm-b"} {
		l, err := NewNode(Default(), self, NodeOptions{Options: Options{Keyring: testKeyring}, FabricAddr: "127.0.0.1:0", fabric: newFakeFabric().funcs()})
		require.NoError(t, err)
		labs = append(labs, l)
	}
	for _, l := range labs {
		require.NoError(t, l.Close())
	}
	settle(t, "goroutines", func() (bool, string) {
		n := runtime.NumGoroutine()
		return n <= base, fmt.Sprintf("%d goroutines, %d before", n, base)
	})
}

type bytesBuf struct {
	mu sync.Mutex
	b  []byte
}

func (b *bytesBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *bytesBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
