package conform

// The seven checks, each a verdict on the replayed window with one
// sentence of reason (see docs/conformance.md, Grading).

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func (e expectation) wanted(li labInfo) string {
	if e.Want == wantLocal {
		h, _ := li.host(e.Host)
		return fmt.Sprintf("removed its route to 192.168.5.2/32 (back to %s)", h.CVM)
	}
	return "routed 192.168.5.2/32 to a healthy CVM"
}

func (r *replay) checkDetection(g *graded) Check {
	c := Check{Name: CheckDetection, Passed: true}
	g.detectionMS = -1
	if len(r.in.exps) == 0 {
		c.Skipped, c.Reason = true, "the scenario expects no route change"
		return c
	}
	var bad, good []string
	mainHost := r.in.exps[0].Host
	for i, e := range r.in.exps {
		limit := r.in.maxDetection + e.Extra
		at := r.answered[i]
		if at.IsZero() {
			waited := r.in.end.Sub(e.Trigger)
			bad = append(bad, fmt.Sprintf("host %s had not %s %s after %s; want it within %s",
				e.Host, e.wanted(r.in.li), secs(waited), e.Label, secs(limit)))
			if e.Host == mainHost {
				g.detectionMS = -1
			}
			continue
		}
		d := at.Sub(e.Trigger)
		if e.Host == mainHost {
			g.detectionMS = ms(d)
		}
		g.marks = append(g.marks, Mark{AtMS: ms(at.Sub(r.in.start)), Label: "host " + e.Host + " answered " + e.Label, Bad: d > limit})
		if d > limit {
			bad = append(bad, fmt.Sprintf("host %s %s %s after %s; the limit is %s", e.Host, e.wanted(r.in.li), secs(d), e.Label, secs(limit)))
			continue
		}
		good = append(good, fmt.Sprintf("host %s in %s after %s (limit %s)", e.Host, secs(d), e.Label, secs(limit)))
	}
	if len(bad) > 0 {
		c.Passed, c.Reason = false, strings.Join(bad, "; ")
		return c
	}
	c.Reason = "answered: " + strings.Join(good, "; ")
	return c
}

// outages are a host's IO outages in the window, in real time.
func (r *replay) outages(host string) [][2]time.Time {
	var out [][2]time.Time
	var open time.Time
	if r.in.initial.outage[host] {
		open = r.in.start
	}
	for _, ev := range r.in.events {
		if ev.Node != host {
			continue
		}
		switch ev.Kind {
		case "io.outage.start":
			// Noticed after it began: the event carries how long IO had
			// already been out, on the lab's clock.
			began := ev.At.Add(-time.Duration(ev.DurationMS * r.in.scale * float64(time.Millisecond)))
			open = maxTime(began, r.in.start)
		case "io.outage.end":
			if !open.IsZero() {
				out = append(out, [2]time.Time{open, ev.At})
				open = time.Time{}
			}
		}
	}
	if !open.IsZero() {
		out = append(out, [2]time.Time{open, r.in.end})
	}
	return out
}

