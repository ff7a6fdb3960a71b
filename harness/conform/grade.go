package conform

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// gradeInput is everything a scenario is graded on: what the lab looked
// like when it started, every event in the window with the real time it
// happened, what the scenario expected, and the lab at the end.
type gradeInput struct {
	li                      labInfo
	start, end              time.Time
	initial                 *world
	events                  []stamped
	exps                    []expectation
	budget                  map[string]int
	maxDetection, maxOutage time.Duration
	// repoint is how long a host may sit on its dead local CVM between
	// the delete and the add of a re-point (esxcfg-route has no replace).
	repoint time.Duration
	// scale converts the lab's durations (an outage's) to real time.
	scale float64
	// finalStatic are each host's static routes at the end, as
	// "192.168.5.2/32 via 192.168.1.28"; initialStatic at the start.
	finalStatic, initialStatic map[string][]string
	// finalCVMs are the CVMs' states at the end.
	finalCVMs map[string]cvmState
	// workloads are the hosts with a VM IO workload.
	workloads map[string]bool
	// lost lists lost or corrupt writes found by the final verification.
	lost []string
}

// graded is a scenario's verdict.
type graded struct {
	checks      []Check
	detectionMS float64
	outageMS    float64
	commands    []CommandRecord
	// bad are the spans a check objects to, per host, for the timeline.
	bad   map[string][]badSpan
	marks []Mark
}

type badSpan struct {
	from, to time.Time
	why      string
}

// routeChange is one change of a host's route to 192.168.5.2 by the
// implementation, with the state right after it.
type routeChange struct {
	at    time.Time
	kind  string // route.add, route.delete
	gw    string
	after *world
}

// replay walks the window once and collects what every check needs.
type replay struct {
	in      gradeInput
	changes map[string][]routeChange // by host, the implementation's only
	// answered are the expectations' answer times (zero: never).
	answered []time.Time
	// dead are the moments a host was sent to a CVM that cannot serve it.
	dead []deadRoute
	// ungraceful are removals of routes via healthy CVMs with no
	// NfsTerminateConnection first; graceful counts those done right.
	ungraceful []string
	graceful   int
	// terms are the NfsTerminateConnection calls seen: CVM, client IP.
	terms []termination
}

type deadRoute struct {
	host   string
	at     time.Time
	reason string
	// pending: a delete that leaves the host on its dead local CVM; it
	// stands unless a re-point follows within in.repoint.
	pending bool
}

type termination struct {
	at          time.Time
	cvm, client string
}

func grade(in gradeInput) graded {
	r := &replay{in: in, changes: map[string][]routeChange{}, answered: make([]time.Time, len(in.exps))}
	r.run()
	g := graded{bad: map[string][]badSpan{}}
	det := r.checkDetection(&g)
	out := r.checkOutage(&g)
	final := r.checkFinalRoutes()
	dead := r.checkNoDeadCVM(&g)
	flap := r.checkNoFlapping()
	grace := r.checkGraceful()
	cmds := r.checkCommands(&g)
	g.checks = []Check{det, out, final, dead, flap, grace, cmds}
	return g
}

func (r *replay) rel(t time.Time) string {
	return fmt.Sprintf("%.2f s", t.Sub(r.in.start).Seconds())
}

func (r *replay) run() {
	w := r.in.initial.clone()
	checked := make([]bool, len(r.in.exps))
	// answer looks at the expectations of host that are due: the state
	// now answers them if it is what they want.
	answer := func(host string, at time.Time) {
		for i, e := range r.in.exps {
			if e.Host != host || !r.answered[i].IsZero() || at.Before(e.Trigger) {
				continue
			}
			if wants(w, r.in.li, e) {
				r.answered[i] = at
			}
		}
	}
	for _, ev := range r.in.events {
		// An expectation already met when its trigger came is answered
		// at once: the state just before this event is the state then.
		for i, e := range r.in.exps {
			if !checked[i] && ev.At.After(e.Trigger) {
				checked[i] = true
				if wants(w, r.in.li, e) && r.answered[i].IsZero() {
					r.answered[i] = e.Trigger
				}
			}
		}
		switch {
		case ev.Kind == "nfs.terminate" || ev.Kind == "genesis.terminate":
			t := termination{at: ev.At, cvm: ev.Node, client: clientAddr(ev.Client)}
			if ev.Kind == "genesis.terminate" {
				t.cvm = ev.Target
			}
			r.terms = append(r.terms, t)
		case isNFSRoute(ev.Event) && !ev.Operator && r.in.li.isHost(ev.Node):
			before := w.clone()
			w.apply(ev.Event)
			r.routeChanged(ev, before, w)
			answer(ev.Node, ev.At)
			continue
		}
		w.apply(ev.Event)
	}
	for i, e := range r.in.exps {
		if !checked[i] && !e.Trigger.After(r.in.end) && wants(w, r.in.li, e) && r.answered[i].IsZero() {
			r.answered[i] = e.Trigger
		}
	}
	for i := range r.dead {
		r.dead[i].pending = false // the window ended: nothing re-pointed it
	}
}

