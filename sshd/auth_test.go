package sshd

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

func TestMethodsString(t *testing.T) {
	assert.Equal(t, "publickey,keyboard-interactive", (PublicKey | KeyboardInteractive).String())
	assert.Equal(t, "password,publickey,keyboard-interactive", (KeyboardInteractive | Password | PublicKey).String())
	assert.Equal(t, "password", Password.String())
	assert.True(t, (PublicKey | Password).Has(Password))
	assert.False(t, PublicKey.Has(PublicKey|Password))
}

// TestOfferedMethods asks OpenSSH's client what each policy offers: it
// prints the server's list when it has no method left to try.
func TestOfferedMethods(t *testing.T) {
	bin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("no OpenSSH client")
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		user string
		want string
	}{
		{"esxi", esxiPolicy(), "root", "Permission denied (publickey,keyboard-interactive).\r\n"},
		{"cvm", cvmPolicy(), "nutanix", "Permission denied (password,publickey,keyboard-interactive).\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.cfg)
			host, port, _ := strings.Cut(s.Addr().String(), ":")
			cmd := exec.Command(bin, "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
				"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no",
				"-p", port, "-l", tc.user, host, "true")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			require.Error(t, err)
			assert.Equal(t, tc.user+"@"+host+": "+tc.want, stderr.String())
		})
	}
}