// outageLimit is the outage threshold widened by the scenario's largest
// extra.
func (in gradeInput) outageLimit() time.Duration {
	var extra time.Duration
	for _, e := range in.exps {
		extra = max(extra, e.Extra)
	}
	return in.maxOutage + extra
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (r *replay) affected() []string {
	var hs []string
	for _, e := range r.in.exps {
		if !slices.Contains(hs, e.Host) {
			hs = append(hs, e.Host)
		}
	}
	return hs
}

func (r *replay) checkOutage(g *graded) Check {
	c := Check{Name: CheckOutage, Passed: true}
	limit := r.in.outageLimit()
	var longest time.Duration
	var on string
	var hosts []string
	for _, h := range r.affected() {
		if !r.in.workloads[h] {
			continue
		}
		hosts = append(hosts, h)
		for _, o := range r.outages(h) {
			d := o[1].Sub(o[0])
			if d > longest {
				longest, on = d, h
			}
			if d > limit {
				g.bad[h] = append(g.bad[h], badSpan{from: o[0], to: o[1], why: "outage past the limit"})
			}
		}
	}
	var lost []string
	for _, ev := range r.in.events {
		if ev.Kind == "io.corruption" {
			lost = append(lost, fmt.Sprintf("host %s's VM read back %s at %s", ev.Node, ev.Detail, r.rel(ev.At)))
		}
	}
	lost = append(lost, r.in.lost...)
	g.outageMS = ms(longest)
	switch {
	case len(lost) > 0:
		c.Passed, c.Reason = false, "a write was lost: "+strings.Join(lost, "; ")
	case len(hosts) == 0:
		c.Skipped, c.Reason = true, "no VM IO workload runs on the affected hosts"
		g.outageMS = -1
	case longest > limit:
		c.Passed, c.Reason = false, fmt.Sprintf("host %s's VM had no IO for %s; the limit is %s", on, secs(longest), secs(limit))
	case longest == 0:
		c.Reason = fmt.Sprintf("no IO outage on %s; no lost write", strings.Join(hosts, ", "))
	default:
		c.Reason = fmt.Sprintf("longest IO outage %s on host %s (limit %s); no lost write", secs(longest), on, secs(limit))
	}
	return c
}

// wantFinal is what a host's routes to 192.168.5.2 should be at the end:
// none while its own CVM is healthy, else exactly one via a healthy CVM.
func (r *replay) checkFinalRoutes() Check {
	c := Check{Name: CheckFinalRoutes, Passed: true}
	var bad []string
	healthy := func(name string) bool { return r.in.finalCVMs[name].healthy() }
	for _, h := range r.in.li.hosts {
		var nfs, other []string
		for _, s := range r.in.finalStatic[h.Name] {
			if gw, ok := strings.CutPrefix(s, nfsTarget+" via "); ok {
				nfs = append(nfs, gw)
			} else {
				other = append(other, s)
			}
		}
		var before []string
		for _, s := range r.in.initialStatic[h.Name] {
			if !strings.HasPrefix(s, nfsTarget+" via ") {
				before = append(before, s)
			}
		}
		if !slices.Equal(other, before) {
			bad = append(bad, fmt.Sprintf("host %s's other static routes at the end are [%s]; want them as they were, [%s]",
				h.Name, strings.Join(other, ", "), strings.Join(before, ", ")))
		}
		if h.CVM == "" {
			continue // no local CVM: autopath has nothing to say here
		}
		local := r.in.finalCVMs[h.CVM]
		switch {
		case local.healthy() && len(nfs) > 0:
			bad = append(bad, fmt.Sprintf("host %s still routes 192.168.5.2/32 via %s at the end; want no such route (%s is healthy)",
				h.Name, strings.Join(nfs, " and "), h.CVM))
		case local.healthy():
		case len(nfs) == 0:
			bad = append(bad, fmt.Sprintf("host %s has no route to 192.168.5.2/32 at the end; want one via a healthy CVM (%s is %s)",
				h.Name, h.CVM, local))
		case len(nfs) > 1:
			bad = append(bad, fmt.Sprintf("host %s has %d routes to 192.168.5.2/32 at the end (via %s); want exactly one, via a healthy CVM",
				h.Name, len(nfs), strings.Join(nfs, ", ")))
		default:
			cv, ok := r.in.li.cvmByIP(nfs[0])
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("host %s routes 192.168.5.2/32 via %s at the end, which is no CVM's address; want a healthy CVM (%s is %s)",
					h.Name, nfs[0], h.CVM, local))
			case !healthy(cv.Name):
				bad = append(bad, fmt.Sprintf("host %s routes 192.168.5.2/32 via %s at the end, but %s is %s; want a healthy CVM",
					h.Name, nfs[0], cv.Name, r.in.finalCVMs[cv.Name]))
			}
		}
	}
	if len(bad) > 0 {
		c.Passed, c.Reason = false, strings.Join(bad, "; ")
		return c
	}
	c.Reason = "every host's routes are as its CVM's state wants them"
	return c
}

