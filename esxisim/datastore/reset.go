package datastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Reset is the NFS client's part of a lab reset: every datastore that is
// not accessible (All Paths Down) or is reconnecting tries to reconnect at
// once, and Reset returns when all of them are accessible again, or when
// ctx ends (with ctx.Err()). A datastore that is accessible with its
// connection up (or idle) is not touched: its connection, heartbeats and
// IO go on.
//
// For a datastore it does touch:
//
//   - the wait between connection attempts (ReconnectInterval) is cut
//     short, and an attempt hanging on a silent server is abandoned: the
//     next attempt starts at once, along the host's current routes;
//   - an inaccessible datastore's connection is reset (its heartbeats had
//     stopped being answered on it) and the calls in flight on it are
//     re-sent on the new one;
//   - the count of failed heartbeats is cleared, and so is the APD timer:
//     IO that failed fast after Misc.APDTimeout waits for the server again,
//     and if the datastore is still inaccessible the APD timer starts again
//     from now, as a fresh APD would;
//   - a NULL call goes to the server; its answer restores the datastore
//     (EventRestored, whose Outage still counts from the start of the APD,
//     and "Restored connection" in vmkernel.log).
//
// Reset is meant to run after the servers and routes are back: it makes
// the datastores find them without waiting for their timers, it does not
// bring anything back itself.
func (m *Manager) Reset(ctx context.Context) error {
	m.mu.Lock()
	stores := append([]*Datastore(nil), m.stores...)
	m.mu.Unlock()
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i, d := range stores {
		if d.rush() {
			wg.Go(func() { errs[i] = d.probe(ctx) })
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// errReset is why Reset dropped an inaccessible datastore's connection.
var errReset = errors.New("reset")

// rush is Reset's first half for one datastore: it reports whether the
// datastore needs a probe, having cut its waits short.
func (d *Datastore) rush() bool {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return false
	}
	// Every Reset ends the kick, a healthy datastore's too: its
	// connection may have been reset already, the RST not yet read. When
	// that loss is noticed, the redial after it finds the connection's
	// kick ended and goes at once (connectLoop) rather than waiting out
	// ReconnectInterval. A connection that failed a moment ago counts as
	// none, even before the datastore has noticed.
	d.kickCancel()
	d.kick, d.kickCancel = context.WithCancel(context.Background())
	live := d.cur != nil && d.cur.alive()
	if d.state == Accessible && !d.connecting && live {
		d.mu.Unlock()
		return false
	}
	d.failures = 0
	if d.apdTimer != nil {
		d.apdTimer.Stop()
		d.apdTimer = nil
	}
	if d.apdExpired {
		d.apdExpired = false
		d.ioCtx, d.ioCancel = context.WithCancelCause(context.Background())
	}
	apd := d.state == Inaccessible
	if apd && !d.cfg.DisableAPDHandling {
		d.apdTimer = d.clk.AfterFunc(d.cfg.APDTimeout, d.apdTimeout)
	}
	cur := d.cur
	d.mu.Unlock()
	if apd && cur != nil {
		cur.abort(errReset)
		d.lost(cur)
	}
	return true
}

// probe sends a NULL call until it is answered (which restores the
// datastore), ctx ends or the datastore is unmounted.
func (d *Datastore) probe(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.ctx, cancel) // unmounted meanwhile
	defer stop()
	_, err := d.roundTrip(ctx, nfsProg, nfsVers, procNull, nil, nil)
	switch {
	case err == nil, d.ctx.Err() != nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("datastore %s: %w", d.name, err)
}
