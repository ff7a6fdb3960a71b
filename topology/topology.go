// Package topology is the lab description: the nodes, their addresses,
// vSwitches, port groups, vmknics and routes, read from a YAML file. The
// default lab (seed 001's three-node cluster) is embedded.
package topology

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
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
	// PasswordAuth offers the SSH "password" method, which ESXi does not.
	PasswordAuth bool   `yaml:"passwordAuth"`
	Users        []User `yaml:"users"`
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

// Load reads and validates a topology file.
func Load(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse decodes and validates a topology. Unknown fields are errors, so a
// misspelt key is reported rather than silently ignored.
func Parse(name string, b []byte) (*Topology, error) {
	var t Topology
	dec := yaml.NewDecoder(bytes.NewReader(b), yaml.DisallowUnknownField())
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yaml.FormatError(err, false, true))
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &t, nil
}

// Validate checks names and addresses.
func (t *Topology) Validate() error {
	names := map[string]bool{}
	uniq := func(kind, n string) error {
		if n == "" {
			return fmt.Errorf("a %s has no name", kind)
		}
		if names[n] {
			return fmt.Errorf("%s %q: name used twice", kind, n)
		}
		names[n] = true
		return nil
	}
	for _, g := range t.Gateways {
		if err := uniq("gateway", g.Name); err != nil {
			return err
		}
		if _, err := netip.ParsePrefix(g.IP); err != nil {
			return fmt.Errorf("gateway %q: ip %q: want a.b.c.d/nn", g.Name, g.IP)
		}
	}
	for _, h := range t.Hosts {
		if err := uniq("host", h.Name); err != nil {
			return err
		}
		if err := h.validate(); err != nil {
			return fmt.Errorf("host %q: %w", h.Name, err)
		}
	}
	for _, f := range t.Filers {
		if err := uniq("filer", f.Name); err != nil {
			return err
		}
		if err := validIfaces("filer", f.Name, f.Interfaces); err != nil {
			return err
		}
		for _, e := range f.Exports {
			if !strings.HasPrefix(e.Path, "/") {
				return fmt.Errorf("filer %q: export %q: want an absolute path", f.Name, e.Path)
			}
			if err := validCIDRs(e.Whitelist); err != nil {
				return fmt.Errorf("filer %q: export %s: whitelist: %w", f.Name, e.Path, err)
			}
		}
	}
	if c := t.Cluster; c != nil {
		if err := validCIDRs(c.NFSWhitelist); err != nil {
			return fmt.Errorf("cluster: nfsWhitelist: %w", err)
		}
		seen := map[string]bool{}
		for _, ct := range c.Containers {
			if ct.Name == "" || strings.ContainsAny(ct.Name, "/ ") || seen[ct.Name] {
				return fmt.Errorf("cluster: container %q: want a unique name without '/' or spaces", ct.Name)
			}
			seen[ct.Name] = true
			if err := validCIDRs(ct.Whitelist); err != nil {
				return fmt.Errorf("cluster: container %s: whitelist: %w", ct.Name, err)
			}
		}
	}
	for _, c := range t.CVMs {
		if err := uniq("cvm", c.Name); err != nil {
			return err
		}
		if err := validIfaces("cvm", c.Name, c.Interfaces); err != nil {
			return err
		}
	}
	return nil
}

