// Package topology is the lab description: the nodes, their addresses,
// vSwitches, port groups, vmknics and routes, their credentials, the
// emulator's timers and the faults to inject, read from a YAML file. The
// default lab (seed 001's three-node cluster) is embedded;
// examples/topologies/full.yaml shows every field.
//
// A file is refused before anything starts, with every problem found
// (Errors), each as FILE:LINE:COL: PATH: what is wrong (what was
// expected). What arrives is parsed: the timers and faults' durations are
// time.Duration (the older NFS and workload durations stay strings,
// validated), SSH.Methods and CVM.SSHUsers give the effective logins.
package topology

import (
	_ "embed"
	"os"
	"slices"
	"time"
)

// Topology is a whole lab.
type Topology struct {
	Name     string    `yaml:"name"`
	Gateways []Gateway `yaml:"gateways"`
	Hosts    []Host    `yaml:"hosts"`
	CVMs     []CVM     `yaml:"cvms"`
	// Cluster is the Nutanix cluster the CVMs form: its containers and
	// NFS whitelist. Absent when there are no CVMs.
	Cluster *Cluster `yaml:"cluster"`
	// Filers are generic NFS servers (seed 004's filer).
	Filers []Filer `yaml:"filers"`
	// Timers tune the emulator's own timers; zero fields keep the
	// emulator's defaults.
	Timers Timers `yaml:"timers,omitempty"`
	// Faults are injected while the lab runs, each At its time after
	// the lab started (on the lab's clock), in list order for equal At.
	Faults []Fault `yaml:"faults,omitempty"`
}

// Timers are the emulator's timers, already parsed: a zero field keeps the
// emulator's default. In a file they are Go durations ("20s", "1m30s").
type Timers struct {
	CVMBoot CVMBootTimers `yaml:"cvmBoot"`
	Genesis GenesisTimers `yaml:"genesis"`
}

// CVMBootTimers are a CVM's boot sequence, measured from power-on
// (cvmsim.Timers; defaults 20 s, 60 s, 120 s). When two are given, a later
// phase may not come before an earlier one.
type CVMBootTimers struct {
	// Ping: the guest OS answers on the network (ping, SSH).
	Ping time.Duration `yaml:"ping,omitempty"`
	// Stargate: Stargate listens (NFS, status page).
	Stargate time.Duration `yaml:"stargate,omitempty"`
	// Initialised: every service is up ("fully initialised", seed 001).
	Initialised time.Duration `yaml:"initialised,omitempty"`
}

// GenesisTimers are the reference autopath's (genesis.Config; defaults
// 30 s, 30 s, 5 s).
type GenesisTimers struct {
	// Interval between two rounds of Genesis' loop.
	Interval time.Duration `yaml:"interval,omitempty"`
	// StablePeriod a recovered local CVM must stay healthy before its
	// host's route is taken back.
	StablePeriod time.Duration `yaml:"stablePeriod,omitempty"`
	// ProbeTimeout bounds one Stargate check.
	ProbeTimeout time.Duration `yaml:"probeTimeout,omitempty"`
}

// Fault kinds a topology may declare (FaultKinds lists them).
const (
	// Network faults on an interface of a host (vmnic or vmk) or a CVM.
	FaultLinkDown = "link-down"
	FaultLatency  = "latency"
	FaultLoss     = "loss"
	// FaultPartition cuts Node off from Peer.
	FaultPartition = "partition"
	// SSH faults on a host's SSH server.
	FaultSSHRefuse = "ssh-refuse"
	FaultSSHSlow   = "ssh-slow"
	FaultSSHDrop   = "ssh-drop"
	FaultSSHHang   = "ssh-hang"
	// Faults of a CVM.
	FaultStargateDown = "stargate-down"
	FaultStargateHang = "stargate-hang"
	FaultCVMPowerOff  = "cvm-power-off"
	FaultCVMReboot    = "cvm-reboot"
)

// FaultKinds lists every kind a topology's faults may have.
var FaultKinds = []string{
	FaultLinkDown, FaultLatency, FaultLoss, FaultPartition,
	FaultSSHRefuse, FaultSSHSlow, FaultSSHDrop, FaultSSHHang,
	FaultStargateDown, FaultStargateHang, FaultCVMPowerOff, FaultCVMReboot,
}

