package sshd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

// faultEvents is "kind/detail/command" of a server's fault and command
// events.
func (e *events) faults() []string {
	var out []string
	for _, ev := range e.all() {
		switch ev.Kind {
		case EventFault:
			out = append(out, ev.Kind+"/"+ev.Detail+"/"+ev.Command)
		case EventCommand:
			out = append(out, ev.Kind+"/"+ev.Command)
		}
	}
	return out
}

// eventually waits for cond, which another goroutine makes true.
func eventually(t testing.TB, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, msg)
}

// exhausted returns an OnExhausted that counts its calls on a channel.
func exhausted() (func(), chan struct{}) {
	ch := make(chan struct{}, 4)
	return func() { ch <- struct{}{} }, ch
}

func TestFaultKindString(t *testing.T) {
	for k, want := range map[FaultKind]string{FaultRefuse: "refuse", FaultSlow: "slow", FaultDrop: "drop", FaultHang: "hang", 0: "unknown"} {
		assert.Equal(t, want, k.String())
	}
}

// TestFaultRefuse: connections are reset before the banner, Count of them;
// then the fault stops acting and says so once.
func TestFaultRefuse(t *testing.T) {
	var ev events
	cfg := esxiPolicy()
	cfg.OnEvent = ev.add
	s := newServer(t, cfg)
	onDone, done := exhausted()
	remove, hits := s.AddFault(Fault{Kind: FaultRefuse, Count: 2, OnExhausted: onDone})

	for range 2 {
		// The RST may come before connect() has reported success.
		c, err := net.Dial("tcp", s.Addr().String())
		if err == nil {
			_, err = c.Read(make([]byte, 64))
			c.Close()
		}
		require.ErrorIs(t, err, syscall.ECONNRESET, "an RST, not the banner nor a FIN")
	}
	assert.Equal(t, 2, hits())
	<-done
	c := login(t, s, "root")
	stdout, _, _ := sshdtest.Run(t, c, "echo in")
	assert.Equal(t, "in\n", stdout, "spent: the third connection gets in")
	assert.Equal(t, 2, hits())
	assert.Equal(t, []string{"ssh.fault/refuse/", "ssh.fault/refuse/", "ssh.command/echo in"}, ev.faults())
	remove()
	remove()
	select {
	case <-done:
		t.Fatal("OnExhausted called twice")
	default:
	}

	// Uncounted, until removed; x/crypto's client sees the handshake fail.
	remove, hits = s.AddFault(Fault{Kind: FaultRefuse})
	for range 3 {
		_, err := dial(s, "root", sshdtest.KeyboardInteractive("nutanix/4u"))
		require.Error(t, err)
	}
	assert.Equal(t, 3, hits())
	remove()
	login(t, s, "root")
}

// TestFaultSlow: the banner waits for the fault's delay on the server's
// clock, or for the fault's removal.
func TestFaultSlow(t *testing.T) {
	clk := clock.NewFake()
	cfg := esxiPolicy()
	cfg.Clock = clk
	s := newServer(t, cfg)
	onDone, done := exhausted()
	remove, hits := s.AddFault(Fault{Kind: FaultSlow, Delay: 30 * time.Second, Count: 2, OnExhausted: onDone})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	dialed := make(chan error, 1)
	connect := func() {
		go func() {
			c, err := dial(s, "root", sshdtest.KeyboardInteractive("nutanix/4u"))
			if err == nil {
				c.Close()
			}
			dialed <- err
		}()
	}
	connect()
	require.NoError(t, clk.BlockUntilContext(ctx, 1), "the server waits on its clock")
	clk.Advance(30*time.Second - time.Nanosecond)
	require.NoError(t, clk.BlockUntilContext(ctx, 1), "still waiting")
	select {
	case err := <-dialed:
		t.Fatalf("connected before the delay: %v", err)
	default:
	}
	clk.Advance(time.Nanosecond)
	require.NoError(t, <-dialed)

	// Removal sends the banner at once, and ends the last hit.
	connect()
	require.NoError(t, clk.BlockUntilContext(ctx, 1))
	assert.Equal(t, 2, hits())
	remove()
	require.NoError(t, <-dialed)
	<-done
}

// runAsync starts command in a new session of c.
func runAsync(t *testing.T, c *gossh.Client, command string) (*gossh.Session, *bytes.Buffer, chan error) {
	t.Helper()
	ss, err := c.NewSession()
	require.NoError(t, err)
	var out bytes.Buffer
	ss.Stdout = &out
	done := make(chan error, 1)
	require.NoError(t, ss.Start(command))
	go func() { done <- ss.Wait() }()
	return ss, &out, done
}

