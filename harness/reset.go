package harness

import (
	"context"
	"errors"
	"time"
)

func (l *Lab) resets() int {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	return l.nreset
}

// Reset brings the lab back to its initial state without restarting a
// listener or changing a port; it returns how long it took.
func (l *Lab) Reset(ctx context.Context) (time.Duration, error) {
	return 0, errors.New("reset: not wired yet")
}
