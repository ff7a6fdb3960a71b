package cvmsim

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
)

// lineBuffer is a command's output; lines signals every line.
type lineBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan struct{}
}

func newLineBuffer() *lineBuffer { return &lineBuffer{lines: make(chan struct{}, 1000)} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range bytes.Count(p, []byte("\n")) {
		b.lines <- struct{}{}
	}
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lineBuffer) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.lines:
		case <-time.After(10 * time.Second):
			t.Fatalf("waiting for a line; so far:\n%s", b.String())
		}
	}
}

// capture is tcpdump running in a nutanix shell on a CVM.
type capture struct {
	line           string
	c              *CVM
	stdout, stderr *lineBuffer
	cancel         func()
	done           chan int
}

// startCapture runs line and waits for the banner's two lines (one more
// for the "any" device's warning): the capture is on then.
func startCapture(t *testing.T, c *CVM, line string, banner int) *capture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	x := &capture{line: line, c: c, stdout: newLineBuffer(), stderr: newLineBuffer(), cancel: cancel, done: make(chan int, 1)}
	sh := c.NewShell()
	go func() { x.done <- sh.Run(ctx, line, nil, x.stdout, x.stderr) }()
	t.Cleanup(cancel)
	x.stderr.wait(t, banner)
	return x
}

// stop interrupts the capture and renders it as a terminal would.
func (x *capture) stop(t *testing.T) string {
	t.Helper()
	x.cancel()
	var code int
	select {
	case code = <-x.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s does not stop", x.line)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s\n%s", x.c.Prompt(DefaultUser, HomeDir), x.line, x.stdout.String())
	if e := x.stderr.String(); e != "" {
		fmt.Fprintf(&b, "[stderr]\n%s", e)
	}
	fmt.Fprintf(&b, "[exit %d]\n", code)
	return b.String()
}

// Seed 001 from CVM B: with CVM A down and host A's route to 192.168.5.2
// through 192.168.1.28, host A's NFS arrives on B's eth0 ("during normal
// operations, you will never see 192.168.5.2 traffic on the public
// interface of the CVM"), while host B's own stays on eth1.
func TestTcpdumpSeed001OnCVM(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	l.cvms[0].PowerOff()
	require.NoError(t, l.rts[0].Add(netip.MustParsePrefix("192.168.5.2/32"), netip.MustParseAddr("192.168.1.28")))

	eth0 := startCapture(t, b, "tcpdump -i eth0 -nn port 2049", 2)
	eth1 := startCapture(t, b, "tcpdump -i eth1 -n host 192.168.5.2", 2)
	anyDev := startCapture(t, b, "tcpdump -i any -e -n tcp port nfs", 3)

	// Host A, through eth0: a handshake, a NULL call and its reply.
	c, err := dial(l.hosts[0], "192.168.5.2:2049")
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, nfsNull(c, 5*time.Second))
	eth0.stdout.wait(t, 7) // SYN, SYN-ACK, ACK, call, ACK, reply, ACK
	anyDev.stdout.wait(t, 7)
	// Host B, through eth1: ARP, then the same.
	c2, err := dial(l.hosts[1], "192.168.5.2:2049")
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, nfsNull(c2, 5*time.Second))
	eth1.stdout.wait(t, 9) // and ARP first
	anyDev.stdout.wait(t, 7)

	golden(t, "tcpdump-seed001", eth0.stop(t)+eth1.stop(t)+anyDev.stop(t))
}

// eth1:1 is eth1's NIC: a capture on either sees 192.168.5.254's traffic.
func TestTcpdumpAlias(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	x := startCapture(t, b, "tcpdump -i eth1:1 -n icmp", 2)
	r, err := l.hosts[1].Echo(fabric.EchoRequest{Dst: netip.MustParseAddr("192.168.5.254")})
	require.NoError(t, err)
	require.NotNil(t, r)
	x.stdout.wait(t, 2)
	got := x.stop(t)
	assert.Contains(t, got, "listening on eth1:1, link-type EN10MB (Ethernet)")
	assert.Contains(t, got, "IP 192.168.5.1 > 192.168.5.254: ICMP echo request, id 0, seq 0, length 64")
}

// The CentOS 7 tcpdump's command-line answers.
func TestTcpdumpCommandLineOnCVM(t *testing.T) {
	l := newLab(t)
	b := l.cvms[1]
	golden(t, "tcpdump-cmdline", transcript(t, l, b, false,
		"tcpdump --version",
		"tcpdump -D",
		"tcpdump -i eth7",
		"tcpdump -i eth0 host",
		"tcpdump -i eth0 'tcp or 10.0.0.1'",
		"tcpdump -i eth0 host nosuch",
		"tcpdump -r nosuch.pcap",
		"tcpdump -i any -w /tmp/x.pcap ether host 00:50:56:00:00:01",
		"tcpdump -i eth1:1 -c abc",
		"tcpdump -i eth0 -Q in inbound and outbound and nosuch",
		"which tcpdump",
	))
}
