// Package harness assembles a lab from a topology: the fabric, the ESXi
// hosts with their SSH servers, the CVMs and gateways, and exposes it to
// tests the way net/http/httptest exposes a server: one call to start, one
// to stop.
package harness

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/cvmsim/genesis"
	"github.com/autopathlab/autopathlab/esxisim"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmio"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/sshd"
	"github.com/autopathlab/autopathlab/topology"
)

// Options configure a lab.
type Options struct {
	// Clock drives every emulator timer (default real time).
	Clock clock.Clock
	// ListenHost is where real listeners bind (default 127.0.0.1).
	ListenHost string
	// SSHPortBase gives host N (1-based, in topology order) SSH port
	// SSHPortBase+N unless the topology sets one. 0 picks free ports.
	SSHPortBase int
	// HostKeySeed makes host keys stable across restarts of the same lab
	// (default: the topology name).
	HostKeySeed string
	// Keyring shares RSA host-key derivations between labs (tests that
	// start many labs); nil: one per lab. The nodes of a lab share one RSA
	// host key and have ECDSA keys of their own.
	Keyring *sshd.Keyring
	// NFSPortBase gives the Nth NFS service (CVMs, then filers, 1-based)
	// the real loopback port NFSPortBase+N. 0 picks free ports.
	NFSPortBase int
	// CVMSSHPortBase gives CVM N (1-based, in topology order) its SSH
	// port CVMSSHPortBase+N. 0 picks free ports.
	CVMSSHPortBase int
	// StatusPortBase gives CVM N its Stargate status page (port 2009 on
	// a real CVM) on StatusPortBase+N. 0 picks free ports.
	StatusPortBase int
	// CVMTimers is the CVMs' boot sequence after a power-on (zero fields:
	// cvmsim's defaults, 20/60/120 s on the lab's clock). Tests on real
	// time shorten it.
	CVMTimers cvmsim.Timers
	// OnEvent receives SSH events from every host.
	OnEvent func(esxisim.Event)
	// OnNFSEvent receives events from every NFS server.
	OnNFSEvent func(nfs.Event)
	// OnIOEvent receives the VM IO workloads' outage and error events.
	OnIOEvent func(vmio.Event)
	// NoWorkload starts no VM IO workload anywhere.
	NoWorkload bool
	// EventsTo receives every event as a JSON line (lab --events FILE).
	EventsTo io.Writer
	// Genesis runs the reference autopath (nil: off, as in lab without
	// --genesis).
	Genesis *GenesisOptions
}

// Lab is a running lab.
type Lab struct {
	Topology *topology.Topology
	Net      *fabric.Network
	Clock    clock.Clock
	// Hosts are the ESXi hosts in topology order: every one in a lab of
	// all nodes (New), the one it runs in a lab of one node (NewNode).
	Hosts []*esxisim.Host
	// CVMs are the Controller VMs in topology order (in a lab of one
	// node, the one it runs, if any). Power them through the CVM
	// (PowerOff, PowerOn, Reboot), not through their nodes.
	CVMs []*cvmsim.CVM
	// Nodes holds the gateways, CVMs (cvm.Node()) and filers by name
	// (not the placeholders of another process's nodes: see NewNode).
	Nodes map[string]*fabric.Node
	// Store is the cluster-wide store every Stargate serves (nil without
	// CVMs).
	Store *nfs.Store
	// NFS lists the Stargates (CVM order) and then the filers' servers.
	NFS []*NFSServer
	// Started is how long New took until every listener accepted and
	// every datastore was mounted.
	Started time.Duration
	// MountErrors lists the datastores that did not mount at start.
	MountErrors []error
	// Events is the lab's event log: SSH logins and commands, NFS mounts
	// and sessions, datastore state changes, IO outages.
	Events *EventLog
	// APIURL is where the control API serves this lab, once something
	// serves it (lab sets it); it goes into the endpoints JSON.
	APIURL string

	workloads map[string]*vmio.Workload
	// initialMounts are the datastores (host -> name) that mounted at
	// start: what Reset restores.
	initialMounts map[string]map[string]bool
	// Genesis is the reference autopath when Options.Genesis asked for it.
	Genesis     *genesis.Genesis
	stopGenesis func()

	// hostTopo is the topology of each of Hosts (same index).
	hostTopo []topology.Host
	// place says which nodes this process runs (node.go); the zero
	// placement, New's, runs them all.
	place placement
	// placeholders are the hosts and CVMs other processes run, present
	// in this process's model with their interfaces (node.go).
	placeholders map[string]*fabric.Node
	// closers run first in Close (the fabric listener, the peer watch).
	closers []func()
	// fabricAddr is where a lab of one node takes the others' flows.
	fabricAddr net.Addr
	// wmu guards workloads, initialMounts and MountErrors, which a node
	// process fills in the background as its datastores mount.
	wmu sync.Mutex

	// fmu guards the standing faults.
	fmu    sync.Mutex
	faults faultSet
	// caps are the packet captures the control API started.
	caps captureSet
	// smu guards the timers of the topology's scheduled faults.
	smu       sync.Mutex
	scheduled []clock.Timer
	// rmu serialises Reset; nreset counts them.
	rmu    sync.Mutex
	nreset int

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	// mu orders serve against Close: no server loop starts once Close
	// waits for them.
	mu     sync.Mutex
	closed bool
}

