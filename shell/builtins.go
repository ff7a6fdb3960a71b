package shell

import (
	"context"
	"fmt"
	"strconv"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// Names of the commands callHandler reroutes builtins to. The NUL byte
// keeps them out of reach of anything a user can type as a command name
// that would also be found in PATH.
const (
	cmdCommandV = "\x00command-v"
	cmdType     = "\x00type"
	cmdPwd      = "\x00pwd"
	cmdFail     = "\x00fail"
	cmdPrintf   = "\x00printf"
)

type internalFunc func(ctx context.Context, s *Session, inv *Invocation) int

func internalCommand(name string) (internalFunc, bool) {
	switch name {
	case cmdCommandV:
		return commandV, true
	case cmdType:
		return typeCmd, true
	case cmdPwd:
		return pwdCmd, true
	case cmdFail:
		return failCmd, true
	case cmdPrintf:
		// ash's printf builtin knows %f and friends; the interpreter's
		// does not, so the busybox applet stands in for it.
		return func(ctx context.Context, _ *Session, inv *Invocation) int {
			sub := *inv
			sub.Args = append([]string{"printf"}, inv.Args[1:]...)
			return printfCmd(ctx, &sub)
		}, true
	}
	return nil, false
}

// failCmd prints a message prepared by callHandler: args are status, text.
func failCmd(ctx context.Context, _ *Session, inv *Invocation) int {
	if len(inv.Args) < 3 {
		return 2
	}
	fmt.Fprintln(inv.Stderr, inv.Args[2])
	n, _ := strconv.Atoi(inv.Args[1])
	return n
}

// describe says what name is, in the order ash looks: keyword, function,
// builtin, then PATH. path is set for an executable found in PATH.
func (s *Session) describe(inv *Invocation, name string) (kind, path string) {
	switch {
	case syntax.IsKeyword(name):
		return "keyword", ""
	case s.isFunc(name):
		return "function", ""
	case interp.IsBuiltin(name):
		return "builtin", ""
	}
	if p, _, err := s.lookPath(inv.FS, inv.Getenv("PATH"), inv.Dir, name); err == nil {
		return "file", p
	}
	return "", ""
}

// commandV is `command -v` and `command -V`.
func commandV(_ context.Context, s *Session, inv *Invocation) int {
	verbose := inv.Args[1] == "-V"
	status := 0
	for _, name := range inv.Args[2:] {
		kind, p := s.describe(inv, name)
		switch {
		case kind == "":
			if verbose {
				fmt.Fprintf(inv.Stdout, "%s: not found\n", name)
			}
			status = 127
			if !verbose {
				status = 1
			}
		case verbose:
			printDescription(inv, name, kind, p)
		case kind == "file":
			fmt.Fprintln(inv.Stdout, p)
		default:
			fmt.Fprintln(inv.Stdout, name)
		}
	}
	return status
}

func printDescription(inv *Invocation, name, kind, p string) {
	switch kind {
	case "keyword":
		fmt.Fprintf(inv.Stdout, "%s is a shell keyword\n", name)
	case "function":
		fmt.Fprintf(inv.Stdout, "%s is a function\n", name)
	case "builtin":
		fmt.Fprintf(inv.Stdout, "%s is a shell builtin\n", name)
	default:
		fmt.Fprintf(inv.Stdout, "%s is %s\n", name, p)
	}
}

// typeCmd is ash's type: "name: not found" on stdout and 127 for unknowns.
func typeCmd(_ context.Context, s *Session, inv *Invocation) int {
	status := 0
	for _, name := range inv.Args[1:] {
		kind, p := s.describe(inv, name)
		if kind == "" {
			fmt.Fprintf(inv.Stdout, "%s: not found\n", name)
			status = 127
			continue
		}
		printDescription(inv, name, kind, p)
	}
	return status
}

// pwdCmd prints the logical directory, or with -P the physical one.
func pwdCmd(ctx context.Context, s *Session, inv *Invocation) int {
	physical := false
	for _, a := range inv.Args[1:] {
		switch a {
		case "-P":
			physical = true
		case "-L":
			physical = false
		default:
			fmt.Fprintf(inv.Stderr, "%s: pwd: invalid option -- '%s'\n", s.argv0(ctx), a)
			return 2
		}
	}
	dir := inv.Dir
	if physical {
		if real, err := inv.FS.Realpath(dir); err == nil {
			dir = real
		}
	}
	fmt.Fprintln(inv.Stdout, dir)
	return 0
}
