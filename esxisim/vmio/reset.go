package vmio

// Reset starts a fresh account, as a lab's reset needs: the Report that
// follows covers only what happens from now on.
//
//   - Cleared: the operation counts (Ops, Reads, Writes, Errors,
//     Timeouts, LastError), the latency statistics, the recent
//     operations, the outages (listed, dropped, total), and the
//     integrity counts and verdict (Checked, Acknowledged, Uncertain,
//     violations, Verified). Report.Started is now, on the workload's
//     clock.
//   - Kept: the integrity model, i.e. which generation each block holds,
//     was acknowledged or may have landed, and the generation counter.
//     The data on the datastore still stands, so a write acknowledged
//     before the reset and lost after it is still a lost write. The file
//     stays open and the IO loop keeps its pace.
//
// The operation in flight, if any, is not disturbed: it ends when it
// ends and is counted in the new account (with its full latency). If IO
// is stalled on it when Reset comes, the outage it causes stays open in
// the new account, starting now: IO is not flowing as the account begins.
// Any other open outage is dropped; an outage that opens later never
// starts before the reset.
//
// Reset may be called whether the workload runs or not, from any
// goroutine except from OnEvent. Events decided before it are delivered
// before it returns.
func (w *Workload) Reset() {
	w.evMu.Lock()
	defer w.evMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clk.Now()
	w.startedAt = now
	w.ops, w.reads, w.writes, w.errs, w.timeouts = 0, 0, 0, 0, 0
	w.lastErr = nil
	w.lat = histogram{}
	w.recent, w.nrecent = [recentOps]Op{}, 0
	w.out, w.dropped, w.outageTotal = nil, 0, 0
	w.errEvents, w.lastErrText = 0, ""
	w.integ = Integrity{}
	if w.outageOpen && w.busy && w.stalled {
		w.cur = Outage{Start: now, Open: true, Cause: w.cur.Cause}
	} else {
		w.cur, w.outageOpen = Outage{}, false
	}
}
