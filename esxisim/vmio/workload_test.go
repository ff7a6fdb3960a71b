package vmio

import (
	"context"
	"io/fs"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
)

// Every test runs in a synctest bubble on a fake clock: synctest.Wait
// returns once the workload is idle (waiting for its next slot) or stuck
// in the fake volume, which makes each step deterministic, and the bubble
// fails the test if a goroutine outlives it.

const interval = 20 * time.Millisecond

type rig struct {
	t   *testing.T
	clk *clockwork.FakeClock
	t0  time.Time
	vol *fakeVolume
	w   *Workload

	mu  sync.Mutex
	evs []Event
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{t: t, clk: clock.NewFake(), vol: newFakeVolume()}
	r.t0 = r.clk.Now()
	cfg.Clock = r.clk
	if cfg.Name == "" {
		cfg.Name = "vm-a1"
	}
	if cfg.Interval == 0 {
		cfg.Interval = interval
	}
	cfg.OnEvent = func(e Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.evs = append(r.evs, e)
	}
	w, err := New(r.vol, cfg)
	require.NoError(t, err)
	r.w = w
	return r
}

// start starts the workload; its first operation runs at once. The
// context is not the test's: only Stop may end the loop, so a Stop that
// does not leaves a goroutine behind and fails the bubble.
func (r *rig) start() {
	require.NoError(r.t, r.w.Start(context.Background()))
	synctest.Wait()
}

func (r *rig) advance(d time.Duration) {
	r.clk.Advance(d)
	synctest.Wait()
}

// steps lets n more operation slots pass.
func (r *rig) steps(n int) {
	for range n {
		r.advance(interval)
	}
}

func (r *rig) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

// stored decodes block b as the fake volume holds it.
func (r *rig) stored(b int) (blockStatus, uint64) {
	data := r.vol.snapshot(r.w.cfg.Path)
	bs := r.w.cfg.BlockSize
	buf := make([]byte, bs)
	if off := b * bs; off < len(data) {
		copy(buf, data[off:])
	}
	st, _, gen := decodeBlock(buf, r.w.crc, r.w.epoch, b)
	return st, gen
}

func kinds(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func eio(op string) error { return &fs.PathError{Op: op, Path: "vm-a1-flat.vmdk", Err: syscall.EIO} }

func TestSteadyStateNoOutages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(1000)
		rep := r.w.Report()
		assert.EqualValues(t, 1001, rep.Ops, "one operation at start, one per interval")
		assert.Equal(t, rep.Ops, rep.Reads+rep.Writes)
		assert.Greater(t, rep.Reads, uint64(300))
		assert.Greater(t, rep.Writes, uint64(300))
		assert.Zero(t, rep.Errors)
		assert.Empty(t, rep.Outages)
		assert.Zero(t, rep.OutageTotal)
		assert.Equal(t, Latency{}, rep.Latency, "the fake volume answers at once")
		assert.True(t, rep.Integrity.OK)
		assert.Equal(t, rep.Reads, rep.Integrity.Checked)
		assert.Equal(t, rep.Writes, rep.Integrity.Acknowledged)
		assert.Len(t, rep.Recent, recentOps)
		assert.Equal(t, r.t0.Add(1000*interval), rep.Recent[recentOps-1].Start)
		assert.Equal(t, 1, r.vol.opens, "the file stays open")

		r.w.Stop()
		assert.False(t, r.w.Report().Running)
		integ, err := r.w.Verify(context.Background())
		require.NoError(t, err)
		assert.True(t, integ.OK)
		assert.Equal(t, rep.Reads+256, integ.Checked)
		assert.Equal(t, r.clk.Now(), integ.Verified)
		assert.Empty(t, r.events())
	})
}

func TestShortStallIsNoOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(5)
		r.vol.block()
		r.steps(1)
		r.advance(999 * time.Millisecond)
		r.vol.unblock()
		synctest.Wait()
		r.steps(5)
		rep := r.w.Report()
		assert.Empty(t, rep.Outages)
		assert.Empty(t, r.events())
		assert.Equal(t, 999*time.Millisecond, rep.Latency.Max)
		r.w.Stop()
	})
}

func TestBlockedPeriodIsOneOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(10)
		r.vol.block()
		r.steps(1) // this operation blocks
		stuck := r.t0.Add(11 * interval)

		r.advance(time.Second)
		evs := r.events()
		require.Len(t, evs, 1)
		assert.Equal(t, Event{Time: stuck.Add(time.Second), VM: "vm-a1", Kind: EventOutageStart,
			Detail: "no IO completed for 1s", Duration: time.Second}, evs[0])
		rep := r.w.Report()
		require.Len(t, rep.Outages, 1)
		assert.True(t, rep.Outages[0].Open)
		assert.Equal(t, stuck, rep.Outages[0].Start)
		assert.Equal(t, time.Second, rep.Outages[0].Duration)

		for range 9 {
			r.advance(time.Second)
		}
		r.vol.unblock()
		synctest.Wait()
		r.steps(100)

		rep = r.w.Report()
		require.Len(t, rep.Outages, 1, "one window, however many operations piled up")
		o := rep.Outages[0]
		assert.Equal(t, Outage{Start: stuck, End: stuck.Add(10 * time.Second), Duration: 10 * time.Second,
			Cause: "no IO completed for 1s"}, o)
		assert.Equal(t, 10*time.Second, rep.OutageTotal)
		assert.Zero(t, rep.Errors)
		assert.Equal(t, 10*time.Second, rep.Latency.Max)
		assert.True(t, rep.Integrity.OK)
		evs = r.events()
		require.Equal(t, []string{EventOutageStart, EventOutageEnd}, kinds(evs))
		assert.Equal(t, stuck.Add(10*time.Second), evs[1].Time)
		assert.Equal(t, 10*time.Second, evs[1].Duration)
		// 11 before, the stuck one, one at once when it ended, 100 after.
		assert.EqualValues(t, 113, rep.Ops)
		r.w.Stop()
	})
}

func TestErrorsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(4)
		r.vol.fail(eio("write"))
		r.steps(3)
		first := r.t0.Add(5 * interval)
		r.vol.fail(nil)
		r.steps(1)

		rep := r.w.Report()
		assert.EqualValues(t, 3, rep.Errors)
		assert.Zero(t, rep.Timeouts)
		assert.Contains(t, rep.LastError, "input/output error")
		require.Len(t, rep.Outages, 1)
		assert.Equal(t, Outage{Start: first, End: first.Add(3 * interval), Duration: 3 * interval,
			Errors: 3, Cause: eio("write").Error()}, rep.Outages[0])
		evs := r.events()
		require.Equal(t, []string{EventOutageStart, EventError, EventOutageEnd}, kinds(evs), "one io.error for a repeated error")
		assert.Equal(t, first, evs[0].Time)
		assert.Zero(t, evs[0].Duration)
		assert.Contains(t, evs[1].Detail, "input/output error")
		assert.Equal(t, 3*interval, evs[2].Duration)
		assert.True(t, rep.Integrity.OK)
		var failedWrites uint64
		for _, op := range rep.Recent {
			if op.Err != nil && op.Write {
				failedWrites++
			}
		}
		assert.Equal(t, failedWrites, rep.Integrity.Uncertain)
		r.w.Stop()
	})
}

func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{ReadRatio: -1, OpTimeout: 5 * time.Second})
		r.start()
		r.steps(2)
		r.vol.block()
		r.steps(1)
		stuck := r.t0.Add(3 * interval)
		r.advance(time.Second)
		r.advance(4 * time.Second) // the operation times out; the next blocks at once
		rep := r.w.Report()
		assert.EqualValues(t, 1, rep.Timeouts)
		assert.EqualValues(t, 1, rep.Errors)
		assert.ErrorIs(t, rep.Recent[len(rep.Recent)-1].Err, ErrOpTimeout)
		assert.EqualValues(t, 1, rep.Integrity.Uncertain, "a timed-out write is uncertain")

		r.vol.unblock()
		synctest.Wait()
		rep = r.w.Report()
		require.Len(t, rep.Outages, 1)
		assert.Equal(t, stuck, rep.Outages[0].Start)
		assert.Equal(t, stuck.Add(5*time.Second), rep.Outages[0].End)
		assert.EqualValues(t, 1, rep.Outages[0].Errors)
		assert.Equal(t, []string{EventOutageStart, EventError, EventOutageEnd}, kinds(r.events()))
		r.w.Stop()
	})
}

func TestLostAcknowledgedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{ReadRatio: -1, Blocks: 1})
		r.start() // gen 1, stored
		r.vol.setWriteMode(writeAckDrop)
		r.steps(1) // gen 2, acknowledged, lost
		r.w.Stop()
		integ, err := r.w.Verify(context.Background())
		require.NoError(t, err)
		assert.False(t, integ.OK)
		require.Len(t, integ.Violations, 1)
		v := integ.Violations[0]
		assert.Equal(t, Violation{Time: r.clk.Now(), Block: 0, Kind: ViolationLostWrite, Want: 2, Got: 1}, v)
		assert.Equal(t, "block 0: lost-write: want gen 2, got gen 1", v.String())
		evs := r.events()
		require.Len(t, evs, 1)
		assert.Equal(t, Event{Time: r.clk.Now(), VM: "vm-a1", Kind: EventCorruption, Detail: v.String()}, evs[0])
		assert.True(t, integ.Verified.IsZero() == false)
	})
}

