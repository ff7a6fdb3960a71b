package esxisim

import (
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/tcpdump"
)

// tcpdumpFlavor is ESXi's tcpdump-uw: tcpdump 4.9.1 on libpcap 1.8.1
// (reference §7: "tcpdump-uw version 4.9.1-PRE-GIT_2017_09_22" /
// "libpcap version 1.8.1"). Its filter errors are libpcap 1.8's. The
// userworld libpcap has no Linux packet metadata, so "inbound" and
// "outbound" are refused, and no "any" device (INFERRED). The message for
// an unknown device is Linux libpcap 1.8's (INFERRED: no ESXi capture of
// it was found).
var tcpdumpFlavor = tcpdump.Flavor{
	Name:         "tcpdump-uw",
	Version:      []string{"tcpdump-uw version 4.9.1-PRE-GIT_2017_09_22", "libpcap version 1.8.1"},
	NoSuchDevice: "%s: No such device exists\n(SIOCGIFHWADDR: No such device)",
}

// tcpdumpUW is tcpdump-uw on host vm: it captures on the vmknics, in
// creation order, the first being the default (-i vmkN picks another).
func tcpdumpUW(vm *vmkernel.Host) shell.Command {
	return tcpdump.Command(tcpdump.Config{
		Flavor: tcpdumpFlavor,
		Devices: func() []tcpdump.Device {
			var devs []tcpdump.Device
			for _, v := range vm.Vmknics() {
				devs = append(devs, vmknicDevice(v))
			}
			return devs
		},
	})
}

func vmknicDevice(v vmkernel.Vmknic) tcpdump.Device {
	iface := v.Iface
	var mask uint32
	if p := v.Addr(); p.IsValid() && p.Addr().Is4() {
		mask = ^uint32(0) << (32 - p.Bits())
	}
	return tcpdump.Device{
		Name:     v.Name,
		LinkType: tcpdump.LinkEthernet,
		Netmask:  mask,
		Capture: func(fn func(tcpdump.Packet)) func() {
			return iface.Capture(func(p fabric.Packet) {
				fn(tcpdump.Packet{Time: p.Time, Iface: p.Iface, Out: p.Out, Data: p.Data, Len: p.Len})
			})
		},
	}
}
