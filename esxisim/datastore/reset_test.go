package datastore

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/nfs"
)

// apdConfig makes APD quick to reach and reconnection slow, so that a
// test that does not advance the clock can only pass through Reset.
var apdConfig = Config{
	HeartbeatFrequency: 10 * time.Second, HeartbeatTimeout: 5 * time.Second, HeartbeatMaxFailures: 2,
	APDTimeout: 30 * time.Second, ReconnectInterval: 100 * time.Second,
}

// toAPD powers cvm-a off and drives the datastore into APD, then past the
// APD timeout: new IO fails fast.
func toAPD(t *testing.T, l *testLab, events <-chan Event, f interface {
	ReadAt([]byte, int64) (int, error)
}) {
	t.Helper()
	l.Peers["cvm-a"].SetPowered(false)
	ioDone := make(chan error, 1)
	go func() {
		_, err := f.ReadAt(make([]byte, 4), 0)
		ioDone <- err
	}()
	l.clk.Advance(10 * time.Second) // heartbeat 1
	blockUntil(t, l, 2)
	l.clk.Advance(5 * time.Second) // it times out; a redial hangs for 100 s
	blockUntil(t, l, 2)
	l.clk.Advance(5 * time.Second) // heartbeat 2
	blockUntil(t, l, 3)
	l.clk.Advance(5 * time.Second) // fails: APD
	next(t, events, EventAPD)
	l.clk.Advance(apdConfig.APDTimeout)
	next(t, events, EventAPDTimeout)
	require.True(t, errors.Is(<-ioDone, syscall.EIO), "the IO that waited fails")
	_, err := f.ReadAt(make([]byte, 4), 0)
	require.True(t, errors.Is(err, syscall.EIO), "new IO fails fast: %v", err)
}

// A datastore in APD past its timeout, whose server is back, is restored
// by Reset at once: the redial hanging on the silent server and the
// ReconnectInterval are not waited for (the clock does not move), IO
// flows again with the same handle, and no APD timer is left.
func TestResetRestoresAPD(t *testing.T) {
	l := newTestLab(t, apdConfig)
	events := l.subscribe(t)
	d := l.add(t)
	ctx := ctxT(t)
	f, err := d.Open(ctx, "disk.vmdk", os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("data"), 0)
	require.NoError(t, err)
	t0 := l.clk.Now()
	toAPD(t, l, events, f)

	l.Peers["cvm-a"].SetPowered(true)
	serveOn(t, l.Peers["cvm-a"], l.servers["cvm-a"])
	now := l.clk.Now()
	require.NoError(t, l.m.Reset(ctx))
	assert.Equal(t, now, l.clk.Now())
	assert.Equal(t, Accessible, d.State())
	e := next(t, events, EventReconnected)
	assert.Equal(t, "cvm-a", e.Target)
	restored := next(t, events, EventRestored)
	assert.Equal(t, now.Sub(t0.Add(25*time.Second)), restored.Outage, "the outage counts from the start of the APD")

	buf := make([]byte, 4)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err, "the same handle works after the reset")
	assert.Equal(t, "data", string(buf))

	// No APD timer fires later, and the datastore stays accessible.
	l.clk.Advance(apdConfig.APDTimeout)
	select {
	case e := <-events:
		if e.Kind == EventAPDTimeout || e.Kind == EventAPD {
			t.Fatalf("unexpected %s after the reset", e.Kind)
		}
	default:
	}
	assert.Equal(t, Accessible, d.State())
}

// A healthy datastore is not touched: Reset returns at once, nothing is
// dialled, no event.
func TestResetHealthyUntouched(t *testing.T) {
	l := newTestLab(t, Config{})
	d := l.add(t)
	events := l.subscribe(t)
	_, err := d.FSStat(ctxT(t))
	require.NoError(t, err)
	conns := len(l.connects("cvm-a", 2049))
	require.NoError(t, l.m.Reset(ctxT(t)))
	assert.Len(t, l.connects("cvm-a", 2049), conns)
	select {
	case e := <-events:
		t.Fatalf("unexpected event %+v", e)
	default:
	}
	_, err = d.FSStat(ctxT(t))
	require.NoError(t, err)
	assert.Len(t, l.connects("cvm-a", 2049), conns, "the same connection serves")
}

// A datastore that waits out ReconnectInterval after a server that reset
// its connection (Stargate down) dials again at once when Reset comes: the
// clock never moves in this test, so a second attempt can only come from
// the kick. Once the server is back, Reset returns with the datastore
// connected and the IO that waited goes on.
func TestResetCutsReconnectWait(t *testing.T) {
	l := newTestLab(t, Config{HeartbeatFrequency: time.Hour, ReconnectInterval: 100 * time.Second})
	events := l.subscribe(t)
	d := l.add(t)
	ctx := ctxT(t)
	srv := l.servers["cvm-a"]
	srv.SetMode(nfs.Down)
	io := make(chan error, 1)
	go func() {
		_, err := d.FSStat(ctx)
		io <- err
	}()
	refused := func(n int) func() bool { return func() bool { return l.count(nfs.EventRefused) >= n } }
	// The server resets the redial; the next attempt would wait 100 s.
	require.Eventually(t, refused(1), 10*time.Second, time.Millisecond)

	first := make(chan error, 1)
	go func() { first <- l.m.Reset(ctx) }()
	require.Eventually(t, refused(2), 10*time.Second, time.Millisecond, "Reset did not cut the wait")

	// The second attempt was refused too, and waits again; a second Reset,
	// with the server back, connects.
	srv.SetMode(nfs.Up)
	now := l.clk.Now()
	require.NoError(t, l.m.Reset(ctx))
	require.NoError(t, <-first)
	assert.Equal(t, now, l.clk.Now())
	require.NoError(t, <-io, "the IO that waited went on")
	next(t, events, EventReconnected)
	assert.Equal(t, Accessible, d.State())
}

// When ctx ends first Reset says so; the datastore stays inaccessible,
// with a fresh APD timer: IO no longer fails fast, and fails again one
// APDTimeout after the reset.
func TestResetContextEnds(t *testing.T) {
	l := newTestLab(t, apdConfig)
	events := l.subscribe(t)
	d := l.add(t)
	ctx := ctxT(t)
	f, err := d.Open(ctx, "disk.vmdk", os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	toAPD(t, l, events, f)

	rctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, l.m.Reset(rctx), context.Canceled)
	assert.Equal(t, Inaccessible, d.State())
	d.mu.Lock()
	expired, armed := d.apdExpired, d.apdTimer != nil
	d.mu.Unlock()
	assert.False(t, expired, "IO waits for the server again")
	assert.True(t, armed, "the APD timer starts again")

	l.clk.Advance(apdConfig.APDTimeout)
	next(t, events, EventAPDTimeout)
	_, err = f.ReadAt(make([]byte, 4), 0)
	assert.True(t, errors.Is(err, syscall.EIO), "%v", err)
}
