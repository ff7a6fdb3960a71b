package esxisim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// newHost starts host A of the default lab on 127.0.0.1:0. The RSA host key
// is skipped (ECDSAOnly) unless cfg says otherwise, to keep tests fast.
func newHost(t testing.TB, cfg Config) *Host {
	t.Helper()
	if cfg.VMkernel.Hostname == "" {
		cfg.VMkernel = vmkerneltest.HostAConfig()
	}
	h, err := New(fabric.New(fabric.WithClock(clock.Real())), cfg)
	require.NoError(t, err)
	require.NoError(t, h.Start())
	t.Cleanup(func() { h.Close() })
	return h
}

// kbdInt answers ESXi's PAM question with password and records the
// questions asked.
type kbdInt struct {
	password  string
	mu        sync.Mutex
	questions []string
	echos     []bool
}

func (k *kbdInt) auth() gossh.AuthMethod {
	return gossh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.questions = append(k.questions, questions...)
		k.echos = append(k.echos, echos...)
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = k.password
		}
		return answers, nil
	})
}

func dial(t testing.TB, h *Host, user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	t.Helper()
	return gossh.Dial("tcp", h.Addr().String(), &gossh.ClientConfig{
		User:            user,
		Auth:            auth,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
}

func login(t testing.TB, h *Host) *gossh.Client {
	t.Helper()
	c, err := dial(t, h, "root", (&kbdInt{password: DefaultPassword}).auth())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// run execs command in a new session and returns its output and status.
func run(t testing.TB, c *gossh.Client, command string) (stdout, stderr string, status int) {
	t.Helper()
	s, err := c.NewSession()
	require.NoError(t, err)
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	err = s.Run(command)
	var ee *gossh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitStatus()
	default:
		t.Fatalf("%q: %v", command, err)
	}
	return o.String(), e.String(), status
}

func TestExec(t *testing.T) {
	h := newHost(t, Config{})
	c := login(t, h)
	for _, tc := range []struct {
		cmd, stdout, stderr string
		status              int
	}{
		{cmd: "vmware -vl", stdout: "VMware ESXi 8.0.3 build-24022510\nVMware ESXi 8.0 Update 3\n"},
		{cmd: "vmware -lv", stdout: "VMware ESXi 8.0.3 build-24022510\nVMware ESXi 8.0 Update 3\n"},
		{cmd: "vmware -v", stdout: "VMware ESXi 8.0.3 build-24022510\n"},
		{cmd: "vmware --level", stdout: "VMware ESXi 8.0 Update 3\n"},
		{cmd: "vmware -x", stderr: vmwareUsage + "vmware: error: unrecognized arguments: -x\n", status: 2},
		{cmd: "uname -a", stdout: "VMkernel NTNX-BLOCK1-A 8.0.3 #1 SMP Release build-24022510 Jun 20 2024 23:46:59 x86_64 x86_64 x86_64 ESXi\n"},
		{cmd: "uname", stdout: "VMkernel\n"},
		{cmd: "hostname", stdout: "NTNX-BLOCK1-A\n"},
		{cmd: "hostname -s", stdout: "NTNX-BLOCK1-A\n"},
		{cmd: "nosuch; echo $?", stdout: "127\n", stderr: "sh: nosuch: not found\n"},
		{cmd: "exit 3", status: 3},
		{cmd: "echo $HOME $USER $PATH; pwd", stdout: "/ root /bin:/sbin\n/\n"},
		{cmd: "for d in /bin /sbin /etc/vmware /var/log /vmfs/volumes /tmp /scratch; do test -d $d || echo $d; done; ls /etc/ssh/keys-root", stdout: "authorized_keys\n"},
		{cmd: "esxcfg-route -l | grep vmk1 | awk '{print $1}'", stdout: "192.168.5.0\n"},
		{cmd: "cat", stdout: "piped\n"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			s, err := c.NewSession()
			require.NoError(t, err)
			defer s.Close()
			var o, e bytes.Buffer
			s.Stdout, s.Stderr = &o, &e
			if tc.cmd == "cat" {
				s.Stdin = strings.NewReader("piped\n")
			}
			err = s.Run(tc.cmd)
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
}

func TestPrompt(t *testing.T) {
	h := newHost(t, Config{ECDSAOnly: true})
	assert.Equal(t, "[root@NTNX-BLOCK1-A:~] ", h.Prompt("root", "/"))
	assert.Equal(t, "[root@NTNX-BLOCK1-A:/var/log] ", h.Prompt("root", "/var/log"))
	h.VMkernel().SetHostname("esx01.lab.local")
	assert.Equal(t, "[root@esx01:/etc] ", h.Prompt("root", "/etc"))
}

// readUntil reads r until the output ends with suffix.
func readUntil(t testing.TB, r io.Reader, buf *bytes.Buffer, suffix string) string {
	t.Helper()
	start := buf.Len()
	done := make(chan error, 1)
	go func() {
		p := make([]byte, 4096)
		for !strings.HasSuffix(buf.String()[start:], suffix) {
			n, err := r.Read(p)
			buf.Write(p[:n])
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(t, err, "reading until %q; got %q", suffix, buf.String()[start:])
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out reading until %q", suffix)
	}
	return buf.String()[start:]
}

func TestPTYShellResizeBeforeShell(t *testing.T) {
	h := newHost(t, Config{ECDSAOnly: true})
	c := login(t, h)
	s, err := c.NewSession()
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.RequestPty("xterm", 24, 80, gossh.TerminalModes{gossh.ECHO: 1}))
	// Several resizes before the shell starts must neither block the
	// session's request loop nor be lost.
	for i := 0; i < 5; i++ {
		require.NoError(t, s.WindowChange(30+i, 100+i))
	}
	stdin, err := s.StdinPipe()
	require.NoError(t, err)
	stdout, err := s.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, s.Shell())

	var buf bytes.Buffer
	const home = "[root@NTNX-BLOCK1-A:~] "
	got := readUntil(t, stdout, &buf, home)
	assert.Equal(t, strings.ReplaceAll(Motd, "\n", "\r\n")+home, got)

	_, err = io.WriteString(stdin, "cd /var/log\r")
	require.NoError(t, err)
	got = readUntil(t, stdout, &buf, "[root@NTNX-BLOCK1-A:/var/log] ")
	assert.Equal(t, "cd /var/log\r\n[root@NTNX-BLOCK1-A:/var/log] ", got)

	// A resize at the prompt: the line editor repaints the line for the
	// new width.
	require.NoError(t, s.WindowChange(50, 132))
	readUntil(t, stdout, &buf, "\x1b[K[root@NTNX-BLOCK1-A:/var/log] ")
	_, err = io.WriteString(stdin, "vmware -v | grep -c ESXi; nosuch\r")
	require.NoError(t, err)
	got = readUntil(t, stdout, &buf, "/var/log] ")
	assert.Equal(t, "vmware -v | grep -c ESXi; nosuch\r\n1\r\n-sh: nosuch: not found\r\n[root@NTNX-BLOCK1-A:/var/log] ", got)

	_, err = io.WriteString(stdin, "exit 4\r")
	require.NoError(t, err)
	err = s.Wait()
	var ee *gossh.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 4, ee.ExitStatus())
}

// TestLoginEnv checks ESXi's session environment: its AcceptEnv keeps the
// locale only, and the login shell's variables.
func TestLoginEnv(t *testing.T) {
	h := newHost(t, Config{ECDSAOnly: true})
	c := login(t, h)

	s, err := c.NewSession()
	require.NoError(t, err)
	require.NoError(t, s.Setenv("LANG", "en_US.UTF-8"))
	require.NoError(t, s.Setenv("LC_ALL", "C"))
	require.NoError(t, s.Setenv("SECRET", "x"))
	out, err := s.Output(`echo "$LANG/$LC_ALL/$SECRET/$SHELL/$LOGNAME/${TERM-none}/${SSH_TTY-none}"; echo $SSH_CONNECTION`)
	require.NoError(t, err)
	assert.Regexp(t, `^en_US.UTF-8/C///bin/sh/root/none/none\n127.0.0.1 \d+ 127.0.0.1 \d+\n$`, string(out))
}

func TestAuthMethods(t *testing.T) {
	var (
		mu     sync.Mutex
		events []Event
	)
	h := newHost(t, Config{ECDSAOnly: true, OnEvent: func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})

	// "password" is not offered: x/crypto's client finds no method left
	// after "none".
	_, err := dial(t, h, "root", gossh.Password(DefaultPassword))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attempted methods [none]")
	assert.Contains(t, err.Error(), "no supported methods remain")

	// keyboard-interactive asks PAM's "Password: " without echo.
	k := &kbdInt{password: DefaultPassword}
	c, err := dial(t, h, "root", k.auth())
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, []string{"Password: "}, k.questions)
	assert.Equal(t, []bool{false}, k.echos)

	// A wrong password fails and is reported.
	_, err = dial(t, h, "root", (&kbdInt{password: "wrong"}).auth())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to authenticate")
	_, err = dial(t, h, "admin", (&kbdInt{password: DefaultPassword}).auth())
	require.Error(t, err)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, e.Kind+"/"+e.User+"/"+e.Method)
		}
		return strings.Join(kinds, " ") == "ssh.login/root/keyboard-interactive ssh.logout/root/ "+
			"ssh.login_failed/root/keyboard-interactive ssh.login_failed/admin/keyboard-interactive"
	}, 5*time.Second, 10*time.Millisecond, "events %+v", events)
	mu.Lock()
	for _, e := range events {
		assert.Equal(t, "NTNX-BLOCK1-A", e.Host)
		assert.True(t, strings.HasPrefix(e.Source, "127.0.0.1:"), e.Source)
		assert.False(t, e.Time.IsZero())
	}
	mu.Unlock()

	// Switched on, "password" works too.
	h2 := newHost(t, Config{ECDSAOnly: true, PasswordAuth: true})
	c, err = dial(t, h2, "root", gossh.Password(DefaultPassword))
	require.NoError(t, err)
	c.Close()
	_, err = dial(t, h2, "root", gossh.Password("nope"))
	require.Error(t, err)
}

