package vmkping

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/esxisim/esxcfg"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// bench is a host with vmkping, ping and the esxcfg tools registered, on a
// fake clock the runner advances.
type bench struct {
	lab *vmkerneltest.Lab
	clk *clockwork.FakeClock
	reg *shell.Registry
}

func newBench(t testing.TB, lab *vmkerneltest.Lab) *bench {
	t.Helper()
	r := shell.NewRegistry()
	Register(r, lab.Host)
	esxcfg.Register(r, lab.Host)
	clk, ok := lab.Clock.(*clockwork.FakeClock)
	if !ok {
		t.Fatal("the lab is not on a fake clock")
	}
	return &bench{lab: lab, clk: clk, reg: r}
}

func hostA(t testing.TB) *bench { return newBench(t, vmkerneltest.New(t)) }

// step is how far the runner moves the clock each time the command waits:
// every wait the tests use is a multiple of it, so elapsed times are exact.
const step = 100 * time.Millisecond

type result struct {
	out, err string
	code     int
	elapsed  time.Duration
}

// run executes one command line, advancing the fake clock whenever the
// command waits on it, until the command returns. cancelAfter > 0 cancels
// the command's context (Ctrl-C) once that much fake time has passed.
func (b *bench) run(t testing.TB, line string, cancelAfter time.Duration) result {
	t.Helper()
	return b.runArgs(t, splitLine(line), cancelAfter)
}

func (b *bench) runArgs(t testing.TB, args []string, cancelAfter time.Duration) result {
	t.Helper()
	var cmd shell.Command
	for _, dir := range []string{"/bin/", "/sbin/"} {
		if c, ok := b.reg.Command(dir + args[0]); ok {
			cmd = c
		}
	}
	if cmd == nil {
		t.Fatalf("%s: not registered", args[0])
	}
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	var out, errb bytes.Buffer
	start := b.clk.Now()
	done := make(chan int, 1)
	waiting, stop := context.WithCancel(context.Background())
	go func() {
		done <- cmd(ctx, &shell.Invocation{
			Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
			Dir: "/", Getenv: func(string) string { return "" }, Clock: b.lab.Clock,
		})
		stop()
	}()
	for b.clk.BlockUntilContext(waiting, 1) == nil {
		if cancelAfter > 0 && b.clk.Since(start) >= cancelAfter {
			interrupt()
			break
		}
		b.clk.Advance(step)
	}
	code := <-done
	return result{out: out.String(), err: errb.String(), code: code, elapsed: b.clk.Since(start)}
}

// transcript runs lines and renders what a session shows, stderr marked,
// every exit status stated.
func (b *bench) transcript(t testing.TB, lines ...string) string {
	t.Helper()
	var s strings.Builder
	for _, l := range lines {
		r := b.run(t, l, 0)
		fmt.Fprintf(&s, "$ %s\n%s", l, r.out)
		if r.err != "" {
			fmt.Fprintf(&s, "[stderr]\n%s", r.err)
		}
		fmt.Fprintf(&s, "[exit %d]\n", r.code)
	}
	return s.String()
}

// golden compares got with testdata/<name>.golden (-update rewrites it).
func golden(t *testing.T, name, got string) {
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

// neighbors lists the host's ARP cache as "ip@vmk".
func (b *bench) neighbors() []string {
	var out []string
	for _, n := range b.lab.Host.Node().Neighbors() {
		out = append(out, n.IP.String()+"@"+n.Iface)
	}
	sort.Strings(out)
	return out
}

// addNode puts a node with one interface on a segment of the lab.
func (b *bench) addNode(t testing.TB, name string, ttl int, addr, segment string) *fabric.Node {
	t.Helper()
	n, err := b.lab.Net.AddNode(fabric.NodeConfig{Name: name, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddInterface(fabric.InterfaceConfig{Name: "eth0", Addr: netip.MustParsePrefix(addr), Segment: segment}); err != nil {
		t.Fatal(err)
	}
	return n
}

// splitLine splits a command line on blanks, honouring '...' and "...".
func splitLine(line string) []string {
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
