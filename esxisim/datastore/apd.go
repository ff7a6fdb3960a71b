package datastore

import (
	"context"
	"errors"

	"github.com/jonboulle/clockwork"
)

// Heartbeats and the All Paths Down state.
//
// Every NFS.HeartbeatFrequency a NULL call goes to the server on the
// datastore's connection. One unanswered for NFS.HeartbeatTimeout counts
// as failed, and its connection is reset so that the next call dials again
// (a flow blackholed by a powered-off server never recovers by itself);
// NFS.HeartbeatMaxFailures failures in a row make the datastore
// inaccessible: "Lost connection to the server" in vmkernel.log, and the
// APD timer starts. Any answer — a heartbeat or an IO — restores it:
// "Restored connection to the server", and the IO that waited goes on. IO
// still waiting after Misc.APDTimeout fails with an I/O error, and new IO
// fails at once, until the server is back.

// startHeartbeats arms the heartbeat ticker now, so that the first
// heartbeat is due HeartbeatFrequency after the mount whenever the
// goroutine gets to run, and sends heartbeats until unmount.
func (d *Datastore) startHeartbeats() {
	t := d.clk.NewTicker(d.cfg.HeartbeatFrequency)
	d.wg.Add(1)
	go d.heartbeatLoop(t)
}

func (d *Datastore) heartbeatLoop(t clockwork.Ticker) {
	defer d.wg.Done()
	defer t.Stop()
	for {
		select {
		case <-t.Chan():
			// Heartbeats may overlap (a 30 s timeout, a 12 s period):
			// each runs on its own.
			d.wg.Add(1)
			d.mu.Lock()
			d.hbLive++
			d.mu.Unlock()
			go d.heartbeat()
		case <-d.done:
			return
		}
	}
}

func (d *Datastore) heartbeat() {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		d.hbLive--
		d.mu.Unlock()
	}()
	d.mu.Lock()
	d.hbSeq++
	seq := d.hbSeq
	// Only the connection that was up when the heartbeat left is to blame
	// for its timeout; one that came up while it waited is new.
	first := d.cur
	d.mu.Unlock()
	ctx, cancel := withTimeout(d.ctx, d.clk, d.cfg.HeartbeatTimeout)
	defer cancel()
	var last *rpcConn
	_, err := d.roundTrip(ctx, nfsProg, nfsVers, procNull, nil, func(c *rpcConn) { last = c })
	if d.ctx.Err() != nil {
		return // unmounted meanwhile
	}
	if err != nil && last != nil && last == first && errors.Is(context.Cause(ctx), errTimeout) {
		last.abort(errors.New("heartbeat timed out"))
		d.lost(last)
	}
	if err == nil {
		return // roundTrip called answered
	}
	d.heartbeatFailed(seq)
}

// answered records that the server replied: failures reset, and an
// inaccessible datastore is restored.
func (d *Datastore) answered() {
	d.mu.Lock()
	d.failures = 0
	d.okSeq = d.hbSeq
	if d.state != Inaccessible {
		d.mu.Unlock()
		return
	}
	d.state = Accessible
	outage := d.clk.Since(d.apdSince)
	if d.apdTimer != nil {
		d.apdTimer.Stop()
		d.apdTimer = nil
	}
	if d.apdExpired {
		d.apdExpired = false
		d.ioCtx, d.ioCancel = context.WithCancelCause(context.Background())
	}
	d.mu.Unlock()
	d.m.h.Log().Printf("NFS: 340: Restored connection to the server %s mount point %s, mounted as %s (\"%s\")",
		d.server, d.share, d.uuid, d.name)
	d.emit(EventRestored, func(e *Event) { e.Outage = outage })
}

// heartbeatFailed counts a failed heartbeat, unless an answer came after
// it was sent: heartbeats overlap (a 30 s timeout, a 12 s period), and only
// failures since the last answer are consecutive.
func (d *Datastore) heartbeatFailed(seq uint64) {
	d.mu.Lock()
	if seq <= d.okSeq {
		d.mu.Unlock()
		return
	}
	d.failures++
	if d.state != Accessible || d.failures < d.cfg.HeartbeatMaxFailures {
		d.mu.Unlock()
		return
	}
	d.state = Inaccessible
	d.apdSince = d.clk.Now()
	apd := !d.cfg.DisableAPDHandling
	if apd {
		d.apdTimer = d.clk.AfterFunc(d.cfg.APDTimeout, d.apdTimeout)
	}
	d.mu.Unlock()
	log := d.m.h.Log()
	// INFERRED (reference §5.5): the verified Restored line's twin.
	log.Warnf("NFS: 337: Lost connection to the server %s mount point %s, mounted as %s (\"%s\")",
		d.server, d.share, d.uuid, d.name)
	if apd {
		ident := d.uuid[:17]
		log.Printf("StorageApdHandler: 248: APD Timer started for ident [%s]", ident)
		log.Printf("StorageApdHandler: 846: APD Start for ident [%s]!", ident)
	}
	d.emit(EventAPD, nil)
}

// apdTimeout fails the IO that waits, and makes new IO fail at once.
func (d *Datastore) apdTimeout() {
	d.mu.Lock()
	if d.state != Inaccessible || d.apdExpired || d.closed {
		d.mu.Unlock()
		return
	}
	d.apdExpired = true
	d.apdTimer = nil
	cancel := d.ioCancel
	d.mu.Unlock()
	cancel(errAPDTimedOut)
	d.emit(EventAPDTimeout, nil)
}

// heartbeatsLive is how many heartbeats are under way: a test driving the
// fake clock waits for none before it moves time past their timeouts.
func (d *Datastore) heartbeatsLive() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hbLive
}
