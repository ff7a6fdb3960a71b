package sshd

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// waitSet waits until the events, as summary's words, are want's in any
// order: a logout is reported when the server sees the connection go,
// which may be after the next dial's attempt.
func (e *events) waitSet(t testing.TB, want string) {
	t.Helper()
	w := strings.Fields(want)
	slices.Sort(w)
	sorted := func() []string {
		got := strings.Fields(e.summary())
		slices.Sort(got)
		return got
	}
	if !assert.Eventually(t, func() bool { return slices.Equal(w, sorted()) }, 5*time.Second, 10*time.Millisecond) {
		t.Fatalf("events %q, want %q", sorted(), w)
	}
}
