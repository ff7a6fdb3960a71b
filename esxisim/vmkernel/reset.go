package vmkernel

import (
	"cmp"
	"net"
	"net/netip"
	"slices"

	"github.com/autopathlab/autopathlab/fabric"
)

// baseline is the host as New built it from its Config: what Reset
// returns to. It is taken from the built host rather than the Config, so
// that defaults (names, MACs, MTUs, port IDs) come back as they were.
type baseline struct {
	hostname  string
	linkUp    []bool // per vmnic, in h.vmnics order (vmnics are never added)
	nsOrder   []string
	vmknics   []baseVmknic
	routes    map[string][]fabric.StaticRoute
	selection map[string]fabric.Selection
	nextPort  int
}

// baseVmknic is one vmknic of the baseline. seq is its interface's
// creation order: while the vmknic's interface has it, it is the one New
// made (or a reset re-created in its place), never deleted since, and its
// flows can be kept. One created again by hand has a new seq.
type baseVmknic struct {
	v       Vmknic
	seq     uint64
	addr    netip.Prefix
	mac     net.HardwareAddr
	mtu     int
	enabled bool
}

func (h *Host) snapshot() *baseline {
	h.mu.RLock()
	defer h.mu.RUnlock()
	b := &baseline{
		hostname:  h.hostname,
		nsOrder:   slices.Clone(h.nsOrder),
		routes:    map[string][]fabric.StaticRoute{},
		selection: map[string]fabric.Selection{},
		nextPort:  h.nextPort,
	}
	for _, n := range h.vmnics {
		b.linkUp = append(b.linkUp, n.LinkUp)
	}
	for _, v := range h.vmknics {
		c := *v
		c.Tags = slices.Clone(v.Tags)
		b.vmknics = append(b.vmknics, baseVmknic{
			v: c, seq: v.Iface.Seq(), addr: v.Iface.Addr(), mac: v.Iface.MAC(),
			mtu: v.Iface.MTU(), enabled: v.Iface.Up(),
		})
	}
	for name, ns := range h.netstacks {
		b.routes[name] = ns.Routes.Static()
		b.selection[name] = ns.Routes.Selection()
	}
	return b
}

func (b *baseline) vmknic(name string) *baseVmknic {
	for i := range b.vmknics {
		if b.vmknics[i].v.Name == name {
			return &b.vmknics[i]
		}
	}
	return nil
}

// Reset brings the host back to the Config it was created with: host name,
// vmnic links, vmknics (re-created in their old place if deleted, deleted
// if added; address, MTU, state, gateway, tags), netstacks, and each
// netstack's static routes and default gateway exactly as configured, in
// their order.
//
// Only what differs is touched, and reported as the Change the same edit
// made by hand reports: a reset of an unchanged host reports nothing. The
// flows are re-evaluated once, at the end (fabric.Network.Batch): a flow
// whose path is the same before and after is never reset, whatever
// happened in between. Network faults on the vmknics' interfaces (latency,
// loss, partitions) belong to the network, not the host: the lab clears
// them with fabric.Network.ClearFaults.
func (h *Host) Reset() error {
	var err error
	h.node.Network().Batch(func() { err = h.reset() })
	return err
}

