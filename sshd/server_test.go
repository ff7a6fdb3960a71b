package sshd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

func TestExec(t *testing.T) {
	s := newServer(t, esxiPolicy())
	c := login(t, s, "root")
	for _, tc := range []struct {
		cmd, stdin, stdout, stderr string
		status                     int
	}{
		{cmd: "echo out; echo err >&2", stdout: "out\n", stderr: "err\n"},
		{cmd: "exit 3", status: 3},
		{cmd: "nosuch", stderr: "sh: nosuch: not found\n", status: 127},
		{cmd: "cat", stdin: "piped\n", stdout: "piped\n"},
		{cmd: "echo $USER $LOGNAME ${TERM-noterm}", stdout: "root root noterm\n"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			ss, err := c.NewSession()
			require.NoError(t, err)
			defer ss.Close()
			var o, e bytes.Buffer
			ss.Stdout, ss.Stderr, ss.Stdin = &o, &e, strings.NewReader(tc.stdin)
			err = ss.Run(tc.cmd)
			status := 0
			var ee *gossh.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitStatus()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.stdout, o.String(), "stdout")
			assert.Equal(t, tc.stderr, e.String(), "stderr")
			assert.Equal(t, tc.status, status, "exit status")
		})
	}

	// SSH_CLIENT and SSH_CONNECTION name both ends, as sshd sets them.
	local := c.LocalAddr().(*net.TCPAddr)
	remote := c.RemoteAddr().(*net.TCPAddr)
	stdout, _, _ := sshdtest.Run(t, c, `echo "$SSH_CLIENT|$SSH_CONNECTION"`)
	assert.Equal(t, "127.0.0.1 "+strconv.Itoa(local.Port)+" "+strconv.Itoa(remote.Port)+"|127.0.0.1 "+strconv.Itoa(local.Port)+" 127.0.0.1 "+strconv.Itoa(remote.Port)+"\n", stdout)
}

// TestPTYShell runs a CVM-like interactive login: window changes before
// the shell starts neither block the session's request loop nor get lost,
// the MOTD comes first, output gets a terminal's "\r\n".
func TestPTYShell(t *testing.T) {
	cfg := cvmPolicy()
	cfg.Shell = busybox("/home/nutanix")
	s := newServer(t, cfg)
	c := login(t, s, "nutanix")
	ss, err := c.NewSession()
	require.NoError(t, err)
	defer ss.Close()
	require.NoError(t, ss.RequestPty("xterm", 24, 80, gossh.TerminalModes{gossh.ECHO: 1}))
	for i := 0; i < 5; i++ {
		require.NoError(t, ss.WindowChange(30+i, 100+i))
	}
	stdin, err := ss.StdinPipe()
	require.NoError(t, err)
	stdout, err := ss.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, ss.Shell())

	var buf bytes.Buffer
	got := sshdtest.ReadUntil(t, stdout, &buf, cvmPrompt)
	assert.Equal(t, "Nutanix Controller VM\r\n"+cvmPrompt, got)

	_, err = io.WriteString(stdin, "cd /\r")
	require.NoError(t, err)
	got = sshdtest.ReadUntil(t, stdout, &buf, "nutanix@NTNX-BLOCK1-A-CVM:192.168.1.27:/$ ")
	assert.Equal(t, "cd /\r\nnutanix@NTNX-BLOCK1-A-CVM:192.168.1.27:/$ ", got)

	// A resize at the prompt: the line editor repaints the line.
	require.NoError(t, ss.WindowChange(50, 132))
	sshdtest.ReadUntil(t, stdout, &buf, "\x1b[Knutanix@NTNX-BLOCK1-A-CVM:192.168.1.27:/$ ")
	_, err = io.WriteString(stdin, "printf 'a\\nb\\n'; echo $TERM; nosuch\r")
	require.NoError(t, err)
	got = sshdtest.ReadUntil(t, stdout, &buf, ":/$ ")
	assert.Equal(t, "printf 'a\\nb\\n'; echo $TERM; nosuch\r\na\r\nb\r\nxterm\r\n-sh: nosuch: not found\r\nnutanix@NTNX-BLOCK1-A-CVM:192.168.1.27:/$ ", got)

	_, err = io.WriteString(stdin, "exit 4\r")
	require.NoError(t, err)
	var ee *gossh.ExitError
	require.ErrorAs(t, ss.Wait(), &ee)
	assert.Equal(t, 4, ee.ExitStatus())
}

// TestPTYExecNoMOTD: a command with a terminal gets "\r\n" and one output
// stream, and no MOTD (sshd prints it for shells only).
func TestPTYExecNoMOTD(t *testing.T) {
	s := newServer(t, cvmPolicy())
	c := login(t, s, "nutanix")
	ss, err := c.NewSession()
	require.NoError(t, err)
	defer ss.Close()
	require.NoError(t, ss.RequestPty("vt100", 24, 80, nil))
	out, err := ss.CombinedOutput("echo a; echo b >&2")
	require.NoError(t, err)
	assert.Equal(t, "a\r\nb\r\n", string(out))
}

