package vmio

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reset zeroes the account (counts, latency, outages, integrity counts,
// recent operations) and starts it now; the IO goes on, and the blocks'
// expectations are kept: a full Verify afterwards finds every block as
// written before and after the reset.
func TestResetStartsFreshAccount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{Blocks: 16})
		r.start()
		r.steps(50)
		r.vol.fail(eio("write"))
		r.steps(3)
		r.vol.fail(nil)
		r.steps(2)
		r.vol.block()
		r.steps(1)
		r.advance(2 * time.Second) // a stall: another outage
		r.vol.unblock()
		synctest.Wait()
		r.steps(5)
		before := r.w.Report()
		require.Len(t, before.Outages, 2)
		require.NotZero(t, before.Errors)
		require.NotZero(t, before.Latency.Max)
		require.NotZero(t, before.Integrity.Uncertain)

		r.advance(interval / 2) // between two operations
		r.w.Reset()
		now := r.clk.Now()
		rep := r.w.Report()
		assert.Equal(t, Report{VM: "vm-a1", Path: before.Path, Started: now, At: now, Running: true,
			Outages: []Outage{}, Integrity: Integrity{OK: true}}, rep)
		assert.Equal(t, "vm-a1: 0 ops (0 reads, 0 writes), 0 errors, latency p50 0s p99 0s max 0s; 0 outages (0s); integrity ok (0 reads checked, 0 writes acknowledged, 0 uncertain)", rep.String())

		nevents := len(r.events())
		r.steps(10)
		rep = r.w.Report()
		assert.EqualValues(t, 10, rep.Ops)
		assert.Empty(t, rep.Outages)
		assert.Len(t, rep.Recent, 10)
		assert.Len(t, r.events(), nevents, "nothing happened since")

		r.w.Stop()
		integ, err := r.w.Verify(context.Background())
		require.NoError(t, err)
		assert.True(t, integ.OK, "the blocks written before the reset still verify: %v", integ.Violations)
		assert.EqualValues(t, rep.Reads+16, integ.Checked)
	})
}

// A write acknowledged before the reset and lost after it is still a lost
// write: the integrity model outlives the reset.
func TestResetKeepsIntegrityModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{ReadRatio: -1, Blocks: 1})
		r.start() // gen 1, stored
		r.vol.setWriteMode(writeAckDrop)
		r.steps(1) // gen 2, acknowledged, lost
		r.w.Stop()
		r.w.Reset()
		assert.Zero(t, r.w.Report().Integrity.Acknowledged)
		integ, err := r.w.Verify(context.Background())
		require.NoError(t, err)
		require.Len(t, integ.Violations, 1)
		assert.Equal(t, Violation{Time: r.clk.Now(), Block: 0, Kind: ViolationLostWrite, Want: 2, Got: 1}, integ.Violations[0])
	})
}

// An operation stalled when Reset comes is not disturbed: the outage it
// causes stays open in the new account from the reset on, and it is
// counted there when it completes.
func TestResetDuringStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(3)
		r.vol.block()
		r.steps(1)
		r.advance(2 * time.Second)
		require.Len(t, r.w.Report().Outages, 1)

		r.w.Reset()
		reset := r.clk.Now()
		rep := r.w.Report()
		assert.Zero(t, rep.Ops)
		require.Len(t, rep.Outages, 1)
		assert.Equal(t, Outage{Start: reset, Duration: 0, Open: true, Cause: "no IO completed for 1s"}, rep.Outages[0])

		r.advance(3 * time.Second)
		r.vol.unblock()
		synctest.Wait()
		rep = r.w.Report()
		// The operation in flight, then the next at once: it is overdue.
		assert.EqualValues(t, 2, rep.Ops, "the operation in flight ends in the new account")
		assert.Zero(t, rep.Errors, "and succeeds: Reset did not cut it off")
		assert.Equal(t, 5*time.Second, rep.Latency.Max, "with its full latency")
		require.Len(t, rep.Outages, 1)
		assert.Equal(t, Outage{Start: reset, End: reset.Add(3 * time.Second), Duration: 3 * time.Second,
			Cause: "no IO completed for 1s"}, rep.Outages[0])
		assert.Equal(t, 3*time.Second, rep.OutageTotal)
		r.w.Stop()
	})
}

// An operation that started before the reset and stalls after it opens an
// outage that starts at the reset, not before.
func TestResetThenStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(3)
		r.vol.block()
		r.steps(1)
		stuck := r.clk.Now()
		r.advance(500 * time.Millisecond)
		r.w.Reset()
		reset := r.clk.Now()
		assert.Empty(t, r.w.Report().Outages)
		r.advance(500 * time.Millisecond) // the stall threshold, counted from the operation's start
		rep := r.w.Report()
		require.Len(t, rep.Outages, 1)
		assert.Equal(t, reset, rep.Outages[0].Start)
		assert.True(t, stuck.Before(reset))
		r.vol.unblock()
		synctest.Wait()
		r.w.Stop()
	})
}
