package vmio

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Op is one operation, as Report.Recent lists it.
type Op struct {
	Start   time.Time
	Latency time.Duration
	Write   bool
	Block   int
	// Gen is the generation written, or read back (0: zeros, or the read
	// failed or was corrupt).
	Gen uint64
	Err error
}

// recentOps is how many operations Report.Recent keeps: enough to see what
// led up to an error, constant memory however long the lab runs.
const recentOps = 32

// Report is the workload's account so far, on its clock.
type Report struct {
	VM      string
	Path    string
	Started time.Time
	// At is when the report was taken.
	At      time.Time
	Running bool

	// Ops counts operations that ended, failed or not (Reads+Writes),
	// Verify's reads included; operations cut off by Stop are not counted.
	Ops, Reads, Writes uint64
	// Errors counts failed operations, Timeouts those of them that hit
	// Config.OpTimeout.
	Errors, Timeouts uint64
	LastError        string
	// Latency covers every operation counted in Ops.
	Latency Latency

	// Outages lists the windows in order, the open one (if any) last.
	// OutageTotal sums their durations, the dropped ones included.
	Outages        []Outage
	OutagesDropped uint64
	OutageTotal    time.Duration

	Integrity Integrity
	// Recent are the last operations, oldest first.
	Recent []Op
}

// Report returns the account so far. It may be called at any time, from
// any goroutine, including from OnEvent.
func (w *Workload) Report() Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clk.Now()
	r := Report{
		VM: w.cfg.Name, Path: w.cfg.Path, Started: w.startedAt, At: now, Running: w.running,
		Ops: w.ops, Reads: w.reads, Writes: w.writes, Errors: w.errs, Timeouts: w.timeouts,
		Latency:        w.lat.summary(),
		Outages:        make([]Outage, len(w.out), len(w.out)+1),
		OutagesDropped: w.dropped,
		OutageTotal:    w.outageTotal,
		Integrity:      w.integ,
	}
	if w.lastErr != nil {
		r.LastError = w.lastErr.Error()
	}
	copy(r.Outages, w.out)
	if w.outageOpen {
		o := w.cur
		o.Duration = now.Sub(o.Start)
		r.Outages = append(r.Outages, o)
		r.OutageTotal += o.Duration
	}
	r.Integrity.OK = w.integ.ViolationCount == 0
	r.Integrity.Violations = append([]Violation(nil), w.integ.Violations...)
	n := min(w.nrecent, recentOps)
	for i := w.nrecent - n; i < w.nrecent; i++ {
		r.Recent = append(r.Recent, w.recent[i%recentOps])
	}
	return r
}

// String summarises the report on one line, for logs.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d ops (%d reads, %d writes), %d errors, latency p50 %v p99 %v max %v; %d outages (%v)",
		r.VM, r.Ops, r.Reads, r.Writes, r.Errors, r.Latency.P50, r.Latency.P99, r.Latency.Max,
		len(r.Outages)+int(r.OutagesDropped), r.OutageTotal)
	if n := len(r.Outages); n > 0 && r.Outages[n-1].Open {
		b.WriteString(", one open")
	}
	i := r.Integrity
	if i.OK {
		fmt.Fprintf(&b, "; integrity ok (%d reads checked, %d writes acknowledged, %d uncertain)", i.Checked, i.Acknowledged, i.Uncertain)
	} else {
		fmt.Fprintf(&b, "; INTEGRITY VIOLATED: %d violations, first: %v", i.ViolationCount, i.Violations[0])
	}
	return b.String()
}

// Verify reads every block back and checks it against what was
// acknowledged, as a last pass after Stop (it may also run while the
// workload runs: the two take turns). Its reads count in the report like
// any other. It returns the integrity verdict, and an error if ctx ended or
// some blocks could not be read, in which case the verdict covers only the
// blocks that were.
func (w *Workload) Verify(ctx context.Context) (Integrity, error) {
	select {
	case w.opSem <- struct{}{}:
	case <-ctx.Done():
		return w.Report().Integrity, ctx.Err()
	}
	sc := opScope{parent: ctx}
	var failed int
	var first error
	for b := range w.cfg.Blocks {
		if err := ctx.Err(); err != nil {
			failed += w.cfg.Blocks - b
			first = err
			break
		}
		if _, err := w.op(&sc, false, b); err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	sc.close()
	w.mu.Lock()
	running := w.running
	if failed == 0 {
		w.integ.Verified = w.clk.Now()
	}
	w.mu.Unlock()
	if !running {
		w.closeFile()
	}
	<-w.opSem
	integ := w.Report().Integrity
	if failed > 0 {
		return integ, fmt.Errorf("vmio: verify %s: %d of %d blocks unreadable: %w", w.cfg.Path, failed, w.cfg.Blocks, first)
	}
	return integ, nil
}