func TestEnvAndRefusedRequests(t *testing.T) {
	s := newServer(t, cvmPolicy())
	c := login(t, s, "nutanix")

	ss, err := c.NewSession()
	require.NoError(t, err)
	require.NoError(t, ss.Setenv("LANG", "en_US.UTF-8"))
	require.NoError(t, ss.Setenv("LC_TIME", "C"))
	// Acknowledged, dropped: AcceptEnv does not list it.
	require.NoError(t, ss.Setenv("SECRET", "x"))
	out, err := ss.Output(`echo "$LANG/$LC_TIME/$SECRET"`)
	require.NoError(t, err)
	assert.Equal(t, "en_US.UTF-8/C/\n", string(out))

	ss, err = c.NewSession()
	require.NoError(t, err)
	require.Error(t, ss.RequestSubsystem("sftp"), "no subsystem")
	ss.Close()

	// A second exec on a session that runs one is refused.
	ss, err = c.NewSession()
	require.NoError(t, err)
	require.NoError(t, ss.Start("sleep 5"))
	ok, err := ss.SendRequest("exec", true, gossh.Marshal(struct{ Command string }{"true"}))
	require.NoError(t, err)
	assert.False(t, ok)
	ss.Close()

	// No global requests, and the connection carries on.
	ok, _, err = c.SendRequest("tcpip-forward", true, nil)
	require.NoError(t, err)
	assert.False(t, ok)
	stdout, _, _ := sshdtest.Run(t, c, "echo fine")
	assert.Equal(t, "fine\n", stdout)
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"LANG", "LANG", true}, {"LANG", "LANGUAGE", false}, {"LC_*", "LC_ALL", true},
		{"LC_*", "LC_", true}, {"LC_*", "LC", false}, {"*", "a/b", true}, {"L?NG", "LANG", true},
		{"L?NG", "LNG", false}, {"*_X", "A_B_X", true}, {"", "", true}, {"", "A", false},
	} {
		assert.Equal(t, tc.want, matchPattern(tc.pat, tc.s), "%q %q", tc.pat, tc.s)
	}
}

func TestLifecycle(t *testing.T) {
	_, err := New(Config{HostKeySeed: "x", Auth: Auth{Methods: Password}})
	require.Error(t, err, "no Shell")
	_, err = New(Config{HostKeySeed: "x", Shell: busybox("/")})
	require.Error(t, err, "no method: gliderlabs would let everyone in")
	_, err = New(Config{Shell: busybox("/"), Auth: Auth{Methods: Password}})
	require.Error(t, err, "no seed")

	s, err := New(Config{HostKeySeed: "x", ECDSAOnly: true, Shell: busybox("/"), Auth: Auth{Methods: Password}})
	require.NoError(t, err)
	assert.Nil(t, s.Addr())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	require.Eventually(t, func() bool { return s.Addr() != nil }, 5*time.Second, time.Millisecond)
	assert.Equal(t, ln.Addr(), s.Addr())
	require.Error(t, s.Start(), "already serving")
	require.NoError(t, s.Close())
	assert.ErrorIs(t, <-served, ErrServerClosed)
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, s.Serve(ln2), ErrServerClosed)
	_, err = ln2.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "Serve closes a listener it refuses")
	assert.ErrorIs(t, s.Start(), ErrServerClosed)
	require.NoError(t, s.Close(), "Close twice")
}

// TestCloseLeavesNoGoroutines closes a server with an interactive shell, a
// long command and a connection stuck before its identification, and
// checks that nothing it started outlives Close.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	time.Sleep(50 * time.Millisecond) // let earlier tests' goroutines end
	before := runtime.NumGoroutine()

	cfg := cvmPolicy()
	cfg.HostKeySeed = "close" // with the RSA key's derivation
	cfg.Shell = busybox("/home/nutanix")
	s, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	c, err := dial(s, "nutanix", gossh.Password("nutanix/4u"))
	require.NoError(t, err)
	sh, err := c.NewSession()
	require.NoError(t, err)
	require.NoError(t, sh.RequestPty("xterm", 24, 80, nil))
	out, err := sh.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, sh.Shell())
	var buf bytes.Buffer
	sshdtest.ReadUntil(t, out, &buf, cvmPrompt)
	long, err := c.NewSession()
	require.NoError(t, err)
	require.NoError(t, long.Start("sleep 1000"))
	raw, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	sshdtest.Run(t, c, "true")

	sshdtest.Close(t, s.Close)
	c.Close()
	raw.Close()
	sshdtest.WaitGoroutines(t, before)
	require.NoError(t, s.Close(), "Close twice")
}

// TestCloseDuringKeyDerivation closes a server whose RSA key is still
// being derived, with a client waiting for it.
func TestCloseDuringKeyDerivation(t *testing.T) {
	cfg := esxiPolicy()
	cfg.HostKeySeed = "derive"
	cfg.Shell = busybox("/")
	s, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		if c, err := dial(s, "root", sshdtest.KeyboardInteractive("nutanix/4u")); err == nil {
			c.Close()
		}
	}()
	require.NoError(t, s.Close())
	<-dialed
}

// TestEventStamps: events carry the policy's clock and the node's name at
// the time (a CVM or host renamed from its shell reports its new name).
func TestEventStamps(t *testing.T) {
	fake := clock.NewFake()
	var name atomic.Value
	name.Store("cvm-a")
	var ev events
	cfg := cvmPolicy()
	cfg.Clock = fake
	cfg.Hostname = func() string { return name.Load().(string) }
	cfg.OnEvent = ev.add
	s := newServer(t, cfg)
	c := login(t, s, "nutanix")
	name.Store("cvm-b")
	sshdtest.Run(t, c, "echo")
	all := ev.all()
	require.Len(t, all, 2)
	assert.Equal(t, EventLogin, all[0].Kind)
	assert.Equal(t, "cvm-a", all[0].Host)
	assert.Equal(t, EventCommand, all[1].Kind)
	assert.Equal(t, "cvm-b", all[1].Host)
	assert.Equal(t, "echo", all[1].Command)
	for _, e := range all {
		assert.Equal(t, fake.Now(), e.Time)
	}
}
