package cvmsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
)

// Stargate down: NFS connections are refused (reset at once, the nfs
// server's Down mode) and open ones are closed; the status page port
// refuses. Hung: connections are accepted and nothing ever answers. Up
// again: served.
func TestStargateFaults(t *testing.T) {
	l := newLab(t)
	a, host := l.cvms[0], l.hosts[0]
	ev := events(t, a)
	open, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer open.Close()
	require.NoError(t, nfsNull(open, 5*time.Second))

	a.SetStargate(StargateDown)
	assert.Equal(t, reasonFault, waitEvent(t, ev, EventStargateDown).Detail)
	assert.Equal(t, StargateDown, a.StargateState())
	assert.True(t, a.Ready(), "a Stargate fault does not unboot the CVM")
	require.Error(t, nfsNull(open, 5*time.Second), "the open session is closed")
	c, err := dial(host, "192.168.5.2:2049")
	if err == nil {
		err = nfsNull(c, 5*time.Second)
		c.Close()
	}
	require.ErrorIs(t, err, fabric.ErrConnReset)
	_, err = dial(host, "192.168.5.2:2009")
	require.ErrorIs(t, err, fabric.ErrConnRefused)
	out, _, _ := run(t, a, "cluster status")
	assert.Regexp(t, `\n {28}Stargate   DOWN     \[\]\n`, out)

	a.SetStargate(StargateHung)
	waitEvent(t, ev, EventStargateHung)
	c, err = dial(host, "192.168.5.2:2049")
	require.NoError(t, err, "a hung Stargate accepts")
	defer c.Close()
	require.ErrorIs(t, nfsNull(c, 50*time.Millisecond), os.ErrDeadlineExceeded)
	out, _, _ = run(t, a, "cluster status")
	assert.NotContains(t, out, "DOWN", "a hung Stargate still runs")

	a.SetStargate(StargateUp)
	waitEvent(t, ev, EventStargateUp)
	c2, err := dial(host, "192.168.5.2:2049")
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, nfsNull(c2, 5*time.Second))

	// The fault stands across a reboot until cleared.
	a.SetStargate(StargateDown)
	a.Reboot()
	l.clk.Advance(time.Hour)
	waitEvent(t, ev, EventBooted)
	assert.Equal(t, StargateDown, a.StargateState())
	_, err = dial(host, "192.168.5.2:2009")
	require.ErrorIs(t, err, fabric.ErrConnRefused)
	_, _, code := run(t, a, "cluster start")
	require.Equal(t, 0, code)
	assert.Equal(t, StargateUp, a.StargateState())
}

// Autopathing's premise (seed 001): host B's NFS to 192.168.5.2 routed
// over vmk0 to CVM A's public address is served by CVM A, which sees the
// modelled client address 192.168.1.25, and netstat -a shows the session.
func TestAcceptAnyServesAndNetstatShowsClient(t *testing.T) {
	l := newLab(t)
	a := l.cvms[0]
	l.cvms[1].PowerOff()
	require.NoError(t, l.rts[1].Add(netip.MustParsePrefix("192.168.5.2/32"), netip.MustParseAddr("192.168.1.27")))
	c, err := dial(l.hosts[1], "192.168.5.2:2049")
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, nfsNull(c, 5*time.Second))
	sess := a.NFS().Sessions()
	require.Len(t, sess, 1)
	assert.Equal(t, "192.168.1.25", sess[0].Remote.Addr().String())
	assert.Equal(t, "192.168.5.2:2049", sess[0].Local.String())

	out, _, code := run(t, a, "netstat -a | grep 192.168.5.2")
	require.Equal(t, 0, code)
	want := "tcp        0      0 192.168.5.2:nfs         " + padRight(sess[0].Remote.String(), 23) + " ESTABLISHED\n"
	assert.Equal(t, want, out)
}

func padRight(s string, n int) string { return s + strings.Repeat(" ", max(n-len(s), 0)) }

