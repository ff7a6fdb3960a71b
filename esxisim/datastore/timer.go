package datastore

import (
	"context"
	"errors"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// errTimeout is the cause of a context ended by withTimeout.
var errTimeout = errors.New("timed out")

// withTimeout is context.WithTimeout on the host's clock: every timer of
// the NFS client reads the emulator's clock, so tests run on a fake one and
// demos on scaled time. The context's cause is errTimeout when it fires.
func withTimeout(ctx context.Context, c clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := c.AfterFunc(d, func() { cancel(errTimeout) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}
