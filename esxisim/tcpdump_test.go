package esxisim

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/esxisim/cmdtest"
	"github.com/autopathlab/autopathlab/esxisim/esxcfg"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

// labEpoch is the fake clock's start, for stable timestamps.
var labEpoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// lineWriter collects a command's output and signals each line.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan struct{}
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan struct{}, 1000)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for range bytes.Count(p, []byte("\n")) {
		w.lines <- struct{}{}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitLines waits for n more lines.
func (w *lineWriter) waitLines(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-w.lines:
		case <-time.After(10 * time.Second):
			t.Fatalf("waiting for output; so far:\n%s", w.String())
		}
	}
}

// background is a command running as a session would run it, until its
// context ends (Ctrl-C) or it stops by itself.
type background struct {
	stdout, stderr *lineWriter
	cancel         func()
	done           chan int
}

func runBackground(t *testing.T, cmd shell.Command, fs *shell.FS, line string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stdout: newLineWriter(), stderr: newLineWriter(), cancel: cancel, done: make(chan int, 1)}
	go func() {
		b.done <- cmd(ctx, &shell.Invocation{Args: cmdtest.SplitLine(line), Stdin: strings.NewReader(""),
			Stdout: b.stdout, Stderr: b.stderr, Dir: "/", Getenv: func(string) string { return "" }, FS: fs})
	}()
	t.Cleanup(cancel)
	return b
}

// listening waits for the banner: the capture is on.
func (b *background) listening(t *testing.T) {
	t.Helper()
	for !strings.Contains(b.stderr.String(), "listening on") {
		b.stderr.waitLines(t, 1)
	}
}

// stop interrupts the command (Ctrl-C) and renders what it printed.
func (b *background) stop(t *testing.T, line string) string {
	t.Helper()
	b.cancel()
	var code int
	select {
	case code = <-b.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the command does not stop")
	}
	return cmdtest.Transcript(func(string) (string, string, int) { return b.stdout.String(), b.stderr.String(), code }, line)
}

// tcpdumpLab is host A of the default lab on a fake clock at labEpoch.
func tcpdumpLab(t *testing.T) (*vmkerneltest.Lab, shell.Command, *shell.Registry) {
	t.Helper()
	lab := vmkerneltest.NewWithClock(t, clockwork.NewFakeClockAt(labEpoch), vmkerneltest.HostAConfig())
	r := shell.NewRegistry()
	r.Register("/bin/tcpdump-uw", tcpdumpUW(lab.Host))
	esxcfg.Register(r, lab.Host)
	return lab, cmdtest.Lookup(t, r, "tcpdump-uw"), r
}

// Seed 001: host A's NFS flow to its CVM leaves vmk1; once
// "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28" sends it out
// of vmk0 to CVM B, the flow's next segment reaches a CVM that never saw
// it, and CVM B's RST comes back on vmk0. The reconnection then leaves
// vmk0 from 192.168.1.24.
func TestTcpdumpSeed001(t *testing.T) {
	lab, tcpdumpUW, reg := tcpdumpLab(t)
	ctx := context.Background()
	cvm := netip.MustParseAddrPort("192.168.5.2:2049")
	accept := func(name string) chan io.ReadWriteCloser {
		l, err := lab.Peers[name].Listen(2049)
		require.NoError(t, err)
		ch := make(chan io.ReadWriteCloser, 2)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				ch <- c
			}
		}()
		t.Cleanup(func() { l.Close() })
		return ch
	}
	atA, atB := accept("cvm-a"), accept("cvm-b")

	vmk0 := runBackground(t, tcpdumpUW, nil, "tcpdump-uw -i vmk0 -n")
	vmk1 := runBackground(t, tcpdumpUW, nil, "tcpdump-uw -i vmk1 -n port 2049")
	vmk0.listening(t)
	vmk1.listening(t)

	c, err := lab.Host.Node().Dial(ctx, cvm, fabric.DialOptions{LocalPort: 1023})
	require.NoError(t, err)
	s := <-atA
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	vmk1.stdout.waitLines(t, 5) // handshake, data, ACK

	esxcfgRoute := cmdtest.Lookup(t, reg, "esxcfg-route")
	out, errOut, code := cmdtest.Exec(ctx, esxcfgRoute, cmdtest.SplitLine("esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28"), lab.Clock)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	vmk0.stdout.waitLines(t, 2) // the probe and CVM B's RST

	// The NFS client reconnects, now out of vmk0.
	c2, err := lab.Host.Node().Dial(ctx, cvm, fabric.DialOptions{LocalPort: 1022})
	require.NoError(t, err)
	defer c2.Close()
	<-atB
	vmk0.stdout.waitLines(t, 5) // ARP for CVM B, then the handshake

	got := vmk1.stop(t, "tcpdump-uw -i vmk1 -n port 2049") + vmk0.stop(t, "tcpdump-uw -i vmk0 -n")
	cmdtest.Golden(t, "tcpdump-seed001", got)
	assert.Contains(t, got, "IP 192.168.5.2.2049 > 192.168.5.1.1023: Flags [R]")
}