// TestFaultHangExec: a matching command does not run until the fault goes;
// one whose client gives up never runs; others run.
func TestFaultHangExec(t *testing.T) {
	var ev events
	cfg := esxiPolicy()
	cfg.OnEvent = ev.add
	s := newServer(t, cfg)
	c := login(t, s, "root")
	onDone, done := exhausted()
	remove, hits := s.AddFault(Fault{Kind: FaultHang, Command: "echo route", Count: 2, OnExhausted: onDone})

	stdout, _, _ := sshdtest.Run(t, c, "echo other")
	assert.Equal(t, "other\n", stdout, "not matching: runs")

	_, out, finished := runAsync(t, c, "echo route one")
	eventually(t, func() bool { return hits() == 1 }, "the command hangs")

	// The client gives up on a second one: it never runs, and the last
	// hit is over.
	eventually(t, func() bool { return slices.Contains(ev.faults(), "ssh.fault/hang/echo route one") }, "reported")
	gaveUp, _, gone := runAsync(t, c, "echo route two")
	eventually(t, func() bool { return slices.Contains(ev.faults(), "ssh.fault/hang/echo route two") }, "the second hangs")
	assert.Equal(t, 2, hits())
	require.NoError(t, gaveUp.Close())
	<-gone
	select {
	case <-done:
		t.Fatal("exhausted while the first still hangs")
	default:
	}
	stdout, _, _ = sshdtest.Run(t, c, "echo route three")
	assert.Equal(t, "route three\n", stdout, "spent: runs")

	remove()
	require.NoError(t, <-finished)
	assert.Equal(t, "route one\n", out.String(), "released: runs as usual")
	<-done
	assert.Equal(t, []string{
		"ssh.command/echo other",
		"ssh.fault/hang/echo route one", "ssh.fault/hang/echo route two",
		"ssh.command/echo route three", "ssh.command/echo route one",
	}, ev.faults())
}

// shellSession starts an interactive PTY shell on c and reads up to the
// first prompt.
func shellSession(t *testing.T, c *gossh.Client, prompt string) (io.Writer, io.Reader, *gossh.Session, *bytes.Buffer) {
	t.Helper()
	ss, err := c.NewSession()
	require.NoError(t, err)
	t.Cleanup(func() { ss.Close() })
	require.NoError(t, ss.RequestPty("xterm", 24, 80, nil))
	stdin, err := ss.StdinPipe()
	require.NoError(t, err)
	stdout, err := ss.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, ss.Shell())
	var buf bytes.Buffer
	sshdtest.ReadUntil(t, stdout, &buf, prompt)
	return stdin, stdout, ss, &buf
}

// TestFaultHangInteractive: a line typed at the prompt is echoed and does
// not run; removing the fault runs it. The line is followed through
// editing keys.
func TestFaultHangInteractive(t *testing.T) {
	var ev events
	cfg := cvmPolicy()
	cfg.OnEvent = ev.add
	cfg.Shell = busybox("/")
	s := newServer(t, cfg)
	c := login(t, s, "nutanix")
	const prompt = "nutanix@NTNX-BLOCK1-A-CVM:192.168.1.27:/$ "
	stdin, stdout, _, buf := shellSession(t, c, prompt)
	remove, hits := s.AddFault(Fault{Kind: FaultHang, Command: "echo b"})

	_, err := io.WriteString(stdin, "echo a\r")
	require.NoError(t, err)
	assert.Equal(t, "echo a\r\na\r\n"+prompt, sshdtest.ReadUntil(t, stdout, buf, prompt))

	// "echo x", backspace, "b": the line is "echo b".
	_, err = io.WriteString(stdin, "echo x\x7fb\r")
	require.NoError(t, err)
	eventually(t, func() bool { return hits() == 1 }, "the line hangs")
	assert.NotContains(t, ev.faults(), "ssh.command/echo b", "hung: not run")
	remove()
	assert.True(t, strings.HasSuffix(sshdtest.ReadUntil(t, stdout, buf, prompt), "\r\nb\r\n"+prompt))
	assert.Equal(t, []string{"ssh.command/echo a", "ssh.fault/hang/echo b", "ssh.command/echo b"}, ev.faults())

	// Ctrl-U kills a line: what follows is the line.
	remove, hits = s.AddFault(Fault{Kind: FaultHang, Command: "echo c"})
	defer remove()
	_, err = io.WriteString(stdin, "echo c\x15echo d\r")
	require.NoError(t, err)
	got := sshdtest.ReadUntil(t, stdout, buf, "d\r\n"+prompt)
	assert.Contains(t, got, "echo d")
	assert.Zero(t, hits())
}

