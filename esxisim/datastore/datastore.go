package datastore

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/clock"
)

// State is a datastore's accessibility, as esxcli's Accessible and Mounted
// columns and esxcfg-nas's "mounted available" show it.
type State int

const (
	// Accessible: mounted and the server answers.
	Accessible State = iota
	// Inaccessible: mounted, but heartbeats failed NFS.HeartbeatMaxFailures
	// times in a row: All Paths Down. IO waits for the server, and fails
	// after Misc.APDTimeout.
	Inaccessible
	// Unmounted: removed; every operation fails.
	Unmounted
)

func (s State) String() string {
	switch s {
	case Accessible:
		return "accessible"
	case Inaccessible:
		return "inaccessible"
	}
	return "unmounted"
}

// Datastore is one NFSv3 datastore of the host: the export it mounts, its
// connection to the server along the host's routes, its heartbeats and its
// APD state. It serves the datastore's files as a shell.Mount (fsmount.go).
//
// The connection follows the host's routing table: when a route change
// moves the flow's path, the fabric resets it, and the datastore dials
// again at once along the new path and re-sends the calls that were in
// flight. File handles stay valid (the servers share them), so nothing is
// mounted again, as on ESXi.
type Datastore struct {
	m        *Manager
	clk      clock.Clock
	cfg      Config
	name     string
	host     string // as given to Add
	server   netip.Addr
	share    string
	readonly bool
	uuid     string

	// Set by mount, read-only afterwards.
	root  []byte
	maxIO uint32

	// ctx ends at unmount: heartbeats and connection attempts stop.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup

	mu         sync.Mutex
	state      State
	closed     bool
	failures   int    // consecutive failed heartbeats
	hbSeq      uint64 // heartbeats sent
	hbLive     int    // heartbeats under way (spawned, not yet done)
	okSeq      uint64 // hbSeq at the last answer
	apdSince   time.Time
	apdTimer   clockwork.Timer
	apdExpired bool
	// ioCtx ends when IO must fail fast: at the APD timeout (replaced when
	// the server is back) or at unmount. Every call watches the one that
	// was current when it started.
	ioCtx    context.Context
	ioCancel context.CancelCauseFunc

	// The connection: cur is nil while there is none; ready is closed (and
	// replaced) each time a new one is up; connecting is set while
	// connectLoop runs.
	cur *rpcConn
	// last is the connection lost just before (lost), until the next
	// connectLoop takes it: whether it ever answered decides that loop's
	// pacing, whichever of lost and conn saw the failure first.
	last       *rpcConn
	ready      chan struct{}
	connecting bool
	connected  bool // a connection was up before: the next is a reconnect
	// kick ends when Manager.Reset wants a connection now: connectLoop
	// stops waiting out ReconnectInterval and abandons a hanging dial.
	// It is replaced at each Reset.
	kick       context.Context
	kickCancel context.CancelFunc
}

func newDatastore(m *Manager, name, host, share string, server netip.Addr, readonly bool) *Datastore {
	d := &Datastore{
		m: m, clk: m.h.Clock(), cfg: m.cfg,
		name: name, host: host, server: server, share: share, readonly: readonly,
		uuid:  volumeUUID(host, share),
		state: Accessible,
		ready: make(chan struct{}),
		done:  make(chan struct{}),
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.ioCtx, d.ioCancel = context.WithCancelCause(context.Background())
	d.kick, d.kickCancel = context.WithCancel(context.Background())
	return d
}

// Name returns the volume name (label).
func (d *Datastore) Name() string { return d.name }

// UUID returns the volume UUID, xxxxxxxx-xxxxxxxx-0000-000000000000.
func (d *Datastore) UUID() string { return d.uuid }

// State returns the datastore's current state.
func (d *Datastore) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Info describes the datastore as the listings show it.
func (d *Datastore) Info() Info {
	d.mu.Lock()
	st := d.state
	d.mu.Unlock()
	return Info{
		Name: d.name, Host: d.host, Share: d.share, ReadOnly: d.readonly, UUID: d.uuid,
		State: st, Accessible: st == Accessible, Mounted: st != Unmounted,
	}
}

// call sends an RPC to the NFS service, across reconnections, and honours
// APD: while the server is away it waits (for ctx), and once the datastore
// has been in APD for Misc.APDTimeout it fails with an I/O error.
func (d *Datastore) call(ctx context.Context, prog, vers, proc uint32, args any) (*bytes.Reader, error) {
	d.mu.Lock()
	ioCtx, expired, closed := d.ioCtx, d.apdExpired, d.closed
	d.mu.Unlock()
	switch {
	case closed:
		return nil, errUnmounted
	case expired:
		return nil, errAPDTimedOut
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ioCtx, func() { cancel(context.Cause(ioCtx)) })
	defer stop()
	res, err := d.roundTrip(cctx, prog, vers, proc, args, nil)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		return nil, context.Cause(cctx)
	}
	return res, err
}