func TestRollbackDetected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{Blocks: 16})
		r.start()
		r.steps(100)
		snap := r.vol.snapshot(r.w.cfg.Path)
		var before [16]uint64
		for b := range before {
			_, before[b] = r.stored(b)
		}
		r.steps(100)
		r.w.Stop()
		want := map[int]Violation{}
		for b := range before {
			if _, now := r.stored(b); now != before[b] {
				want[b] = Violation{Block: b, Kind: ViolationLostWrite, Want: now, Got: before[b]}
			}
		}
		require.NotEmpty(t, want)
		r.vol.restore(r.w.cfg.Path, snap)

		integ, err := r.w.Verify(context.Background())
		require.NoError(t, err)
		got := map[int]Violation{}
		for _, v := range integ.Violations {
			v.Time = time.Time{}
			got[v.Block] = v
		}
		assert.Equal(t, want, got)
		assert.EqualValues(t, len(want), integ.ViolationCount)

		// Reported once: the state now follows what the volume holds.
		integ, err = r.w.Verify(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, len(want), integ.ViolationCount)
	})
}

func TestCorruptionDetected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{ReadRatio: -1, Blocks: 2, BlockSize: 512})
		r.start()
		r.steps(20)
		r.w.Stop()
		_, gen0 := r.stored(0)
		_, gen1 := r.stored(1)
		require.NotZero(t, gen0)
		require.NotZero(t, gen1)
		r.vol.edit(r.w.cfg.Path, func(data []byte) {
			copy(data[512:1024], data[0:512]) // block 0's data lands on block 1
			data[300] ^= 0x40                 // and block 0 rots
		})
		integ, err := r.w.Verify(context.Background())
		require.NoError(t, err)
		require.Len(t, integ.Violations, 2)
		now := r.clk.Now()
		assert.Equal(t, Violation{Time: now, Block: 0, Kind: ViolationCorrupt, Want: gen0}, integ.Violations[0])
		assert.Equal(t, Violation{Time: now, Block: 1, Kind: ViolationMisplaced, Want: gen1, Got: gen0, GotBlock: 0}, integ.Violations[1])
		assert.Equal(t, []string{EventCorruption, EventCorruption}, kinds(r.events()))
		assert.Contains(t, r.events()[0].Detail, "block 0: checksum error")
		assert.Contains(t, r.w.Report().String(), "INTEGRITY VIOLATED: 2 violations")
	})
}

func TestUncertainWritesNotFlagged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{ReadRatio: -1, Blocks: 1})
		ctx := context.Background()
		r.start() // gen 1 acknowledged
		snap := r.vol.snapshot(r.w.cfg.Path)

		r.vol.setWriteMode(writeFailDrop)
		r.steps(1) // gen 2 fails and does not land
		integ, err := r.w.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, integ.OK, "the old generation is fine: %v", integ.Violations)

		r.vol.setWriteMode(writeFailLand)
		r.steps(1) // gen 3 fails but lands
		integ, err = r.w.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, integ.OK, "the new generation is fine: %v", integ.Violations)
		assert.EqualValues(t, 2, integ.Uncertain)

		// Once read back, the landed write is the floor: going back is a
		// lost write.
		r.vol.restore(r.w.cfg.Path, snap)
		integ, err = r.w.Verify(ctx)
		require.NoError(t, err)
		require.Len(t, integ.Violations, 1)
		assert.Equal(t, Violation{Time: r.clk.Now(), Block: 0, Kind: ViolationLostWrite, Want: 3, Got: 1}, integ.Violations[0])

		r.vol.setWriteMode(writeNormal)
		r.steps(1) // gen 4 acknowledged
		integ, err = r.w.Verify(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, integ.ViolationCount)
		r.w.Stop()
	})
}

func TestUncertainRangeAcceptsEveryLandedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{ReadRatio: -1, Blocks: 1})
		r.start() // gen 1
		r.vol.setWriteMode(writeFailLand)
		r.steps(1) // gen 2 lands
		snap := r.vol.snapshot(r.w.cfg.Path)
		r.steps(2) // gens 3 and 4 land
		r.w.Stop()
		r.vol.restore(r.w.cfg.Path, snap) // as if 3 and 4 had not
		integ, err := r.w.Verify(context.Background())
		require.NoError(t, err)
		assert.True(t, integ.OK, "%v", integ.Violations)
	})
}

func TestStopWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.w.Stop() // never started: nothing to do
		r.start()
		assert.Error(t, r.w.Start(context.Background()))
		r.steps(10)
		r.w.Stop()
		r.w.Stop()
		rep := r.w.Report()
		assert.False(t, rep.Running)
		assert.EqualValues(t, 11, rep.Ops)
		r.advance(time.Minute)
		assert.EqualValues(t, 11, r.w.Report().Ops, "no IO after Stop")
	})
}

func TestStopWhileBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{ReadRatio: -1})
		r.start()
		r.steps(3)
		r.vol.block()
		r.steps(1)
		stuck := r.t0.Add(4 * interval)
		r.advance(2 * time.Second)
		r.w.Stop()
		rep := r.w.Report()
		assert.False(t, rep.Running)
		assert.EqualValues(t, 4, rep.Ops, "the operation Stop cut off is not counted")
		assert.Zero(t, rep.Errors)
		assert.EqualValues(t, 1, rep.Integrity.Uncertain, "a write cut off is uncertain")
		require.Len(t, rep.Outages, 1)
		assert.True(t, rep.Outages[0].Open, "Stop does not end an outage")
		assert.Equal(t, stuck, rep.Outages[0].Start)
		assert.Equal(t, 2*time.Second, rep.Outages[0].Duration)
		assert.Equal(t, []string{EventOutageStart}, kinds(r.events()))
		assert.Contains(t, rep.String(), "one open")

		// Verify honours its context while the datastore is out.
		ctx, cancel := context.WithCancel(context.Background())
		go func() { r.advance(0); cancel() }()
		_, err := r.w.Verify(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		r.vol.unblock()
	})
}

func TestParentContextEndsWorkload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, r.w.Start(ctx))
		synctest.Wait()
		cancel()
		synctest.Wait()
		assert.False(t, r.w.Report().Running)
		r.w.Stop()
	})
}

func TestDeadFileReopened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(3)
		r.w.opSem <- struct{}{}
		f := r.w.file.(*fakeFile)
		<-r.w.opSem
		require.NoError(t, f.Close()) // the datastore dropped the handle
		r.steps(3)
		rep := r.w.Report()
		assert.EqualValues(t, 1, rep.Errors)
		assert.Equal(t, 2, r.vol.opens)
		assert.Len(t, rep.Outages, 1)
		assert.False(t, rep.Outages[0].Open)
		r.w.Stop()
	})
}

func TestConfig(t *testing.T) {
	w, err := New(newFakeVolume(), Config{Name: "vm-b2"})
	require.NoError(t, err)
	c := w.Config()
	assert.Equal(t, "vm-b2/vm-b2-flat.vmdk", c.Path)
	assert.Equal(t, 4096, c.BlockSize)
	assert.Equal(t, 256, c.Blocks)
	assert.Equal(t, 20*time.Millisecond, c.Interval)
	assert.Equal(t, 0.5, c.ReadRatio)
	assert.Equal(t, time.Second, c.StallThreshold)
	assert.Equal(t, 180*time.Second, c.OpTimeout)

	for _, bad := range []Config{
		{BlockSize: 60}, {BlockSize: 100}, {Blocks: -1}, {ReadRatio: 1.5},
		{Path: "/abs"}, {Path: "../up"}, {Path: "."},
	} {
		_, err := New(newFakeVolume(), bad)
		assert.Error(t, err, "%+v", bad)
	}
}

func TestDeepPathCreatesDirectories(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{Path: "a/b/c/disk.vmdk"})
		r.start()
		r.w.Stop()
		assert.True(t, r.vol.dirs["a/b/c"])
		assert.True(t, r.w.Report().Integrity.OK)
		assert.Zero(t, r.w.Report().Errors)
	})
}

// A slow operation whose watchdog runs late (its goroutine has not been
// scheduled by the time the operation returns) still makes an outage.
func TestSlowOperationWithLateWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, Config{})
		r.start()
		r.steps(2)
		slow := r.t0.Add(3 * interval)
		r.vol.mu.Lock()
		r.vol.onIO = func() {
			r.vol.mu.Lock()
			r.vol.onIO = nil
			r.vol.mu.Unlock()
			r.clk.Advance(2 * time.Second) // fires the watchdog, which runs when it may
		}
		r.vol.mu.Unlock()
		r.steps(1)
		r.steps(10)
		rep := r.w.Report()
		require.Len(t, rep.Outages, 1)
		assert.Equal(t, Outage{Start: slow, End: slow.Add(2 * time.Second), Duration: 2 * time.Second,
			Cause: "no IO completed for 1s"}, rep.Outages[0])
		evs := r.events()
		require.Equal(t, []string{EventOutageStart, EventOutageEnd}, kinds(evs))
		assert.Equal(t, slow.Add(2*time.Second), evs[0].Time)
		assert.Equal(t, 2*time.Second, evs[0].Duration)
		r.w.Stop()
	})
}
