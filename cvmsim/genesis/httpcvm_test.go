package genesis_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/cvmsim/genesis"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
)

// The URL forms a lab, a compose file or an operator hands over.
func TestNewHTTPCVMURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, status, terminate, err string
	}{
		{in: "http://127.0.0.1:2501/h/status", status: "http://127.0.0.1:2501/h/status", terminate: "http://127.0.0.1:2501/h/rpc/nfs_terminate_connection"},
		{in: "http://cvm-a:2009/h/status", status: "http://cvm-a:2009/h/status", terminate: "http://cvm-a:2009/h/rpc/nfs_terminate_connection"},
		{in: "http://cvm-a:2009", status: "http://cvm-a:2009/h/status", terminate: "http://cvm-a:2009/h/rpc/nfs_terminate_connection"},
		{in: "http://cvm-a:2009/", status: "http://cvm-a:2009/h/status", terminate: "http://cvm-a:2009/h/rpc/nfs_terminate_connection"},
		{in: "cvm-a:2009/h/status", status: "http://cvm-a:2009/h/status", terminate: "http://cvm-a:2009/h/rpc/nfs_terminate_connection"},
		{in: "cvm-a:2009", status: "http://cvm-a:2009/h/status", terminate: "http://cvm-a:2009/h/rpc/nfs_terminate_connection"},
		{in: "https://proxy.example/cvm-a/h/status/", status: "https://proxy.example/cvm-a/h/status", terminate: "https://proxy.example/cvm-a/h/rpc/nfs_terminate_connection"},
		{in: "http://[::1]:2009/h/status", status: "http://[::1]:2009/h/status", terminate: "http://[::1]:2009/h/rpc/nfs_terminate_connection"},
		{in: "", err: "no status URL"},
		{in: "ftp://cvm-a/h/status", err: "want http or https"},
		{in: "http:///h/status", err: "no host"},
		{in: "http://cvm-a:2009/status", err: "the path should end in /h/status"},
		{in: "http://cvm-a:2009/h/status?x=1", err: "nothing more"},
	} {
		c, err := genesis.NewHTTPCVM(genesis.HTTPCVMConfig{Name: cvmA, Host: hostA, PublicIP: ipCVMA, StatusURL: tc.in})
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.status, c.StatusURL(), tc.in)
		assert.Equal(t, tc.terminate, c.TerminateURL(), tc.in)
	}
	_, err := genesis.NewHTTPCVM(genesis.HTTPCVMConfig{Host: hostA, PublicIP: ipCVMA, StatusURL: "http://a"})
	require.ErrorContains(t, err, "no name")
	_, err = genesis.NewHTTPCVM(genesis.HTTPCVMConfig{Name: cvmA, Host: hostA, StatusURL: "http://a"})
	require.ErrorContains(t, err, "no public (eth0) address")

	c, err := genesis.NewHTTPCVM(genesis.HTTPCVMConfig{Name: cvmA, Host: hostA, PublicIP: ipCVMA, StatusURL: "http://a"})
	require.NoError(t, err)
	var _ genesis.CVM = c
	assert.Equal(t, cvmA, c.Name())
	assert.Equal(t, hostA, c.Host())
	assert.Equal(t, ipCVMA, c.PublicIP())
}

func newHTTPCVM(t *testing.T, url string, tweak ...func(*genesis.HTTPCVMConfig)) *genesis.HTTPCVM {
	t.Helper()
	cfg := genesis.HTTPCVMConfig{Name: cvmA, Host: hostA, PublicIP: ipCVMA, StatusURL: url}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := genesis.NewHTTPCVM(cfg)
	require.NoError(t, err)
	return c
}

// What the status page says, and what Genesis makes of it.
func TestHTTPCVMHealthy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		code    int
		body    string
		healthy bool
		err     string
		is      error
	}{
		{name: "up", code: 200, body: `{"cvm":"NTNX-BLOCK1-A-CVM","state":"up","initialised":true}`, healthy: true},
		{name: "booting", code: 200, body: `{"state":"up","initialised":false}`, is: genesis.ErrNotInitialised},
		{name: "down", code: 503, body: "Stargate is not running\n", err: "status page: 503 Service Unavailable"},
		{name: "not found", code: 404, body: "404 page not found\n", err: "status page: 404 Not Found"},
		{name: "not json", code: 200, body: "<html>Stargate</html>", err: "status page: unreadable /h/status"},
		{name: "no initialised", code: 200, body: `{"state":"up"}`, err: "status page: unreadable /h/status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/h/status" {
					t.Errorf("%s %s, want GET /h/status", r.Method, r.URL.Path)
				}
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			ok, err := newHTTPCVM(t, srv.URL+"/h/status").Healthy(context.Background())
			assert.Equal(t, tc.healthy, ok)
			switch {
			case tc.healthy:
				require.NoError(t, err)
			case tc.is != nil:
				require.ErrorIs(t, err, tc.is)
			default:
				require.EqualError(t, err, tc.err)
			}
		})
	}
}