// Fault is a fault declared up front, the same fields as the control
// API's fault spec plus At. Durations are parsed; zero means absent.
type Fault struct {
	// At is when the fault starts, measured from the lab's start on the
	// lab's clock; 0 (or absent) is at once.
	At   time.Duration `yaml:"at,omitempty" topology:"zero"`
	Kind string        `yaml:"kind"`
	// Node is the host or CVM the fault hits (its name): a host for
	// ssh-*, a CVM for stargate-* and cvm-*.
	Node string `yaml:"node"`
	// Interface is the node's vmnic or vmk (host) or eth (CVM), for
	// link-down, latency and loss.
	Interface string `yaml:"interface"`
	// Peer is the other side of a partition.
	Peer string `yaml:"peer"`
	// Latency is added one way on the interface (latency).
	Latency time.Duration `yaml:"latency,omitempty"`
	// LossPercent of the packets on the interface are lost (loss).
	LossPercent float64 `yaml:"lossPercent"`
	// Delay slows each SSH handshake (ssh-slow).
	Delay time.Duration `yaml:"delay,omitempty"`
	// Command restricts ssh-hang to commands that start with it.
	Command string `yaml:"command"`
	// For ends the fault this long after At; 0 keeps it (a powered-off
	// CVM stays off).
	For time.Duration `yaml:"for,omitempty"`
	// Count ends an SSH fault after this many hits; 0 is unlimited.
	Count int `yaml:"count"`
}

// Cluster is what every CVM's Stargate serves from the one cluster-wide
// store (the DSF).
type Cluster struct {
	Containers []Container `yaml:"containers"`
	// NFSWhitelist is the cluster-wide nfs_subnet_whitelist (CIDRs). The
	// internal network 192.168.5.0/24 and the cluster's own hypervisor and
	// CVM public addresses are always allowed, as on Nutanix.
	NFSWhitelist []string `yaml:"nfsWhitelist"`
	// Store is a directory holding the containers; empty keeps them in
	// memory.
	Store string `yaml:"store"`
}

// Container is a Nutanix container, exported over NFS as /<name>.
type Container struct {
	Name string `yaml:"name"`
	// Whitelist adds CIDRs allowed for this container only.
	Whitelist []string `yaml:"whitelist"`
}

// Filer is a generic NFS server with its own exports and whitelists.
type Filer struct {
	Name       string        `yaml:"name"`
	Interfaces []Interface   `yaml:"interfaces"`
	Exports    []FilerExport `yaml:"exports"`
}

// FilerExport is one export of a filer.
type FilerExport struct {
	Path string `yaml:"path"`
	// Whitelist lists the client CIDRs allowed to mount; empty allows none.
	Whitelist []string `yaml:"whitelist"`
}

// Gateway is a router node on a segment that answers ping for its own
// address (192.168.1.1 in the default lab).
type Gateway struct {
	Name    string `yaml:"name"`
	Segment string `yaml:"segment"`
	IP      string `yaml:"ip"`
}

// Host is one ESXi host.
type Host struct {
	Name string `yaml:"name"`
	// Hostname is the FQDN uname -n prints; default Name.
	Hostname  string    `yaml:"hostname"`
	Version   *Version  `yaml:"version"`
	SSH       SSH       `yaml:"ssh"`
	Vmnics    []Vmnic   `yaml:"vmnics"`
	VSwitches []VSwitch `yaml:"vswitches"`
	Vmknics   []Vmknic  `yaml:"vmknics"`
	// Gateway is the default gateway of defaultTcpipStack.
	Gateway string  `yaml:"gateway"`
	Routes  []Route `yaml:"routes"`
	// ConnectedSelection picks a shared subnet's egress vmknic:
	// "first-created" (default, ESXi's behaviour) or "lowest-name".
	ConnectedSelection string `yaml:"connectedSelection"`
	// Datastores are NFS datastores mounted when the lab starts; a mount
	// that fails is logged as ESXi logs it, and the lab still starts.
	Datastores []Datastore `yaml:"datastores"`
	// NFS holds the host's NFS advanced settings.
	NFS *NFSSettings `yaml:"nfs"`
	// Workload is the synthetic VM IO on the host's first datastore.
	Workload *Workload `yaml:"workload"`
}

// Datastore is an NFS datastore: esxcfg-nas -a -o Host -s Share Name.
type Datastore struct {
	Name     string `yaml:"name"`
	Host     string `yaml:"host"`
	Share    string `yaml:"share"`
	ReadOnly bool   `yaml:"readOnly"`
}

// NFSSettings are the ESXi advanced settings of the NFS client (durations
// in Go syntax, "30s"). Unset fields keep the Nutanix-recommended values.
type NFSSettings struct {
	HeartbeatFrequency   string `yaml:"heartbeatFrequency"`
	HeartbeatTimeout     string `yaml:"heartbeatTimeout"`
	HeartbeatMaxFailures int    `yaml:"heartbeatMaxFailures"`
	APDTimeout           string `yaml:"apdTimeout"`
}

// Workload configures the synthetic VM IO.
type Workload struct {
	// Disabled turns it off (it is on by default wherever a datastore is).
	Disabled  bool   `yaml:"disabled"`
	Interval  string `yaml:"interval"`
	BlockSize int    `yaml:"blockSize"`
	Blocks    int    `yaml:"blocks"`
}

// Version overrides the emulated ESXi release.
type Version struct {
	Version   string `yaml:"version"`
	Build     string `yaml:"build"`
	Update    string `yaml:"update"`
	Patch     string `yaml:"patch"`
	BuildDate string `yaml:"buildDate"`
}

