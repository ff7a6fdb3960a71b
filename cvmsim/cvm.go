// Package cvmsim is one emulated Nutanix Controller VM: its interfaces and
// routing table on the fabric (it "acts as a router": 192.168.5.2 reached
// over eth0 is served), its power state and boot sequence, its Stargate
// (an nfs.Server on modelled ports 111 and 2049, plus the HTTP status page
// on 2009), and its shell with the commands an operator types on a CVM:
// cluster status, genesis status, ifconfig, netstat, route, ping.
//
// A CVM is used like an httptest.Server:
//
//	c, err := cvmsim.New(nw, cfg) // node on the fabric, FS, commands
//	err = c.Start()               // real loopback listeners; up and initialised
//	defer c.Close()
//
// Every view (shell commands, status page, Status for the peers' cluster
// status, the event hook) reads the one state the CVM holds.
package cvmsim

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/sshd"
)

// Default credentials of a CVM.
const (
	DefaultUser     = "nutanix"
	DefaultPassword = "nutanix/4u"
)

// DefaultAddr is where real listeners bind unless told otherwise: loopback
// only, a free port.
const DefaultAddr = "127.0.0.1:0"

// Boot timers. Seed 001 says a CVM takes "a few minutes" to boot and join
// the cluster again; these defaults keep the order (network, then
// Stargate, then the rest of the services) at a scale a lab on real time
// can still wait for. Labs scale them through the clock or Config.Timers.
const (
	DefaultPingAfter     = 20 * time.Second
	DefaultStargateAfter = 60 * time.Second
	DefaultInitAfter     = 120 * time.Second
)

// Timers are the boot sequence, measured from power-on.
type Timers struct {
	// PingAfter: the guest OS is up and the node answers on the network
	// (ping, SSH).
	PingAfter time.Duration
	// StargateAfter: Stargate listens (NFS 111/2049, status page 2009).
	// Before it, connections to those ports are refused.
	StargateAfter time.Duration
	// InitAfter: every service is up; cluster status shows the CVM UP
	// and Ready reports true ("fully initialised", seed 001).
	InitAfter time.Duration
}

func (t Timers) withDefaults() Timers {
	if t.PingAfter <= 0 {
		t.PingAfter = DefaultPingAfter
	}
	if t.StargateAfter <= 0 {
		t.StargateAfter = DefaultStargateAfter
	}
	if t.InitAfter <= 0 {
		t.InitAfter = DefaultInitAfter
	}
	// The phases happen in order whatever the configuration says.
	t.StargateAfter = max(t.StargateAfter, t.PingAfter)
	t.InitAfter = max(t.InitAfter, t.StargateAfter)
	return t
}

// Interface is one of the CVM's interfaces: eth0 (public), eth1
// (192.168.5.2/24 on the host's vSwitchNutanix), eth1:1 (192.168.5.254).
type Interface struct {
	Name    string
	Segment string
	Addr    netip.Prefix
	// MAC defaults to a stable VMware-style address derived from the CVM
	// and interface names; an alias (eth1:1) shares its parent's.
	MAC net.HardwareAddr
}

// Config describes a CVM.
type Config struct {
	// Name is the CVM's name and hostname, e.g. NTNX-BLOCK1-A-CVM.
	Name string
	// Host is the hypervisor the CVM runs on, e.g. NTNX-BLOCK1-A.
	Host string
	// Interfaces in creation order; the first is the public one whose
	// address the prompt and cluster status show.
	Interfaces []Interface
	// Gateway is the default gateway (optional).
	Gateway netip.Addr

	// Store is the cluster-wide store Stargate serves (default: a new
	// in-memory store, for a CVM on its own).
	Store *nfs.Store
	// Exports are the cluster's containers with their whitelists.
	Exports []nfs.Export
	// OnNFSEvent receives Stargate's NFS events.
	OnNFSEvent func(nfs.Event)

	// Clock drives every timer of the CVM (default: the network's).
	Clock clock.Clock
	// Timers is the boot sequence (zero fields take the defaults).
	Timers Timers

	// NFSAddr is the real loopback NFS listener (portmapper, MOUNT and NFS
	// on one port, every client admitted) for tools such as nfs-ls.
	// Default DefaultAddr; "-" disables it.
	NFSAddr string
	// StatusAddr is the real listener of the Stargate status page for
	// people (links http://127.0.0.1:2009 on a real CVM). Default
	// DefaultAddr; "-" disables it.
	StatusAddr string
	// SSHAddr is the real SSH listener. Default DefaultAddr; "-" disables
	// it.
	SSHAddr string
	// Users maps user names to passwords (default nutanix / nutanix/4u).
	Users map[string]string
	// HostKeySeed makes the SSH host keys stable (default: Name).
	HostKeySeed string
	// ECDSAOnly skips the RSA host key, whose derivation costs 0.05–0.3 s
	// of CPU per CVM.
	ECDSAOnly bool
	// RSAKeySeed seeds the RSA host key (default: derived from
	// HostKeySeed). A lab gives its nodes one RSA seed and one Keyring so
	// that the 2048-bit key is derived once (see sshd.Keyring); each CVM
	// keeps an ECDSA key of its own.
	RSAKeySeed string
	// Keyring memoises RSA host-key derivations across servers (optional).
	Keyring *sshd.Keyring

	// Cluster lists every CVM of the cluster, this one included, in
	// cluster order: cluster status renders them. Nil: this CVM alone.
	Cluster func() []PeerStatus

	// Off makes Start leave the CVM powered off; otherwise Start brings
	// it up fully initialised at once (a lab starts with a healthy
	// cluster).
	Off bool
}

