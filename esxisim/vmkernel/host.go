package vmkernel

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/fabric"
)

// VMkernel status strings and sysinfo messages the commands print.
var (
	ErrNoSuchNetstack  = errors.New("Netstack instance not found")
	ErrNoSuchPortgroup = errors.New("Not found")
	ErrNoSuchVmknic    = errors.New("Not found")
	ErrVmknicExists    = errors.New("A vmkernel nic for the connection point already exists")
	ErrBadParameter    = errors.New("Bad parameter")
)

// Config is a host as a topology describes it.
type Config struct {
	// Hostname is the FQDN or short name (uname -n prints it; the prompt
	// shows the part before the first dot).
	Hostname string
	Version  Version
	Vmnics   []Vmnic
	// VSwitches in creation order.
	VSwitches []VSwitchConfig
	// Vmknics in creation order: the first created is the egress of a
	// subnet that several share.
	Vmknics        []VmknicConfig
	DefaultGateway netip.Addr
	Routes         []RouteConfig
	// Selection chooses a shared subnet's egress vmknic.
	Selection fabric.Selection
}

// VSwitchConfig describes a standard vSwitch.
type VSwitchConfig struct {
	Name     string
	MTU      int
	NumPorts int
	// ConfiguredPorts defaults to 128.
	ConfiguredPorts int
	Uplinks         []string
	Portgroups      []PortgroupConfig
}

// PortgroupConfig describes a port group.
type PortgroupConfig struct {
	Name string
	VLAN int
}

// VmknicConfig describes a vmknic.
type VmknicConfig struct {
	Name      string // "" picks the lowest free vmkN
	Portgroup string
	Netstack  string // "" is defaultTcpipStack
	IP        netip.Prefix
	MAC       net.HardwareAddr
	MTU       int
	Gateway   netip.Addr
	Tags      []string
	Disabled  bool
}

// RouteConfig is a static route of one netstack.
type RouteConfig struct {
	Netstack string
	Dst      netip.Prefix
	Gateway  netip.Addr
}

// Netstack is a TCP/IP stack instance with its own routing table.
type Netstack struct {
	Name   string
	Routes *fabric.RouteTable
}

// Host is the VMkernel of one ESXi host.
type Host struct {
	node  *fabric.Node
	clock clock.Clock
	log   *Log

	mu        sync.RWMutex
	hostname  string
	version   Version
	vmnics    []Vmnic
	vswitches []*VSwitch
	vmknics   []*Vmknic
	netstacks map[string]*Netstack
	nsOrder   []string
	nextPort  int
	// base is the host as New left it, for Reset; never changed after.
	base *baseline

	// extMu guards ext, the per-host services of other packages (see
	// Extension); a lock of its own, as create may read the host.
	extMu sync.Mutex
	ext   map[any]any

	// subMu guards the change subscribers (see Subscribe).
	subMu sync.Mutex
	subs  map[int]func(Change)
	nsub  int
}