func (l *Lab) closing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// serve runs a server loop that Close waits for; after Close it runs
// nothing.
func (l *Lab) serve(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

// New builds the lab and starts its listeners. On error nothing is left
// running.
func New(topo *topology.Topology, o Options) (*Lab, error) {
	return build(topo, o, placement{})
}

// build assembles the lab's model from the topology and starts the nodes
// the placement runs here: every node for New, one for NewNode (the others
// are placeholders with the same interfaces, see node.go).
func build(topo *topology.Topology, o Options, p placement) (lab *Lab, err error) {
	t0 := time.Now()
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.ListenHost == "" {
		o.ListenHost = "127.0.0.1"
	}
	if o.HostKeySeed == "" {
		o.HostKeySeed = "autopathlab/" + topo.Name
	}
	if o.Keyring == nil {
		o.Keyring = sshd.NewKeyring()
	}
	o = withTopologyTimers(topo, o)
	l := &Lab{Topology: topo, Net: fabric.New(fabric.WithClock(o.Clock)), Clock: o.Clock, Nodes: map[string]*fabric.Node{}, workloads: map[string]*vmio.Workload{}, initialMounts: map[string]map[string]bool{}, Events: NewEventLog(o.EventsTo),
		place: p, placeholders: map[string]*fabric.Node{}}
	o = l.hookEvents(o)
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	for _, g := range topo.Gateways {
		n, err := l.Net.AddNode(fabric.NodeConfig{Name: g.Name, TTL: 255, Forwarding: true})
		if err != nil {
			return nil, err
		}
		if _, err := n.AddInterface(fabric.InterfaceConfig{Name: "vlan1", Addr: netip.MustParsePrefix(g.IP), MAC: vmkernel.MAC(g.Name, "vlan1", 0x0c), Segment: g.Segment}); err != nil {
			return nil, err
		}
		l.Nodes[g.Name] = n
	}
	// A CVM is a cvmsim CVM: its node (which "acts as a router", seed
	// 001), its power and boot, Stargate, status page and SSH shell.
	if err := l.startCVMs(o); err != nil {
		return nil, err
	}
	for _, f := range topo.Filers {
		n, err := l.Net.AddNode(fabric.NodeConfig{Name: f.Name})
		if err != nil {
			return nil, err
		}
		for _, i := range f.Interfaces {
			mac, err := optMAC(i.MAC)
			if err != nil {
				return nil, fmt.Errorf("filer %s: %s: %w", f.Name, i.Name, err)
			}
			if mac == nil {
				mac = vmkernel.MAC(f.Name, baseIface(i.Name), 0x0c)
			}
			if _, err := n.AddInterface(fabric.InterfaceConfig{Name: i.Name, Addr: netip.MustParsePrefix(i.IP), MAC: mac, Segment: i.Segment}); err != nil {
				return nil, err
			}
		}
		l.Nodes[f.Name] = n
	}
	if p.servesFilers(topo) {
		if err := l.startFilers(o); err != nil {
			return nil, err
		}
	}
	// The hosts' vmknics and routes are re-evaluated against the open
	// flows once, at the end, rather than after each change: each of them
	// re-runs every flow's route lookup, which made a lab's start grow
	// with the square of its size (the mounts of earlier hosts are flows).
	var herr error
	l.Net.Batch(func() { herr = l.startHosts(topo, o, p) })
	if herr != nil {
		return nil, herr
	}
	if o.Genesis != nil {
		if err := l.startGenesis(o.Genesis); err != nil {
			return nil, err
		}
	}
	l.scheduleFaults()
	l.Started = time.Since(t0)
	return l, nil
}

// startHosts starts the hosts this process runs (and places the others),
// each mounting its datastores.
func (l *Lab) startHosts(topo *topology.Topology, o Options, p placement) error {
	for idx, th := range topo.Hosts {
		vc, err := vmkernelConfig(th)
		if err != nil {
			return fmt.Errorf("host %s: %w", th.Name, err)
		}
		if !p.runs(th.Name) {
			if err := l.placeHost(th.Name, vc); err != nil {
				return err
			}
			continue
		}
		port := th.SSH.Port
		if port == 0 && o.SSHPortBase != 0 {
			port = o.SSHPortBase + idx + 1
		}
		addr := net.JoinHostPort(o.ListenHost, strconv.Itoa(port))
		if p.sshAddr != "" {
			addr = p.sshAddr
		}
		users := map[string]esxisim.User{}
		for _, u := range th.SSH.Users {
			users[u.Name] = esxisim.User{Password: u.Password, AuthorizedKeys: u.AuthorizedKeys}
		}
		h, err := esxisim.New(l.Net, esxisim.Config{
			VMkernel:     vc,
			Addr:         addr,
			Users:        users,
			PasswordAuth: th.SSH.PasswordAuth,
			AuthMethods:  sshMethods(th.SSH.Methods()),
			Datastore:    datastoreConfig(th.NFS),
			HostKeySeed:  o.HostKeySeed + "/" + th.Name,
			RSAKeySeed:   o.HostKeySeed,
			Keyring:      o.Keyring,
			OnEvent:      o.OnEvent,
		})
		if err != nil {
			return fmt.Errorf("host %s: %w", th.Name, err)
		}
		l.Hosts = append(l.Hosts, h)
		l.hostTopo = append(l.hostTopo, th)
		h.Datastores().Subscribe(func(e datastore.Event) { l.Events.Add(datastoreEvent(e)) })
		h.VMkernel().Subscribe(func(c vmkernel.Change) { l.Events.Add(changeEvent(c)) })
		if err := h.Start(); err != nil {
			return fmt.Errorf("host %s: ssh: %w", th.Name, err)
		}
		if p.self == "" {
			l.mountDatastores(h, th, o)
		} else {
			// A host in a process of its own boots before, or without,
			// its CVM's process: it mounts when the CVM answers.
			l.mountWhenReachable(h, th, o)
		}
	}
	return nil
}

// hookEvents routes every node's events into the lab's log, then to the
// caller's own hooks.
func (l *Lab) hookEvents(o Options) Options {
	ssh, nfsHook := o.OnEvent, o.OnNFSEvent
	o.OnEvent = func(e esxisim.Event) {
		l.Events.Add(sshEvent(e))
		if ssh != nil {
			ssh(e)
		}
	}
	o.OnNFSEvent = func(e nfs.Event) {
		l.Events.Add(nfsEvent(e))
		if nfsHook != nil {
			nfsHook(e)
		}
	}
	return o
}

// baseIface maps an alias (eth1:1) to the interface whose MAC it shares.
func baseIface(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == ':' {
			return name[:i]
		}
	}
	return name
}

