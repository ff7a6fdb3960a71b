package vmkernel

import (
	"errors"
	"fmt"
	"slices"

	"github.com/autopathlab/autopathlab/fabric"
)

// ErrNoSuchVmnic is a vmnic the host does not have (the sysinfo status
// the other lookups report, INFERRED for NICs).
var ErrNoSuchVmnic = errors.New("Not found")

// SetVmnicLink sets a vmnic's physical link, as a pulled cable or a dead
// switch port does. A vmknic loses carrier when its vSwitch has uplinks and
// none of them has a link: routes stay, its traffic is blackholed (package
// fabric). A vSwitch with another uplink up fails over to it, and an
// internal vSwitch (no uplinks) does not care. Setting the state it has is
// no change: nothing is logged or reported.
func (h *Host) SetVmnicLink(name string, up bool) error {
	h.mu.Lock()
	n := h.vmnic(name)
	if n == nil {
		h.mu.Unlock()
		return fmt.Errorf("Unable to find physical NIC %s: %w", name, ErrNoSuchVmnic)
	}
	if n.LinkUp == up {
		h.mu.Unlock()
		return nil
	}
	n.LinkUp = up
	h.mu.Unlock()
	h.applyCarrier(name)
	// The uplink module's line for a link change (INFERRED wording, in
	// the format of the other lines).
	state, kind := "down", "vmnic.link-down"
	if up {
		state, kind = "up", "vmnic.link-up"
	}
	h.log.Printf("Uplink: 16679: %s: link %s", name, state)
	h.notify(Change{Kind: kind, Vmnic: name})
	return nil
}

// applyCarrier gives the vmknics behind vmnic the carrier their uplinks
// make. Others are left alone, and so is a carrier a network fault set on
// them directly; fabric re-evaluates the flows only on a change.
func (h *Host) applyCarrier(vmnic string) {
	type want struct {
		iface *fabric.Interface
		up    bool
	}
	h.mu.RLock()
	ws := make([]want, 0, len(h.vmknics))
	for _, v := range h.vmknics {
		if _, vs := h.portgroupLocked(v.Portgroup); vs != nil && slices.Contains(vs.Uplinks, vmnic) {
			ws = append(ws, want{v.Iface, h.carrierLocked(v.Portgroup)})
		}
	}
	h.mu.RUnlock()
	// Outside h.mu: a carrier change re-evaluates the flows, which reads
	// the routing tables, which read the host.
	for _, w := range ws {
		w.iface.SetCarrier(w.up)
	}
}

// carrierLocked reports whether a port group's ports have a link: an
// internal vSwitch always, a vSwitch with uplinks while one of them is up.
func (h *Host) carrierLocked(portgroup string) bool {
	_, vs := h.portgroupLocked(portgroup)
	if vs == nil || len(vs.Uplinks) == 0 {
		return true
	}
	for _, u := range vs.Uplinks {
		if n := h.vmnic(u); n != nil && n.LinkUp {
			return true
		}
	}
	return false
}

// UplinkInterfaces returns the fabric interfaces of the vmknics whose
// vSwitch uses vmnic as an uplink, in creation order: what a fault "on
// vmnic0" (latency, loss) applies to.
func (h *Host) UplinkInterfaces(vmnic string) ([]*fabric.Interface, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.vmnic(vmnic) == nil {
		return nil, fmt.Errorf("Unable to find physical NIC %s: %w", vmnic, ErrNoSuchVmnic)
	}
	var out []*fabric.Interface
	for _, v := range h.vmknics {
		if _, vs := h.portgroupLocked(v.Portgroup); vs != nil && slices.Contains(vs.Uplinks, vmnic) {
			out = append(out, v.Iface)
		}
	}
	return out, nil
}
