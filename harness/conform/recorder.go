package conform

import (
	"context"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// stamped is an event as the kit saw it. The lab stamps its events on its
// own clock, which runs scaled; the implementation under test runs on real
// time and the thresholds are real time, so the kit stamps every event
// with the wall clock as it arrives. The log hands events to subscribers
// synchronously, so arrival is the moment it happened.
type stamped struct {
	At time.Time
	harness.Event
	// Operator marks a route change the kit made as an operator
	// (lab.AddRoute, lab.DeleteRoute), not the implementation.
	Operator bool
}

// recorder follows a lab's event log: the events of the current window
// (one scenario), the live state the scenarios wait on, and when the
// implementation last did anything (for settling).
type recorder struct {
	mu      sync.Mutex
	log     *harness.EventLog
	cancel  func()
	evs     []stamped
	live    *world
	wake    chan struct{}
	logins  map[string]bool
	lastAct time.Time // last SSH command or route change
	lastRt  time.Time // last route change
	// tap sees every event (progress output); nil for none.
	tap func(stamped)
}

func newRecorder() *recorder {
	return &recorder{wake: make(chan struct{}), logins: map[string]bool{}, live: newWorld()}
}

// attach follows log (again, if a reset replaced it). Logins already in
// the log count: the built-in Genesis logs in while the lab starts.
func (r *recorder) attach(log *harness.EventLog) {
	r.mu.Lock()
	if r.log == log {
		r.mu.Unlock()
		return
	}
	if r.cancel != nil {
		r.cancel()
	}
	r.log = log
	r.mu.Unlock()
	cancel := log.Subscribe(r.add)
	r.mu.Lock()
	r.cancel = cancel
	for _, e := range log.Events() {
		if e.Kind == "ssh.login" {
			r.logins[e.Node] = true
		}
	}
	r.mu.Unlock()
}

func (r *recorder) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
		r.cancel, r.log = nil, nil
	}
}

func (r *recorder) add(e harness.Event) {
	s := stamped{At: time.Now(), Event: e}
	r.mu.Lock()
	switch e.Kind {
	case "ssh.login":
		r.logins[e.Node] = true
	case "ssh.command":
		r.lastAct = s.At
	case "route.add", "route.delete":
		r.lastAct, r.lastRt = s.At, s.At
	case "operator.route-add", "operator.route-delete":
		r.markOperator(e)
	}
	r.evs = append(r.evs, s)
	r.live.apply(e)
	close(r.wake)
	r.wake = make(chan struct{})
	tap := r.tap
	r.mu.Unlock()
	if tap != nil {
		tap(s)
	}
}

// markOperator attributes the route change an operator action just made
// (the lab logs the change, then the action) to the operator.
func (r *recorder) markOperator(op harness.Event) {
	kind := "route.add"
	if op.Kind == "operator.route-delete" {
		kind = "route.delete"
	}
	for i := len(r.evs) - 1; i >= 0; i-- {
		e := &r.evs[i]
		if e.Kind == kind && e.Node == op.Node && e.Network == op.Network && e.Gateway == op.Gateway && !e.Operator {
			e.Operator = true
			return
		}
	}
}

// begin starts a window: the events so far are dropped, the live state
// starts from w (the lab's model read now). It returns the window's start
// and a copy of w for the grading.
func (r *recorder) begin(w *world) (time.Time, *world) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = nil
	r.live = w
	return time.Now(), w.clone()
}

// outage says whether a host's VM IO is out now.
func (r *recorder) outage(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live.outage[host]
}

// window returns the events since begin.
func (r *recorder) window() []stamped {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stamped(nil), r.evs...)
}

// loggedIn reports whether every host has seen an SSH login.
func (r *recorder) loggedIn(hosts []hostInfo) (missing []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range hosts {
		if !r.logins[h.Name] {
			missing = append(missing, h.Name)
		}
	}
	return missing
}

// waitFor waits until cond holds on the live state, re-checking it on
// every event, for at most d of real time. It reports whether cond held.
func (r *recorder) waitFor(ctx context.Context, d time.Duration, cond func(*world) bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		r.mu.Lock()
		ok := cond(r.live)
		ch := r.wake
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			return cond(r.live)
		case <-ctx.Done():
			return false
		}
	}
}

// waitEvent waits for an event that match accepts, for at most d.
func (r *recorder) waitEvent(ctx context.Context, d time.Duration, match func(harness.Event) bool) (stamped, bool) {
	r.mu.Lock()
	seen := len(r.evs)
	r.mu.Unlock()
	var got stamped
	ok := r.waitFor(ctx, d, func(*world) bool {
		// Called with r.mu held.
		for ; seen < len(r.evs); seen++ {
			if match(r.evs[seen].Event) {
				got = r.evs[seen]
				return true
			}
		}
		return false
	})
	return got, ok
}

// quiet waits until neither an SSH command nor a route change has been
// seen for settle. An implementation that polls more often than that is
// never silent: after limit, a window of settle without a route change
// will do. It reports whether the stricter condition was met.
func (r *recorder) quiet(ctx context.Context, settle, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		r.mu.Lock()
		last := r.lastAct
		if time.Now().After(deadline) {
			last = r.lastRt
		}
		ch := r.wake
		r.mu.Unlock()
		due := last.Add(settle)
		now := time.Now()
		if !now.Before(due) {
			return !now.After(deadline)
		}
		wait := due.Sub(now)
		if d := deadline.Sub(now); d > 0 && d < wait {
			wait = d // re-evaluate with the looser rule
		}
		t := time.NewTimer(wait)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// changed returns a channel closed at the next event.
func (r *recorder) changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wake
}

// forgetLogins starts counting logins afresh (a new lab).
func (r *recorder) forgetLogins() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logins = map[string]bool{}
}