func TestAuthESXiPolicy(t *testing.T) {
	var ev events
	cfg := esxiPolicy()
	cfg.OnEvent = ev.add
	cfg.Hostname = func() string { return "esx-a" }
	s := newServer(t, cfg)

	// "password" is not offered: x/crypto's client finds no method left
	// after "none".
	_, err := dial(s, "root", gossh.Password("nutanix/4u"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attempted methods [none]")
	assert.Contains(t, err.Error(), "no supported methods remain")

	// keyboard-interactive asks PAM's "Password: " without echo.
	k := &sshdtest.KbdInt{Password: "nutanix/4u"}
	c, err := dial(s, "root", k.Auth())
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, []string{"Password: "}, k.Questions())
	assert.Equal(t, []bool{false}, k.Echos())

	_, err = dial(s, "root", sshdtest.KeyboardInteractive("wrong"))
	require.ErrorContains(t, err, "unable to authenticate")
	_, err = dial(s, "admin", sshdtest.KeyboardInteractive("nutanix/4u"))
	require.ErrorContains(t, err, "unable to authenticate", "an unknown user")

	// The logout may be reported after the next dial's failure.
	ev.waitSet(t, "ssh.login/root/keyboard-interactive ssh.logout/root/ "+
		"ssh.login_failed/root/keyboard-interactive ssh.login_failed/admin/keyboard-interactive")
	for _, e := range ev.all() {
		assert.Equal(t, "esx-a", e.Host)
		assert.True(t, strings.HasPrefix(e.Source, "127.0.0.1:"), e.Source)
		assert.False(t, e.Time.IsZero())
		if e.Kind == EventLoginFailed {
			assert.NotEmpty(t, e.Error)
		}
	}
}

func TestAuthCVMPolicy(t *testing.T) {
	var ev events
	cfg := cvmPolicy()
	cfg.OnEvent = ev.add
	s := newServer(t, cfg)

	c, err := dial(s, "nutanix", gossh.Password("nutanix/4u"))
	require.NoError(t, err)
	stdout, _, _ := sshdtest.Run(t, c, "echo $USER")
	assert.Equal(t, "nutanix\n", stdout)
	c.Close()
	_, err = dial(s, "nutanix", gossh.Password("nutanix"))
	require.ErrorContains(t, err, "unable to authenticate", "a wrong password")
	_, err = dial(s, "root", gossh.Password("nutanix/4u"))
	require.Error(t, err, "an unknown user")
	k := &sshdtest.KbdInt{Password: "nutanix/4u"}
	c, err = dial(s, "nutanix", k.Auth())
	require.NoError(t, err)
	c.Close()
	assert.Equal(t, []string{"Password: "}, k.Questions())

	// A logout is reported when the server sees the connection go, which
	// may be after the next dial's attempt: compare as sets.
	ev.waitSet(t, "ssh.login/nutanix/password ssh.command/nutanix/ ssh.logout/nutanix/ "+
		"ssh.login_failed/nutanix/password ssh.login_failed/root/password "+
		"ssh.login/nutanix/keyboard-interactive ssh.logout/nutanix/")
}

func TestMaxAuthTries(t *testing.T) {
	cfg := cvmPolicy()
	cfg.Auth.MaxTries = 2
	s := newServer(t, cfg)
	var tries int
	_, err := dial(s, "nutanix", gossh.RetryableAuthMethod(gossh.PasswordCallback(func() (string, error) {
		tries++
		return "wrong", nil
	}), 10))
	require.Error(t, err)
	assert.Equal(t, 2, tries)
}

func TestPublicKey(t *testing.T) {
	signer := func() gossh.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		s, err := gossh.NewSignerFromKey(k)
		require.NoError(t, err)
		return s
	}
	authorized, other := signer(), signer()
	line := func(s gossh.Signer) string { return string(gossh.MarshalAuthorizedKey(s.PublicKey())) }

	var (
		mu   sync.Mutex
		file = "# comment\n\nnot a key\n" + line(authorized)
	)
	cfg := cvmPolicy()
	cfg.Auth.AuthorizedKeys = func(user string) ([]byte, error) {
		if user != "nutanix" {
			return nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		return []byte(file), nil
	}
	var ev events
	cfg.OnEvent = ev.add
	s := newServer(t, cfg)

	c, err := dial(s, "nutanix", gossh.PublicKeys(authorized))
	require.NoError(t, err)
	c.Close()
	_, err = dial(s, "nutanix", gossh.PublicKeys(other))
	require.Error(t, err, "an unlisted key")
	_, err = dial(s, "root", gossh.PublicKeys(authorized))
	require.Error(t, err, "another user's key")

	// The file is read at every attempt: a key added works at once.
	mu.Lock()
	file += line(other)
	mu.Unlock()
	c, err = dial(s, "nutanix", gossh.PublicKeys(other))
	require.NoError(t, err)
	c.Close()

	// Failed key queries are probes, not failed logins.
	ev.waitSet(t, "ssh.login/nutanix/publickey ssh.logout/nutanix/ ssh.login/nutanix/publickey ssh.logout/nutanix/")

	// Users' static keys.
	users := Users{"u": {AuthorizedKeys: []string{line(authorized)}}}
	cfg = cvmPolicy()
	cfg.Auth.AuthorizedKeys = users.AuthorizedKeys
	s = newServer(t, cfg)
	c, err = dial(s, "u", gossh.PublicKeys(authorized))
	require.NoError(t, err)
	c.Close()
}

// TestParamikoFallback: paramiko's password fallback (ident.go) works under
// a policy without "password" (ESXi's), for paramiko only, and only where
// keyboard-interactive would have been its fallback.
func TestParamikoFallback(t *testing.T) {
	const paramiko = "SSH-2.0-paramiko_3.4.0"
	var ev events
	cfg := esxiPolicy()
	cfg.OnEvent = ev.add
	s := newServer(t, cfg)

	c, err := dialVersion(s, paramiko, "root", gossh.Password("nutanix/4u"))
	require.NoError(t, err)
	stdout, _, _ := sshdtest.Run(t, c, "echo ok")
	assert.Equal(t, "ok\n", stdout)
	c.Close()
	_, err = dialVersion(s, paramiko, "root", gossh.Password("wrong"))
	require.Error(t, err)
	_, err = dialVersion(s, "SSH-2.0-OpenSSH_9.6", "root", gossh.Password("nutanix/4u"))
	require.ErrorContains(t, err, "attempted methods [none]", "not paramiko")
	require.Eventually(t, func() bool {
		return strings.HasPrefix(ev.summary(), "ssh.login/root/password ssh.command/root/ ssh.logout/root/ ssh.login_failed/root/password")
	}, 5*time.Second, 10*time.Millisecond, "events %s", ev.summary())

	// Publickey only: paramiko would have had no fallback.
	cfg = esxiPolicy()
	cfg.Auth.Methods = PublicKey
	s = newServer(t, cfg)
	_, err = dialVersion(s, paramiko, "root", gossh.Password("nutanix/4u"))
	require.ErrorContains(t, err, "attempted methods [none]")
}
