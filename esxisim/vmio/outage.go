package vmio

import "time"

// Outage is a window during which the VM's IO did not flow: from the start
// of the first operation that failed or stalled to the completion of the
// next operation that succeeded.
type Outage struct {
	Start time.Time
	// End is zero while the outage is open.
	End time.Time
	// Duration is End-Start, or for an open outage how long it has lasted
	// so far.
	Duration time.Duration
	Open     bool
	// Errors counts the operations that failed during the outage.
	Errors uint64
	// Cause is what opened it: the first error, or a stall.
	Cause string
}

// maxOutages bounds the windows a Report lists; later ones are counted in
// Report.OutagesDropped and OutageTotal. A flapping path for hours would
// otherwise grow without bound.
const maxOutages = 1024
