package nodecmd

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/harness/controlapi"
)

// syncBuf is a bytes.Buffer the node and the test share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a node in the background until the test ends; it returns
// once every listener accepts.
func start(t *testing.T, kind Kind, args ...string) (Running, *syncBuf) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuf
	ready := make(chan Running, 1)
	done := make(chan int, 1)
	go func() {
		// The other nodes' processes are nowhere: refused at once.
		nowhere := "esxi-a=127.0.0.1:1,esxi-b=127.0.0.1:1,esxi-c=127.0.0.1:1,cvm-a=127.0.0.1:1,cvm-b=127.0.0.1:1,cvm-c=127.0.0.1:1"
		done <- Run(ctx, kind, append([]string{"--ssh-port", "0", "--fabric-port", "0", "--api", "127.0.0.1:0", "--peers", nowhere}, args...), &out, &out, func(r Running) { ready <- r })
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, 0, <-done, out.String())
	})
	select {
	case r := <-ready:
		return r, &out
	case code := <-done:
		t.Fatalf("exit %d before ready:\n%s", code, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("not ready:\n%s", out.String())
	}
	return Running{}, nil
}

func banner(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// esxisim runs one host: its SSH answers, its control API covers it.
func TestHostNode(t *testing.T) {
	r, out := start(t, Host, "--node", "esxi-a", "--no-workload", "--state-dir", t.TempDir())
	h := r.Lab.Host("NTNX-BLOCK1-A")
	require.NotNil(t, h)
	assert.Equal(t, "SSH-2.0-OpenSSH_9.7", banner(t, h.Addr().String()))
	assert.Contains(t, out.String(), `autopathlab: NTNX-BLOCK1-A (esxi-a) of lab "default" up in`)

	c := controlapi.NewClient(r.API, "")
	ctx := context.Background()
	v, err := c.Lab(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"NTNX-BLOCK1-A"}, v.Hosts)
	routes, err := c.Routes(ctx, "NTNX-BLOCK1-A")
	require.NoError(t, err)
	assert.NotEmpty(t, routes)
	_, err = c.Routes(ctx, "b")
	assert.ErrorContains(t, err, "runs in another process (127.0.0.1:1)")
}

// cvmsim comes up at once the first time; started again (the boot marker
// in its state directory) it boots.
func TestCVMNodeBootsWhenStartedAgain(t *testing.T) {
	state := t.TempDir()
	store := filepath.Join(t.TempDir(), "store")
	args := []string{"--node", "NTNX-BLOCK1-A-CVM", "--state-dir", state, "--store", store, "--nfs-port", "-1", "--status-port", "0"}
	first, _ := start(t, CVM, args...)
	assert.False(t, first.Booting)
	require.Len(t, first.Lab.CVMs, 1)
	assert.Equal(t, cvmsim.PowerUp, first.Lab.CVMs[0].Power())
	assert.FileExists(t, filepath.Join(state, BootMarker))
	assert.DirExists(t, filepath.Join(store, "ctr1"), "the cluster store, shared by the CVMs")
	require.NoError(t, first.Lab.Close())

	again, out := start(t, CVM, append(args, "--time-scale", "0.001")...)
	assert.True(t, again.Booting)
	assert.Contains(t, out.String(), "booting (its container started again)")
	c := again.Lab.CVMs[0]
	assert.NotEqual(t, cvmsim.PowerUp, c.Power())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// 120 s of boot at 0.001 x real time.
	require.NoError(t, again.Lab.Wait(ctx, "cvm a ready"))
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		args []string
		want string
	}{
		{Host, nil, "--node is required"},
		{Host, []string{"--node", "cvm-a"}, "--node cvm-a is not a esxi: run it with cvmsim"},
		{CVM, []string{"--node", "NTNX-BLOCK1-A"}, "is not a cvm: run it with esxisim"},
		{CVM, []string{"--node", "cvm-q"}, "no such cvm (it has: NTNX-BLOCK1-A-CVM (cvm-a), "},
		{Host, []string{"--node", "a", "--peers", "cvm-a"}, `--peers: "cvm-a": want NAME=HOST:PORT`},
		{Host, []string{"--node", "esxi-a", "--api", "0.0.0.0:0"}, "needs a bearer token"},
		{Host, []string{"--node", "esxi-a", "x"}, `unexpected argument "x"`},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), tc.kind, tc.args, &out, &errb, nil)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errb.String())
		assert.Contains(t, errb.String(), tc.want, tc.args)
	}
}

func TestParsePeers(t *testing.T) {
	p, err := parsePeers(" cvm-a=10.0.0.2:7000, NTNX-BLOCK1-B=esxi-b:7001 ,")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"cvm-a": "10.0.0.2:7000", "NTNX-BLOCK1-B": "esxi-b:7001"}, p)
	_, err = parsePeers("cvm-a=nohost")
	assert.Error(t, err)
}
