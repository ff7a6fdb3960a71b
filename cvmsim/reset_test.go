package cvmsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
)

// nfsLog collects the Stargates' NFS events.
type nfsLog struct {
	mu sync.Mutex
	ev []nfs.Event
}

func (l *nfsLog) add(e nfs.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, e)
}

func (l *nfsLog) of(server string, typ nfs.EventType) []nfs.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []nfs.Event
	for _, e := range l.ev {
		if e.Server == server && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func withNFSLog(l *nfsLog) labOpt { return func(c *Config) { c.OnNFSEvent = l.add } }

// drain returns the events pending on ch, in order.
func drain(ch <-chan Event) []Event {
	var out []Event
	for {
		select {
		case e := <-ch:
			out = append(out, e)
		default:
			return out
		}
	}
}

func kindsDetails(evs []Event) [][2]string {
	var out [][2]string
	for _, e := range evs {
		out = append(out, [2]string{e.Kind, e.Detail})
	}
	return out
}

// A powered-off CVM is up and initialised as soon as Reset returns, with
// the boot sequence's events saying "reset", no boot timer left behind,
// the boot counter of its first boot, and NFS served.
func TestResetPoweredOff(t *testing.T) {
	l := newLab(t)
	a, host := l.cvms[0], l.hosts[0]
	ev := events(t, a)
	a.Reboot() // boot 2
	l.clk.Advance(time.Hour)
	waitEvent(t, ev, EventBooted)
	a.PowerOff()
	drain(ev)

	a.Reset()
	assert.Equal(t, PowerUp, a.Power())
	assert.True(t, a.Ready())
	assert.True(t, a.Reachable())
	assert.Equal(t, StargateUp, a.StargateState())
	assert.Equal(t, [][2]string{
		{EventPowerOn, "reset"}, {EventNetworkUp, "reset"}, {EventStargateUp, "reset"}, {EventBooted, "reset"},
	}, kindsDetails(drain(ev)))
	p := a.StatusPage()
	assert.Equal(t, 1, p.Boot)
	assert.True(t, p.Initialised)
	assert.Equal(t, int64((DefaultInitAfter-DefaultStargateAfter)/time.Second), p.UptimeSecs, "as Start leaves it")

	conn, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNull(conn, 5*time.Second))
	require.NoError(t, ping(host, "192.168.5.2"))

	// No boot step of the cancelled sequence fires later.
	l.clk.Advance(time.Hour)
	noEvent(t, ev)
	assert.True(t, a.Ready())
}

// A booting CVM skips the rest of its boot: only the steps not yet taken
// are reported, and the pending timers are cancelled.
func TestResetDuringBoot(t *testing.T) {
	l := newLab(t)
	a, host := l.cvms[0], l.hosts[0]
	ev := events(t, a)
	a.PowerOff()
	a.PowerOn()
	l.clk.Advance(30 * time.Second)
	waitEvent(t, ev, EventNetworkUp)
	drain(ev)

	a.Reset()
	assert.Equal(t, [][2]string{{EventStargateUp, "reset"}, {EventBooted, "reset"}}, kindsDetails(drain(ev)))
	assert.True(t, a.Ready())
	assert.Equal(t, 1, a.StatusPage().Boot)
	conn, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNull(conn, 5*time.Second))
	l.clk.Advance(time.Hour)
	noEvent(t, ev)

	// Booting past Stargate's start: only booted is left.
	a.Reboot()
	l.clk.Advance(DefaultStargateAfter)
	waitEvent(t, ev, EventStargateUp)
	drain(ev)
	a.Reset()
	assert.Equal(t, [][2]string{{EventBooted, "reset"}}, kindsDetails(drain(ev)))
	l.clk.Advance(time.Hour)
	noEvent(t, ev)
}

