package datastore

import (
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/nfs"
)

var (
	cvm2      = netip.MustParsePrefix("192.168.5.2/32")
	cvmBPub   = netip.MustParseAddr("192.168.1.28")
	defaultNS = vmkernel.DefaultNetstack
)

// Seed 001: a host route to 192.168.5.2 via CVM B's public address moves
// the NFS flow to vmk0 (source 192.168.1.24); the fabric resets it and the
// datastore reconnects to CVM B and goes on with the same file handle,
// without mounting again. Deleting the route brings it back to CVM A.
func TestRouteChangeKeepsHandles(t *testing.T) {
	l := newTestLab(t, Config{})
	events := l.subscribe(t)
	d := l.add(t)
	ctx := ctxT(t)
	f, err := d.Open(ctx, "disk.vmdk", os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("before"), 0)
	require.NoError(t, err)
	mounts := l.count(nfs.EventMount)

	require.NoError(t, l.Host.AddRoute(defaultNS, cvm2, cvmBPub))
	buf := make([]byte, 6)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	assert.Equal(t, "before", string(buf))
	_, err = f.WriteAt([]byte("during"), 0)
	require.NoError(t, err)

	b := l.connects("cvm-b", 2049)
	require.Len(t, b, 1, "CVM B accepted the reconnection")
	assert.Equal(t, "192.168.1.24", b[0].Addr().String())
	e := next(t, events, EventReconnected)
	assert.Equal(t, "vmk0", e.Egress)
	assert.Equal(t, "cvm-b", e.Target)

	require.NoError(t, l.Host.DeleteRoute(defaultNS, cvm2, cvmBPub))
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	assert.Equal(t, "during", string(buf))
	e = next(t, events, EventReconnected)
	assert.Equal(t, "vmk1", e.Egress)
	assert.Equal(t, "cvm-a", e.Target)
	a := l.connects("cvm-a", 2049)
	assert.Equal(t, "192.168.5.1", a[len(a)-1].Addr().String())

	assert.Equal(t, mounts, l.count(nfs.EventMount), "no MOUNT after the mount")
	assert.Equal(t, Accessible, d.State())
}

// next returns the next event of kind, skipping others.
func next(t *testing.T, ch <-chan Event, kind string) Event {
	t.Helper()
	ctx := ctxT(t)
	for {
		select {
		case e := <-ch:
			if e.Kind == kind {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", kind)
		}
	}
}

// BenchmarkRouteChangeToFirstRead measures a route change (seed 001's
// host route added or deleted) to the first successful READ on the new
// path: reset, reconnect, re-sent READ.
func BenchmarkRouteChangeToFirstRead(b *testing.B) {
	l := newBenchLab(b)
	d, err := l.m.Add(ctxT(b), "ctr1", "192.168.5.2", "/ctr1", false)
	if err != nil {
		b.Fatal(err)
	}
	ctx := ctxT(b)
	f, err := d.Open(ctx, "disk.vmdk", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 0); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.ResetTimer()
	for i := range b.N {
		var err error
		if i%2 == 0 {
			err = l.Host.AddRoute(defaultNS, cvm2, cvmBPub)
		} else {
			err = l.Host.DeleteRoute(defaultNS, cvm2, cvmBPub)
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.ReadAt(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFailoverRouteToFirstRead is seed 001's failover as the emulator
// sees it: CVM A is powered off (host A's NFS flow is blackholed), the
// autopath adds 192.168.5.2/32 via CVM B, and the host's next READ must
// succeed through CVM B. Timed: from the route add to that READ's answer.
// Power-on and route removal between iterations are not timed.
func BenchmarkFailoverRouteToFirstRead(b *testing.B) {
	l := newBenchLab(b)
	d, err := l.m.Add(ctxT(b), "ctr1", "192.168.5.2", "/ctr1", false)
	if err != nil {
		b.Fatal(err)
	}
	ctx := ctxT(b)
	f, err := d.Open(ctx, "disk.vmdk", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 0); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	cvmA := l.Peers["cvm-a"]
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		cvmA.SetPowered(false)
		b.StartTimer()
		if err := l.Host.AddRoute(defaultNS, cvm2, cvmBPub); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ReadAt(buf, 0); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cvmA.SetPowered(true)
		l.startServer(b, "cvm-a", clusterWhitelist)
		if err := l.Host.DeleteRoute(defaultNS, cvm2, cvmBPub); err != nil {
			b.Fatal(err)
		}
		if _, err := f.ReadAt(buf, 0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
