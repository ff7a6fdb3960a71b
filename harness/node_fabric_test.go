package harness

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
)

// Seed 001 across three processes joined by the cross-process fabric:
// host A mounts ctr1 from CVM A's process; the operator's host route on
// host A moves its NFS flow out of vmk0 to CVM B, whose process — which
// models 192.168.5.2 once per host — serves it with the source 192.168.1.24;
// CVM A's process sees the old session end. Then CVM B's process goes away
// (its lab closes) and host A's peer watch powers CVM B off in its model.
func TestNodesSeed001AcrossProcesses(t *testing.T) {
	lns := map[string]net.Listener{}
	given := map[string]string{}
	for _, svc := range []string{"esxi-a", "cvm-a", "cvm-b"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[svc] = ln
		given[svc] = ln.Addr().String()
	}
	peers := peersAt(given)
	store := t.TempDir()
	opts := func(svc string) NodeOptions {
		// Scaled time: host A's NFS heartbeat (12 s) finds the reset
		// flow sooner.
		return NodeOptions{Options: Options{NoWorkload: true, Clock: clock.Scaled(0.1)}, FabricListener: lns[svc], Peers: peers,
			StoreDir: store, WatchEvery: 50 * time.Millisecond}
	}
	cvmA := newNode(t, "cvm-a", opts("cvm-a"))
	cvmB, err := NewNode(Default(), "cvm-b", withKeyring(opts("cvm-b")))
	require.NoError(t, err)
	closedB := false
	t.Cleanup(func() {
		if !closedB {
			cvmB.Close()
		}
	})
	host := newNode(t, "esxi-a", opts("esxi-a"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := host.Host("NTNX-BLOCK1-A")
	accessible := func() bool {
		d, ok := h.Datastores().Get("ctr1")
		return ok && d.Info().Accessible
	}
	require.NoError(t, host.WaitUntil(ctx, accessible), "host A mounts ctr1 from CVM A's process")
	clients := func(l *Lab, ref string) []string {
		v, err := l.CVMView(ref)
		require.NoError(t, err)
		var out []string
		for _, s := range v.Sessions {
			out = append(out, strings.Split(s.Client, ":")[0])
		}
		return out
	}
	require.Contains(t, clients(cvmA, "a"), "192.168.5.1")

	defer func() {
		if t.Failed() {
			for _, l := range []*Lab{host, cvmA, cvmB} {
				for _, e := range l.Events.Events() {
					t.Logf("%s %s %s %s %s", e.Time.Format("15:04:05.000"), e.Node, e.Kind, e.Detail, e.Error)
				}
			}
		}
	}()
	require.NoError(t, host.AddRoute("NTNX-BLOCK1-A", "", "192.168.5.2/32", "192.168.1.28"))
	require.NoError(t, cvmB.WaitUntil(ctx, func() bool {
		for _, c := range clients(cvmB, "b") {
			if c == "192.168.1.24" {
				return true
			}
		}
		return false
	}), "CVM B's process serves host A's NFS, from vmk0's address")
	require.NoError(t, host.WaitUntil(ctx, accessible), "and the datastore stays (or is again) accessible")
	require.NoError(t, cvmA.WaitUntil(ctx, func() bool {
		for _, c := range clients(cvmA, "a") {
			if c == "192.168.5.1" {
				return false
			}
		}
		return true
	}), "CVM A's process sees the reset session end")

	// CVM B's process goes away: host A's model powers CVM B off.
	ph := host.placeholders["NTNX-BLOCK1-B-CVM"]
	require.NotNil(t, ph)
	require.True(t, ph.Powered())
	require.NoError(t, cvmB.Close())
	closedB = true
	require.NoError(t, host.WaitUntil(ctx, func() bool { return !ph.Powered() }), "the peer watch sees CVM B's process gone")
	assert.True(t, host.placeholders["NTNX-BLOCK1-A-CVM"].Powered())
}

func withKeyring(o NodeOptions) NodeOptions {
	if o.Keyring == nil {
		o.Keyring = testKeyring
	}
	return o
}
