package harness

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/topology"
)

// vmkernelConfig turns a validated topology host into the model's
// configuration.
func vmkernelConfig(h topology.Host) (vmkernel.Config, error) {
	c := vmkernel.Config{Hostname: h.Hostname}
	if c.Hostname == "" {
		c.Hostname = h.Name
	}
	if v := h.Version; v != nil {
		c.Version = vmkernel.DefaultVersion
		c.Version.Version, c.Version.Build = v.Version, v.Build
		c.Version.Update, c.Version.Patch, c.Version.BuildDate = v.Update, v.Patch, v.BuildDate
	}
	for _, n := range h.Vmnics {
		mac, err := optMAC(n.MAC)
		if err != nil {
			return c, fmt.Errorf("vmnic %s: %w", n.Name, err)
		}
		c.Vmnics = append(c.Vmnics, vmkernel.Vmnic{Name: n.Name, Network: n.Network, MAC: mac, LinkUp: true})
	}
	for _, vs := range h.VSwitches {
		vc := vmkernel.VSwitchConfig{Name: vs.Name, MTU: vs.MTU, Uplinks: vs.Uplinks}
		for _, pg := range vs.Portgroups {
			vc.Portgroups = append(vc.Portgroups, vmkernel.PortgroupConfig{Name: pg.Name, VLAN: pg.VLAN})
		}
		c.VSwitches = append(c.VSwitches, vc)
	}
	for _, v := range h.Vmknics {
		vc := vmkernel.VmknicConfig{Name: v.Name, Portgroup: v.Portgroup, Netstack: v.Netstack, MTU: v.MTU, Tags: v.Tags, Disabled: v.Disabled}
		var err error
		if v.IP != "" {
			if vc.IP, err = netip.ParsePrefix(v.IP); err != nil {
				return c, err
			}
		}
		if v.Gateway != "" {
			if vc.Gateway, err = netip.ParseAddr(v.Gateway); err != nil {
				return c, err
			}
		}
		if vc.MAC, err = optMAC(v.MAC); err != nil {
			return c, fmt.Errorf("vmknic %s: %w", v.Name, err)
		}
		c.Vmknics = append(c.Vmknics, vc)
	}
	if h.Gateway != "" {
		gw, err := netip.ParseAddr(h.Gateway)
		if err != nil {
			return c, err
		}
		c.DefaultGateway = gw
	}
	for _, r := range h.Routes {
		dst, err := netip.ParsePrefix(r.Network)
		if err != nil {
			return c, err
		}
		gw, err := netip.ParseAddr(r.Gateway)
		if err != nil {
			return c, err
		}
		c.Routes = append(c.Routes, vmkernel.RouteConfig{Netstack: r.Netstack, Dst: dst, Gateway: gw})
	}
	if h.ConnectedSelection == "lowest-name" {
		c.Selection = fabric.LowestName
	}
	return c, nil
}

func optMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	return net.ParseMAC(s)
}
