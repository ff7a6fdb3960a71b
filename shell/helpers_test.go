package shell

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
)

// epoch is the fake clock's start: Sat Nov 21 05:20:00 UTC 2026.
var epoch = time.Date(2026, time.November, 21, 5, 20, 0, 0, time.UTC)

type testEnv struct {
	s     *Session
	fs    *FS
	reg   *Registry
	clock *clockwork.FakeClock
}

// newEnv returns a session with busybox on a fake clock, hostname
// esxi.localdomain and a few files.
func newEnv(t testing.TB) *testEnv {
	t.Helper()
	fc := clockwork.NewFakeClockAt(epoch)
	fsys := NewFS(WithClock(fc))
	reg := NewRegistry()
	RegisterBusybox(reg)
	require.NoError(t, fsys.MkdirAll("/etc/vmware"))
	require.NoError(t, fsys.WriteFile("/etc/hosts", []byte("127.0.0.1 localhost\n10.0.0.1 esxi esxi.localdomain\n"), 0o644))
	require.NoError(t, fsys.WriteFile("/etc/vmware/esx.conf", []byte("/adv/Net/Foo = \"1\"\n/net/vmkernelnic/child[0000]/name = \"vmk0\"\n"), 0o644))
	s := NewSession(Config{
		FS:       fsys,
		Commands: reg,
		Clock:    fc,
		Env:      map[string]string{"USER": "root", "SHELL": "/bin/sh"},
		Hostname: func() string { return "esxi.localdomain" },
		Uname: func() Uname {
			return Uname{Sysname: "VMkernel", Release: "7.0.3", Version: "#1 SMP Release build-19193900 Jan  4 2022 04:56:30",
				Machine: "x86_64", Processor: "x86_64", Platform: "x86_64", OS: "ESXi"}
		},
		Prompt: func(cwd string) string {
			if cwd == "/" {
				cwd = "~"
			}
			return "[root@esxi:" + cwd + "] "
		},
	})
	return &testEnv{s: s, fs: fsys, reg: reg, clock: fc}
}

// run runs a script with a generous deadline (a hang fails instead of
// stalling the suite).
func (e *testEnv) run(t testing.TB, script string) (string, string, int) {
	t.Helper()
	return e.runIn(t, script, "")
}

func (e *testEnv) runIn(t testing.TB, script, stdin string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	status := e.s.Run(ctx, script, bytes.NewBufferString(stdin), &out, &errb)
	require.NoError(t, ctx.Err(), "script %q timed out", script)
	return out.String(), errb.String(), status
}