// A healthy CVM is not disturbed: no event, its NFS session stays and
// answers on the same connection, no NFS event either. Only the boot
// counter goes back to the first boot's.
func TestResetHealthyUndisturbed(t *testing.T) {
	var nl nfsLog
	l := newLab(t, withNFSLog(&nl))
	a, host := l.cvms[0], l.hosts[0]
	ev := events(t, a)
	a.Reboot()
	l.clk.Advance(time.Hour)
	waitEvent(t, ev, EventBooted)
	require.True(t, a.Ready())
	require.Equal(t, 2, a.StatusPage().Boot)
	conn, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNull(conn, 5*time.Second))
	sess := a.NFS().Sessions()
	require.Len(t, sess, 1)
	drain(ev)
	nl.mu.Lock()
	before := len(nl.ev)
	nl.mu.Unlock()

	a.Reset()
	noEvent(t, ev)
	assert.Equal(t, sess, a.NFS().Sessions())
	require.NoError(t, nfsNull(conn, 5*time.Second), "the same connection still serves")
	nl.mu.Lock()
	assert.Len(t, nl.ev, before, "no NFS event: %v", nl.ev[before:])
	nl.mu.Unlock()
	assert.Equal(t, 1, a.StatusPage().Boot)
}

// A mode set on the nfs.Server itself, behind the CVM's back, is undone
// too: after Reset Stargate serves.
func TestResetUndoesDirectNFSMode(t *testing.T) {
	l := newLab(t)
	a, host := l.cvms[0], l.hosts[0]
	a.NFS().SetMode(nfs.Hung)
	a.Reset()
	assert.Equal(t, nfs.Up, a.NFS().Mode())
	conn, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNull(conn, 5*time.Second))
}

// A Stargate fault is cleared: the CVM stays up (no power or boot event),
// Stargate serves again, the status page port listens again.
func TestResetClearsStargateFault(t *testing.T) {
	l := newLab(t)
	a, host, peer := l.cvms[0], l.hosts[0], l.cvms[1].Node()
	ev := events(t, a)
	hc := statusClient(peer)
	url := "http://192.168.1.27:2009/h/status"

	a.SetStargate(StargateDown)
	waitEvent(t, ev, EventStargateDown)
	a.Reset()
	assert.Equal(t, [][2]string{{EventStargateUp, "reset"}}, kindsDetails(drain(ev)))
	assert.Equal(t, StargateUp, a.StargateFault())
	_, code, err := getStatus(context.Background(), hc, url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	conn, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNull(conn, 5*time.Second))

	// Hung: the session accepted meanwhile is answered after the reset.
	a.SetStargate(StargateHung)
	waitEvent(t, ev, EventStargateHung)
	require.ErrorIs(t, nfsNull(conn, 20*time.Millisecond), os.ErrDeadlineExceeded)
	a.Reset()
	assert.Equal(t, [][2]string{{EventStargateUp, "reset"}}, kindsDetails(drain(ev)))
	assert.Equal(t, StargateUp, a.StargateState())
	_, code, err = getStatus(context.Background(), hc, url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)

	// A standing fault on a CVM that is off is cleared too.
	a.SetStargate(StargateDown)
	a.PowerOff()
	drain(ev)
	a.Reset()
	assert.Equal(t, [][2]string{
		{EventPowerOn, "reset"}, {EventNetworkUp, "reset"}, {EventStargateUp, "reset"}, {EventBooted, "reset"},
	}, kindsDetails(drain(ev)))
	assert.Equal(t, StargateUp, a.StargateState())
}

// The CVM's own routing table goes back to its configuration, on a healthy
// CVM too (silently).
func TestResetRestoresRoutes(t *testing.T) {
	l := newLab(t)
	a := l.cvms[0]
	want := a.Routes().Static()
	require.Len(t, want, 1, "the default gateway")
	require.NoError(t, a.Routes().Add(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParseAddr("192.168.1.1")))
	require.NoError(t, a.Routes().Delete(netip.MustParsePrefix("0.0.0.0/0"), netip.Addr{}))
	ev := events(t, a)
	a.Reset()
	assert.Equal(t, want, a.Routes().Static())
	noEvent(t, ev)
}

// postTerminate sends the NfsTerminateConnection RPC and returns the
// status code and the decoded body.
func postTerminate(ctx context.Context, hc *http.Client, base, body string) (int, map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+PathTerminateRPC, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, m, nil
}

