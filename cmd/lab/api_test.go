package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
)

func TestStartAPI(t *testing.T) {
	for _, tc := range []struct {
		name, addr, token string
		url               string // a regexp; "" when nothing listens
		err               string
	}{
		{name: "loopback, free port", addr: "127.0.0.1:0", url: `^http://127\.0\.0\.1:\d+$`},
		{name: "localhost", addr: "localhost:0", url: `^http://(127\.0\.0\.1|\[::1\]):\d+$`},
		{name: "every interface with a token", addr: "0.0.0.0:0", token: "s3cret", url: `^http://127\.0\.0\.1:\d+$`},
		{name: "every interface without a token", addr: "0.0.0.0:7480",
			err: "the control API on 0.0.0.0:7480 needs a bearer token: set --api-token or AUTOPATHLAB_TOKEN"},
		{name: "no host without a token", addr: ":7480",
			err: "the control API on :7480 needs a bearer token: set --api-token or AUTOPATHLAB_TOKEN"},
		{name: "a LAN address without a token", addr: "192.168.1.10:7480", err: "needs a bearer token"},
		{name: "off", addr: "off"},
		{name: "not an address", addr: "7480", err: `--api "7480": want HOST:PORT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := harness.Start(t, harness.Default(), harness.WithFakeClock(), harness.WithoutWorkload())
			url, stop, err := startAPI(lab, tc.addr, tc.token)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Empty(t, lab.APIURL)
				return
			}
			require.NoError(t, err)
			defer stop()
			if tc.url == "" {
				assert.Empty(t, url)
				assert.Empty(t, lab.APIURL)
				return
			}
			assert.Regexp(t, regexp.MustCompile(tc.url), url)
			assert.Equal(t, url, lab.APIURL)

			// The API serves this lab, with the token when there is one.
			c := controlapi.NewClient(url, tc.token)
			v, err := c.Lab(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "default", v.Name)
			_, err = c.PowerOff(context.Background(), "a")
			require.NoError(t, err)
			cv, err := lab.CVMView("a")
			require.NoError(t, err)
			assert.Equal(t, "off", cv.Power)
			if tc.token != "" {
				_, err := controlapi.NewClient(url, "").Lab(context.Background())
				var ae *controlapi.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, http.StatusUnauthorized, ae.Status)
			}

			// The endpoints JSON carries the URL.
			var b bytes.Buffer
			require.NoError(t, lab.WriteEndpointsJSON(&b))
			var doc struct {
				API string `json:"api"`
			}
			require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
			assert.Equal(t, url, doc.API)

			stop()
			stop() // idempotent
			_, err = c.Lab(context.Background())
			require.Error(t, err, "nothing listens after stop")
		})
	}
}

func TestStartAPIPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	lab := harness.Start(t, harness.Default(), harness.WithFakeClock(), harness.WithoutWorkload())
	_, _, err = startAPI(lab, ln.Addr().String(), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "control API")
	assert.Empty(t, lab.APIURL)
}

// stop ends the open event streams rather than waiting for them.
func TestStartAPIStopEndsStreams(t *testing.T) {
	lab := harness.Start(t, harness.Default(), harness.WithFakeClock(), harness.WithoutWorkload())
	url, stop, err := startAPI(lab, "127.0.0.1:0", "")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := controlapi.NewClient(url, "").OpenStream(ctx, controlapi.EventQuery{})
	require.NoError(t, err)
	defer s.Close()
	stop()
	for {
		_, err := s.Next()
		if err != nil {
			assert.ErrorIs(t, err, io.EOF)
			break
		}
	}
	assert.NoError(t, ctx.Err(), "the stream ended because of stop, not the deadline")
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true,
		"": false, "0.0.0.0": false, "::": false, "192.168.1.10": false, "example.com": false,
	} {
		assert.Equal(t, want, loopback(host), host)
	}
	assert.True(t, strings.HasPrefix(defaultAPIAddr, "127.0.0.1:"))
}
