package datastore

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/shell"
)

// shellOn returns a busybox session over a filesystem the manager mounts
// its datastores in.
func shellOn(t *testing.T, l *testLab) *shell.Session {
	t.Helper()
	fs := shell.NewFS(shell.WithClock(l.clk))
	require.NoError(t, fs.MkdirAll(Volumes))
	require.NoError(t, l.m.Mount(fs))
	reg := shell.NewRegistry()
	shell.RegisterBusybox(reg)
	return shell.NewSession(shell.Config{FS: fs, Commands: reg, Clock: l.clk})
}

func run(t *testing.T, s *shell.Session, ctx context.Context, script string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := s.Run(ctx, script, nil, &out, &out)
	return out.String(), code
}

func TestShellOnDatastore(t *testing.T) {
	l := newTestLab(t, Config{})
	s := shellOn(t, l)
	d := l.add(t)
	ctx := ctxT(t)

	out, code := run(t, s, ctx, `cd /vmfs/volumes/ctr1 && echo hello > a.txt && touch b && mkdir vm1 && echo more >> a.txt && cat a.txt && ls && rm b && ls`)
	assert.Equal(t, 0, code, out)
	assert.Equal(t, "hello\nmore\na.txt\nb\nvm1\na.txt\nvm1\n", out)

	out, _ = run(t, s, ctx, `ls /vmfs/volumes`)
	assert.Equal(t, d.UUID()[:17]+"\nctr1\n", out)
	out, code = run(t, s, ctx, `cat /vmfs/volumes/ctr1/nope`)
	assert.Equal(t, 1, code)
	assert.Equal(t, "cat: can't open '/vmfs/volumes/ctr1/nope': No such file or directory\n", out)

	// APD: ls blocks; Ctrl-C (the command's ctx) ends it.
	l.Peers["cvm-a"].SetPowered(false)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan string, 1)
	go func() {
		out, _ := run(t, s, cctx, `ls /vmfs/volumes/ctr1`)
		done <- out
	}()
	cancel()
	select {
	case out := <-done:
		// It could not have listed anything: the server is off.
		assert.NotContains(t, out, "a.txt")
	case <-ctx.Done():
		t.Fatal("Ctrl-C did not end ls")
	}

	require.NoError(t, l.m.Remove("ctr1"))
	out, _ = run(t, s, ctx, `ls /vmfs/volumes`)
	assert.Equal(t, "", strings.TrimSpace(out))
}