// The NfsTerminateConnection RPC on the modelled status port: the named
// client's sessions are closed with FIN and counted; the event log shows
// the request; bad requests are 400 with a JSON error.
func TestTerminateRPC(t *testing.T) {
	var nl nfsLog
	l := newLab(t, withNFSLog(&nl))
	a, host := l.cvms[0], l.hosts[0]
	hc := statusClient(l.cvms[1].Node())
	base := "http://192.168.1.27:2009"
	ctx := context.Background()

	var conns []net.Conn
	for range 2 {
		c, err := dial(host, "192.168.5.2:2049")
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, nfsNull(c, 5*time.Second))
		conns = append(conns, c)
	}
	require.Len(t, a.NFS().Sessions(), 2)

	code, body, err := postTerminate(ctx, hc, base, `{"client_ip": "192.168.5.1"}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{"terminated": float64(2)}, body)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "FIN, not RST")
	}
	assert.Empty(t, a.NFS().Sessions())
	terms := nl.of(a.Name(), nfs.EventTerminate)
	require.Len(t, terms, 1)
	assert.Equal(t, netip.MustParseAddrPort("192.168.5.1:0"), terms[0].Client)
	assert.Equal(t, "2 connection(s)", terms[0].Detail)
	assert.Len(t, nl.of(a.Name(), nfs.EventDisconnect), 2)

	// Nobody from there: 0, not an error.
	code, body, err = postTerminate(ctx, hc, base, `{"client_ip": "192.168.1.24"}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{"terminated": float64(0)}, body)
	assert.Len(t, nl.of(a.Name(), nfs.EventTerminate), 2)

	for _, bad := range []string{`{"client_ip": "192.168.1"}`, `{"client_ip": ""}`, `{}`, `not json`, `["192.168.5.1"]`, `{"client_ip": "192.168.5.1"} {}`} {
		code, body, err = postTerminate(ctx, hc, base, bad)
		require.NoError(t, err, bad)
		assert.Equal(t, http.StatusBadRequest, code, bad)
		assert.NotEmpty(t, body["error"], bad)
	}
	assert.Len(t, nl.of(a.Name(), nfs.EventTerminate), 2, "a bad request terminates nothing")

	resp, err := hc.Get(base + PathTerminateRPC)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "POST", resp.Header.Get("Allow"))

	// Down: the port refuses. Hung: never answered.
	a.SetStargate(StargateDown)
	_, _, err = postTerminate(ctx, hc, base, `{"client_ip": "192.168.5.1"}`)
	require.ErrorIs(t, err, fabric.ErrConnRefused)
	a.SetStargate(StargateHung)
	hctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err = postTerminate(hctx, hc, base, `{"client_ip": "192.168.5.1"}`)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Len(t, nl.of(a.Name(), nfs.EventTerminate), 2)
}

// The real loopback status port has the same RPC; there a down Stargate
// answers 503 with a JSON error.
func TestTerminateRPCLoopback(t *testing.T) {
	l := newLab(t, func(c *Config) {
		if c.Host == "NTNX-BLOCK1-A" {
			c.StatusAddr = DefaultAddr
		}
	})
	a, host := l.cvms[0], l.hosts[0]
	base := "http://" + a.StatusAddr().String()
	ctx := context.Background()
	c, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, nfsNull(c, 5*time.Second))

	code, body, err := postTerminate(ctx, http.DefaultClient, base, `{"client_ip": "192.168.5.1"}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{"terminated": float64(1)}, body)

	a.SetStargate(StargateDown)
	code, body, err = postTerminate(ctx, http.DefaultClient, base, `{"client_ip": "192.168.5.1"}`)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "Stargate is not running", body["error"])
}

// Reset must take well under a millisecond: a lab resets every node of a
// cluster within 10 ms.
func BenchmarkReset(b *testing.B) {
	b.Run("healthy", func(b *testing.B) {
		a := newLab(b).cvms[0]
		for b.Loop() {
			a.Reset()
		}
	})
	b.Run("off", func(b *testing.B) {
		a := newLab(b).cvms[0]
		for b.Loop() {
			b.StopTimer()
			a.PowerOff()
			b.StartTimer()
			a.Reset()
		}
	})
	b.Run("stargate-hung", func(b *testing.B) {
		a := newLab(b).cvms[0]
		for b.Loop() {
			b.StopTimer()
			a.SetStargate(StargateHung)
			b.StartTimer()
			a.Reset()
		}
	})
}