// wants says whether the state answers an expectation.
func wants(w *world, li labInfo, e expectation) bool {
	if e.Want == wantLocal {
		return w.local(e.Host)
	}
	return w.forwarded(li, e.Host)
}

// clientAddr reads "192.168.1.24" out of "192.168.1.24:0" (an NFS event's
// client) or a bare address.
func clientAddr(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	return s
}

// routeChanged grades one change by the implementation as it happens.
func (r *replay) routeChanged(ev stamped, before, after *world) {
	li, h := r.in.li, ev.Node
	host, _ := li.host(h)
	ch := routeChange{at: ev.At, kind: ev.Kind, gw: ev.Gateway, after: after.clone()}
	// A pending dead-local delete is settled by the next change: a
	// re-point in time clears it.
	for i := range r.dead {
		d := &r.dead[i]
		if d.host == h && d.pending {
			d.pending = false
			if ev.Kind == "route.add" && ev.At.Sub(d.at) <= r.in.repoint && after.forwarded(li, h) {
				d.reason = "" // a re-point: delete, then add at once
			}
		}
	}
	r.dead = slices.DeleteFunc(r.dead, func(d deadRoute) bool { return d.reason == "" })
	r.changes[h] = append(r.changes[h], ch)

	switch ev.Kind {
	case "route.add":
		c, ok := li.cvmByIP(ev.Gateway)
		switch {
		case !ok:
			r.dead = append(r.dead, deadRoute{host: h, at: ev.At, reason: fmt.Sprintf(
				"host %s was routed 192.168.5.2/32 via %s at %s, which is no CVM's address", h, ev.Gateway, r.rel(ev.At))})
		case !before.cvm[c.Name].healthy():
			r.dead = append(r.dead, deadRoute{host: h, at: ev.At, reason: fmt.Sprintf(
				"host %s was routed 192.168.5.2/32 via %s at %s while %s was %s", h, ev.Gateway, r.rel(ev.At), c.Name, before.cvm[c.Name])})
		}
	case "route.delete":
		r.gradeRemoval(ev, host, before)
		c, ok := after.servedBy(li, h)
		switch {
		case !ok:
		case after.local(h) && !after.cvm[c.Name].healthy():
			r.dead = append(r.dead, deadRoute{host: h, at: ev.At, pending: true, reason: fmt.Sprintf(
				"host %s's route via %s was removed at %s while its own %s was %s, so its NFS went to a CVM that cannot serve it",
				h, ev.Gateway, r.rel(ev.At), c.Name, after.cvm[c.Name])})
		case !after.local(h) && !after.cvm[c.Name].healthy():
			r.dead = append(r.dead, deadRoute{host: h, at: ev.At, reason: fmt.Sprintf(
				"host %s was left routing 192.168.5.2/32 via %s at %s while %s was %s", h, after.gateway(h), r.rel(ev.At), c.Name, after.cvm[c.Name])})
		}
	}
}

// gradeRemoval: a route through a live, healthy CVM goes only after that
// CVM's Stargate was asked to close the host's connections
// (NfsTerminateConnection), since the previous change on the host.
func (r *replay) gradeRemoval(ev stamped, host hostInfo, before *world) {
	c, ok := r.in.li.cvmByIP(ev.Gateway)
	if !ok || !before.cvm[c.Name].healthy() {
		return
	}
	since := r.in.start
	if prev := r.changes[host.Name]; len(prev) > 1 {
		since = prev[len(prev)-2].at
	}
	for _, t := range r.terms {
		if t.cvm == c.Name && t.client == host.IP && !t.at.Before(since) && !t.at.After(ev.At) {
			r.graceful++
			return
		}
	}
	r.ungraceful = append(r.ungraceful, fmt.Sprintf(
		"host %s's route via %s was removed at %s without an NfsTerminateConnection for %s on %s first",
		host.Name, ev.Gateway, r.rel(ev.At), host.IP, c.Name))
}
