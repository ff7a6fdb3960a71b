package datastore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A powered-off CVM blackholes the flow: heartbeats go unanswered, the
// datastore enters APD after HeartbeatMaxFailures of them, IO waits and
// fails after the APD timeout; after power-on the connection comes back
// and the datastore is restored.
func TestPowerOffAPDAndRestore(t *testing.T) {
	cfg := Config{
		HeartbeatFrequency: 10 * time.Second, HeartbeatTimeout: 5 * time.Second, HeartbeatMaxFailures: 2,
		APDTimeout: 30 * time.Second, ReconnectInterval: 100 * time.Second,
	}
	l := newTestLab(t, cfg)
	events := l.subscribe(t)
	d := l.add(t)
	ctx := ctxT(t)
	f, err := d.Open(ctx, "disk.vmdk", os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("data"), 0)
	require.NoError(t, err)
	t0 := l.clk.Now()

	l.Peers["cvm-a"].SetPowered(false)
	ioDone := make(chan error, 1)
	go func() {
		_, err := f.ReadAt(make([]byte, 4), 0)
		ioDone <- err
	}()

	l.clk.Advance(10 * time.Second) // heartbeat 1
	blockUntil(t, l, 2)
	l.clk.Advance(5 * time.Second) // it times out; its connection is reset, a redial hangs
	blockUntil(t, l, 2)
	l.clk.Advance(5 * time.Second) // heartbeat 2
	blockUntil(t, l, 3)
	l.clk.Advance(5 * time.Second) // fails: APD
	e := next(t, events, EventAPD)
	assert.Equal(t, t0.Add(25*time.Second), e.Time)
	assert.Equal(t, Inaccessible, d.State())
	assert.Equal(t, Info{Name: "ctr1", Host: "192.168.5.2", Share: "/ctr1", Accessible: false, Mounted: true,
		UUID: d.UUID(), State: Inaccessible}, d.Info())
	log := string(l.Host.Log().Bytes())
	assert.Contains(t, log, fmt.Sprintf(")WARNING: NFS: 337: Lost connection to the server 192.168.5.2 mount point /ctr1, mounted as %s (\"ctr1\")\n", d.UUID()))
	assert.Contains(t, log, fmt.Sprintf(")StorageApdHandler: 846: APD Start for ident [%s]!\n", d.UUID()[:17]))

	l.clk.Advance(29 * time.Second)
	select {
	case err := <-ioDone:
		t.Fatalf("IO ended before the APD timeout: %v", err)
	default:
	}
	l.clk.Advance(time.Second)
	select {
	case err = <-ioDone:
	case <-ctx.Done():
		t.Fatal("IO still blocked after the APD timeout")
	}
	assert.True(t, errors.Is(err, syscall.EIO), "%v", err)
	next(t, events, EventAPDTimeout)
	_, err = f.ReadAt(make([]byte, 4), 0)
	assert.True(t, errors.Is(err, syscall.EIO), "new IO fails fast: %v", err)

	l.Peers["cvm-a"].SetPowered(true)
	serveOn(t, l.Peers["cvm-a"], l.servers["cvm-a"])
	// The redial that hung since the first heartbeat failed gives up at
	// t0+115 s and the next one connects; the next heartbeat restores.
	l.clk.Advance(t0.Add(115 * time.Second).Sub(l.clk.Now()))
	e = next(t, events, EventReconnected)
	assert.Equal(t, "cvm-a", e.Target)
	// A heartbeat under way (started while the connection was down, or
	// on the new one) restores the datastore when it is answered, in real
	// time: moving the clock past its timeout before that would fail it.
	// Once none is under way, either one of them restored the datastore
	// or the next heartbeat, HeartbeatFrequency on, does.
	require.Eventually(t, func() bool { return d.heartbeatsLive() == 0 }, 20*time.Second, time.Millisecond)
	if d.State() != Accessible {
		l.clk.Advance(cfg.HeartbeatFrequency)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("now %v\n%s", l.clk.Since(t0), l.Host.Log().Bytes())
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, e := range l.srvEvents {
				t.Logf("%+v", e)
			}
		}
	})
	restored := next(t, events, EventRestored)
	assert.GreaterOrEqual(t, restored.Outage, 90*time.Second)
	assert.Equal(t, Accessible, d.State())
	var line string
	for _, s := range l.Host.Log().Lines() {
		if strings.Contains(s, "Restored connection") {
			line = s
		}
	}
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z In\(182\) vmkernel: cpu\d+:\d+\)NFS: 340: Restored connection to the server 192\.168\.5\.2 mount point /ctr1, mounted as `+d.UUID()+` \("ctr1"\)$`, line)

	buf := make([]byte, 4)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err, "the same handle works after the outage")
	assert.Equal(t, "data", string(buf))
}

// blockUntil waits for n waiters on the fake clock, and on failure shows
// where the datastore's goroutines are.
func blockUntil(t *testing.T, l *testLab, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.clk.BlockUntilContext(ctx, n); err != nil {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var keep []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "esxisim/datastore.") {
				keep = append(keep, g)
			}
		}
		t.Fatalf("fake clock: waiting for %d waiters: %v\n%s", n, err, strings.Join(keep, "\n\n"))
	}
}
