package vmio

import "time"

// Event kinds.
const (
	// EventOutageStart: IO stopped. Time is when that was noticed (the
	// first failure, or StallThreshold into an operation that did not
	// complete); Duration is how long IO had already been out, so
	// Time-Duration is the outage's start.
	EventOutageStart = "io.outage.start"
	// EventOutageEnd: an operation succeeded again. Time is its
	// completion, Duration the outage's length.
	EventOutageEnd = "io.outage.end"
	// EventError: an operation failed. Reported for the first failure of
	// an outage and when the error changes, up to maxErrorEvents per
	// outage; Report counts them all. Duration is the operation's latency.
	EventError = "io.error"
	// EventCorruption: a read found a violation (see Violation.String).
	EventCorruption = "io.corruption"
)

// Event is something the VM's IO went through, for the lab's event log.
type Event struct {
	Time     time.Time
	VM       string
	Kind     string
	Detail   string
	Duration time.Duration
}

// events buffers what one step produced, delivered once locks are
// released. Fixed size: a step produces at most an outage start, an error
// or a corruption, and an outage end.
type events struct {
	n int
	e [4]Event
}

func (b *events) add(e Event) {
	if b.n < len(b.e) {
		b.e[b.n] = e
		b.n++
	}
}
