package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
)

// api is a control API over a real lab (the default three-node cluster on
// a fake clock: nothing moves unless a test moves it).
type api struct {
	t   *testing.T
	lab *harness.Lab
	srv *Server
	ts  *httptest.Server
	c   *Client
	tok string
}

func startAPI(t *testing.T, o Options, opts ...harness.Option) *api {
	t.Helper()
	lab := harness.Start(t, harness.Default(), append([]harness.Option{harness.WithFakeClock()}, opts...)...)
	srv := NewServer(lab, o)
	ts := httptest.NewServer(srv)
	// Cleanups run last first: the streams end, then the server closes,
	// then the lab.
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	return &api{t: t, lab: lab, srv: srv, ts: ts, c: NewClient(ts.URL, o.Token), tok: o.Token}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// call sends a raw request (body "" sends none) with the API's token and
// returns the status and body.
func (a *api) call(method, path, body string) (int, []byte) {
	a.t.Helper()
	return a.callWith(method, path, body, a.tok)
}

func (a *api) callWith(method, path, body, token string) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testCtx(a.t), method, a.ts.URL+path, rd)
	require.NoError(a.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.ts.Client().Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return resp.StatusCode, b
}

// errorOf decodes an {"error": ...} body.
func errorOf(t *testing.T, b []byte) string {
	t.Helper()
	var e ErrorBody
	require.NoError(t, json.Unmarshal(b, &e), "body %s", b)
	require.NotEmpty(t, e.Error, "body %s", b)
	return e.Error
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	require.NoError(t, dec.Decode(&v), "body %s", b)
	return v
}

func (a *api) cvm(ref string) harness.CVMView {
	a.t.Helper()
	v, err := a.lab.CVMView(ref)
	require.NoError(a.t, err)
	return v
}

func (a *api) host(ref string) harness.HostView {
	a.t.Helper()
	v, err := a.lab.HostView(ref)
	require.NoError(a.t, err)
	return v
}

// sameJSON compares two values as the API writes them (times lose their
// monotonic readings on the way).
func sameJSON(t *testing.T, want, got any) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g))
}
