package esxisim

import (
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

// Benchmarks: the exec round trip an autopath implementation pays per
// command, on one persistent connection (a new session per exec) and on a
// new connection with authentication; and the same Go client against
// OpenSSH's sshd on loopback running `true`, for the ratio (README,
// "Performance"). package sshd's own benchmark runs `true` on a bare
// busybox shell: the server's floor.
//
//	go test -run='^$' -bench=. ./esxisim
func BenchmarkExec(b *testing.B) {
	h := newHost(b, Config{})
	esx := sshdtest.Target{
		Addr: h.Addr().String(), User: "root", Command: "esxcfg-route -l",
		Auth: func() gossh.AuthMethod { return sshdtest.KeyboardInteractive(DefaultPassword) },
	}
	b.Run("esxisim/persistent", func(b *testing.B) { sshdtest.Persistent(b, esx) })
	b.Run("esxisim/new-connection", func(b *testing.B) { sshdtest.NewConnection(b, esx) })

	openssh, err := sshdtest.OpenSSH(b)
	if err != nil {
		b.Logf("OpenSSH comparison skipped: %v", err)
		return
	}
	b.Run("openssh/persistent", func(b *testing.B) { sshdtest.Persistent(b, openssh) })
	b.Run("openssh/new-connection", func(b *testing.B) { sshdtest.NewConnection(b, openssh) })
}