// TestFaultLineGate follows the line editor's keys without a server.
func TestFaultLineGate(t *testing.T) {
	for _, tc := range []struct {
		keys  string
		line  string
		known bool
	}{
		{"ls -l", "ls -l", true},
		{"lx\x7fs", "ls", true},
		{"lx\bs", "ls", true},
		{"junk\x15ls", "ls", true},
		{"junk\x03ls", "ls", true},
		{"ls foo bar \x17baz", "ls foo baz", true},
		{"ls\x1b[Dx", "lsx", false},
		{"\x1b[A", "", false},
		{"ls\tx", "lsx", false},
		{"l\x0cs", "ls", true},
	} {
		g := &lineGate{known: true}
		for _, b := range []byte(tc.keys) {
			g.track(b)
		}
		assert.Equal(t, tc.line, string(g.line), "%q", tc.keys)
		assert.Equal(t, tc.known, g.known, "%q", tc.keys)
		g.track('\r')
		g.track('\n')
		assert.Empty(t, g.line, "Enter starts a new line")
		assert.True(t, g.known)
	}
}

// TestFaultDropExec: the connection goes right after the command's first
// write, without an exit status.
func TestFaultDropExec(t *testing.T) {
	var ev events
	cfg := esxiPolicy()
	cfg.OnEvent = ev.add
	s := newServer(t, cfg)
	c := login(t, s, "root")
	onDone, done := exhausted()
	_, hits := s.AddFault(Fault{Kind: FaultDrop, Command: "echo one", Count: 1, OnExhausted: onDone})

	stdout, _, _ := sshdtest.Run(t, c, "echo other; echo more")
	assert.Equal(t, "other\nmore\n", stdout, "not matching: whole")

	ss, err := c.NewSession()
	require.NoError(t, err)
	var out bytes.Buffer
	ss.Stdout = &out
	err = ss.Run("echo one; echo two")
	require.Error(t, err)
	var ee *gossh.ExitError
	require.False(t, errors.As(err, &ee), "no exit status: %v", err)
	// The shell's echo writes "one", then "\n": the cut comes between.
	assert.Equal(t, "one", out.String())
	_, err = c.NewSession()
	require.Error(t, err, "the connection is gone")
	assert.Equal(t, 1, hits())
	<-done
	assert.Contains(t, ev.faults(), "ssh.fault/drop/echo one; echo two")

	c = login(t, s, "root")
	stdout, _, _ = sshdtest.Run(t, c, "echo one; echo two")
	assert.Equal(t, "one\ntwo\n", stdout, "spent")
}

// TestFaultDropInteractive: the shell's connection goes after the first
// output of the line typed; the prompt and echo before it do not count.
func TestFaultDropInteractive(t *testing.T) {
	cfg := cvmPolicy()
	cfg.Shell = busybox("/")
	s := newServer(t, cfg)
	remove, hits := s.AddFault(Fault{Kind: FaultDrop})
	defer remove()
	c := login(t, s, "nutanix")
	const prompt = "nutanix@NTNX-BLOCK1-A-CVM:192.168.1.27:/$ "
	stdin, stdout, ss, buf := shellSession(t, c, prompt)
	assert.Zero(t, hits(), "the MOTD and prompt are not a command's output")

	_, err := io.WriteString(stdin, "echo a; echo b\r")
	require.NoError(t, err)
	rest, err := io.ReadAll(stdout)
	require.NoError(t, err)
	buf.Write(rest)
	assert.Equal(t, "Nutanix Controller VM\r\n"+prompt+"echo a; echo b\r\na", buf.String(),
		"the echo, then the first write of output (echo's \"a\" before its newline)")
	var ee *gossh.ExitError
	require.False(t, errors.As(ss.Wait(), &ee), "no exit status")
	assert.Equal(t, 1, hits())
}

