package vmio

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/jonboulle/clockwork"
)

// ErrOpTimeout is wrapped by the error of an operation that did not
// complete within Config.OpTimeout.
var ErrOpTimeout = errors.New("vmio: operation timed out")

// maxErrorEvents bounds the io.error events of one outage: after the APD
// timeout a datastore fails IO at once, 50 times a second.
const maxErrorEvents = 8

// Workload is one VM's synthetic IO on a datastore.
type Workload struct {
	cfg   Config
	clk   clock.Clock
	vol   Volume
	crc   *crc32.Table
	epoch uint64

	// opSem serialises IO (the loop's operations, Verify's reads) and
	// guards the fields up to evMu. It is a channel rather than a mutex so
	// that Verify can give up waiting when its context ends.
	opSem   chan struct{}
	file    File
	dirMade bool
	rng     *rand.Rand
	gen     uint64 // last generation written; generations start at 1
	blocks  []blockState
	wbuf    []byte
	rbuf    []byte

	// evMu is held from deciding events to delivering them, so that the
	// loop and the watchdog deliver in the order they decided; mu is
	// released before delivery so that OnEvent may call Report.
	evMu sync.Mutex

	mu        sync.Mutex
	started   bool
	running   bool
	startedAt time.Time
	cancelRun context.CancelFunc
	done      chan struct{}

	// The operation in flight, watched by wd.
	busy     bool
	opStart  time.Time
	stalled  bool
	cancelOp context.CancelCauseFunc
	wd       clockwork.Timer

	ops, reads, writes uint64
	errs, timeouts     uint64
	lastErr            error
	lat                histogram
	recent             [recentOps]Op
	nrecent            uint64

	out         []Outage
	cur         Outage // the open outage, when outageOpen
	outageOpen  bool
	errEvents   int
	lastErrText string
	dropped     uint64
	outageTotal time.Duration

	integ Integrity
}

// New returns a stopped workload on vol.
func New(vol Volume, cfg Config) (*Workload, error) {
	if vol == nil {
		return nil, errors.New("vmio: no volume")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Workload{
		cfg: cfg,
		clk: cfg.Clock,
		vol: vol,
		// MakeTable caches the Castagnoli table; keeping the pointer here
		// rather than in a package variable keeps the package stateless.
		crc: crc32.MakeTable(crc32.Castagnoli),
		// The epoch tells this run's blocks from those a previous run left
		// in the same file, which prove nothing about this run's writes.
		epoch:  mix(cfg.Seed ^ uint64(cfg.Clock.Now().UnixNano())),
		opSem:  make(chan struct{}, 1),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x61757470)),
		blocks: make([]blockState, cfg.Blocks),
		wbuf:   make([]byte, cfg.BlockSize),
		rbuf:   make([]byte, cfg.BlockSize),
	}, nil
}

// Config returns the configuration with defaults applied.
func (w *Workload) Config() Config { return w.cfg }

// Start starts the IO; it runs until Stop or until ctx ends. A Workload
// starts once.
func (w *Workload) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("vmio: workload already started")
	}
	w.started, w.running = true, true
	w.startedAt = w.clk.Now()
	ctx, w.cancelRun = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go w.run(ctx)
	return nil
}