// New builds a host on the network from its configuration.
func New(nw *fabric.Network, cfg Config) (*Host, error) {
	if cfg.Hostname == "" {
		return nil, fmt.Errorf("vmkernel: host needs a name")
	}
	node, err := nw.AddNode(fabric.NodeConfig{Name: cfg.Hostname})
	if err != nil {
		return nil, err
	}
	if cfg.Version.Version == "" {
		cfg.Version = DefaultVersion
	}
	h := &Host{
		node: node, clock: nw.Clock(), log: NewLog(nw.Clock(), 0),
		hostname: cfg.Hostname, version: cfg.Version,
		netstacks: map[string]*Netstack{}, nextPort: 67108868,
	}
	for i, n := range cfg.Vmnics {
		if n.MAC == nil {
			n.MAC = MAC(cfg.Hostname, n.Name, 0x0c)
		}
		if n.MTU == 0 {
			n.MTU = 1500
		}
		if n.Speed == 0 {
			n.Speed = 10000
		}
		if n.Duplex == "" {
			n.Duplex = "Full"
		}
		if n.Driver == "" {
			n.Driver = "ixgben"
		}
		if n.PCI == "" {
			n.PCI = fmt.Sprintf("0000:%02x:00.%d", 3+i/2, i%2)
		}
		if n.Description == "" {
			n.Description = "Intel(R) Ethernet Controller X540-AT2"
		}
		h.vmnics = append(h.vmnics, n)
	}
	for _, vc := range cfg.VSwitches {
		if err := h.addVSwitch(vc); err != nil {
			return nil, err
		}
	}
	h.ensureNetstack(DefaultNetstack)
	node.SetRouter(h.netstacks[DefaultNetstack].Routes)
	// A topology's vmknics may name other netstacks (vmotion,
	// provisioning); they exist before their vmknics, as on ESXi where
	// "esxcli network ip netstack add" comes first.
	for _, vc := range cfg.Vmknics {
		if vc.Netstack != "" {
			h.AddNetstack(vc.Netstack)
		}
	}
	for _, vc := range cfg.Vmknics {
		if _, err := h.AddVmknic(vc); err != nil {
			return nil, fmt.Errorf("vmkernel: %s: %s: %w", cfg.Hostname, vc.Name, err)
		}
	}
	for _, ns := range h.netstacks {
		ns.Routes.SetSelection(cfg.Selection)
	}
	if cfg.DefaultGateway.IsValid() {
		if err := h.netstacks[DefaultNetstack].Routes.SetDefault(cfg.DefaultGateway); err != nil {
			return nil, fmt.Errorf("vmkernel: %s: default gateway %s: %w", cfg.Hostname, cfg.DefaultGateway, err)
		}
	}
	for _, r := range cfg.Routes {
		ns, err := h.Netstack(r.Netstack)
		if err != nil {
			return nil, err
		}
		if err := ns.Routes.Add(r.Dst, r.Gateway); err != nil {
			return nil, fmt.Errorf("vmkernel: %s: route %s via %s: %w", cfg.Hostname, r.Dst, r.Gateway, err)
		}
	}
	h.base = h.snapshot()
	return h, nil
}

// MAC derives a stable MAC address from a host and interface name, so
// captures and neighbour tables look the same on every run.
func MAC(host, iface string, oui0 byte) net.HardwareAddr {
	f := fnv.New32a()
	f.Write([]byte(host + "/" + iface))
	s := f.Sum32()
	if oui0 == 0x0c {
		return net.HardwareAddr{0x0c, 0xc4, 0x7a, byte(s >> 16), byte(s >> 8), byte(s)}
	}
	return net.HardwareAddr{0x00, 0x50, 0x56, byte(s>>16) & 0x3f, byte(s >> 8), byte(s)}
}

func (h *Host) addVSwitch(vc VSwitchConfig) error {
	vs := &VSwitch{Name: vc.Name, MTU: vc.MTU, NumPorts: vc.NumPorts, ConfiguredPorts: vc.ConfiguredPorts, CDP: "listen", Uplinks: vc.Uplinks}
	if vs.ConfiguredPorts == 0 {
		vs.ConfiguredPorts = 128
	}
	if vs.MTU == 0 {
		vs.MTU = 1500
	}
	if vs.NumPorts == 0 {
		vs.NumPorts = 8960
	}
	if len(vs.Uplinks) == 0 {
		vs.internal = h.hostname + "/" + vc.Name
	}
	for _, u := range vs.Uplinks {
		if h.vmnic(u) == nil {
			return fmt.Errorf("vmkernel: vSwitch %s: No such uplink: %s", vc.Name, u)
		}
	}
	for _, pc := range vc.Portgroups {
		vs.Portgroups = append(vs.Portgroups, &Portgroup{Name: pc.Name, VSwitch: vc.Name, VLAN: pc.VLAN})
	}
	h.vswitches = append(h.vswitches, vs)
	return nil
}

func (h *Host) vmnic(name string) *Vmnic {
	for i := range h.vmnics {
		if h.vmnics[i].Name == name {
			return &h.vmnics[i]
		}
	}
	return nil
}

// SegmentOf returns the name of the L2 segment a port group's ports are on:
// the host's own segment for an internal vSwitch, else the first uplink's
// physical network, tagged with the port group's VLAN.
func (h *Host) SegmentOf(portgroup string) (string, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.segmentOfLocked(portgroup)
}

func (h *Host) segmentOfLocked(portgroup string) (string, error) {
	pg, vs := h.portgroupLocked(portgroup)
	if pg == nil {
		return "", ErrNoSuchPortgroup
	}
	seg := vs.internal
	if seg == "" {
		seg = h.vmnic(vs.Uplinks[0]).Network
	}
	if pg.VLAN != 0 {
		seg = fmt.Sprintf("%s.vlan%d", seg, pg.VLAN)
	}
	return seg, nil
}

