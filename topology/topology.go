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

	"github.com/goccy/go-yaml"
)

// Topology is a whole lab.
type Topology struct {
	Name     string    `yaml:"name"`
	Gateways []Gateway `yaml:"gateways"`
	Hosts    []Host    `yaml:"hosts"`
	CVMs     []CVM     `yaml:"cvms"`
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

// CVM is a Nutanix Controller VM. Until the CVM emulator lands it is a
// node whose addresses answer ping.
type CVM struct {
	Name       string      `yaml:"name"`
	Host       string      `yaml:"host"`
	Interfaces []Interface `yaml:"interfaces"`
}

// Interface is a CVM interface on a segment.
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
	for _, c := range t.CVMs {
		if err := uniq("cvm", c.Name); err != nil {
			return err
		}
		for _, i := range c.Interfaces {
			if _, err := netip.ParsePrefix(i.IP); err != nil {
				return fmt.Errorf("cvm %q: interface %s: ip %q: want a.b.c.d/nn", c.Name, i.Name, i.IP)
			}
			if i.Segment == "" {
				return fmt.Errorf("cvm %q: interface %s: no segment", c.Name, i.Name)
			}
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
	return nil
}