func TestPublicKeyLogin(t *testing.T) {
	authorized, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	authSigner, err := gossh.NewSignerFromKey(authorized)
	require.NoError(t, err)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherSigner, err := gossh.NewSignerFromKey(other)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	edSigner, err := gossh.NewSignerFromKey(edKey)
	require.NoError(t, err)

	line := string(gossh.MarshalAuthorizedKey(authSigner.PublicKey()))
	edLine := string(gossh.MarshalAuthorizedKey(edSigner.PublicKey()))
	h := newHost(t, Config{ECDSAOnly: true, Users: map[string]User{
		"root": {Password: DefaultPassword, AuthorizedKeys: []string{"# comment", line, edLine}},
	}})

	c, err := dial(t, h, "root", gossh.PublicKeys(authSigner))
	require.NoError(t, err)
	stdout, _, _ := run(t, c, "cat /etc/ssh/keys-root/authorized_keys")
	assert.Contains(t, stdout, strings.TrimSpace(line))
	c.Close()

	_, err = dial(t, h, "root", gossh.PublicKeys(otherSigner))
	require.Error(t, err, "an unlisted key")
	// ESXi 8's FIPS-mode sshd rejects ed25519 keys even when listed.
	_, err = dial(t, h, "root", gossh.PublicKeys(edSigner))
	require.Error(t, err, "an ed25519 key")

	// A key appended from the shell is honoured at once, as on ESXi.
	c = login(t, h)
	otherLine := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(otherSigner.PublicKey())))
	_, _, status := run(t, c, "echo '"+otherLine+"' >> /etc/ssh/keys-root/authorized_keys")
	require.Equal(t, 0, status)
	c2, err := dial(t, h, "root", gossh.PublicKeys(otherSigner))
	require.NoError(t, err)
	c2.Close()
}

