package cvmsim

import (
	"slices"
	"sync"
	"time"
)

// Event kinds, for the lab's event log.
const (
	EventPowerOff      = "power.off"
	EventPowerOn       = "power.on"      // the boot sequence starts
	EventNetworkUp     = "boot.network"  // the node answers ping and SSH
	EventBooted        = "booted"        // fully initialised: every service UP
	EventStargateUp    = "stargate.up"   // serving NFS and the status page
	EventStargateDown  = "stargate.down" // not running: connections refused
	EventStargateHung  = "stargate.hung" // accepts and never answers
	EventLogin         = "ssh.login"
	EventLoginFailed   = "ssh.login_failed"
	EventCommand       = "ssh.command"
	EventLogout        = "ssh.logout"
	EventSSHPanic      = "ssh.panic"
	reasonReboot       = "reboot"
	reasonPowerOff     = "power off"
	reasonFault        = "fault injected"
	reasonFaultCleared = "fault cleared"
	reasonReset        = "reset"
)

// Event is one change of the CVM, for the lab's event log. Fields that do
// not apply to a Kind are zero.
type Event struct {
	Time time.Time
	Kind string
	CVM  string
	// Detail says why (reboot, fault injected, ...).
	Detail string
	// SSH events.
	User    string
	Source  string
	Method  string
	Command string
	Exit    int
	Error   string
}

// hooks holds the subscribers.
type hooks struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(Event)
}

// Subscribe calls fn for every event, in order, until cancel. fn runs
// synchronously while the change that caused it completes: it may query
// the CVM (Power, StargateState, Status) but must not change it (PowerOff,
// SetStargate...) from the same goroutine.
func (c *CVM) Subscribe(fn func(Event)) (cancel func()) {
	h := &c.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fns == nil {
		h.fns = map[int]func(Event){}
	}
	h.next++
	id := h.next
	h.fns[id] = fn
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.fns, id)
	}
}

// emit delivers an event to the subscribers in subscription order.
func (c *CVM) emit(e Event) {
	e.Time = c.clock.Now()
	e.CVM = c.cfg.Name
	h := &c.hooks
	h.mu.Lock()
	ids := make([]int, 0, len(h.fns))
	for id := range h.fns {
		ids = append(ids, id)
	}
	fns := make([]func(Event), 0, len(ids))
	slices.Sort(ids)
	for _, id := range ids {
		fns = append(fns, h.fns[id])
	}
	h.mu.Unlock()
	for _, f := range fns {
		f(e)
	}
}
