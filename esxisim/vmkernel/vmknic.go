package vmkernel

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/fabric"
)

// Vmknics returns copies of the vmknics in creation order.
func (h *Host) Vmknics() []Vmknic {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]Vmknic, 0, len(h.vmknics))
	for _, v := range h.vmknics {
		c := *v
		c.Tags = append([]string(nil), v.Tags...)
		out = append(out, c)
	}
	return out
}

// Vmknic returns a copy of the named vmknic.
func (h *Host) Vmknic(name string) (Vmknic, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	v := h.vmknicLocked(name)
	if v == nil {
		return Vmknic{}, ErrNoSuchVmknic
	}
	c := *v
	c.Tags = append([]string(nil), v.Tags...)
	return c, nil
}

// VmknicOnPortgroup returns the name of the vmknic on a port group.
func (h *Host) VmknicOnPortgroup(pg string) (string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, v := range h.vmknics {
		if v.Portgroup == pg {
			return v.Name, true
		}
	}
	return "", false
}

func (h *Host) vmknicLocked(name string) *Vmknic {
	for _, v := range h.vmknics {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// nextVmkLocked picks the lowest free vmkN, as ESXi numbers new vmknics.
func (h *Host) nextVmkLocked() string {
	used := map[int]bool{}
	for _, v := range h.vmknics {
		if n, err := strconv.Atoi(strings.TrimPrefix(v.Name, "vmk")); err == nil {
			used[n] = true
		}
	}
	for i := 0; ; i++ {
		if !used[i] {
			return fmt.Sprintf("vmk%d", i)
		}
	}
}

// AddVmknic creates a vmknic on a port group and attaches it to the port
// group's segment. It returns the new vmknic's name.
func (h *Host) AddVmknic(c VmknicConfig) (string, error) { return h.addVmknic(c, 0, 0) }

// addVmknic is AddVmknic; a reset passes the fabric creation order (seq)
// and port ID a vmknic had, to put it back in its place (0: the next).
func (h *Host) addVmknic(c VmknicConfig, seq uint64, portID int) (string, error) {
	if c.Netstack == "" {
		c.Netstack = DefaultNetstack
	}
	if c.IP.IsValid() && (!c.IP.Addr().Is4() || c.IP.Bits() == 0) {
		return "", ErrBadParameter
	}
	if c.MTU != 0 && (c.MTU < 1280 || c.MTU > 9000) {
		return "", ErrBadParameter
	}
	h.mu.Lock()
	if _, ok := h.netstacks[c.Netstack]; !ok {
		h.mu.Unlock()
		return "", ErrNoSuchNetstack
	}
	pg, _ := h.portgroupLocked(c.Portgroup)
	if pg == nil {
		h.mu.Unlock()
		return "", ErrNoSuchPortgroup
	}
	for _, v := range h.vmknics {
		if v.Portgroup == c.Portgroup {
			h.mu.Unlock()
			return "", ErrVmknicExists
		}
	}
	if c.Name == "" {
		c.Name = h.nextVmkLocked()
	} else if h.vmknicLocked(c.Name) != nil {
		h.mu.Unlock()
		return "", ErrVmknicExists
	}
	seg, _ := h.segmentOfLocked(c.Portgroup)
	carrier := h.carrierLocked(c.Portgroup)
	if c.MAC == nil {
		c.MAC = MAC(h.hostname, c.Name, 0)
	}
	if c.MTU == 0 {
		c.MTU = 1500
	}
	h.mu.Unlock()

	iface, err := h.node.AddInterface(fabric.InterfaceConfig{
		Name: c.Name, Addr: c.IP, MAC: c.MAC, MTU: c.MTU, Segment: seg, Down: c.Disabled,
		NoCarrier: !carrier, Seq: seq,
	})
	if err != nil {
		return "", ErrVmknicExists
	}
	typ := "STATIC"
	if !c.IP.IsValid() {
		typ = "NONE"
	}
	h.mu.Lock()
	v := &Vmknic{
		Name: c.Name, Portgroup: c.Portgroup, Netstack: c.Netstack, Type: typ,
		Gateway: c.Gateway, TSOMSS: 65535, PortID: portID, Tags: c.Tags, Iface: iface,
	}
	if portID == 0 {
		v.PortID = h.nextPort
		h.nextPort++
	}
	h.vmknics = append(h.vmknics, v)
	// A link change since carrierLocked above did not see this vmknic.
	carrier = h.carrierLocked(c.Portgroup)
	h.mu.Unlock()
	iface.SetCarrier(carrier)
	h.node.Reevaluate()
	h.notify(Change{Kind: "vmknic.add", Netstack: c.Netstack, Vmknic: c.Name, Addr: c.IP})
	return c.Name, nil
}

// RemoveVmknic deletes a vmknic; routes through it stop being usable.
func (h *Host) RemoveVmknic(name string) error {
	h.mu.Lock()
	idx := -1
	for k, v := range h.vmknics {
		if v.Name == name {
			idx = k
		}
	}
	if idx < 0 {
		h.mu.Unlock()
		return ErrNoSuchVmknic
	}
	h.vmknics = append(h.vmknics[:idx], h.vmknics[idx+1:]...)
	h.mu.Unlock()
	if err := h.node.RemoveInterface(name); err != nil {
		return err
	}
	h.notify(Change{Kind: "vmknic.remove", Vmknic: name})
	return nil
}

// SetVmknicIPv4 changes a vmknic's IPv4 address (an invalid prefix unsets
// it, type NONE).
func (h *Host) SetVmknicIPv4(name string, ip netip.Prefix) error {
	if ip.IsValid() && (!ip.Addr().Is4() || ip.Bits() == 0) {
		return ErrBadParameter
	}
	h.mu.Lock()
	v := h.vmknicLocked(name)
	if v == nil {
		h.mu.Unlock()
		return ErrNoSuchVmknic
	}
	v.Type = "STATIC"
	if !ip.IsValid() {
		v.Type = "NONE"
	}
	iface := v.Iface
	h.mu.Unlock()
	iface.SetAddr(ip)
	h.log.Printf("Tcpip: 2195: %s: IPv4 address set to %s", name, ip)
	h.notify(Change{Kind: "vmknic.ipv4", Vmknic: name, Addr: ip})
	return nil
}

// SetVmknicEnabled enables or disables a vmknic.
func (h *Host) SetVmknicEnabled(name string, on bool) error {
	h.mu.RLock()
	v := h.vmknicLocked(name)
	h.mu.RUnlock()
	if v == nil {
		return ErrNoSuchVmknic
	}
	v.Iface.SetUp(on)
	state := "disabled"
	if on {
		state = "enabled"
	}
	h.log.Printf("Net: 2467: %s %s", name, state)
	h.notify(Change{Kind: "vmknic." + state, Vmknic: name})
	return nil
}

// SetVmknicMTU changes a vmknic's MTU.
func (h *Host) SetVmknicMTU(name string, mtu int) error {
	if mtu < 1280 || mtu > 9000 {
		return ErrBadParameter
	}
	h.mu.RLock()
	v := h.vmknicLocked(name)
	h.mu.RUnlock()
	if v == nil {
		return ErrNoSuchVmknic
	}
	v.Iface.SetMTU(mtu)
	return nil
}

// SetVmknicGateway changes a vmknic's own IPv4 gateway (7.x+); an invalid
// address unsets it.
func (h *Host) SetVmknicGateway(name string, gw netip.Addr) error {
	if gw.IsValid() && !gw.Is4() {
		return ErrBadParameter
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.vmknicLocked(name)
	if v == nil {
		return ErrNoSuchVmknic
	}
	v.Gateway = gw
	return nil
}
