// Package cmdtest is the bench the unit and golden tests of the ESXi
// commands (esxcfg-*, vmkping) share: it runs a registered command as a
// session would, renders transcripts and compares them with golden files.
package cmdtest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/shell"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Lookup finds the command name in /bin or /sbin of reg, as a session's
// PATH would (/sbin wins where both have it), failing t if neither does.
func Lookup(t testing.TB, reg *shell.Registry, name string) shell.Command {
	t.Helper()
	var cmd shell.Command
	for _, dir := range []string{"/bin/", "/sbin/"} {
		if c, ok := reg.Command(dir + name); ok {
			cmd = c
		}
	}
	if cmd == nil {
		t.Fatalf("%s: not registered", name)
	}
	return cmd
}

// Exec runs cmd with args in a session's bare environment (no stdin, cwd
// /, no variables) on clk, and returns what the session would see.
func Exec(ctx context.Context, cmd shell.Command, args []string, clk clock.Clock) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = cmd(ctx, &shell.Invocation{
		Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Dir: "/", Getenv: func(string) string { return "" }, Clock: clk,
	})
	return out.String(), errb.String(), code
}

// Transcript runs lines with run and renders them as a session would show
// them, stderr marked, every exit status stated.
func Transcript(run func(line string) (stdout, stderr string, code int), lines ...string) string {
	var s strings.Builder
	for _, l := range lines {
		out, errs, code := run(l)
		fmt.Fprintf(&s, "$ %s\n%s", l, out)
		if errs != "" {
			fmt.Fprintf(&s, "[stderr]\n%s", errs)
		}
		fmt.Fprintf(&s, "[exit %d]\n", code)
	}
	return s.String()
}

// SplitLine splits a command line on blanks, honouring '...' and "...".
func SplitLine(line string) []string {
	var args []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

// Golden compares got with testdata/<name>.golden of the package under
// test, rewriting it with -update.
func Golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file %s:\n--- got\n%s\n--- want\n%s", name, p, got, want)
	}
}

// Neighbors lists h's ARP cache as "ip@vmk" strings, sorted.
func Neighbors(h *vmkernel.Host) []string {
	var out []string
	for _, n := range h.Node().Neighbors() {
		out = append(out, n.IP.String()+"@"+n.Iface)
	}
	sort.Strings(out)
	return out
}