// TestHostKeys pins the keys of a seed: known_hosts files written against
// earlier releases of the lab must stay valid. The seed defaults to the
// host name.
func TestHostKeys(t *testing.T) {
	a := newHost(t, Config{HostKeySeed: "lab/A"})
	keys, err := a.HostKeys()
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.Equal(t, "SHA256:O2UVyirXfmkEJPIPgRPc5Mq34i0rjAhcAtqyS3LBx0U", gossh.FingerprintSHA256(keys[0]))
	assert.Equal(t, "SHA256:4rS3SOGu8omTGezehbYjhQSOJRmG0ewTUiGTTyYYAmw", gossh.FingerprintSHA256(keys[1]))

	d := newHost(t, Config{ECDSAOnly: true})
	keys, err = d.HostKeys()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	n := newHost(t, Config{ECDSAOnly: true, HostKeySeed: "NTNX-BLOCK1-A"})
	same, err := n.HostKeys()
	require.NoError(t, err)
	assert.Equal(t, same[0].Marshal(), keys[0].Marshal(), "the default seed is the host name")

	// The server presents the ECDSA key, and RSA to a client that only
	// takes RSA.
	for _, algo := range []string{gossh.KeyAlgoECDSA256, gossh.KeyAlgoRSASHA256} {
		var seen gossh.PublicKey
		c, err := gossh.Dial("tcp", a.Addr().String(), &gossh.ClientConfig{
			User: "root", Auth: []gossh.AuthMethod{(&kbdInt{password: DefaultPassword}).auth()},
			HostKeyAlgorithms: []string{algo},
			HostKeyCallback: func(_ string, _ net.Addr, key gossh.PublicKey) error {
				seen = key
				return nil
			},
		})
		require.NoError(t, err, algo)
		c.Close()
		want := "SHA256:O2UVyirXfmkEJPIPgRPc5Mq34i0rjAhcAtqyS3LBx0U"
		if algo != gossh.KeyAlgoECDSA256 {
			want = "SHA256:4rS3SOGu8omTGezehbYjhQSOJRmG0ewTUiGTTyYYAmw"
		}
		assert.Equal(t, want, gossh.FingerprintSHA256(seen), algo)
	}
}

