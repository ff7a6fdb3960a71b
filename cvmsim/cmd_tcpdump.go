package cvmsim

import (
	"net"
	"strings"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/tcpdump"
)

// tcpdumpFlavor is CentOS 7's tcpdump, which AOS CVMs run: tcpdump 4.9.2
// on libpcap 1.5.3 (INFERRED from CentOS 7.9's tcpdump-4.9.2 and
// libpcap-1.5.3 packages). Its banner says "capture size", as 4.9 does
// ("snapshot length" is 4.99's). libpcap 1.5 reports a parse error as a
// bare "syntax error", and a Linux capture knows packet directions.
var tcpdumpFlavor = tcpdump.Flavor{
	Name:         "tcpdump",
	Version:      []string{"tcpdump version 4.9.2", "libpcap version 1.5.3", "OpenSSL 1.0.2k-fips  26 Jan 2017"},
	Dialect:      tcpdump.Dialect{BareSyntaxError: true, Linux: true},
	NoSuchDevice: "%s: No such device exists\n(SIOCGIFHWADDR: No such device)",
}

// cmdTcpdump is tcpdump on the CVM. Its devices are Linux's: each NIC
// (an alias such as eth1:1 is its NIC: capturing on either sees both),
// "any" in cooked mode, and lo, which carries nothing the model sees.
// The nutanix user runs it directly: the CVM shell has no sudo, and the
// emulator does not check capture privileges.
func (c *CVM) cmdTcpdump() shell.Command {
	return tcpdump.Command(tcpdump.Config{
		Flavor:  tcpdumpFlavor,
		Devices: c.captureDevices,
		Lookup: func(name string) (tcpdump.Device, bool) {
			for _, d := range c.captureDevices() {
				if d.Name == name {
					return d, true
				}
			}
			// eth1:1 names eth1's device, as SIOCGIFINDEX resolves it.
			if nic, _, ok := strings.Cut(name, ":"); ok && c.node.Interface(name) != nil {
				if d, ok := c.nicDevice(nic); ok {
					d.Name = name
					return d, true
				}
			}
			return tcpdump.Device{}, false
		},
	})
}

// captureDevices lists the devices in pcap_findalldevs' order on CentOS
// 7: the NICs, "any", then the loopback.
func (c *CVM) captureDevices() []tcpdump.Device {
	var devs []tcpdump.Device
	for _, i := range c.node.Interfaces() {
		if !strings.Contains(i.Name(), ":") {
			d, _ := c.nicDevice(i.Name())
			devs = append(devs, d)
		}
	}
	node := c.node
	devs = append(devs, tcpdump.Device{
		Name:        "any",
		Description: "Pseudo-device that captures on all interfaces",
		LinkType:    tcpdump.LinkLinuxSLL,
		Warning:     "any: That device doesn't support promiscuous mode\n(Promiscuous mode not supported on the \"any\" device)",
		Capture: func(fn func(tcpdump.Packet)) func() {
			return node.Capture(func(p fabric.Packet) { fn(packetOf(p)) })
		},
		MAC: func(name string) net.HardwareAddr {
			if i := node.Interface(name); i != nil {
				return i.MAC()
			}
			return nil
		},
	})
	devs = append(devs, tcpdump.Device{Name: "lo", Loopback: true, LinkType: tcpdump.LinkEthernet, Netmask: 0xff000000})
	return devs
}

// nicDevice is a NIC and its aliases.
func (c *CVM) nicDevice(nic string) (tcpdump.Device, bool) {
	base := c.node.Interface(nic)
	if base == nil {
		return tcpdump.Device{}, false
	}
	var mask uint32
	if p := base.Addr(); p.IsValid() && p.Addr().Is4() {
		mask = ^uint32(0) << (32 - p.Bits())
	}
	node := c.node
	return tcpdump.Device{
		Name:     nic,
		LinkType: tcpdump.LinkEthernet,
		Netmask:  mask,
		Capture: func(fn func(tcpdump.Packet)) func() {
			var stops []func()
			for _, i := range node.Interfaces() {
				if i.Name() == nic || strings.HasPrefix(i.Name(), nic+":") {
					stops = append(stops, i.Capture(func(p fabric.Packet) { fn(packetOf(p)) }))
				}
			}
			return func() {
				for _, s := range stops {
					s()
				}
			}
		},
	}, true
}

func packetOf(p fabric.Packet) tcpdump.Packet {
	return tcpdump.Packet{Time: p.Time, Iface: p.Iface, Out: p.Out, Data: p.Data, Len: p.Len}
}
