package harness

import (
	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/topology"
)

// Faults a topology declares up front ("faults:" with "at:") happen on the
// lab's clock, from the start and again from every Reset. A fault at 0
// is in place before New returns.

// upfrontSpec turns a declared fault into the control API's spec.
func upfrontSpec(f topology.Fault) FaultSpec {
	return FaultSpec{Kind: f.Kind, Node: f.Node, Interface: f.Interface, Peer: f.Peer,
		Latency: Duration(f.Latency), LossPercent: f.LossPercent, Delay: Duration(f.Delay),
		Command: f.Command, For: Duration(f.For), Count: f.Count}
}

// fire applies one declared fault; a failure is an event, as the lab is
// already running.
func (l *Lab) fire(f topology.Fault) {
	var err error
	switch f.Kind {
	case topology.FaultCVMPowerOff:
		if err = l.PowerOff(f.Node); err == nil && f.For > 0 {
			l.track(l.Clock.AfterFunc(f.For, func() { _ = l.PowerOn(f.Node) }))
		}
	case topology.FaultCVMReboot:
		err = l.Reboot(f.Node)
	default:
		_, err = l.AddFault(upfrontSpec(f))
	}
	if err != nil {
		l.Events.Add(Event{Time: l.Clock.Now(), Kind: "fault.error", Node: f.Node, Detail: f.Kind, Error: err.Error()})
	}
}

// scheduleFaults arms the topology's faults from now: in a lab of one node
// (NewNode), those that act on it.
func (l *Lab) scheduleFaults() {
	for _, f := range l.Topology.Faults {
		if !l.ownsFault(f) {
			continue
		}
		if f.At <= 0 {
			l.fire(f)
			continue
		}
		l.track(l.Clock.AfterFunc(f.At, func() { l.fire(f) }))
	}
}

func (l *Lab) track(t clock.Timer) {
	l.smu.Lock()
	defer l.smu.Unlock()
	l.scheduled = append(l.scheduled, t)
}

// cancelScheduled disarms what scheduleFaults armed and has not fired.
func (l *Lab) cancelScheduled() {
	l.smu.Lock()
	defer l.smu.Unlock()
	for _, t := range l.scheduled {
		t.Stop()
	}
	l.scheduled = nil
}

// ownsFault reports whether this process applies a declared fault: every
// fault in a lab of all nodes; in a lab of one node, a fault on it (or a
// partition with it at one end), and a fault on a node no process runs on
// its own (a gateway, a filer), which every process applies to its model.
func (l *Lab) ownsFault(f topology.Fault) bool {
	if l.place.self == "" {
		return true
	}
	ran := false
	for _, ref := range []string{f.Node, f.Peer} {
		if ref == "" {
			continue
		}
		if name, err := l.ResolveHost(ref); err == nil {
			if l.Host(name) != nil {
				return true
			}
			ran = true
			continue
		}
		if name, err := l.ResolveCVM(ref); err == nil {
			if l.CVM(name) != nil {
				return true
			}
			ran = true
		}
	}
	return !ran
}