// vmkping over a cold neighbour cache: ARP, then the echo, on vmk0.
func TestTcpdumpPingAndARP(t *testing.T) {
	lab, tcpdumpUW, _ := tcpdumpLab(t)
	for _, c := range []struct {
		line, dst string
		lines     int
	}{
		{"tcpdump-uw -e -n", "192.168.1.1", 4},                // ARP, then the echo
		{"tcpdump-uw -v icmp", "192.168.1.1", 4},              // two lines a packet with -v
		{"tcpdump-uw -i vmk0 arp or icmp", "192.168.1.28", 4}, // a neighbour not yet cached
	} {
		b := runBackground(t, tcpdumpUW, nil, c.line)
		b.listening(t)
		r, err := lab.Host.Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr(c.dst)})
		require.NoError(t, err)
		require.NotNil(t, r)
		b.stdout.waitLines(t, c.lines)
		name := strings.NewReplacer(" ", "_", "-", "").Replace(strings.TrimPrefix(c.line, "tcpdump-uw "))
		cmdtest.Golden(t, "tcpdump-ping-"+name, b.stop(t, c.line))
	}
}

// The command line errors as a session shows them, and -w into the
// host's filesystem, read back with -r.
func TestTcpdumpCommandLine(t *testing.T) {
	lab, tcpdumpUW, _ := tcpdumpLab(t)
	fs := shell.NewFS()
	require.NoError(t, fs.MkdirAll("/tmp"))
	run := func(line string) (string, string, int) {
		var out, errb bytes.Buffer
		code := tcpdumpUW(context.Background(), &shell.Invocation{Args: cmdtest.SplitLine(line), Stdin: strings.NewReader(""),
			Stdout: &out, Stderr: &errb, Dir: "/", Getenv: func(string) string { return "" }, FS: fs})
		return out.String(), errb.String(), code
	}
	w := runBackground(t, tcpdumpUW, fs, "tcpdump-uw -i vmk0 -c 4 -w /tmp/ping.pcap icmp or arp")
	w.listening(t)
	_, err := lab.Host.Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr("192.168.1.1")})
	require.NoError(t, err)
	require.Equal(t, 0, <-w.done)
	cmdtest.Golden(t, "tcpdump-cmdline", "$ tcpdump-uw -i vmk0 -c 4 -w /tmp/ping.pcap icmp or arp\n[stderr]\n"+w.stderr.String()+
		cmdtest.Transcript(run,
			"tcpdump-uw -D",
			"tcpdump-uw -i vmk7",
			"tcpdump-uw -i vmnic0",
			"tcpdump-uw -i vmk0 'host 192.168.5.2 and'",
			"tcpdump-uw -i vmk0 host filer",
			"tcpdump-uw -i vmk0 inbound",
			"tcpdump-uw -nr /tmp/ping.pcap",
			"tcpdump-uw -r /tmp/ping.pcap -e 'icmp[icmptype] = icmp-echoreply'",
		))
}

// Ctrl-C in an interactive SSH session ends a capture: tcpdump-uw ends
// the line and prints its counters, and the prompt comes back.
func TestTcpdumpCtrlCOverSSH(t *testing.T) {
	h := newHost(t, Config{ECDSAOnly: true})
	c := login(t, h)
	s, err := c.NewSession()
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.RequestPty("xterm", 24, 200, gossh.TerminalModes{gossh.ECHO: 1}))
	stdin, err := s.StdinPipe()
	require.NoError(t, err)
	stdout, err := s.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, s.Shell())

	var buf bytes.Buffer
	const prompt = "[root@NTNX-BLOCK1-A:~] "
	sshdtest.ReadUntil(t, stdout, &buf, prompt)
	_, err = io.WriteString(stdin, "tcpdump-uw -n -i vmk0 icmp\r")
	require.NoError(t, err)
	sshdtest.ReadUntil(t, stdout, &buf, "capture size 262144 bytes\r\n")
	// No gateway node in this lab: whatever leaves, nothing answers.
	_, _ = h.VMkernel().Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr("192.168.1.1")})
	_, err = io.WriteString(stdin, "\x03")
	require.NoError(t, err)
	got := sshdtest.ReadUntil(t, stdout, &buf, prompt)
	got = regexp.MustCompile(`\d\d:\d\d:\d\d\.\d{6}`).ReplaceAllString(got, "HH:MM:SS.uuuuuu")
	assert.Regexp(t, `^(HH:MM:SS.uuuuuu IP 192\.168\.1\.24 > 192\.168\.1\.1: ICMP echo request, id \d+, seq 0, length 64\r\n)?\^C\r\n`+
		`\d+ packets? captured\r\n\d+ packets? received by filter\r\n0 packets dropped by kernel\r\n`+
		`\[root@NTNX-BLOCK1-A:~\] $`, got, "tcpdump caught the interrupt: no blank line from the shell")
	// ... and exited 0, as tcpdump does after SIGINT.
	_, err = io.WriteString(stdin, "echo $?\r")
	require.NoError(t, err)
	assert.Equal(t, "echo $?\r\n0\r\n"+prompt, sshdtest.ReadUntil(t, stdout, &buf, prompt))
	_, err = io.WriteString(stdin, "exit\r")
	require.NoError(t, err)
	_ = s.Wait()
}
