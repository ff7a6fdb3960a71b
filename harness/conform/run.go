package conform

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// verifyTimeout bounds the final read-back of a VM's blocks.
const verifyTimeout = 10 * time.Second

// run runs one scenario on the current lab and grades it.
func (k *kit) run(ctx context.Context, sc Scenario) ScenarioResult {
	res := ScenarioResult{Name: sc.Name, Title: sc.Title, Description: sc.Description, DetectionMS: -1, OutageMS: -1, Checks: []Check{},
		Commands: []CommandRecord{}, FinalRoutes: map[string][]string{}}
	if n := len(k.info.nodes()); n < sc.Nodes {
		res.Skipped, res.Passed = true, true
		res.Error = fmt.Sprintf("needs %d CVMs that each serve a host; the lab has %d", sc.Nodes, n)
		return res
	}
	k.progress("%s: %s", sc.Name, sc.Title)
	initialStatic := staticRoutes(k.lab.HostViews())
	before := k.violations()
	s := &S{Lab: k.lab, ctx: ctx, k: k, rec: k.rec, li: k.info, budget: map[string]int{}}
	start, initial := k.rec.begin(worldOf(k.lab))
	k.script(s, sc)
	if s.stopped != "" {
		k.progress("  stopped early: %s", s.stopped)
	}
	if s.err != nil {
		// The kit could not run the scenario: nothing to grade.
		res.Error = s.err.Error()
		res.DurationMS = ms(time.Since(start))
		k.lab.ClearFaults()
		return res
	}
	if s.stopped == "" {
		k.drain(ctx, s)
	}
	end := time.Now()
	events := k.rec.window()
	final := k.lab.HostViews()
	finalCVMs := map[string]cvmState{}
	for _, c := range k.lab.CVMViews() {
		finalCVMs[c.Name] = cvmState{Power: c.Power, Stargate: c.Stargate}
	}
	workloads := map[string]bool{}
	for _, h := range final {
		workloads[h.Name] = h.Workload != nil
	}
	in := gradeInput{
		li: k.info, start: start, end: end, initial: initial, events: events, exps: s.exps, budget: s.budget,
		maxDetection: k.cfg.MaxDetection, maxOutage: k.cfg.MaxOutage, repoint: min(10*time.Second, k.cfg.MaxDetection),
		scale: k.scale, finalStatic: staticRoutes(final), initialStatic: initialStatic, finalCVMs: finalCVMs,
		workloads: workloads, lost: k.lostWrites(ctx, s, before),
	}
	g := grade(in)
	res.Checks, res.DetectionMS, res.OutageMS, res.Commands = g.checks, g.detectionMS, g.outageMS, g.commands
	if res.Commands == nil {
		res.Commands = []CommandRecord{}
	}
	res.FinalRoutes = in.finalStatic
	res.Timeline = timeline(in, g, s.marks)
	res.DurationMS = ms(end.Sub(start))
	res.Passed = true
	for _, c := range res.Checks {
		res.Passed = res.Passed && c.Passed
	}
	// A reset restores the lab anyway; clearing here keeps a lab that a
	// failed reset leaves behind free of this scenario's faults.
	k.lab.ClearFaults()
	return res
}

// script runs the scenario's function; abort ends it early.
func (k *kit) script(s *S, sc Scenario) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(abort); !ok {
				panic(v)
			}
		}
	}()
	sc.Run(s)
}

// drain lets the scenario's consequences finish before grading: the VMs
// of the affected hosts get their IO back (or the outage limit passes),
// then the kit watches for one more loop so that a late or flapping
// change is seen.
func (k *kit) drain(ctx context.Context, s *S) {
	var last time.Time
	hosts := map[string]bool{}
	for _, e := range s.exps {
		hosts[e.Host] = true
		if e.Trigger.After(last) {
			last = e.Trigger
		}
	}
	limit := k.cfg.MaxOutage + s.extra - time.Since(last)
	if len(s.exps) == 0 {
		limit = 0
	}
	k.rec.waitFor(ctx, max(limit, 0), func(w *world) bool {
		for h := range hosts {
			if w.outage[h] {
				return false
			}
		}
		return true
	})
	t := time.NewTimer(k.cfg.Observe)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// violations counts each host's integrity violations so far.
func (k *kit) violations() map[string]uint64 {
	out := map[string]uint64{}
	for _, h := range k.info.hosts {
		if w := k.lab.Workload(h.Name); w != nil {
			out[h.Name] = w.Report().Integrity.ViolationCount
		}
	}
	return out
}

// lostWrites reads every block of the affected hosts' VMs back (where IO
// flows) and lists the violations found during the scenario.
func (k *kit) lostWrites(ctx context.Context, s *S, before map[string]uint64) []string {
	var out []string
	affected := map[string]bool{}
	for _, e := range s.exps {
		affected[e.Host] = true
	}
	for _, h := range k.info.hosts {
		w := k.lab.Workload(h.Name)
		if w == nil {
			continue
		}
		if affected[h.Name] && !k.rec.outage(h.Name) {
			vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
			_, _ = w.Verify(vctx) // unreadable blocks are an outage, graded as one
			cancel()
		}
		r := w.Report()
		if n := r.Integrity.ViolationCount; n > before[h.Name] {
			first := ""
			if len(r.Integrity.Violations) > 0 {
				first = ", the last: " + r.Integrity.Violations[len(r.Integrity.Violations)-1].String()
			}
			out = append(out, fmt.Sprintf("host %s's VM found %d violation(s)%s", h.Name, n-before[h.Name], first))
		}
	}
	return out
}

// staticRoutes lists each host's static routes ("192.168.5.2/32 via
// 192.168.1.28"), leaving out connected routes and the default gateway.
func staticRoutes(hs []harness.HostView) map[string][]string {
	out := map[string][]string{}
	for _, h := range hs {
		rs := []string{}
		for _, r := range h.Routes {
			if r.Gateway == "" || r.Default || r.Network == "0.0.0.0/0" {
				continue
			}
			s := r.Network + " via " + r.Gateway
			if r.Netstack != defaultNetstack {
				s += " (" + r.Netstack + ")"
			}
			rs = append(rs, s)
		}
		sort.Strings(rs)
		out[h.Name] = rs
	}
	return out
}