// Stop interrupts the operation in flight (a write becomes uncertain; the
// operation is not counted as failed), waits for the IO to end and closes
// the file (after a Verify in progress). An open outage stays open in the
// Report. Stop may be called more than once, and on a workload never
// started.
func (w *Workload) Stop() {
	w.mu.Lock()
	cancel, done := w.cancelRun, w.done
	w.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (w *Workload) run(ctx context.Context) {
	sc := opScope{parent: ctx}
	var pace clockwork.Timer
	defer func() {
		if pace != nil {
			pace.Stop()
		}
		sc.close()
		w.opSem <- struct{}{}
		w.closeFile()
		<-w.opSem
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
		close(w.done)
	}()
	next := w.clk.Now()
	for {
		if d := next.Sub(w.clk.Now()); d > 0 {
			if pace == nil {
				pace = w.clk.NewTimer(d)
			} else {
				pace.Reset(d)
			}
			select {
			case <-ctx.Done():
				return
			case <-pace.Chan():
			}
		}
		select {
		case <-ctx.Done():
			return
		case w.opSem <- struct{}{}:
		}
		if ctx.Err() != nil { // select chose at random between the two
			<-w.opSem
			return
		}
		next = w.step(&sc).Add(w.cfg.Interval)
		<-w.opSem
	}
}

// step does one operation of the mix and returns when it started.
func (w *Workload) step(sc *opScope) time.Time {
	b := w.rng.IntN(w.cfg.Blocks)
	write := w.rng.Float64() >= w.cfg.ReadRatio
	start, _ := w.op(sc, write, b)
	return start
}

// opScope hands out the contexts of operations for one caller (the loop,
// or a Verify pass). One context serves operation after operation until the
// watchdog cancels it for a timeout: one per operation would cost an
// allocation per operation.
type opScope struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func (s *opScope) context() (context.Context, context.CancelCauseFunc) {
	if s.ctx == nil || s.ctx.Err() != nil {
		s.close()
		s.ctx, s.cancel = context.WithCancelCause(s.parent)
	}
	return s.ctx, s.cancel
}

func (s *opScope) close() {
	if s.cancel != nil {
		s.cancel(nil)
	}
}

// errTimeoutCause marks a context the watchdog cancelled.
var errTimeoutCause = errors.New("operation timeout")

// op does one read or write of block b and accounts for it. The caller
// holds opSem. It returns when the operation started and its error.
func (w *Workload) op(sc *opScope, write bool, b int) (time.Time, error) {
	ctx, cancel := sc.context()
	start := w.clk.Now()
	w.mu.Lock()
	w.busy, w.opStart, w.stalled, w.cancelOp = true, start, false, cancel
	if d := w.untilDeadline(0); w.wd == nil {
		w.wd = w.clk.AfterFunc(d, w.watchdog)
	} else {
		w.wd.Reset(d)
	}
	w.mu.Unlock()

	var gen uint64
	err := w.open(ctx)
	if err == nil {
		off := int64(b) * int64(w.cfg.BlockSize)
		var n int
		if write {
			w.gen++
			gen = w.gen
			encodeBlock(w.wbuf, w.crc, w.epoch, b, gen, start.UnixNano())
			n, err = w.file.WriteAt(ctx, w.wbuf, off)
			if err == nil && n < len(w.wbuf) {
				err = io.ErrShortWrite
			}
		} else {
			n, err = w.file.ReadAt(ctx, w.rbuf, off)
			switch {
			case errors.Is(err, io.EOF):
				// Past the end of the file: a block never written.
				clear(w.rbuf[n:])
				err = nil
			case err == nil && n < len(w.rbuf):
				err = io.ErrUnexpectedEOF
			}
		}
	}
	r := result{start: start, end: w.clk.Now(), write: write, block: b, gen: gen, err: err}
	if err != nil {
		r.aborted = sc.parent.Err() != nil
		if !r.aborted && context.Cause(ctx) == errTimeoutCause {
			r.err = fmt.Errorf("%w after %v: %w", ErrOpTimeout, r.end.Sub(start), err)
			r.timedOut = true
		}
		if !r.aborted && deadFile(err) {
			w.closeFile()
		}
	}
	w.checkIntegrity(&r)

	w.evMu.Lock()
	var ev events
	w.mu.Lock()
	w.account(&r, &ev)
	w.mu.Unlock()
	w.deliver(&ev)
	w.evMu.Unlock()
	return start, r.err
}

// result is one finished operation on its way to the accounts.
type result struct {
	start, end time.Time
	write      bool
	block      int
	gen        uint64 // written, or read back
	err        error
	aborted    bool // cut off by Stop or the caller's context
	timedOut   bool
	violation  *Violation
}

// open opens the file if it is not, creating its directories first.
func (w *Workload) open(ctx context.Context) error {
	if w.file != nil {
		return nil
	}
	if !w.dirMade {
		// The directories of Path, outermost first: Volume has no MkdirAll.
		if dir := path.Dir(w.cfg.Path); dir != "." {
			parts := strings.Split(dir, "/")
			for i := range parts {
				err := w.vol.Mkdir(ctx, strings.Join(parts[:i+1], "/"), 0o755)
				if err != nil && !errors.Is(err, fs.ErrExist) {
					return err
				}
			}
		}
		w.dirMade = true
	}
	f, err := w.vol.OpenFile(ctx, w.cfg.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	w.file = f
	return nil
}

func (w *Workload) closeFile() {
	if w.file != nil {
		_ = w.file.Close()
		w.file = nil
	}
}

// deadFile reports whether err says the File can serve no more IO.
func deadFile(err error) bool {
	return errors.Is(err, fs.ErrClosed) || errors.Is(err, syscall.ESTALE) || errors.Is(err, syscall.EBADF)
}

// checkIntegrity updates the blocks' expectations with r and verifies what
// a read returned. The caller holds opSem.
func (w *Workload) checkIntegrity(r *result) {
	s := &w.blocks[r.block]
	switch {
	case r.write && r.err == nil:
		s.acknowledged(r.gen)
	case r.write:
		if r.gen != 0 { // 0: failed before the write was sent
			s.uncertain(r.gen)
		}
	case r.err == nil:
		st, blk, gen := decodeBlock(w.rbuf, w.crc, w.epoch, r.block)
		if st == blockValid || st == blockMisplaced {
			r.gen = gen
		}
		before := *s
		if kind := s.observe(st, gen); kind != "" {
			v := Violation{Time: r.end, Block: r.block, Kind: kind, Want: before.ack,
				UncertainFrom: before.lo, UncertainTo: before.hi, Got: r.gen}
			if st == blockMisplaced {
				v.GotBlock = blk
			}
			r.violation = &v
		}
	}
}

// account records r and decides its events. The caller holds mu.
func (w *Workload) account(r *result, ev *events) {
	w.busy, w.cancelOp = false, nil
	w.wd.Stop()
	if r.write && r.err != nil && r.gen != 0 {
		w.integ.Uncertain++
	}
	if r.aborted {
		return
	}
	lat := r.end.Sub(r.start)
	w.ops++
	if r.write {
		w.writes++
	} else {
		w.reads++
	}
	w.lat.add(lat)
	w.recent[w.nrecent%recentOps] = Op{Start: r.start, Latency: lat, Write: r.write, Block: r.block, Gen: r.gen, Err: r.err}
	w.nrecent++

	if r.err != nil {
		w.errs++
		if r.timedOut {
			w.timeouts++
		}
		w.lastErr = r.err
		text := r.err.Error()
		if !w.outageOpen {
			w.openOutage(r.start, r.end, text, ev)
		}
		w.cur.Errors++
		if w.errEvents < maxErrorEvents && text != w.lastErrText {
			w.errEvents++
			w.lastErrText = text
			ev.add(Event{Time: r.end, Kind: EventError, Duration: lat,
				Detail: fmt.Sprintf("%s block %d: %s", opName(r.write), r.block, text)})
		}
		return
	}
	if r.write {
		w.integ.Acknowledged++
	} else {
		w.integ.Checked++
	}
	if !w.outageOpen && lat >= w.cfg.StallThreshold {
		// The watchdog did not get to it first (its goroutine runs late
		// under load): the window is known all the same.
		w.openOutage(r.start, r.end, w.stallCause(), ev)
	}
	if w.outageOpen {
		w.closeOutage(r.end, ev)
	}
	if v := r.violation; v != nil {
		w.integ.ViolationCount++
		if len(w.integ.Violations) < maxViolations {
			w.integ.Violations = append(w.integ.Violations, *v)
		}
		ev.add(Event{Time: r.end, Kind: EventCorruption, Detail: v.String()})
	}
}

func opName(write bool) string {
	if write {
		return "write"
	}
	return "read"
}

func (w *Workload) stallCause() string {
	return fmt.Sprintf("no IO completed for %v", w.cfg.StallThreshold)
}

// openOutage opens an outage that started at start, noticed at now; not
// before the account began (an operation in flight at Reset). The caller
// holds mu.
func (w *Workload) openOutage(start, now time.Time, cause string, ev *events) {
	if start.Before(w.startedAt) {
		start = w.startedAt
	}
	w.cur = Outage{Start: start, Open: true, Cause: cause}
	w.outageOpen = true
	w.errEvents, w.lastErrText = 0, ""
	ev.add(Event{Time: now, Kind: EventOutageStart, Detail: cause, Duration: now.Sub(start)})
}

// closeOutage ends the open outage at end. The caller holds mu.
func (w *Workload) closeOutage(end time.Time, ev *events) {
	o := w.cur
	o.End, o.Duration, o.Open = end, end.Sub(o.Start), false
	w.outageOpen = false
	w.outageTotal += o.Duration
	if len(w.out) < maxOutages {
		w.out = append(w.out, o)
	} else {
		w.dropped++
	}
	ev.add(Event{Time: end, Kind: EventOutageEnd, Duration: o.Duration,
		Detail: fmt.Sprintf("IO flows again after %v (%d failed operations; cause: %s)", o.Duration, o.Errors, o.Cause)})
}

// untilDeadline is how long after el into the operation in flight the
// watchdog must next look: at the stall threshold, then at the timeout.
// The caller holds mu.
func (w *Workload) untilDeadline(el time.Duration) time.Duration {
	d := time.Duration(math.MaxInt64)
	if !w.stalled {
		d = w.cfg.StallThreshold - el
	}
	if w.cfg.OpTimeout > 0 {
		d = min(d, w.cfg.OpTimeout-el)
	}
	return d
}

// watchdog runs on wd's expiry: it opens an outage for an operation that
// has not completed within the stall threshold, and cancels one that
// reached the timeout. It may run late, even after the operation it was
// armed for ended, so it judges the operation in flight now, if any.
func (w *Workload) watchdog() {
	w.evMu.Lock()
	defer w.evMu.Unlock()
	var ev events
	w.mu.Lock()
	if w.busy {
		now := w.clk.Now()
		el := now.Sub(w.opStart)
		if to := w.cfg.OpTimeout; to > 0 && el >= to {
			w.cancelOp(errTimeoutCause)
		} else {
			if !w.stalled && el >= w.cfg.StallThreshold {
				w.stalled = true
				if !w.outageOpen {
					w.openOutage(w.opStart, now, w.stallCause(), &ev)
				}
			}
			if d := w.untilDeadline(el); d < math.MaxInt64 {
				w.wd.Reset(d)
			}
		}
	}
	w.mu.Unlock()
	w.deliver(&ev)
}

// deliver hands ev to OnEvent. The caller holds evMu, not mu.
func (w *Workload) deliver(ev *events) {
	if w.cfg.OnEvent == nil {
		return
	}
	for i := range ev.n {
		e := ev.e[i]
		e.VM = w.cfg.Name
		w.cfg.OnEvent(e)
	}
}