// Host returns the ESXi host with the topology name, or nil (also for a
// host another process runs, see NewNode).
func (l *Lab) Host(name string) *esxisim.Host {
	for i, th := range l.hostTopo {
		if th.Name == name {
			return l.Hosts[i]
		}
	}
	return nil
}

// Close stops every listener and session.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		var errs []error
		for _, c := range l.closers {
			c()
		}
		l.cancelScheduled()
		l.dropCaptures()
		if l.stopGenesis != nil {
			l.stopGenesis()
		}
		for _, w := range l.workloadList() {
			w.Stop()
		}
		for _, h := range l.Hosts {
			errs = append(errs, h.Close())
		}
		for _, c := range l.CVMs {
			errs = append(errs, c.Close())
		}
		for _, s := range l.NFS {
			if l.CVM(s.Name) == nil { // a CVM closes its own Stargate
				s.Server.Close()
			}
		}
		l.wg.Wait()
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// Start runs a lab for a test on free loopback ports and stops it when the
// test ends, like httptest.NewServer:
//
//	lab := harness.Start(t, harness.Default(), harness.WithFakeClock())
func Start(t testing.TB, topo *topology.Topology, opts ...Option) *Lab {
	t.Helper()
	var o Options
	for _, opt := range opts {
		opt.apply(&o)
	}
	l, err := New(topo, o)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
