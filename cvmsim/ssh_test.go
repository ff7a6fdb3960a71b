package cvmsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"
)

func sshLab(t *testing.T) (*lab, *CVM) {
	l := newLab(t, func(c *Config) {
		if c.Host == "NTNX-BLOCK1-B" {
			c.SSHAddr, c.ECDSAOnly = DefaultAddr, true
		}
	})
	return l, l.cvms[1]
}

func sshRun(t *testing.T, c *CVM, auth gossh.AuthMethod, cmd string) (string, error) {
	t.Helper()
	cl, err := gossh.Dial("tcp", c.SSHAddr().String(), &gossh.ClientConfig{
		User: DefaultUser, Auth: []gossh.AuthMethod{auth},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer cl.Close()
	s, err := cl.NewSession()
	require.NoError(t, err)
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

// nutanix / nutanix/4u by password and keyboard-interactive, and by
// publickey once the key is in ~/.ssh/authorized_keys; every login and
// command reaches the event hook.
func TestSSH(t *testing.T) {
	_, b := sshLab(t)
	ev := events(t, b)
	out, err := sshRun(t, b, gossh.Password(DefaultPassword), "hostname; echo $HOME; pwd")
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-B-CVM\n/home/nutanix\n/home/nutanix\n", out)
	e := waitEvent(t, ev, EventLogin)
	assert.Equal(t, "password", e.Method)
	assert.Equal(t, "nutanix", e.User)
	e = waitEvent(t, ev, EventCommand)
	assert.Equal(t, "hostname; echo $HOME; pwd", e.Command)

	out, err = sshRun(t, b, gossh.KeyboardInteractive(func(_, _ string, q []string, _ []bool) ([]string, error) {
		a := make([]string, len(q))
		for i := range a {
			a[i] = DefaultPassword
		}
		return a, nil
	}), "cluster status 2>/dev/null | head -1")
	require.NoError(t, err)
	assert.Equal(t, "The state of the cluster: start\n", out)

	_, err = sshRun(t, b, gossh.Password("wrong"), "true")
	require.Error(t, err)
	waitEvent(t, ev, EventLoginFailed)

	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	signer, err := gossh.NewSignerFromKey(k)
	require.NoError(t, err)
	_, err = sshRun(t, b, gossh.PublicKeys(signer), "true")
	require.Error(t, err, "no authorized key yet")
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey())))
	_, err = sshRun(t, b, gossh.Password(DefaultPassword), "echo '"+line+"' >> ~/.ssh/authorized_keys")
	require.NoError(t, err)
	out, err = sshRun(t, b, gossh.PublicKeys(signer), "netstat -ltn | grep -c LISTEN")
	require.NoError(t, err)
	assert.Equal(t, "4\n", out)
}

// An SSH connection to a powered-off CVM gets no answer; an open one goes
// silent; after the boot's network step logins work again.
func TestSSHFollowsPower(t *testing.T) {
	l, b := sshLab(t)
	ev := events(t, b)
	cl, err := gossh.Dial("tcp", b.SSHAddr().String(), &gossh.ClientConfig{
		User: DefaultUser, Auth: []gossh.AuthMethod{gossh.Password(DefaultPassword)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	require.NoError(t, err)
	defer cl.Close()

	b.PowerOff()
	sessErr := make(chan error, 1)
	go func() {
		_, err := cl.NewSession()
		sessErr <- err
	}()
	select {
	case err := <-sessErr:
		t.Fatalf("a blackholed connection answered: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	raw, err := net.Dial("tcp", b.SSHAddr().String())
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.SetDeadline(time.Now().Add(100*time.Millisecond)))
	_, _, _, err = gossh.NewClientConn(raw, "cvm", &gossh.ClientConfig{
		User: DefaultUser, Auth: []gossh.AuthMethod{gossh.Password(DefaultPassword)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "no banner from a CVM that is off")

	b.PowerOn()
	l.clk.Advance(b.Timers().PingAfter)
	waitEvent(t, ev, EventNetworkUp)
	require.Error(t, <-sessErr, "the forgotten connection is dropped")
	out, err := sshRun(t, b, gossh.Password(DefaultPassword), "hostname")
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-B-CVM\n", out)
}