func (h Host) validate() error {
	pgs := map[string]bool{}
	nics := map[string]bool{}
	for _, n := range h.Vmnics {
		nics[n.Name] = true
	}
	for _, vs := range h.VSwitches {
		for _, u := range vs.Uplinks {
			if !nics[u] {
				return fmt.Errorf("vswitch %s: uplink %s is not a vmnic of the host", vs.Name, u)
			}
		}
		for _, pg := range vs.Portgroups {
			if pgs[pg.Name] {
				return fmt.Errorf("portgroup %q defined twice", pg.Name)
			}
			if pg.VLAN < 0 || pg.VLAN > 4095 {
				return fmt.Errorf("portgroup %q: vlan %d: want 0-4095", pg.Name, pg.VLAN)
			}
			pgs[pg.Name] = true
		}
	}
	for _, v := range h.Vmknics {
		if !pgs[v.Portgroup] {
			return fmt.Errorf("vmknic %s: portgroup %q does not exist", v.Name, v.Portgroup)
		}
		if v.IP != "" {
			if _, err := netip.ParsePrefix(v.IP); err != nil {
				return fmt.Errorf("vmknic %s: ip %q: want a.b.c.d/nn", v.Name, v.IP)
			}
		}
		if v.Gateway != "" {
			if _, err := netip.ParseAddr(v.Gateway); err != nil {
				return fmt.Errorf("vmknic %s: gateway %q: want a.b.c.d", v.Name, v.Gateway)
			}
		}
	}
	if h.Gateway != "" {
		if _, err := netip.ParseAddr(h.Gateway); err != nil {
			return fmt.Errorf("gateway %q: want a.b.c.d", h.Gateway)
		}
	}
	for _, r := range h.Routes {
		if _, err := netip.ParsePrefix(r.Network); err != nil {
			return fmt.Errorf("route %q: want a.b.c.d/nn", r.Network)
		}
		if _, err := netip.ParseAddr(r.Gateway); err != nil {
			return fmt.Errorf("route %s: gateway %q: want a.b.c.d", r.Network, r.Gateway)
		}
	}
	switch h.ConnectedSelection {
	case "", "first-created", "lowest-name":
	default:
		return fmt.Errorf("connectedSelection %q: want first-created or lowest-name", h.ConnectedSelection)
	}
	labels := map[string]bool{}
	for _, d := range h.Datastores {
		if d.Name == "" || labels[d.Name] {
			return fmt.Errorf("datastore %q: want a unique name", d.Name)
		}
		labels[d.Name] = true
		if _, err := netip.ParseAddr(d.Host); err != nil {
			return fmt.Errorf("datastore %s: host %q: want a.b.c.d", d.Name, d.Host)
		}
		if !strings.HasPrefix(d.Share, "/") {
			return fmt.Errorf("datastore %s: share %q: want an absolute path", d.Name, d.Share)
		}
	}
	if n := h.NFS; n != nil {
		for k, v := range map[string]string{"heartbeatFrequency": n.HeartbeatFrequency, "heartbeatTimeout": n.HeartbeatTimeout, "apdTimeout": n.APDTimeout} {
			if err := validDuration(v); err != nil {
				return fmt.Errorf("nfs: %s: %w", k, err)
			}
		}
		if n.HeartbeatMaxFailures < 0 {
			return fmt.Errorf("nfs: heartbeatMaxFailures %d: want >= 0", n.HeartbeatMaxFailures)
		}
	}
	if w := h.Workload; w != nil {
		if err := validDuration(w.Interval); err != nil {
			return fmt.Errorf("workload: interval: %w", err)
		}
		if w.BlockSize < 0 || w.Blocks < 0 {
			return fmt.Errorf("workload: blockSize and blocks must be positive")
		}
	}
	return nil
}

func validDuration(s string) error {
	if s == "" {
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q: want a positive duration such as 30s", s)
	}
	return nil
}

func validCIDRs(list []string) error {
	for _, c := range list {
		if _, err := netip.ParsePrefix(c); err != nil {
			return fmt.Errorf("%q: want a.b.c.d/nn", c)
		}
	}
	return nil
}

func validIfaces(kind, name string, ifs []Interface) error {
	for _, i := range ifs {
		if _, err := netip.ParsePrefix(i.IP); err != nil {
			return fmt.Errorf("%s %q: interface %s: ip %q: want a.b.c.d/nn", kind, name, i.Name, i.IP)
		}
		if i.Segment == "" {
			return fmt.Errorf("%s %q: interface %s: no segment", kind, name, i.Name)
		}
	}
	return nil
}