func (r *replay) checkNoDeadCVM(g *graded) Check {
	c := Check{Name: CheckNoDeadCVM, Passed: true}
	if len(r.dead) == 0 {
		c.Reason = "no route change sent a host to a CVM that could not serve it"
		return c
	}
	var why []string
	for _, d := range r.dead {
		why = append(why, d.reason)
		end := r.in.end
		for _, ch := range r.changes[d.host] {
			if ch.at.After(d.at) {
				end = ch.at
				break
			}
		}
		g.bad[d.host] = append(g.bad[d.host], badSpan{from: d.at, to: end, why: "routed to a CVM that cannot serve"})
		g.marks = append(g.marks, Mark{AtMS: ms(d.at.Sub(r.in.start)), Label: d.reason, Bad: true})
	}
	c.Passed, c.Reason = false, strings.Join(why, "; ")
	return c
}

func (r *replay) checkNoFlapping() Check {
	c := Check{Name: CheckNoFlapping, Passed: true}
	var bad, counts []string
	hosts := make([]string, 0, len(r.changes))
	for h := range r.changes {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		chs := r.changes[h]
		n, budget := len(chs), r.in.budget[h]
		counts = append(counts, fmt.Sprintf("%s %d (at most %d)", h, n, budget))
		if n <= budget {
			continue
		}
		var list []string
		for _, ch := range chs {
			list = append(list, fmt.Sprintf("%s via %s at %s", strings.TrimPrefix(ch.kind, "route."), ch.gw, r.rel(ch.at)))
		}
		bad = append(bad, fmt.Sprintf("host %s's route to 192.168.5.2/32 changed %d times (%s); the scenario needs at most %d",
			h, n, strings.Join(list, ", "), budget))
	}
	switch {
	case len(bad) > 0:
		c.Passed, c.Reason = false, strings.Join(bad, "; ")
	case len(counts) == 0:
		c.Reason = "no route changed"
	default:
		c.Reason = "route changes per host: " + strings.Join(counts, ", ")
	}
	return c
}

func (r *replay) checkGraceful() Check {
	c := Check{Name: CheckGraceful, Passed: true}
	switch {
	case len(r.ungraceful) > 0:
		c.Passed, c.Reason = false, strings.Join(r.ungraceful, "; ")
	case r.graceful == 0:
		c.Skipped, c.Reason = true, "no route through a live, healthy CVM was removed"
	default:
		c.Reason = fmt.Sprintf("%d route(s) through a healthy CVM removed after NfsTerminateConnection", r.graceful)
	}
	return c
}

// checkCommands records every command the implementation ran. It fails
// only on a command the node does not have (exit 126 or 127): a command
// that exits non-zero otherwise may be a race with an operator and is
// listed, not graded.
func (r *replay) checkCommands(g *graded) Check {
	c := Check{Name: CheckCommands, Passed: true}
	var missing, failed []string
	nodes := map[string]bool{}
	for _, ev := range r.in.events {
		if ev.Kind != "ssh.command" {
			continue
		}
		exit := 0
		if ev.Exit != nil {
			exit = *ev.Exit
		}
		g.commands = append(g.commands, CommandRecord{AtMS: ms(ev.At.Sub(r.in.start)), Host: ev.Node, User: ev.User, Command: ev.Command, Exit: exit})
		nodes[ev.Node] = true
		switch {
		case exit == 126 || exit == 127:
			missing = append(missing, fmt.Sprintf("%q on %s (exit %d)", ev.Command, ev.Node, exit))
		case exit != 0:
			failed = append(failed, fmt.Sprintf("%q on %s (exit %d)", ev.Command, ev.Node, exit))
		}
	}
	switch {
	case len(missing) > 0:
		c.Passed, c.Reason = false, "the implementation ran commands the node does not have: "+strings.Join(missing, ", ")
	case len(g.commands) == 0:
		c.Reason = "the implementation ran no command"
	default:
		c.Reason = fmt.Sprintf("%d command(s) on %d node(s)", len(g.commands), len(nodes))
		if len(failed) > 0 {
			c.Reason += fmt.Sprintf("; %d exited non-zero (listed, not graded): %s", len(failed), strings.Join(failed, ", "))
		}
	}
	return c
}