func TestShellLogAndCommandEvents(t *testing.T) {
	var (
		mu     sync.Mutex
		events []Event
	)
	h := newHost(t, Config{ECDSAOnly: true, OnEvent: func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	c := login(t, h)
	run(t, c, "vmware -v")
	run(t, c, "false")
	data, err := h.FS().ReadFile("/var/log/shell.log")
	require.NoError(t, err)
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z shell\[\d+\]: \[root\]: (.*)$`)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 2, "%q", data)
	for i, want := range []string{"vmware -v", "false"} {
		m := re.FindStringSubmatch(lines[i])
		require.NotNil(t, m, lines[i])
		assert.Equal(t, want, m[1])
	}
	mu.Lock()
	var cmds []string
	for _, e := range events {
		if e.Kind == EventCommand {
			cmds = append(cmds, e.Command+"="+string(rune('0'+e.Exit)))
			assert.Equal(t, "root", e.User)
		}
	}
	mu.Unlock()
	assert.Equal(t, []string{"vmware -v=0", "false=1"}, cmds)

	// vmkernel.log is the model's log, read at every open.
	h.VMkernel().Log().Printf("test line")
	stdout, _, _ := run(t, c, "tail -n 1 /var/log/vmkernel.log")
	assert.Contains(t, stdout, "test line")
}

// TestPanicRecovery checks what a client of ESXi sees of a panic: a
// panicking command is the shell's business ("boom" on stderr, the script
// goes on); one in the session machinery (here the event hook) ends that
// session with esxisim's message and status 255. package sshd tests the
// rest.
func TestPanicRecovery(t *testing.T) {
	var panicNext atomic.Bool
	h := newHost(t, Config{ECDSAOnly: true, OnEvent: func(e Event) {
		if e.Kind == EventCommand && panicNext.CompareAndSwap(true, false) {
			panic("hook exploded")
		}
	}})
	h.Registry().Register("/bin/boom", func(context.Context, *shell.Invocation) int { panic("boom") })
	c := login(t, h)

	stdout, stderr, status := run(t, c, "boom; echo after")
	assert.Equal(t, "after\n", stdout)
	assert.Contains(t, stderr, "boom")
	assert.Equal(t, 0, status)

	panicNext.Store(true)
	_, stderr, status = run(t, c, "true")
	assert.Equal(t, 255, status)
	assert.Equal(t, "esxisim: internal error, session closed: hook exploded\r\n", stderr)

	stdout, _, _ = run(t, c, "vmware -v")
	assert.Equal(t, "VMware ESXi 8.0.3 build-24022510\n", stdout)
}

// waitGoroutines polls until the goroutine count is back to at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	// Let goroutines of earlier tests finish before counting.
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	h, err := New(fabric.New(fabric.WithClock(clock.Real())), Config{VMkernel: vmkerneltest.HostAConfig()})
	require.NoError(t, err)
	require.NoError(t, h.Start())
	c, err := dial(t, h, "root", (&kbdInt{password: DefaultPassword}).auth())
	require.NoError(t, err)
	// An interactive shell, a command that would run for long, and a
	// connection stuck before its handshake.
	sh, err := c.NewSession()
	require.NoError(t, err)
	require.NoError(t, sh.RequestPty("xterm", 24, 80, nil))
	out, err := sh.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, sh.Shell())
	var buf bytes.Buffer
	readUntil(t, out, &buf, "[root@NTNX-BLOCK1-A:~] ")
	long, err := c.NewSession()
	require.NoError(t, err)
	require.NoError(t, long.Start("sleep 1000"))
	raw, err := net.Dial("tcp", h.Addr().String())
	require.NoError(t, err)
	run(t, c, "true")

	closed := make(chan error, 1)
	go func() { closed <- h.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	c.Close()
	raw.Close()
	waitGoroutines(t, before)
	require.NoError(t, h.Close(), "Close twice")
}