// CVM is one Controller VM.
type CVM struct {
	cfg    Config
	timers Timers
	clock  clock.Clock
	node   *fabric.Node
	routes *fabric.RouteTable
	srv    *nfs.Server
	fs     *shell.FS
	reg    *shell.Registry
	hooks  hooks
	// pings numbers ping runs: their ICMP identifiers.
	pings atomic.Uint32

	// initRoutes are the static routes of the configuration, which Reset
	// restores.
	initRoutes []fabric.StaticRoute

	// ctx is cancelled by Close: commands and hung status pages stop.
	ctx    context.Context
	cancel context.CancelFunc

	// opMu serialises every change of state (API calls and boot timers)
	// and the delivery of the events they cause, so that subscribers see
	// events in the order the changes happened.
	opMu sync.Mutex

	mu sync.RWMutex // guards the fields below; never held across fabric calls
	st state

	// Real listeners, set by Start.
	nfsLn    net.Listener
	statusLn net.Listener
	statusHS *http.Server
	ssh      sshServer
	sconns   statusConns

	wg sync.WaitGroup
}

// state is everything a query reads. It is copied out under mu.
type state struct {
	started bool
	closed  bool
	power   PowerState
	netUp   bool // the node is powered on the fabric
	// stargateStarted says the boot reached Stargate's start; with the
	// fault not Down, Stargate runs.
	stargateStarted bool
	fault           StargateState
	boot            int       // boots so far; PIDs derive from it
	bootAt          time.Time // power-on
	netAt           time.Time // the node came up on the network
	sgGen           int       // Stargate (re)starts in this boot
	sgSince         time.Time
	gen             int // invalidates pending boot timers
	timer           clockwork.Timer

	// The running Stargate's modelled listeners and status page.
	nfsLns   []*fabric.Listener
	statusHS *http.Server
	// statusLn is statusHS's listener: closed with it, as http.Server's
	// Close does not close a listener its Serve has not picked up yet.
	statusLn *fabric.Listener
	// hang is closed when a hung Stargate answers again or stops, to
	// release the status page requests it holds.
	hang chan struct{}
}

// New builds the CVM on the network: its node (powered off until Start),
// interfaces, routing table, Stargate, filesystem and commands.
func New(nw *fabric.Network, cfg Config) (*CVM, error) {
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "/: \n") {
		return nil, fmt.Errorf("cvmsim: bad CVM name %q", cfg.Name)
	}
	if len(cfg.Interfaces) == 0 {
		return nil, fmt.Errorf("cvmsim: %s: no interfaces", cfg.Name)
	}
	if cfg.Clock == nil {
		cfg.Clock = nw.Clock()
	}
	if cfg.Store == nil {
		cfg.Store = nfs.NewMemStore(nfs.WithStoreClock(cfg.Clock))
	}
	for _, a := range []*string{&cfg.NFSAddr, &cfg.StatusAddr, &cfg.SSHAddr} {
		if *a == "" {
			*a = DefaultAddr
		}
	}
	if len(cfg.Users) == 0 {
		cfg.Users = map[string]string{DefaultUser: DefaultPassword}
	}
	if cfg.HostKeySeed == "" {
		cfg.HostKeySeed = cfg.Name
	}
	node, err := nw.AddNode(fabric.NodeConfig{Name: cfg.Name, AcceptAny: true})
	if err != nil {
		return nil, err
	}
	// Powered off until Start: a CVM that is not started answers nothing.
	node.SetPowered(false)
	for _, i := range cfg.Interfaces {
		mac := i.MAC
		if mac == nil {
			mac = defaultMAC(cfg.Name, baseIface(i.Name))
		}
		if _, err := node.AddInterface(fabric.InterfaceConfig{Name: i.Name, Addr: i.Addr, MAC: mac, Segment: i.Segment}); err != nil {
			return nil, fmt.Errorf("cvmsim: %s: %w", cfg.Name, err)
		}
	}
	c := &CVM{cfg: cfg, timers: cfg.Timers.withDefaults(), clock: cfg.Clock, node: node}
	c.routes = fabric.NewRouteTable(node.Interfaces, node.Reevaluate)
	node.SetRouter(c.routes)
	if cfg.Gateway.IsValid() {
		if err := c.routes.SetDefault(cfg.Gateway); err != nil {
			return nil, fmt.Errorf("cvmsim: %s: gateway %s: %w", cfg.Name, cfg.Gateway, err)
		}
	}
	c.initRoutes = c.routes.Static()
	c.srv = nfs.NewServer(cfg.Store, nfs.Config{Name: cfg.Name, Exports: cfg.Exports, Clock: cfg.Clock, OnEvent: cfg.OnNFSEvent})
	// Stargate is not running until the CVM is up: the real loopback port
	// resets connections meanwhile.
	c.srv.SetMode(nfs.Down)
	c.st.fault = StargateUp
	c.st.hang = make(chan struct{})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.layoutFS(); err != nil {
		return nil, err
	}
	c.registerCommands()
	return c, nil
}