// A CVM that is gone refuses the connection.
func TestHTTPCVMRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	c := newHTTPCVM(t, "http://"+addr+"/h/status")
	ok, err := c.Healthy(context.Background())
	assert.False(t, ok)
	require.ErrorContains(t, err, "connection refused")
	assert.NotContains(t, err.Error(), `Get "`, "genesis.out names the CVM already")
	_, err = c.TerminateNFS(context.Background(), ipHostA)
	require.ErrorContains(t, err, "connection refused")
}

// hungServer accepts requests and never answers them; arrived receives
// each request's path as it reaches the handler.
func hungServer(t *testing.T) (srv *httptest.Server, arrived <-chan string) {
	t.Helper()
	ch := make(chan string, 16)
	release := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- r.URL.Path
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv, ch
}

// A hung Stargate: the request reaches it and nothing comes back. The
// CVM's own Timeout ends the wait (on its clock, here a fake one the test
// advances once the request has arrived), and so does the caller's
// context.
func TestHTTPCVMHung(t *testing.T) {
	t.Parallel()
	srv, arrived := hungServer(t)
	clk := clock.NewFake()
	c := newHTTPCVM(t, srv.URL, func(cfg *genesis.HTTPCVMConfig) { cfg.Clock, cfg.Timeout = clk, 5*time.Second })

	type res struct {
		ok  bool
		err error
	}
	done := make(chan res, 1)
	go func() {
		ok, err := c.Healthy(context.Background())
		done <- res{ok, err}
	}()
	require.Equal(t, "/h/status", <-arrived)
	clk.Advance(5 * time.Second)
	r := <-done
	assert.False(t, r.ok)
	require.EqualError(t, r.err, "status page: timed out after 5s")

	// Genesis' own probe timeout is the caller's context.
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		ok, err := c.Healthy(ctx)
		done <- res{ok, err}
	}()
	<-arrived
	cancel(errors.New("stargate check: timed out after 2s"))
	r = <-done
	assert.False(t, r.ok)
	require.EqualError(t, r.err, "stargate check: timed out after 2s")

	// NfsTerminateConnection on a Stargate that hangs after the check
	// said it was healthy: bounded by Timeout, so that Genesis still has
	// the host's time left to delete the route.
	terr := make(chan error, 1)
	go func() {
		_, err := c.TerminateNFS(context.Background(), ipHostA)
		terr <- err
	}()
	require.Equal(t, "/h/rpc/nfs_terminate_connection", <-arrived)
	clk.Advance(5 * time.Second)
	require.EqualError(t, <-terr, "NfsTerminateConnection: timed out after 5s")
}

