package sshdtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// OpenSSH runs a private OpenSSH sshd on a free loopback port as the
// current user, with a temporary host key and authorized key, until the
// test ends, and returns a Target running `true`. It fails (and the caller
// skips its comparison) where /usr/sbin/sshd is missing.
func OpenSSH(tb testing.TB) (Target, error) {
	const bin = "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		return Target{}, fmt.Errorf("%s is missing", bin)
	}
	me, err := user.Current()
	if err != nil {
		return Target{}, err
	}
	dir := tb.TempDir()
	writeKey := func(name string) (gossh.Signer, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), p, 0o600); err != nil {
			return nil, err
		}
		return gossh.NewSignerFromKey(k)
	}
	if _, err := writeKey("host_key"); err != nil {
		return Target{}, err
	}
	client, err := writeKey("client_key")
	if err != nil {
		return Target{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), gossh.MarshalAuthorizedKey(client.PublicKey()), 0o600); err != nil {
		return Target{}, err
	}
	// A free port: bind, note, release. sshd binds it right after.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Target{}, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
AuthorizedKeysFile %s
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin yes
AllowUsers %s
PrintMotd no
LogLevel ERROR
`, port, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), me.Username)
	cfgFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return Target{}, err
	}
	if os.Geteuid() == 0 {
		// The privilege separation directory sshd insists on as root.
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	cmd := exec.Command(bin, "-D", "-e", "-f", cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return Target{}, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			return Target{}, fmt.Errorf("sshd exited: %s", logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return Target{}, fmt.Errorf("sshd did not listen on %s: %s", addr, logs.String())
		}
	}
	return Target{Addr: addr, User: me.Username, Command: "true",
		Auth: func() gossh.AuthMethod { return gossh.PublicKeys(client) }}, nil
}
