package sshd

import (
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

// BenchmarkExec is the server's own cost: `true` on a bare busybox shell,
// on one persistent connection and on a new connection each time, under
// the ESXi policy (keyboard-interactive) and the CVM's (password). The
// comparison with OpenSSH is esxisim's benchmark, quoted in the README.
//
//	go test -run='^$' -bench=. ./sshd
func BenchmarkExec(b *testing.B) {
	for _, p := range []struct {
		name string
		cfg  Config
		user string
		auth func() gossh.AuthMethod
	}{
		{"esxi", esxiPolicy(), "root", func() gossh.AuthMethod { return sshdtest.KeyboardInteractive("nutanix/4u") }},
		{"cvm", cvmPolicy(), "nutanix", func() gossh.AuthMethod { return gossh.Password("nutanix/4u") }},
	} {
		s := newServer(b, p.cfg)
		tg := sshdtest.Target{Addr: s.Addr().String(), User: p.user, Auth: p.auth, Command: "true"}
		b.Run(p.name+"/persistent", func(b *testing.B) { sshdtest.Persistent(b, tg) })
		b.Run(p.name+"/new-connection", func(b *testing.B) { sshdtest.NewConnection(b, tg) })
	}
}
