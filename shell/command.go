// Package shell is a busybox-ash-like interpreter over a per-node virtual
// filesystem. It knows nothing about ESXi or Nutanix: nodes register their
// own commands in a Registry. No command ever runs a host binary and nothing
// touches the real filesystem.
package shell

import (
	"context"
	"io"

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
}