func (h *Host) reset() error {
	b := h.base

	// Vmnic links first: re-created vmknics get their carrier from them.
	type link struct {
		name string
		up   bool
	}
	var links []link
	h.mu.Lock()
	h.hostname = b.hostname
	for i, n := range h.vmnics {
		if n.LinkUp != b.linkUp[i] {
			links = append(links, link{n.Name, b.linkUp[i]})
		}
	}
	var extra []string
	for _, v := range h.vmknics {
		if bv := b.vmknic(v.Name); bv == nil || bv.seq != v.Iface.Seq() {
			extra = append(extra, v.Name)
		}
	}
	h.mu.Unlock()
	for _, l := range links {
		if err := h.SetVmnicLink(l.name, l.up); err != nil {
			return err
		}
	}
	// Added vmknics, and deleted ones created again by hand (another
	// interface, maybe elsewhere): deleted.
	for _, name := range extra {
		if err := h.RemoveVmknic(name); err != nil {
			return err
		}
	}
	for i := range b.vmknics {
		if err := h.resetVmknic(&b.vmknics[i]); err != nil {
			return err
		}
	}
	h.mu.Lock()
	// Listed in creation order, re-created ones in their old place.
	slices.SortStableFunc(h.vmknics, func(x, y *Vmknic) int { return cmp.Compare(x.Iface.Seq(), y.Iface.Seq()) })
	h.nextPort = b.nextPort
	for name := range h.netstacks {
		if !slices.Contains(b.nsOrder, name) {
			// No vmknic is left on it: nothing routes through it.
			delete(h.netstacks, name)
		}
	}
	h.nsOrder = slices.Clone(b.nsOrder)
	nss := make([]*Netstack, 0, len(h.nsOrder))
	for _, name := range h.nsOrder {
		nss = append(nss, h.netstacks[name])
	}
	h.mu.Unlock()
	for _, ns := range nss {
		h.resetRoutes(ns, b.routes[ns.Name], b.selection[ns.Name])
	}
	return nil
}

// resetVmknic re-creates a baseline vmknic that is gone, or restores the
// attributes of one that is still there.
func (h *Host) resetVmknic(bv *baseVmknic) error {
	name := bv.v.Name
	h.mu.RLock()
	v := h.vmknicLocked(name)
	h.mu.RUnlock()
	if v == nil {
		_, err := h.addVmknic(VmknicConfig{
			Name: name, Portgroup: bv.v.Portgroup, Netstack: bv.v.Netstack,
			IP: bv.addr, MAC: bv.mac, MTU: bv.mtu, Gateway: bv.v.Gateway,
			Tags: slices.Clone(bv.v.Tags), Disabled: !bv.enabled,
		}, bv.seq, bv.v.PortID)
		if err != nil {
			return err
		}
		h.mu.Lock()
		if v := h.vmknicLocked(name); v != nil {
			v.Type = bv.v.Type
		}
		h.mu.Unlock()
		return nil
	}
	if v.Iface.Addr() != bv.addr {
		if err := h.SetVmknicIPv4(name, bv.addr); err != nil {
			return err
		}
	}
	if v.Iface.MTU() != bv.mtu {
		v.Iface.SetMTU(bv.mtu)
	}
	if v.Iface.Up() != bv.enabled {
		if err := h.SetVmknicEnabled(name, bv.enabled); err != nil {
			return err
		}
	}
	h.mu.Lock()
	v.Type, v.Gateway = bv.v.Type, bv.v.Gateway
	if !slices.Equal(v.Tags, bv.v.Tags) {
		v.Tags = slices.Clone(bv.v.Tags)
	}
	h.mu.Unlock()
	return nil
}

// resetRoutes restores a netstack's static routes, reporting and logging
// each one removed or added as esxcfg-route would have.
func (h *Host) resetRoutes(ns *Netstack, want []fabric.StaticRoute, sel fabric.Selection) {
	if ns.Routes.Selection() != sel {
		ns.Routes.SetSelection(sel)
	}
	cur := ns.Routes.Static()
	if slices.Equal(cur, want) {
		return
	}
	var changes []Change
	for _, r := range cur {
		if !slices.Contains(want, r) {
			h.logRoute("delete", r.Dst, r.Gateway)
			changes = append(changes, Change{Kind: "route.delete", Netstack: ns.Name, Network: r.Dst, Gateway: r.Gateway})
		}
	}
	for _, r := range want {
		if !slices.Contains(cur, r) {
			h.logRoute("add", r.Dst, r.Gateway)
			changes = append(changes, Change{Kind: "route.add", Netstack: ns.Name, Network: r.Dst, Gateway: r.Gateway})
		}
	}
	ns.Routes.Restore(want)
	for _, c := range changes {
		h.notify(c)
	}
}
