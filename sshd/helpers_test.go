package sshd

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

// Two policies the tests run under: ESXi's sshd (no "password") and a
// CVM's OpenSSH (all three methods, its own prompt and banner).
const (
	cvmPrompt = "nutanix@NTNX-BLOCK1-A-CVM:192.168.1.27:~$ "
	cvmMOTD   = "Nutanix Controller VM\n"
)

func esxiPolicy() Config {
	return Config{
		Auth: Auth{
			Methods:  PublicKey | KeyboardInteractive,
			Password: Users{"root": {Password: "nutanix/4u"}}.Password,
		},
		Prompt: func(user, cwd string) string { return "[" + user + "@esx:" + cwd + "] " },
	}
}

func cvmPolicy() Config {
	users := Users{"nutanix": {Password: "nutanix/4u"}}
	return Config{
		Auth: Auth{
			Methods:        PublicKey | KeyboardInteractive | Password,
			Password:       users.Password,
			AuthorizedKeys: users.AuthorizedKeys,
		},
		MOTD: func() []byte { return []byte(cvmMOTD) },
		Prompt: func(user, cwd string) string {
			if cwd == "/home/nutanix" {
				cwd = "~"
			}
			return user + "@NTNX-BLOCK1-A-CVM:192.168.1.27:" + cwd + "$ "
		},
		AcceptEnv: []string{"LANG", "LC_*"},
	}
}

// busybox is a Config.Shell: a busybox shell on one filesystem shared by
// the server's sessions, starting in dir.
func busybox(dir string) func(Login) shell.Config {
	fs := shell.NewFS()
	if err := fs.MkdirAll(dir); err != nil {
		panic(err)
	}
	reg := shell.NewRegistry()
	shell.RegisterBusybox(reg)
	return func(l Login) shell.Config {
		return shell.Config{FS: fs, Commands: reg, Env: l.Env, Dir: dir}
	}
}

// newServer starts a server for cfg on 127.0.0.1:0, filling what the test
// left out: an ECDSA-only key, a busybox shell in /.
func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.HostKeySeed == "" {
		cfg.HostKeySeed = t.Name()
		cfg.ECDSAOnly = true
	}
	if cfg.Shell == nil {
		cfg.Shell = busybox("/")
	}
	s, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { s.Close() })
	return s
}

// events collects a server's events.
type events struct {
	mu sync.Mutex
	l  []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.l = append(e.l, ev)
	e.mu.Unlock()
}

func (e *events) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.l...)
}

// summary is "kind/user/method" of every event, space-separated.
func (e *events) summary() string {
	var out []string
	for _, ev := range e.all() {
		out = append(out, ev.Kind+"/"+ev.User+"/"+ev.Method)
	}
	return strings.Join(out, " ")
}

func dial(s *Server, user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return dialVersion(s, "", user, auth...)
}

// dialVersion dials with clientVersion as the identification string, to
// pass for another client ("" is x/crypto's own).
func dialVersion(s *Server, clientVersion, user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", s.Addr().String(), &gossh.ClientConfig{
		User:            user,
		Auth:            auth,
		ClientVersion:   clientVersion,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	})
}

func login(t testing.TB, s *Server, user string) *gossh.Client {
	t.Helper()
	c, err := dial(s, user, sshdtest.KeyboardInteractive("nutanix/4u"))
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

// readUntil reads r until the output ends with suffix and returns what it
// read.
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
