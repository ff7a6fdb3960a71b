package harness

import (
	"context"
	"errors"
)

// Wait blocks until the condition holds or ctx ends.
func (l *Lab) Wait(ctx context.Context, cond string) error {
	return errors.New("wait: not wired yet")
}