// TestFaultsTogether: faults of several kinds stand at once, each acting
// on its own.
func TestFaultsTogether(t *testing.T) {
	s := newServer(t, esxiPolicy())
	rmDrop, dropHits := s.AddFault(Fault{Kind: FaultDrop, Command: "echo drop"})
	defer rmDrop()
	rmRefuse, refuseHits := s.AddFault(Fault{Kind: FaultRefuse, Count: 1})
	defer rmRefuse()
	_, err := dial(s, "root", sshdtest.KeyboardInteractive("nutanix/4u"))
	require.Error(t, err)
	c := login(t, s, "root")
	stdout, _, _ := sshdtest.Run(t, c, "echo keep")
	assert.Equal(t, "keep\n", stdout)
	assert.Equal(t, 1, refuseHits())
	assert.Zero(t, dropHits())
}

// openssh is the OpenSSH client with a key the server accepts.
type openssh struct {
	bin, key, host, port, user string
}

// newOpenSSH starts a CVM-policy server whose nutanix user accepts a new
// ECDSA key, and returns the client for it. Without an ssh binary the test
// is skipped, unless CI=true.
func newOpenSSH(t *testing.T, ev *events) (*Server, *openssh) {
	t.Helper()
	bin, err := exec.LookPath("ssh")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("OpenSSH client missing (CI=true: failing, not skipping): %v", err)
		}
		t.Skipf("!!!!! SKIPPED: OpenSSH client missing (%v) !!!!!", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	key := filepath.Join(t.TempDir(), "id_ecdsa")
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	pub, err := gossh.NewPublicKey(&k.PublicKey)
	require.NoError(t, err)
	users := Users{"nutanix": {AuthorizedKeys: []string{string(gossh.MarshalAuthorizedKey(pub))}}}
	cfg := cvmPolicy()
	cfg.Auth.Password, cfg.Auth.AuthorizedKeys = users.Password, users.AuthorizedKeys
	if ev != nil {
		cfg.OnEvent = ev.add
	}
	s := newServer(t, cfg)
	host, port, _ := strings.Cut(s.Addr().String(), ":")
	return s, &openssh{bin: bin, key: key, host: host, port: port, user: "nutanix"}
}

func (o *openssh) command(ctx context.Context, remote string) *exec.Cmd {
	return exec.CommandContext(ctx, o.bin, "-F", "/dev/null", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "IdentitiesOnly=yes", "-i", o.key, "-o", "ConnectTimeout=10",
		"-p", o.port, "-l", o.user, o.host, remote)
}

func TestFaultRefuseOpenSSH(t *testing.T) {
	s, o := newOpenSSH(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := o.command(ctx, "echo in").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "in\n", string(out))

	remove, hits := s.AddFault(Fault{Kind: FaultRefuse})
	cmd := o.command(ctx, "echo in")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 255, ee.ExitCode())
	// OpenSSH says "kex_exchange_identification: read: Connection reset
	// by peer" when the reset meets its read of our banner. When it meets
	// the write of its own version string (the RST came first) it logs
	// the write error at debug level only and exits 255 in silence
	// (sshpkt_fatal on ECONNRESET).
	if e := stderr.String(); e != "" {
		assert.Regexp(t, `Connection (reset by peer|closed)`, e)
	}
	assert.Equal(t, 1, hits())
	remove()
	out, err = o.command(ctx, "echo in").CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// TestFaultHangOpenSSH: OpenSSH's exec waits while the command hangs; its
// output comes when the fault goes. Killing the client ends a hang.
func TestFaultHangOpenSSH(t *testing.T) {
	var ev events
	s, o := newOpenSSH(t, &ev)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	onDone, done := exhausted()
	remove, hits := s.AddFault(Fault{Kind: FaultHang, Command: "echo hung", Count: 2, OnExhausted: onDone})

	cmd := o.command(ctx, "echo hung")
	var out bytes.Buffer
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	eventually(t, func() bool { return hits() == 1 }, "the command hangs")

	killed := o.command(ctx, "echo hung too")
	require.NoError(t, killed.Start())
	eventually(t, func() bool { return hits() == 2 }, "the second hangs")
	require.NoError(t, killed.Process.Kill())
	_ = killed.Wait()
	// Removing the fault before the server has seen the killed client go
	// would release its command too: it would run, unseen, as a command
	// whose client died unnoticed does.
	eventually(t, func() bool {
		n := 0
		for _, e := range ev.all() {
			if e.Kind == EventLogout {
				n++
			}
		}
		return n == 1
	}, "the server saw the killed client go")

	remove()
	require.NoError(t, cmd.Wait())
	assert.Equal(t, "hung\n", out.String())
	<-done
	eventually(t, func() bool { return slices.Contains(ev.faults(), "ssh.command/echo hung") }, "the released one ran")
	assert.NotContains(t, ev.faults(), "ssh.command/echo hung too", "the abandoned one never ran")
}
