package esxisim

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
	"slices"
	"strconv"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Benchmarks: the exec round trip an autopath implementation pays per
// command, on one persistent connection (a new session per exec) and on a
// new connection with authentication; and the same Go client against
// OpenSSH's sshd on loopback running `true`, for the ratio.
//
//	go test -run='^$' -bench=. ./esxisim

// target is an SSH server to benchmark.
type target struct {
	addr    string
	user    string
	auth    func() gossh.AuthMethod
	command string
}

func (tg target) dial(b *testing.B) *gossh.Client {
	c, err := gossh.Dial("tcp", tg.addr, &gossh.ClientConfig{
		User: tg.user, Auth: []gossh.AuthMethod{tg.auth()},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		b.Fatalf("dial %s: %v", tg.addr, err)
	}
	return c
}

func execOnce(b *testing.B, c *gossh.Client, command string) {
	s, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	s.Stdout = &out
	if err := s.Run(command); err != nil {
		b.Fatalf("%q: %v", command, err)
	}
	s.Close()
}

// reportQuantiles reports the median and 90th percentile in milliseconds.
func reportQuantiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / 1e6 }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.9), "p90-ms")
}

func benchPersistent(b *testing.B, tg target) {
	c := tg.dial(b)
	defer c.Close()
	execOnce(b, c, tg.command) // warm up
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		execOnce(b, c, tg.command)
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	reportQuantiles(b, d)
}

func benchNewConnection(b *testing.B, tg target) {
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c := tg.dial(b)
		execOnce(b, c, tg.command)
		c.Close()
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	reportQuantiles(b, d)
}

func BenchmarkExec(b *testing.B) {
	h := newHost(b, Config{})
	esx := target{
		addr: h.Addr().String(), user: "root", command: "esxcfg-route -l",
		auth: func() gossh.AuthMethod { return (&kbdInt{password: DefaultPassword}).auth() },
	}
	b.Run("esxisim/persistent", func(b *testing.B) { benchPersistent(b, esx) })
	b.Run("esxisim/new-connection", func(b *testing.B) { benchNewConnection(b, esx) })

	sshd, err := startSSHD(b)
	if err != nil {
		b.Logf("OpenSSH comparison skipped: %v", err)
		return
	}
	b.Run("openssh/persistent", func(b *testing.B) { benchPersistent(b, sshd) })
	b.Run("openssh/new-connection", func(b *testing.B) { benchNewConnection(b, sshd) })
}

// startSSHD runs a private OpenSSH sshd on a free loopback port as the
// current user, with a temporary host key and authorized key, and returns
// a target running `true`.
func startSSHD(b *testing.B) (target, error) {
	const bin = "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		return target{}, fmt.Errorf("%s is missing", bin)
	}
	me, err := user.Current()
	if err != nil {
		return target{}, err
	}
	dir := b.TempDir()
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
		return target{}, err
	}
	client, err := writeKey("client_key")
	if err != nil {
		return target{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), gossh.MarshalAuthorizedKey(client.PublicKey()), 0o600); err != nil {
		return target{}, err
	}
	// A free port: bind, note, release. sshd binds it right after.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return target{}, err
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
		return target{}, err
	}
	if os.Geteuid() == 0 {
		// The privilege separation directory sshd insists on as root.
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	cmd := exec.Command(bin, "-D", "-e", "-f", cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return target{}, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
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
			return target{}, fmt.Errorf("sshd exited: %s", logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return target{}, fmt.Errorf("sshd did not listen on %s: %s", addr, logs.String())
		}
	}
	return target{addr: addr, user: me.Username, command: "true",
		auth: func() gossh.AuthMethod { return gossh.PublicKeys(client) }}, nil
}
