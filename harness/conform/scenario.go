package conform

import (
	"context"
	"fmt"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// Scenario is one graded situation: Run drives the lab (faults, operator
// actions) and says what the implementation must do, through S.
type Scenario struct {
	Name        string
	Title       string
	Description string
	// Nodes is how many CVMs, each serving a host, the scenario needs.
	Nodes int
	// Stable says the scenario needs every CVM trusted as stable when it
	// starts: after a reset that brought CVMs back, the kit first waits
	// for the stable period (an implementation is right to keep a route
	// to a remote CVM while its own has just come back).
	Stable bool
	Run    func(s *S)
}

// What an expectation wants of a host.
const (
	wantForwarded = "forwarded" // routed to a healthy CVM other than its own
	wantLocal     = "local"     // no route to 192.168.5.2: its own CVM serves it
)

// expectation is one thing the implementation must do in answer to a
// trigger: the detection-time check grades it.
type expectation struct {
	Host    string
	Want    string
	Trigger time.Time
	// Label names the trigger in reasons: "NTNX-BLOCK1-A-CVM powered off".
	Label string
	// Extra is added to the detection limit (a stable period to wait, a
	// fault that blocks SSH for a while).
	Extra time.Duration
}

// mark is an instant the kit records on the timeline.
type mark struct {
	At    time.Time
	Label string
}

// abort ends a scenario early: a step could not be taken or the
// implementation did not do what the next step depends on. What was
// observed so far is graded.
type abort struct{ err error }

// S is a running scenario: the lab, the implementation's observed
// behaviour, and what the scenario expects.
type S struct {
	Lab *harness.Lab
	ctx context.Context
	k   *kit
	rec *recorder
	li  labInfo

	exps   []expectation
	budget map[string]int
	marks  []mark
	// extra widens the limits of the expectations registered after
	// Extra was called.
	extra time.Duration
	// err is why the scenario could not be run to its end; set by an
	// action that failed.
	err error
	// stopped says a wait was not met: the scenario ended early.
	stopped string
}

// Node returns the i-th CVM (0 is "A") with the host it serves.
func (s *S) Node(i int) node { return s.li.nodes()[i] }

// Do runs an action on the lab (a fault, a power change) and marks it on
// the timeline; it returns when the action was done, which is the
// trigger the implementation answers: the lab logs an action's events
// while the action runs, so they all precede it. A failing action ends
// the scenario with an error: the kit, not the implementation, is at
// fault.
func (s *S) Do(label string, f func() error) time.Time {
	if err := f(); err != nil {
		s.err = fmt.Errorf("%s: %w", label, err)
		panic(abort{s.err})
	}
	at := time.Now()
	s.marks = append(s.marks, mark{At: at, Label: label})
	s.k.progress("  %s", label)
	return at
}

// Budget says how many route changes the scenario needs on a host; more
// is flapping. Hosts never named may not change at all.
func (s *S) Budget(host hostInfo, n int) { s.budget[host.Name] = n }

// Extra widens the detection and outage limits of the expectations that
// follow by d of real time: a stable period the implementation is right
// to wait for, a fault that keeps it from acting.
func (s *S) Extra(d time.Duration) { s.extra = d }

// Emulated converts a duration on the lab's clock to real time.
func (s *S) Emulated(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.k.scale)
}

// limit is the detection limit for an expectation.
func (s *S) limit(e expectation) time.Duration { return s.k.cfg.MaxDetection + e.Extra }

// waitLimit is how long the kit waits for an answer: past the limit, so
// that a late answer is measured rather than reported as missing.
func (s *S) waitLimit(e expectation) time.Duration { return s.limit(e) * 5 / 4 }

// Forwarded expects the implementation to route each host to a healthy
// CVM other than its own after trigger, and waits for it. It returns the
// gateway the first host was given; if one was not routed in time the
// scenario ends.
func (s *S) Forwarded(trigger time.Time, label string, hosts ...hostInfo) string {
	return s.expect(wantForwarded, trigger, label, hosts)
}

// Local expects the implementation to remove each host's route to
// 192.168.5.2 after trigger (its own CVM serves it again), and waits for
// it.
func (s *S) Local(trigger time.Time, label string, hosts ...hostInfo) {
	s.expect(wantLocal, trigger, label, hosts)
}

// expect registers every host's expectation first, so that all are
// graded even if the first is never met, then waits for each.
func (s *S) expect(want string, trigger time.Time, label string, hosts []hostInfo) string {
	var es []expectation
	for _, h := range hosts {
		e := expectation{Host: h.Name, Want: want, Trigger: trigger, Label: label, Extra: s.extra}
		s.exps = append(s.exps, e)
		es = append(es, e)
	}
	first := ""
	for i, e := range es {
		if gw := s.await(e); i == 0 {
			first = gw
		}
	}
	return first
}

func (s *S) await(e expectation) string {
	wait := s.waitLimit(e) - time.Since(e.Trigger)
	var gw string
	ok := s.rec.waitFor(s.ctx, max(wait, 0), func(w *world) bool {
		gw = w.gateway(e.Host)
		if e.Want == wantLocal {
			return w.local(e.Host)
		}
		return w.forwarded(s.li, e.Host)
	})
	if !ok {
		s.stopped = fmt.Sprintf("host %s not %s within %v of %s", e.Host, e.Want, s.waitLimit(e).Round(time.Millisecond), e.Label)
		panic(abort{})
	}
	switch e.Want {
	case wantLocal:
		s.k.progress("  host %s: route removed %v after %s", e.Host, time.Since(e.Trigger).Round(time.Millisecond), e.Label)
	default:
		s.k.progress("  host %s: routed via %s %v after %s", e.Host, gw, time.Since(e.Trigger).Round(time.Millisecond), e.Label)
	}
	return gw
}

// Healthy waits until a CVM is fully initialised with its Stargate up
// (after a power-on: the boot takes the lab's boot time) and returns when
// it was. The scenario ends if it is not within d of real time.
func (s *S) Healthy(c cvmInfo, d time.Duration) time.Time {
	ok := s.rec.waitFor(s.ctx, d, func(w *world) bool { return w.cvm[c.Name].healthy() })
	if !ok {
		s.err = fmt.Errorf("%s did not become healthy within %v", c.Name, d.Round(time.Millisecond))
		panic(abort{s.err})
	}
	return time.Now()
}

// Event waits for the lab to log an event of kind on node and returns
// when it arrived; the scenario ends if it does not within d.
func (s *S) Event(kind, node string, d time.Duration) time.Time {
	e, ok := s.rec.waitEvent(s.ctx, d, func(e harness.Event) bool { return e.Kind == kind && e.Node == node })
	if !ok {
		s.err = fmt.Errorf("no %s on %s within %v", kind, node, d.Round(time.Millisecond))
		panic(abort{s.err})
	}
	return e.At
}

// Pause lets d pass on the lab's clock: part of a scenario's script (a
// CVM stays off for a while), not a synchronisation.
func (s *S) Pause(d time.Duration) {
	t := s.Lab.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
	case <-s.ctx.Done():
		panic(abort{s.ctx.Err()})
	}
}

// BootTime is how long a CVM's boot takes in real time, with slack for a
// loaded machine.
func (s *S) BootTime() time.Duration {
	return s.Emulated(kitBoot.InitAfter)*2 + 5*time.Second
}

// mark records on the timeline an instant the kit observed rather than
// caused.
func (s *S) mark(at time.Time, label string) {
	s.marks = append(s.marks, mark{At: at, Label: label})
}
