package sshd

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

// TestPanicRecovery: a panic ends the command, session or connection it
// happened in, never the server or its other connections.
func TestPanicRecovery(t *testing.T) {
	var panicOn atomic.Value // the event Kind whose hook panics next
	panicOn.Store("")
	var ev events
	cfg := esxiPolicy()
	cfg.Name = "testsim"
	cfg.OnEvent = func(e Event) {
		if e.Kind == EventPanic {
			ev.add(e)
			return
		}
		if panicOn.CompareAndSwap(e.Kind, "") {
			panic("hook exploded on " + e.Kind)
		}
	}
	var shellPanics atomic.Bool
	base := busybox("/")
	cfg.Shell = func(l Login) shell.Config {
		if shellPanics.CompareAndSwap(true, false) {
			panic("no shell")
		}
		c := base(l)
		c.Commands.Register("/bin/boom", func(context.Context, *shell.Invocation) int { panic("boom") })
		return c
	}
	s := newServer(t, cfg)
	c := login(t, s, "root")

	// A panicking command: the shell reports it and carries on.
	stdout, stderr, status := sshdtest.Run(t, c, "boom; echo after")
	assert.Equal(t, "after\n", stdout)
	assert.Contains(t, stderr, "boom")
	assert.Equal(t, 0, status)

	// A panic in the session machinery (the command event's hook, the
	// policy's Shell) ends that session with status 255.
	panicOn.Store(EventCommand)
	_, stderr, status = sshdtest.Run(t, c, "true")
	assert.Equal(t, 255, status)
	assert.Equal(t, "testsim: internal error, session closed: hook exploded on ssh.command\r\n", stderr)
	shellPanics.Store(true)
	_, stderr, status = sshdtest.Run(t, c, "true")
	assert.Equal(t, 255, status)
	assert.Equal(t, "testsim: internal error, session closed: no shell\r\n", stderr)

	// One during login ends that connection only.
	panicOn.Store(EventLogin)
	_, err := dial(s, "root", sshdtest.KeyboardInteractive("nutanix/4u"))
	require.Error(t, err)

	// A panicking logout hook loses its event, nothing else.
	c2 := login(t, s, "root")
	panicOn.Store(EventLogout)
	c2.Close()
	require.Eventually(t, func() bool { return panicOn.Load() == "" }, 5*time.Second, 10*time.Millisecond)

	// The server, and the first connection, are still up.
	stdout, _, _ = sshdtest.Run(t, c, "echo alive")
	assert.Equal(t, "alive\n", stdout)
	c3 := login(t, s, "root")
	stdout, _, _ = sshdtest.Run(t, c3, "echo new")
	assert.Equal(t, "new\n", stdout)

	panics := ev.all()
	require.Len(t, panics, 3)
	assert.Equal(t, "true", panics[0].Command)
	assert.True(t, strings.HasPrefix(panics[0].Error, "hook exploded on ssh.command\n"), "with the stack")
	assert.True(t, strings.HasPrefix(panics[1].Error, "no shell\n"))
	assert.Equal(t, "hook exploded on ssh.login", panics[2].Error)
	for _, p := range panics {
		assert.True(t, strings.HasPrefix(p.Source, "127.0.0.1:"))
	}
}