// roundTrip sends a call on the current connection, dialling one if
// needed, and re-sends it on a new connection when the one it was on is
// lost (a reset after a route change). used, if set, receives each
// connection the call went out on.
//
// A re-sent call may have run already; as for any NFSv3 client, a server
// without a duplicate request cache then answers a replayed REMOVE or
// MKDIR with NOENT or EXIST, which the caller sees.
func (d *Datastore) roundTrip(ctx context.Context, prog, vers, proc uint32, args any, used func(*rpcConn)) (*bytes.Reader, error) {
	for {
		c, err := d.conn(ctx)
		if err != nil {
			return nil, err
		}
		if used != nil {
			used(c)
		}
		res, err := c.call(ctx, prog, vers, proc, args)
		var te *transportError
		if errors.As(err, &te) {
			d.lost(c)
			continue
		}
		if err == nil {
			d.answered()
		}
		return res, err
	}
}

// conn returns the live connection, waiting for connectLoop to make one.
func (d *Datastore) conn(ctx context.Context) (*rpcConn, error) {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, errUnmounted
		}
		if d.cur != nil && d.cur.alive() {
			c := d.cur
			d.mu.Unlock()
			return c, nil
		}
		prev := d.cur
		if prev == nil {
			prev = d.last
		}
		d.cur, d.last = nil, nil
		if !d.connecting {
			d.connecting = true
			d.wg.Add(1)
			go d.connectLoop(prev, d.kick)
		}
		ready := d.ready
		d.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// lost drops a dead connection, so the next call dials a new one.
func (d *Datastore) lost(c *rpcConn) {
	c.fail(errors.New("connection lost"))
	d.mu.Lock()
	if d.cur == c {
		d.cur, d.last = nil, c
	}
	d.mu.Unlock()
}

// connectLoop dials the NFS service along the host's current routes until
// a connection is up or the datastore is unmounted. After a connection
// that never answered (the server resets it at once), or a failed attempt,
// it waits ReconnectInterval before the next, so a refusing server is not
// hammered; after a reset of a working connection (a route change) it
// dials at once. A kick (Manager.Reset) ends the wait and the attempt in
// progress: the next attempt starts at once.
func (d *Datastore) connectLoop(prev *rpcConn, kick context.Context) {
	defer d.wg.Done()
	pace := prev != nil && !prev.hadReply()
	if prev != nil && prev.kick != nil {
		// A Reset since prev was dialled asked for a connection now:
		// the wait after prev's failure is cut like any other, even
		// when prev failed after the Reset (the kick this loop was
		// started with is the new one).
		kick = prev.kick
	}
	for {
		start := d.clk.Now()
		if pace && !d.pause(d.cfg.ReconnectInterval, kick) {
			d.connectDone(nil)
			return
		}
		// The kick of this attempt: a Reset from now on ends it.
		d.mu.Lock()
		kick = d.kick
		d.mu.Unlock()
		ctx, cancel := withTimeout(d.ctx, d.clk, d.cfg.ReconnectInterval)
		stop := context.AfterFunc(kick, cancel)
		nc, err := d.m.dial(ctx, netip.AddrPortFrom(d.server, nfsPort))
		stop()
		cancel()
		if err == nil {
			c := newRPCConn(nc, d.m.cred(), d.m.xidSeed())
			c.kick = kick
			d.connectDone(c)
			return
		}
		if d.ctx.Err() != nil {
			d.connectDone(nil)
			return
		}
		// A quick failure (refused, unreachable) waits out the rest of the
		// interval; a timed-out attempt has waited already.
		pace = false
		if !d.pause(d.cfg.ReconnectInterval-d.clk.Since(start), kick) {
			d.connectDone(nil)
			return
		}
	}
}

// pause waits dur on the clock, or less if kick ends; false if the
// datastore was unmounted meanwhile.
func (d *Datastore) pause(dur time.Duration, kick context.Context) bool {
	if dur <= 0 || kick.Err() != nil {
		return true
	}
	t := d.clk.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-kick.Done():
		return true
	case <-d.done:
		return false
	}
}

// connectDone publishes a new connection (nil: giving up at unmount).
func (d *Datastore) connectDone(c *rpcConn) {
	d.mu.Lock()
	d.connecting = false
	if d.closed {
		d.mu.Unlock()
		if c != nil {
			c.fail(errUnmounted)
		}
		return
	}
	d.cur = c
	close(d.ready)
	d.ready = make(chan struct{})
	reconnect := d.connected
	d.connected = true
	d.mu.Unlock()
	if reconnect {
		d.emit(EventReconnected, func(e *Event) { e.Local, e.Egress, e.Target = flowOf(c.c) })
	}
}
