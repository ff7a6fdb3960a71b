// Package shell is a busybox-ash-like interpreter over a per-node virtual
// filesystem. It knows nothing about ESXi or Nutanix: nodes register their
// own commands in a Registry. No command ever runs a host binary and nothing
// touches the real filesystem.
package shell

import (
	"context"
	"fmt"
	"io"

	"mvdan.cc/sh/v3/expand"

	"github.com/autopathlab/autopathlab/clock"
)

// Command is a command implemented in Go. It returns the exit status.
//
// A command must honour ctx: it is cancelled when the user presses Ctrl-C in
// an interactive session or the SSH channel closes, and long-running commands
// (vmkping -c 1000, tcpdump-uw) stop then.
type Command func(ctx context.Context, inv *Invocation) int

// Invocation is everything a command sees of the session that runs it.
type Invocation struct {
	// Args holds the command name as typed (Args[0]) and its arguments,
	// after the shell's expansion.
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Dir is the session's current directory, an absolute path in FS.
	Dir string
	// Getenv reads the session's variables.
	Getenv func(name string) string
	// FS is the node's virtual filesystem.
	FS *FS
	// Clock is the node's clock: sleep, date, vmkping's interval read it.
	Clock clock.Clock
	// TTY is true when the command runs in an interactive session with a PTY.
	TTY bool

	// env is the shell's view of the variables when the command started;
	// sess is the session running it. Both are nil when a test calls a
	// Command directly.
	env  expand.Environ
	sess *Session
}

// Abs resolves name against the command's current directory.
func (inv *Invocation) Abs(name string) string { return Abs(inv.Dir, name) }

// Environ returns the exported variables as sorted "NAME=value" pairs.
func (inv *Invocation) Environ() []string {
	if inv.env == nil {
		return nil
	}
	return exportedEnv(inv.env)
}

// Exec runs inv.Args as a command found through PATH, with inv's standard
// streams and directory, as xargs or env COMMAND do. It returns 127 (and
// prints ash's message) for an unknown command.
func (inv *Invocation) Exec(ctx context.Context) int {
	if inv.sess == nil {
		fmt.Fprintf(inv.Stderr, "%s: not found\n", inv.Args[0])
		return 127
	}
	return inv.sess.dispatch(ctx, inv)
}

// LookPath finds a command the way the shell would and returns its path.
func (inv *Invocation) LookPath(name string) (string, bool) {
	if inv.sess == nil {
		return "", false
	}
	p, _, err := inv.sess.lookPath(inv.FS, inv.Getenv("PATH"), inv.Dir, name)
	return p, err == nil
}
