package vmkping

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
	"github.com/autopathlab/autopathlab/esxisim/esxcfg"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

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
	return b.runArgs(t, cmdtest.SplitLine(line), cancelAfter)
}

func (b *bench) runArgs(t testing.TB, args []string, cancelAfter time.Duration) result {
	t.Helper()
	cmd := cmdtest.Lookup(t, b.reg, args[0])
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	start := b.clk.Now()
	done := make(chan result, 1)
	waiting, stop := context.WithCancel(context.Background())
	go func() {
		var r result
		r.out, r.err, r.code = cmdtest.Exec(ctx, cmd, args, b.lab.Clock)
		stop()
		done <- r
	}()
	for b.clk.BlockUntilContext(waiting, 1) == nil {
		if cancelAfter > 0 && b.clk.Since(start) >= cancelAfter {
			interrupt()
			break
		}
		b.clk.Advance(step)
	}
	r := <-done
	r.elapsed = b.clk.Since(start)
	return r
}

// transcript runs lines and renders what a session shows.
func (b *bench) transcript(t testing.TB, lines ...string) string {
	t.Helper()
	return cmdtest.Transcript(func(l string) (string, string, int) {
		r := b.run(t, l, 0)
		return r.out, r.err, r.code
	}, lines...)
}

// neighbors lists the host's ARP cache as "ip@vmk".
func (b *bench) neighbors() []string { return cmdtest.Neighbors(b.lab.Host) }

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
