// Package clock is the one time source of the emulator. Every timer the
// emulator owns (NFS heartbeats, APD, neighbour expiry, CVM boot, Genesis'
// loop, vmkping's interval) reads a Clock, so that tests can run on a fake
// clock they advance and demos and CI can run on scaled time.
//
// The interface is github.com/jonboulle/clockwork's, so its fake clock (with
// BlockUntilContext for deterministic tests) plugs in unchanged.
package clock

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Clock is the emulator's view of time.
type Clock = clockwork.Clock

// Timer is a timer on a Clock (AfterFunc's result).
type Timer = clockwork.Timer

// Real returns the wall clock.
func Real() Clock { return clockwork.NewRealClock() }

// NewFake returns a clock that only moves when the test advances it.
func NewFake() *clockwork.FakeClock { return clockwork.NewFakeClock() }

// Scaled returns a clock on which emulated time runs 1/factor times as fast
// as wall time: with factor 0.05 an emulated 30 s timer fires after 1.5 s of
// wall time. Now() advances at the emulated rate from the moment of creation,
// so durations measured on it are emulated durations.
// A factor of 1 (or <= 0) returns the real clock.
func Scaled(factor float64) Clock {
	if factor <= 0 || factor == 1 {
		return Real()
	}
	return &scaled{base: clockwork.NewRealClock(), factor: factor, epoch: time.Now()}
}

type scaled struct {
	base   clockwork.Clock
	factor float64
	epoch  time.Time
}

// wall converts an emulated duration to the wall duration to wait.
func (s *scaled) wall(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	w := time.Duration(float64(d) * s.factor)
	if w == 0 {
		w = 1
	}
	return w
}

func (s *scaled) Now() time.Time {
	real := time.Since(s.epoch)
	return s.epoch.Add(time.Duration(float64(real) / s.factor))
}

func (s *scaled) Since(t time.Time) time.Duration { return s.Now().Sub(t) }
func (s *scaled) Until(t time.Time) time.Duration { return t.Sub(s.Now()) }
func (s *scaled) Sleep(d time.Duration)           { s.base.Sleep(s.wall(d)) }

func (s *scaled) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	s.base.AfterFunc(s.wall(d), func() { ch <- s.Now() })
	return ch
}

func (s *scaled) NewTimer(d time.Duration) clockwork.Timer {
	t := &scaledTimer{s: s, c: make(chan time.Time, 1)}
	t.t = s.base.AfterFunc(s.wall(d), t.fire)
	return t
}

func (s *scaled) AfterFunc(d time.Duration, f func()) clockwork.Timer {
	return &scaledTimer{s: s, t: s.base.AfterFunc(s.wall(d), f)}
}

func (s *scaled) NewTicker(d time.Duration) clockwork.Ticker {
	t := &scaledTicker{t: s.base.NewTicker(s.wall(d)), s: s, c: make(chan time.Time, 1), stop: make(chan struct{})}
	go t.loop()
	return t
}

type scaledTimer struct {
	s *scaled
	t clockwork.Timer
	c chan time.Time
}

func (t *scaledTimer) fire() {
	select {
	case t.c <- t.s.Now():
	default:
	}
}
func (t *scaledTimer) Chan() <-chan time.Time     { return t.c }
func (t *scaledTimer) Stop() bool                 { return t.t.Stop() }
func (t *scaledTimer) Reset(d time.Duration) bool { return t.t.Reset(t.s.wall(d)) }

type scaledTicker struct {
	t        clockwork.Ticker
	s        *scaled
	c        chan time.Time
	stop     chan struct{}
	stopOnce sync.Once
}

// loop relays the wall ticker as emulated timestamps until Stop.
func (t *scaledTicker) loop() {
	for {
		select {
		case <-t.t.Chan():
			select {
			case t.c <- t.s.Now():
			default:
			}
		case <-t.stop:
			return
		}
	}
}

func (t *scaledTicker) Chan() <-chan time.Time { return t.c }
func (t *scaledTicker) Reset(d time.Duration)  { t.t.Reset(t.s.wall(d)) }
func (t *scaledTicker) Stop() {
	t.t.Stop()
	t.stopOnce.Do(func() { close(t.stop) })
}
