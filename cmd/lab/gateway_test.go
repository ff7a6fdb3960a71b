package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
	"github.com/autopathlab/autopathlab/sshd"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lab gateway over six node processes (labs of one node, each with its
// control API): labctl's API covers the whole lab.
func TestGatewayCommand(t *testing.T) {
	kr := sshd.NewKeyring()
	nowhere := map[string]string{}
	for _, b := range controlapi.DefaultBackends(harness.Default(), 7480) {
		nowhere[b.Name] = "127.0.0.1:1"
	}
	var args []string
	for _, b := range controlapi.DefaultBackends(harness.Default(), 7480) {
		lab, err := harness.NewNode(harness.Default(), b.Name, harness.NodeOptions{Options: harness.Options{NoWorkload: true, Keyring: kr}, NFSPort: -1, Peers: nowhere})
		require.NoError(t, err)
		srv := controlapi.NewServer(lab, controlapi.Options{})
		ts := httptest.NewServer(srv)
		t.Cleanup(func() {
			srv.Close()
			ts.Close()
			lab.Close()
		})
		// By topology name for the hosts, by service name for the CVMs.
		node := b.Nodes[0]
		if b.Name[:3] == "cvm" {
			node = b.Name
		}
		args = append(args, "--backend", node+"="+ts.URL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuf
	urls := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- gatewayMain(ctx, append(args, "--listen", "127.0.0.1:0"), &out, &out, func(u string) { urls <- u })
	}()
	var url string
	select {
	case url = <-urls:
	case code := <-done:
		t.Fatalf("exit %d: %s", code, out.String())
	}
	c := controlapi.NewClient(url, "")
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	v, err := c.Lab(cctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"NTNX-BLOCK1-A-CVM", "NTNX-BLOCK1-B-CVM", "NTNX-BLOCK1-C-CVM"}, v.CVMs)
	_, err = c.PowerOff(cctx, "c")
	require.NoError(t, err)
	_, err = c.Wait(cctx, "cvm c power off", 10*time.Second)
	require.NoError(t, err)
	assert.Contains(t, out.String(), `autopathlab: gateway of lab "default" on 127.0.0.1:`)
	assert.Contains(t, out.String(), "cvm-c")
	cancel()
	assert.Equal(t, 0, <-done)
}

func TestGatewayCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "esxi-q=http://x:1"}, `the topology has no host or CVM esxi-q (it has: NTNX-BLOCK1-A (esxi-a), `},
		{[]string{"--backend", "cvm-a"}, "want NODE=URL"},
		{[]string{"--listen", "0.0.0.0:0"}, "needs a bearer token"},
		{[]string{"--listen", "7480"}, "want HOST:PORT"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, run(append([]string{"gateway"}, tc.args...), &out, &errb), tc.args)
		assert.Contains(t, errb.String(), tc.want, tc.args)
	}
}

func TestGatewayBackends(t *testing.T) {
	bs, err := gatewayBackends(harness.Default(), []string{"NTNX-BLOCK1-B=http://10.0.0.2:7480", "cvm-c=http://10.0.0.6:9"}, 7481)
	require.NoError(t, err)
	assert.Equal(t, "http://esxi-a:7481", bs[0].URL)
	assert.Equal(t, "http://10.0.0.2:7480", bs[1].URL)
	assert.Equal(t, "http://10.0.0.6:9", bs[5].URL)
	assert.Equal(t, "cvm-c", bs[5].Name)
}