// statusClient is an HTTP client whose connections are fabric flows from
// node.
func statusClient(node *fabric.Node) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return node.Dial(ctx, netip.MustParseAddrPort(addr), fabric.DialOptions{})
		},
	}}
}

func getStatus(ctx context.Context, hc *http.Client, url string) (StatusPage, int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return StatusPage{}, 0, err
	}
	defer resp.Body.Close()
	var p StatusPage
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &p)
	return p, resp.StatusCode, nil
}

// Genesis on CVM B checks CVM A's Stargate over the modelled network:
// up (200, initialised or not), down (connection refused), hung (no
// answer until the checker gives up).
func TestStatusPageOverFabric(t *testing.T) {
	l := newLab(t)
	a, peer := l.cvms[0], l.cvms[1].Node()
	ev := events(t, a)
	hc := statusClient(peer)
	url := "http://192.168.1.27:2009/h/status"
	ctx := context.Background()

	p, code, err := getStatus(ctx, hc, url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, StatusPage{CVM: "NTNX-BLOCK1-A-CVM", IP: "192.168.1.27", State: "up", Initialised: true,
		StartTime: "2024-03-14 09:25:53Z", UptimeSecs: 60, Boot: 1}, p)

	req, _ := http.NewRequest(http.MethodGet, "http://192.168.1.27:2009/", nil)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(page), "Status:       up\n")

	// Booting, Stargate started, not initialised.
	a.Reboot()
	l.clk.Advance(90 * time.Second)
	waitEvent(t, ev, EventStargateUp)
	p, code, err = getStatus(ctx, hc, url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.False(t, p.Initialised)
	assert.Equal(t, int64(30), p.UptimeSecs)
	assert.Equal(t, 2, p.Boot)

	a.SetStargate(StargateDown)
	_, _, err = getStatus(ctx, hc, url)
	require.ErrorIs(t, err, fabric.ErrConnRefused)

	a.SetStargate(StargateHung)
	waitEvent(t, ev, EventStargateHung)
	hctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err = getStatus(hctx, hc, url)
	cancel()
	require.True(t, errors.Is(err, context.DeadlineExceeded), "hung: %v", err)

	// A hung request in flight is answered once Stargate recovers.
	got := make(chan int, 1)
	go func() {
		_, code, _ := getStatus(ctx, hc, url)
		got <- code
	}()
	// The request reaches the handler before the fault clears or after:
	// either way it ends with 200.
	a.SetStargate(StargateUp)
	select {
	case code := <-got:
		assert.Equal(t, http.StatusOK, code)
	case <-time.After(10 * time.Second):
		t.Fatal("hung request never answered after recovery")
	}

	// Off: the SYN goes unanswered until the checker gives up.
	a.PowerOff()
	hctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err = getStatus(hctx, hc, url)
	cancel()
	require.True(t, errors.Is(err, context.DeadlineExceeded), "off: %v", err)
}

// The real loopback status page and NFS port for people.
func TestRealListeners(t *testing.T) {
	l := newLab(t, func(c *Config) {
		if c.Host == "NTNX-BLOCK1-A" {
			c.StatusAddr, c.NFSAddr = DefaultAddr, DefaultAddr
		}
	})
	a := l.cvms[0]
	url := "http://" + a.StatusAddr().String() + "/h/status"
	p, code, err := getStatus(context.Background(), http.DefaultClient, url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "up", p.State)

	c, err := net.Dial("tcp", a.NFSAddr().String())
	require.NoError(t, err)
	require.NoError(t, nfsNull(c, 5*time.Second))
	c.Close()

	a.PowerOff()
	_, code, err = getStatus(context.Background(), http.DefaultClient, url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	// The reset may arrive before connect returns, or on the first call.
	c, err = net.Dial("tcp", a.NFSAddr().String())
	if err != nil {
		require.ErrorIs(t, err, syscall.ECONNRESET)
		return
	}
	require.Error(t, nfsNull(c, 5*time.Second), "Stargate is not running: reset")
	c.Close()
}
