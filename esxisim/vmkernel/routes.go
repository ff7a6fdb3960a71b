package vmkernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/autopathlab/autopathlab/fabric"
)

// AddRoute adds a static route to a netstack and logs it as the VMkernel's
// Tcpip module does. A /0 destination sets the default gateway.
func (h *Host) AddRoute(netstack string, dst netip.Prefix, gw netip.Addr) error {
	ns, err := h.Netstack(netstack)
	if err != nil {
		return err
	}
	if dst.Bits() == 0 {
		if _, ok := ns.Routes.Default(); ok {
			return fabric.ErrExists
		}
		err = ns.Routes.SetDefault(gw)
	} else {
		err = ns.Routes.Add(dst, gw)
	}
	if err != nil {
		return err
	}
	h.logRoute("add", dst, gw)
	h.notify(Change{Kind: "route.add", Netstack: nsName(netstack), Network: dst.Masked(), Gateway: gw})
	return nil
}

// DeleteRoute removes a static route from a netstack.
func (h *Host) DeleteRoute(netstack string, dst netip.Prefix, gw netip.Addr) error {
	ns, err := h.Netstack(netstack)
	if err != nil {
		return err
	}
	if err := ns.Routes.Delete(dst, gw); err != nil {
		return err
	}
	h.logRoute("delete", dst, gw)
	h.notify(Change{Kind: "route.delete", Netstack: nsName(netstack), Network: dst.Masked(), Gateway: gw})
	return nil
}

// SetDefaultGateway replaces a netstack's default gateway.
func (h *Host) SetDefaultGateway(netstack string, gw netip.Addr) error {
	ns, err := h.Netstack(netstack)
	if err != nil {
		return err
	}
	if err := ns.Routes.SetDefault(gw); err != nil {
		return err
	}
	def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	h.logRoute("add", def, gw)
	h.notify(Change{Kind: "route.add", Netstack: nsName(netstack), Network: def, Gateway: gw})
	return nil
}

func nsName(n string) string {
	if n == "" {
		return DefaultNetstack
	}
	return n
}

// logRoute writes the Tcpip line ESXi logs for a route change, addresses
// in little-endian hex as the real log prints them:
// "Tcpip: 1414: delete dstAddr=0x221a8c0, netMask=0xffffffff, gwAddr=0x6682000a ifName=0x0x0, ifNameLen=0".
func (h *Host) logRoute(op string, dst netip.Prefix, gw netip.Addr) {
	mask := uint32(0)
	if dst.Bits() > 0 {
		mask = ^uint32(0) << (32 - dst.Bits())
	}
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mask)
	h.log.Printf("Tcpip: 1414: %s dstAddr=%#x, netMask=%#x, gwAddr=%#x ifName=0x0x0, ifNameLen=0",
		op, le(dst.Addr()), binary.LittleEndian.Uint32(mb[:]), le(gw))
}

func le(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.LittleEndian.Uint32(b[:])
}

// RouteView is a route as the ESXi tools list it.
type RouteView struct {
	Network netip.Prefix
	// Gateway is invalid for a connected ("Local Subnet") route.
	Gateway   netip.Addr
	Interface string
	Default   bool
}

// Routes lists a netstack's effective routes: connected routes, then
// static routes, the default route last.
func (h *Host) Routes(netstack string) ([]RouteView, error) {
	ns, err := h.Netstack(netstack)
	if err != nil {
		return nil, err
	}
	var out []RouteView
	for _, r := range ns.Routes.Routes() {
		v := RouteView{Network: r.Dst, Interface: r.Iface.Name(), Default: r.Static && r.Dst.Bits() == 0}
		if r.Static {
			v.Gateway = r.Gateway
		}
		out = append(out, v)
	}
	return out, nil
}

// String renders a route for error messages.
func (r RouteView) String() string {
	return fmt.Sprintf("%s via %s dev %s", r.Network, r.Gateway, r.Interface)
}