func (h *Host) portgroupLocked(name string) (*Portgroup, *VSwitch) {
	for _, vs := range h.vswitches {
		for _, pg := range vs.Portgroups {
			if pg.Name == name {
				return pg, vs
			}
		}
	}
	return nil, nil
}

func (h *Host) ensureNetstack(name string) *Netstack {
	if ns, ok := h.netstacks[name]; ok {
		return ns
	}
	ns := &Netstack{Name: name}
	ns.Routes = fabric.NewRouteTable(func() []*fabric.Interface { return h.ifacesOf(name) }, h.node.Reevaluate)
	h.netstacks[name] = ns
	h.nsOrder = append(h.nsOrder, name)
	return ns
}

// ifacesOf returns the fabric interfaces of a netstack's vmknics.
func (h *Host) ifacesOf(netstack string) []*fabric.Interface {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*fabric.Interface
	for _, v := range h.vmknics {
		if v.Netstack == netstack {
			out = append(out, v.Iface)
		}
	}
	return out
}

// AddNetstack creates a netstack instance if it does not exist yet.
func (h *Host) AddNetstack(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ensureNetstack(name)
}

// DefaultGateway returns a netstack's default gateway, if set.
func (h *Host) DefaultGateway(netstack string) (netip.Addr, bool) {
	ns, err := h.Netstack(netstack)
	if err != nil {
		return netip.Addr{}, false
	}
	return ns.Routes.Default()
}

// Node returns the host's fabric node.
func (h *Host) Node() *fabric.Node { return h.node }

// Clock returns the host's clock.
func (h *Host) Clock() clock.Clock { return h.clock }

// Log returns /var/log/vmkernel.log.
func (h *Host) Log() *Log { return h.log }

// Hostname returns the configured host name (FQDN if one is set).
func (h *Host) Hostname() string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.hostname
}

// ShortName returns the host name up to the first dot: the prompt's \h.
func (h *Host) ShortName() string {
	n := h.Hostname()
	if i := strings.IndexByte(n, '.'); i > 0 {
		return n[:i]
	}
	return n
}

// SetHostname renames the host.
func (h *Host) SetHostname(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hostname = name
}

// Version returns the emulated release.
func (h *Host) Version() Version {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.version
}

// Netstack returns a netstack by name ("" is the default).
func (h *Host) Netstack(name string) (*Netstack, error) {
	if name == "" {
		name = DefaultNetstack
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	ns, ok := h.netstacks[name]
	if !ok {
		return nil, ErrNoSuchNetstack
	}
	return ns, nil
}

// Netstacks returns the netstack names in creation order.
func (h *Host) Netstacks() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]string(nil), h.nsOrder...)
}

// Vmnics returns the physical NICs.
func (h *Host) Vmnics() []Vmnic {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]Vmnic(nil), h.vmnics...)
}

// VSwitches returns copies of the standard vSwitches in creation order.
func (h *Host) VSwitches() []VSwitch {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]VSwitch, 0, len(h.vswitches))
	for _, vs := range h.vswitches {
		c := *vs
		c.Uplinks = append([]string(nil), vs.Uplinks...)
		c.Portgroups = nil
		for _, pg := range vs.Portgroups {
			c.Portgroups = append(c.Portgroups, &Portgroup{Name: pg.Name, VSwitch: pg.VSwitch, VLAN: pg.VLAN})
		}
		out = append(out, c)
	}
	return out
}

// Portgroups returns every port group, sorted by name (esxcli's order).
func (h *Host) Portgroups() []Portgroup {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []Portgroup
	for _, vs := range h.vswitches {
		for _, pg := range vs.Portgroups {
			out = append(out, *pg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PortgroupClients counts the vmknics on a port group (the "Active
// Clients" and "Used Ports" figures; VMs are not modelled).
func (h *Host) PortgroupClients(name string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, v := range h.vmknics {
		if v.Portgroup == name {
			n++
		}
	}
	return n
}

// UsedPorts is a vSwitch's "Used Ports": one internal port, two per uplink
// and one per vmknic on its port groups — the count that reproduces real
// hosts' figures (VMs are not modelled).
func (h *Host) UsedPorts(vswitch string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, vs := range h.vswitches {
		if vs.Name != vswitch {
			continue
		}
		n := 1 + 2*len(vs.Uplinks)
		for _, v := range h.vmknics {
			if pg, _ := h.portgroupLocked(v.Portgroup); pg != nil && pg.VSwitch == vswitch {
				n++
			}
		}
		return n
	}
	return 0
}
