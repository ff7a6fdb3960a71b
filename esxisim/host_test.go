package esxisim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"io"
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
	"github.com/autopathlab/autopathlab/sshd/sshdtest"
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
	c, err := dial(t, h, "root", sshdtest.KeyboardInteractive(DefaultPassword))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestExec runs ESXi's own commands and shell over exec; package sshd
// tests exec itself (stdin, exit statuses, the environment).
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
		{cmd: "echo $HOME $USER $PATH; pwd", stdout: "/ root /bin:/sbin\n/\n"},
		{cmd: "for d in /bin /sbin /etc/vmware /var/log /vmfs/volumes /tmp /scratch; do test -d $d || echo $d; done; ls /etc/ssh/keys-root", stdout: "authorized_keys\n"},
		{cmd: "esxcfg-route -l | grep vmk1 | awk '{print $1}'", stdout: "192.168.5.0\n"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			stdout, stderr, status := sshdtest.Run(t, c, tc.cmd)
			assert.Equal(t, tc.stdout, stdout, "stdout")
			assert.Equal(t, tc.stderr, stderr, "stderr")
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

// TestInteractiveShell pins what an ESXi login shows, byte for byte: the
// MOTD, the prompt and how it follows cd, the login shell's "-sh" errors.
// Package sshd tests terminals (window changes, the line editor's repaint).
func TestInteractiveShell(t *testing.T) {
	h := newHost(t, Config{ECDSAOnly: true})
	c := login(t, h)
	s, err := c.NewSession()
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.RequestPty("xterm", 24, 80, gossh.TerminalModes{gossh.ECHO: 1}))
	stdin, err := s.StdinPipe()
	require.NoError(t, err)
	stdout, err := s.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, s.Shell())

	var buf bytes.Buffer
	const home = "[root@NTNX-BLOCK1-A:~] "
	got := sshdtest.ReadUntil(t, stdout, &buf, home)
	assert.Equal(t, strings.ReplaceAll(Motd, "\n", "\r\n")+home, got)

	_, err = io.WriteString(stdin, "cd /var/log\r")
	require.NoError(t, err)
	got = sshdtest.ReadUntil(t, stdout, &buf, "[root@NTNX-BLOCK1-A:/var/log] ")
	assert.Equal(t, "cd /var/log\r\n[root@NTNX-BLOCK1-A:/var/log] ", got)

	_, err = io.WriteString(stdin, "vmware -v | grep -c ESXi; nosuch\r")
	require.NoError(t, err)
	got = sshdtest.ReadUntil(t, stdout, &buf, "/var/log] ")
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

// TestAuthMethods checks ESXi's authentication policy: keyboard-interactive
// with PAM's "Password: " (no echo) and publickey, no "password" unless
// Config.PasswordAuth. Package sshd tests the methods and their events.
func TestAuthMethods(t *testing.T) {
	h := newHost(t, Config{ECDSAOnly: true})

	// "password" is not offered: x/crypto's client finds no method left
	// after "none".
	_, err := dial(t, h, "root", gossh.Password(DefaultPassword))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attempted methods [none]")
	assert.Contains(t, err.Error(), "no supported methods remain")

	k := &sshdtest.KbdInt{Password: DefaultPassword}
	c, err := dial(t, h, "root", k.Auth())
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, []string{"Password: "}, k.Questions())
	assert.Equal(t, []bool{false}, k.Echos())

	_, err = dial(t, h, "root", sshdtest.KeyboardInteractive("wrong"))
	require.ErrorContains(t, err, "unable to authenticate")
	_, err = dial(t, h, "admin", sshdtest.KeyboardInteractive(DefaultPassword))
	require.Error(t, err, "a user the host does not have")

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
	stdout, _, _ := sshdtest.Run(t, c, "cat /etc/ssh/keys-root/authorized_keys")
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
	_, _, status := sshdtest.Run(t, c, "echo '"+otherLine+"' >> /etc/ssh/keys-root/authorized_keys")
	require.Equal(t, 0, status)
	c2, err := dial(t, h, "root", gossh.PublicKeys(otherSigner))
	require.NoError(t, err)
	c2.Close()
}

// TestHostKeys pins the keys of a seed: known_hosts files written against
// earlier releases of the lab must stay valid. The seed defaults to the
// host name. Package sshd tests that the server presents them.
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
	sshdtest.Run(t, c, "vmware -v")
	sshdtest.Run(t, c, "false")
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
	stdout, _, _ := sshdtest.Run(t, c, "tail -n 1 /var/log/vmkernel.log")
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

	stdout, stderr, status := sshdtest.Run(t, c, "boom; echo after")
	assert.Equal(t, "after\n", stdout)
	assert.Contains(t, stderr, "boom")
	assert.Equal(t, 0, status)

	panicNext.Store(true)
	_, stderr, status = sshdtest.Run(t, c, "true")
	assert.Equal(t, 255, status)
	assert.Equal(t, "esxisim: internal error, session closed: hook exploded\r\n", stderr)

	stdout, _, _ = sshdtest.Run(t, c, "vmware -v")
	assert.Equal(t, "VMware ESXi 8.0.3 build-24022510\n", stdout)
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	// Let goroutines of earlier tests finish before counting.
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	h, err := New(fabric.New(fabric.WithClock(clock.Real())), Config{VMkernel: vmkerneltest.HostAConfig()})
	require.NoError(t, err)
	require.NoError(t, h.Start())
	c, err := dial(t, h, "root", sshdtest.KeyboardInteractive(DefaultPassword))
	require.NoError(t, err)
	// A command that would run for long on ESXi's shell and clock; package
	// sshd tests the rest of what Close ends (shells, half-open
	// connections).
	long, err := c.NewSession()
	require.NoError(t, err)
	require.NoError(t, long.Start("sleep 1000"))
	sshdtest.Run(t, c, "true")

	sshdtest.Close(t, h.Close)
	c.Close()
	sshdtest.WaitGoroutines(t, before)
	require.NoError(t, h.Close(), "Close twice")
}
