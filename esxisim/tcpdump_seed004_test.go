package esxisim_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/topology"
)

// syncBuffer is a command's output, read while it runs; lines signals
// each line written.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{lines: make(chan struct{}, 100)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range bytes.Count(p, []byte("\n")) {
		b.lines <- struct{}{}
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Seed 004, "Challenges with Multiple VMkernel Ports in the Same Subnet"
// (examples/topologies/wrong-vmk.yaml): vmk0 and vmk1 share 10.0.0.0/24,
// so the NFS mount of the filer leaves vmk0. "We received no tcpdump-uw
// output at all for vmk1 when trying to mount the NFS share. If we repeat
// this with vmk0, we get a flurry of outgoing traffic."
func TestTcpdumpSeed004(t *testing.T) {
	topo, err := topology.Load("../examples/topologies/wrong-vmk.yaml")
	require.NoError(t, err)
	lab := harness.Start(t, topo, harness.Options{Clock: clockwork.NewFakeClockAt(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)), NoWorkload: true})
	host := lab.Host("esxi01")
	reg := host.Registry()
	tcpdumpUW := cmdtest.Lookup(t, reg, "tcpdump-uw")

	type capture struct {
		line           string
		stdout, stderr *syncBuffer
		cancel         func()
		done           chan int
	}
	start := func(line string) *capture {
		ctx, cancel := context.WithCancel(context.Background())
		c := &capture{line: line, stdout: newSyncBuffer(), stderr: newSyncBuffer(), cancel: cancel, done: make(chan int, 1)}
		go func() {
			c.done <- tcpdumpUW(ctx, &shell.Invocation{Args: cmdtest.SplitLine(line), Stdin: strings.NewReader(""),
				Stdout: c.stdout, Stderr: c.stderr, Dir: "/", Getenv: func(string) string { return "" }, FS: host.FS()})
		}()
		t.Cleanup(cancel)
		// The banner's two lines: the capture is on before they are printed.
		for range 2 {
			select {
			case <-c.stderr.lines:
			case <-time.After(10 * time.Second):
				t.Fatalf("no banner from %s: %s", line, c.stderr)
			}
		}
		return c
	}
	vmk1 := start("tcpdump-uw -i vmk1 -n host 10.0.0.50")
	// The connection attempts (SYN, SYN-ACK) to the portmapper and to
	// NFS; the rest of the exchange interleaves with the filer's closing
	// of the connections, which a golden file cannot pin.
	vmk0 := start("tcpdump-uw -i vmk0 -n -c 4 host 10.0.0.50 and tcp[tcpflags] & tcp-syn != 0")

	// The mount from the shell: it leaves vmk0, from 10.0.0.11, and is
	// denied.
	nas := cmdtest.Lookup(t, reg, "esxcfg-nas")
	out, errOut, code := cmdtest.Exec(context.Background(), nas, cmdtest.SplitLine("esxcfg-nas -a -o 10.0.0.50 -s /ISOs ISOs"), lab.Clock)
	require.NotEqual(t, 0, code, "the mount through vmk0 succeeded:\n%s%s", out, errOut)

	var got strings.Builder
	for _, c := range []*capture{vmk1, vmk0} {
		if c == vmk1 {
			c.cancel()
		}
		code := <-c.done
		got.WriteString(cmdtest.Transcript(func(string) (string, string, int) { return c.stdout.String(), c.stderr.String(), code }, c.line))
	}
	cmdtest.Golden(t, "tcpdump-seed004", got.String())
	assert.Equal(t, "\n", vmk1.stdout.String(), "vmk1 saw traffic for the filer")
	assert.Contains(t, vmk0.stdout.String(), "IP 10.0.0.11.1021 > 10.0.0.50.111: Flags [S]")
	assert.Contains(t, vmk0.stdout.String(), "IP 10.0.0.11.1020 > 10.0.0.50.2049: Flags [S]")
}