// Start opens the real listeners (NFS, status page, SSH) and brings the
// CVM up fully initialised, or leaves it off with Config.Off.
func (c *CVM) Start() (err error) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	if c.st.started || c.st.closed {
		c.mu.Unlock()
		return errors.New("cvmsim: already started or closed")
	}
	c.st.started = true
	c.mu.Unlock()
	defer func() {
		if err != nil {
			c.closeReal()
		}
	}()
	if c.cfg.NFSAddr != "-" {
		ln, err := net.Listen("tcp", c.cfg.NFSAddr)
		if err != nil {
			return fmt.Errorf("cvmsim: %s: nfs: %w", c.cfg.Name, err)
		}
		c.nfsLn = ln
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		c.goServe(func() { _ = c.srv.Serve(ln, nfs.AllowAll(), nfs.AdvertisePort(port)) })
	}
	if c.cfg.StatusAddr != "-" {
		ln, err := net.Listen("tcp", c.cfg.StatusAddr)
		if err != nil {
			return fmt.Errorf("cvmsim: %s: status page: %w", c.cfg.Name, err)
		}
		c.statusLn = ln
		c.statusHS = c.newStatusServer()
		hs := c.statusHS
		c.goServe(func() { _ = hs.Serve(ln) })
	}
	if err := c.startSSH(); err != nil {
		return err
	}
	if c.cfg.Off {
		return nil
	}
	c.upNow()
	return nil
}

func (c *CVM) goServe(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// Close powers the CVM off, stops every listener and session and waits
// for them.
func (c *CVM) Close() error {
	c.opMu.Lock()
	c.mu.Lock()
	if c.st.closed {
		c.mu.Unlock()
		c.opMu.Unlock()
		return nil
	}
	c.mu.Unlock()
	c.powerOffLocked("cvm closed")
	c.mu.Lock()
	c.st.closed = true
	c.mu.Unlock()
	c.cancel()
	c.closeReal()
	c.opMu.Unlock()
	c.srv.Close()
	c.wg.Wait()
	return nil
}

// closeReal closes the real listeners.
func (c *CVM) closeReal() {
	if c.statusHS != nil {
		_ = c.statusHS.Close()
	}
	if c.nfsLn != nil {
		_ = c.nfsLn.Close()
	}
	c.closeSSH()
}

// Name returns the CVM's name (its hostname).
func (c *CVM) Name() string { return c.cfg.Name }

// Host returns the name of the hypervisor the CVM runs on.
func (c *CVM) Host() string { return c.cfg.Host }

// Node returns the CVM's fabric node. Power it through the CVM
// (PowerOff, PowerOn), not through the node: the CVM's services follow
// its own state.
func (c *CVM) Node() *fabric.Node { return c.node }

// Routes returns the CVM's routing table.
func (c *CVM) Routes() *fabric.RouteTable { return c.routes }

// NFS returns the CVM's Stargate NFS server.
func (c *CVM) NFS() *nfs.Server { return c.srv }

// FS returns the CVM's filesystem.
func (c *CVM) FS() *shell.FS { return c.fs }

// Commands returns the CVM's command registry.
func (c *CVM) Commands() *shell.Registry { return c.reg }

// Clock returns the CVM's clock.
func (c *CVM) Clock() clock.Clock { return c.clock }

// IP returns the public (first interface's) address.
func (c *CVM) IP() netip.Addr {
	if ifs := c.node.Interfaces(); len(ifs) > 0 {
		return ifs[0].Addr().Addr()
	}
	return netip.Addr{}
}

// NFSAddr returns the real loopback NFS listener's address, or nil.
func (c *CVM) NFSAddr() net.Addr {
	if c.nfsLn == nil {
		return nil
	}
	return c.nfsLn.Addr()
}

// StatusAddr returns the real status page listener's address, or nil.
func (c *CVM) StatusAddr() net.Addr {
	if c.statusLn == nil {
		return nil
	}
	return c.statusLn.Addr()
}

// snapshot copies the state for a query.
func (c *CVM) snapshot() state {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.st
}

// defaultMAC is a stable VMware-range MAC for a CVM interface: the same
// derivation the harness used before the CVM had a package, so labs keep
// their addresses.
func defaultMAC(node, iface string) net.HardwareAddr {
	f := fnv.New32a()
	f.Write([]byte(node + "/" + iface))
	s := f.Sum32()
	return net.HardwareAddr{0x00, 0x50, 0x56, byte(s>>16) & 0x3f, byte(s >> 8), byte(s)}
}

// baseIface maps an alias (eth1:1) to the interface whose MAC it shares.
func baseIface(name string) string {
	base, _, _ := strings.Cut(name, ":")
	return base
}
