package vmkernel

import (
	"net/netip"
	"time"
)

// Change is a change of the host's network model, for the lab's event log:
// every view already sees it; this tells the log when and what.
type Change struct {
	Time time.Time
	// Kind is route.add, route.delete, vmknic.add, vmknic.remove,
	// vmknic.ipv4, vmknic.enabled, vmknic.disabled, vmnic.link-down or
	// vmnic.link-up.
	Kind     string
	Host     string
	Netstack string
	Network  netip.Prefix
	Gateway  netip.Addr
	Vmknic   string
	Addr     netip.Prefix
	// Vmnic is the physical NIC of a vmnic.* change.
	Vmnic string
}

// Subscribe calls fn after every change (synchronously, outside the
// model's locks: fn must not block). cancel stops it.
func (h *Host) Subscribe(fn func(Change)) (cancel func()) {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if h.subs == nil {
		h.subs = map[int]func(Change){}
	}
	h.nsub++
	id := h.nsub
	h.subs[id] = fn
	return func() {
		h.subMu.Lock()
		defer h.subMu.Unlock()
		delete(h.subs, id)
	}
}

func (h *Host) notify(c Change) {
	c.Time = h.clock.Now()
	c.Host = h.Hostname()
	h.subMu.Lock()
	fns := make([]func(Change), 0, len(h.subs))
	for _, f := range h.subs {
		fns = append(fns, f)
	}
	h.subMu.Unlock()
	for _, f := range fns {
		f(c)
	}
}