// SSH configures a host's SSH server.
type SSH struct {
	// Port is the loopback port; 0 means the lab's default (2200+N).
	Port int `yaml:"port"`
	// AuthMethods are the SSH methods offered, from SSHAuthMethods;
	// absent means ESXi's publickey and keyboard-interactive. Methods()
	// is the effective list.
	AuthMethods []string `yaml:"authMethods"`
	// PasswordAuth adds the SSH "password" method, which ESXi does not
	// offer: a shorthand kept from before AuthMethods.
	PasswordAuth bool   `yaml:"passwordAuth"`
	Users        []User `yaml:"users"`
}

// SSH authentication methods.
const (
	AuthPublicKey           = "publickey"
	AuthKeyboardInteractive = "keyboard-interactive"
	AuthPassword            = "password"
)

// SSHAuthMethods lists the methods a host's ssh.authMethods may name.
var SSHAuthMethods = []string{AuthPublicKey, AuthKeyboardInteractive, AuthPassword}

// Methods returns the SSH methods the host offers: AuthMethods or ESXi's
// default (publickey, keyboard-interactive), plus password when
// PasswordAuth is set.
func (s SSH) Methods() []string {
	m := s.AuthMethods
	if len(m) == 0 {
		m = []string{AuthPublicKey, AuthKeyboardInteractive}
	}
	m = slices.Clone(m)
	if s.PasswordAuth && !slices.Contains(m, AuthPassword) {
		m = append(m, AuthPassword)
	}
	return m
}

// User is a login.
type User struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	// AuthorizedKeys are OpenSSH authorized_keys lines.
	AuthorizedKeys []string `yaml:"authorizedKeys"`
}

// Vmnic is a physical NIC cabled to a physical network.
type Vmnic struct {
	Name    string `yaml:"name"`
	Network string `yaml:"network"`
	MAC     string `yaml:"mac"`
}

// VSwitch is a standard vSwitch. One without uplinks is internal to the
// host: its segment is "<host>/<vswitch>".
type VSwitch struct {
	Name       string      `yaml:"name"`
	MTU        int         `yaml:"mtu"`
	Uplinks    []string    `yaml:"uplinks"`
	Portgroups []Portgroup `yaml:"portgroups"`
}

// Portgroup is a port group.
type Portgroup struct {
	Name string `yaml:"name"`
	VLAN int    `yaml:"vlan"`
}

// Vmknic is a VMkernel NIC, created in list order.
type Vmknic struct {
	Name      string   `yaml:"name"`
	Portgroup string   `yaml:"portgroup"`
	Netstack  string   `yaml:"netstack"`
	IP        string   `yaml:"ip"`
	MAC       string   `yaml:"mac"`
	MTU       int      `yaml:"mtu"`
	Gateway   string   `yaml:"gateway"`
	Tags      []string `yaml:"tags"`
	Disabled  bool     `yaml:"disabled"`
}

// Route is a static route.
type Route struct {
	Network  string `yaml:"network"`
	Gateway  string `yaml:"gateway"`
	Netstack string `yaml:"netstack"`
}

// CVM is a Nutanix Controller VM: its interfaces, and a Stargate serving
// the cluster's containers on every address.
type CVM struct {
	Name       string      `yaml:"name"`
	Host       string      `yaml:"host"`
	Interfaces []Interface `yaml:"interfaces"`
	SSH        CVMSSH      `yaml:"ssh"`
}

// CVMSSH configures a CVM's SSH server.
type CVMSSH struct {
	// Users are the logins; absent means nutanix / nutanix/4u.
	// CVM.SSHUsers is the effective list.
	Users []User `yaml:"users"`
}

// The CVM login when a CVM declares none.
const (
	DefaultCVMUser     = "nutanix"
	DefaultCVMPassword = "nutanix/4u"
)

// SSHUsers returns the CVM's logins: ssh.users, or nutanix / nutanix/4u.
func (c CVM) SSHUsers() []User {
	if len(c.SSH.Users) == 0 {
		return []User{{Name: DefaultCVMUser, Password: DefaultCVMPassword}}
	}
	return slices.Clone(c.SSH.Users)
}

// Interface is a CVM or filer interface on a segment.
type Interface struct {
	Name    string `yaml:"name"`
	Segment string `yaml:"segment"`
	IP      string `yaml:"ip"`
	MAC     string `yaml:"mac"`
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default topology file.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default returns the default lab.
func Default() *Topology {
	t, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic("topology: embedded default is invalid: " + err.Error())
	}
	return t
}

// Load reads and validates a topology file. A file that cannot be read is
// an *os.PathError; a file that is not a valid topology is Errors.
func Load(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse decodes and validates a topology; name is the file name the
// errors carry. Every problem found is reported, as Errors sorted by
// position: YAML syntax (the parser stops at the first), unknown fields,
// values of the wrong type, and then everything Validate checks.
func Parse(name string, b []byte) (*Topology, error) {
	t, errs := parse(name, b)
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}