// NfsTerminateConnection as docs/conformance.md specifies it, answered
// as cvmsim's status page answers it.
func TestHTTPCVMTerminate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code int
		body string
		n    int
		err  string
	}{
		{name: "closed two", code: 200, body: `{"terminated": 2}`, n: 2},
		{name: "closed none", code: 200, body: `{"terminated": 0}`, n: 0},
		{name: "down", code: 503, body: `{"error": "Stargate is not running"}`, err: "NfsTerminateConnection: 503 Service Unavailable: Stargate is not running"},
		{name: "bad request", code: 400, body: `{"error": "bad client_ip"}`, err: "NfsTerminateConnection: 400 Bad Request: bad client_ip"},
		{name: "no RPC", code: 404, body: "404 page not found\n", err: "NfsTerminateConnection: 404 Not Found"},
		{name: "unreadable", code: 200, body: `{"closed": 2}`, err: `NfsTerminateConnection: unreadable answer "{\"closed\": 2}"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, http.MethodPost, r.Method)
				assert.Equal(t, cvmsim.PathTerminateRPC, r.URL.Path)
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
				var req cvmsim.TerminateRequest
				assert.NoError(t, json.NewDecoder(r.Body).Decode(&req))
				assert.Equal(t, "192.168.1.24", req.ClientIP)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			n, err := newHTTPCVM(t, srv.URL+"/h/status").TerminateNFS(context.Background(), netip.MustParseAddr("::ffff:192.168.1.24"))
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.n, n)
		})
	}
	_, err := newHTTPCVM(t, "http://127.0.0.1:1").TerminateNFS(context.Background(), netip.Addr{})
	require.ErrorContains(t, err, "no client address")
}

// cvmOnItsOwn is a CVM emulator with its real status page and NFS
// listeners on loopback, on a fake clock; events receives its events.
func cvmOnItsOwn(t *testing.T) (c *cvmsim.CVM, clk interface{ Advance(time.Duration) }, events <-chan cvmsim.Event) {
	t.Helper()
	fclk := clock.NewFake()
	nw := fabric.New(fabric.WithClock(fclk))
	c, err := cvmsim.New(nw, cvmsim.Config{
		Name: cvmA, Host: hostA,
		Interfaces: []cvmsim.Interface{
			{Name: "eth0", Segment: "public", Addr: netip.MustParsePrefix("192.168.1.27/24")},
			{Name: "eth1", Segment: hostA + "/vSwitchNutanix", Addr: netip.MustParsePrefix("192.168.5.2/24")},
		},
		Exports:    []nfs.Export{{Path: "/ctr1", Whitelist: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}}},
		StatusAddr: "127.0.0.1:0",
		NFSAddr:    "127.0.0.1:0",
		SSHAddr:    "-",
		ECDSAOnly:  true,
		Timers:     cvmsim.Timers{PingAfter: 10 * time.Second, StargateAfter: 20 * time.Second, InitAfter: 30 * time.Second},
	})
	require.NoError(t, err)
	ch := make(chan cvmsim.Event, 256)
	t.Cleanup(c.Subscribe(func(e cvmsim.Event) { ch <- e }))
	require.NoError(t, c.Start())
	t.Cleanup(func() { c.Close() })
	return c, fclk, ch
}

// awaitCVMEvent waits for an event of kind, skipping others. The timeout
// guards against a hang; events arrive as soon as the fake clock's timers
// run.
func awaitCVMEvent(t *testing.T, ch <-chan cvmsim.Event, kind string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.Kind == kind {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event", kind)
		}
	}
}

// The CVM emulator's real status page, through every state Genesis must
// tell apart.
func TestHTTPCVMOverCVMStatusPage(t *testing.T) {
	t.Parallel()
	cvm, clk, events := cvmOnItsOwn(t)
	c := newHTTPCVM(t, "http://"+cvm.StatusAddr().String()+"/h/status")
	ctx := context.Background()
	healthy := func() error {
		t.Helper()
		ok, err := c.Healthy(ctx)
		assert.Equal(t, err == nil, ok, "healthy exactly when no error")
		return err
	}

	require.NoError(t, healthy(), "up and initialised")

	cvm.SetStargate(cvmsim.StargateDown)
	require.EqualError(t, healthy(), "status page: 503 Service Unavailable")

	cvm.SetStargate(cvmsim.StargateHung)
	awaitCVMEvent(t, events, cvmsim.EventStargateHung)
	// A real timeout: the hung page never answers, so the outcome does
	// not depend on how long the request takes to arrive.
	hung := newHTTPCVM(t, c.StatusURL(), func(cfg *genesis.HTTPCVMConfig) { cfg.Timeout = 200 * time.Millisecond })
	ok, err := hung.Healthy(ctx)
	assert.False(t, ok)
	require.EqualError(t, err, "status page: timed out after 200ms")

	cvm.SetStargate(cvmsim.StargateUp)
	require.NoError(t, healthy(), "recovered")

	cvm.PowerOff()
	require.EqualError(t, healthy(), "status page: 503 Service Unavailable", "off: the real port outlives the CVM")

	cvm.PowerOn()
	require.EqualError(t, healthy(), "status page: 503 Service Unavailable", "booting, Stargate not started")
	clk.Advance(20 * time.Second)
	awaitCVMEvent(t, events, cvmsim.EventStargateUp)
	require.ErrorIs(t, healthy(), genesis.ErrNotInitialised, "Stargate alive, the CVM not fully initialised")
	clk.Advance(10 * time.Second)
	awaitCVMEvent(t, events, cvmsim.EventBooted)
	require.NoError(t, healthy(), "booted")

	cvm.Close()
	require.ErrorContains(t, healthy(), "connection refused", "the CVM's process is gone")
}

// NfsTerminateConnection on the CVM emulator: its Stargate closes the
// client's connections. Over the real loopback NFS port every client is
// 127.0.0.1.
func TestHTTPCVMTerminateOnCVM(t *testing.T) {
	t.Parallel()
	cvm, _, _ := cvmOnItsOwn(t)
	c := newHTTPCVM(t, cvm.StatusAddr().String())
	ctx := context.Background()

	conn, err := net.Dial("tcp", cvm.NFSAddr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, nfsNullCall(conn))
	require.Len(t, cvm.NFS().Sessions(), 1)

	n, err := c.TerminateNFS(ctx, netip.MustParseAddr("192.168.1.24"))
	require.NoError(t, err)
	assert.Equal(t, 0, n, "not a client of this Stargate")

	n, err = c.TerminateNFS(ctx, netip.MustParseAddr("127.0.0.1"))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = conn.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "closed cleanly (FIN), the client reconnects")

	cvm.SetStargate(cvmsim.StargateDown)
	_, err = c.TerminateNFS(ctx, netip.MustParseAddr("127.0.0.1"))
	require.EqualError(t, err, "NfsTerminateConnection: 503 Service Unavailable: Stargate is not running")
}

// nfsNullCall sends an NFSv3 NULL call on c and reads the reply.
func nfsNullCall(c net.Conn) error {
	var call []byte
	for _, v := range []uint32{0x8000_0028, 0x1234, 0, 2, 100003, 3, 0, 0, 0, 0, 0} {
		call = binary.BigEndian.AppendUint32(call, v)
	}
	if _, err := c.Write(call); err != nil {
		return err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:])&0x7fff_ffff)
	if _, err := io.ReadFull(c, body); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(body[0:4]) != 0x1234 {
		return errors.New("not our reply: " + strings.TrimSpace(string(body)))
	}
	return nil
}
