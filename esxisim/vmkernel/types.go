package vmkernel

import (
	"net"
	"net/netip"

	"github.com/autopathlab/autopathlab/fabric"
)

// DefaultNetstack is the name of the default TCP/IP stack.
const DefaultNetstack = "defaultTcpipStack"

// Version identifies the emulated ESXi release.
type Version struct {
	Product string // "VMware ESXi"
	Version string // "8.0.3"
	Build   string // "24414501"
	Update  string // "3"
	Patch   string // "15"
	// BuildDate is uname's build timestamp, e.g. "Aug 30 2023 04:36:58".
	BuildDate string
}

// DefaultVersion is ESXi 8.0 Update 3.
var DefaultVersion = Version{
	Product:   "VMware ESXi",
	Version:   "8.0.3",
	Build:     "24022510",
	Update:    "3",
	Patch:     "15",
	BuildDate: "Jun 20 2024 23:46:59",
}

// Vmnic is a physical uplink.
type Vmnic struct {
	Name        string
	PCI         string // "0000:01:00.0"
	Driver      string // "ixgben"
	MAC         net.HardwareAddr
	LinkUp      bool
	Speed       int // Mbps
	Duplex      string
	MTU         int
	Description string
	// Network is the physical network (L2 segment, before VLAN tagging)
	// the NIC is cabled to.
	Network string
}

// VSwitch is a standard vSwitch.
type VSwitch struct {
	Name            string
	NumPorts        int
	ConfiguredPorts int
	MTU             int
	CDP             string
	Uplinks         []string
	// Portgroups in creation order. Views list them newest first, as ESXi
	// does.
	Portgroups []*Portgroup
	// segment is the L2 domain of an internal vSwitch (no uplinks): one per
	// host, e.g. "NTNX-BLOCK1-A/vSwitchNutanix".
	internal string
}

// Portgroup is a standard port group.
type Portgroup struct {
	Name    string
	VSwitch string
	VLAN    int
}

// Vmknic is a VMkernel network interface. Its address, MAC, MTU and state
// live in the fabric interface, which routing and traffic read directly.
type Vmknic struct {
	Name      string
	Portgroup string
	Netstack  string
	// Type is the IPv4 address type: STATIC, DHCP or NONE.
	Type string
	// Gateway is the per-vmknic IPv4 gateway (7.x+); invalid when unset.
	Gateway netip.Addr
	TSOMSS  int
	PortID  int
	Tags    []string
	Iface   *fabric.Interface
}

// Addr returns the vmknic's IPv4 address and prefix (zero if none).
func (v Vmknic) Addr() netip.Prefix { return v.Iface.Addr() }

// MAC returns the vmknic's MAC address.
func (v Vmknic) MAC() net.HardwareAddr { return v.Iface.MAC() }

// Enabled reports whether the vmknic is up.
func (v Vmknic) Enabled() bool { return v.Iface.Up() }

// MTU returns the vmknic MTU.
func (v Vmknic) MTU() int { return v.Iface.MTU() }
