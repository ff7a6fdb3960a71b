package cvmsim

import (
	"errors"
	"io"
	"net"
	"sync"

	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/sshd"
)

// sshVersion is CentOS 7's OpenSSH. INFERRED: AOS 6.x CVMs ship the
// distribution's sshd; the exact banner was not captured.
const sshVersion = "OpenSSH_7.4"

// motd is printed at interactive logins. INFERRED wording: the CVM's
// warning banner, whose exact text was not captured.
const motd = `
Nutanix Controller VM (CVM) is a virtual storage appliance.

Alteration of the CVM (unless advised by Nutanix Technical Support or
Support Portal Documentation) is unsupported and may result in loss
of User VMs or other data residing on the cluster.

`

// sshServer is the CVM's SSH daemon on a real listener, behind a gate
// that makes it share the CVM's power.
type sshServer struct {
	srv  *sshd.Server
	gate *gate
}

// SSHAddr returns the real SSH listener's address, or nil.
func (c *CVM) SSHAddr() net.Addr {
	if c.ssh.gate == nil {
		return nil
	}
	return c.ssh.gate.Addr()
}

// startSSH serves SSH on Config.SSHAddr: OpenSSH on CentOS offers
// password, publickey and keyboard-interactive (PAM); the users are
// Config.Users, and nutanix's authorized_keys is read from its home in
// the CVM's filesystem at every attempt.
func (c *CVM) startSSH() error {
	if c.cfg.SSHAddr == "-" {
		return nil
	}
	users := c.cfg.Users
	srv, err := sshd.New(sshd.Config{
		ServerVersion: sshVersion,
		HostKeySeed:   "autopathlab/cvm/" + c.cfg.HostKeySeed,
		ECDSAOnly:     c.cfg.ECDSAOnly,
		RSAKeySeed:    c.cfg.RSAKeySeed,
		Keyring:       c.cfg.Keyring,
		Auth: sshd.Auth{
			Methods: sshd.Password | sshd.PublicKey | sshd.KeyboardInteractive,
			Password: func(user string) (string, bool) {
				p, ok := users[user]
				return p, ok
			},
			AuthorizedKeys: func(user string) ([]byte, error) {
				if _, ok := users[user]; !ok {
					return nil, errors.New("no such user")
				}
				home := HomeDir
				if user == "root" {
					home = "/root"
				}
				return c.fs.ReadFile(home + "/.ssh/authorized_keys")
			},
		},
		AcceptEnv: []string{"LANG", "LC_*", "LANGUAGE", "XMODIFIERS"},
		MOTD:      func() []byte { return []byte(motd) },
		Shell: func(l sshd.Login) shell.Config {
			env := map[string]string{}
			for k, v := range l.Env {
				env[k] = v
			}
			return c.ShellConfig(l.User, env)
		},
		Name:     "cvmsim",
		Hostname: c.Name,
		Clock:    c.clock,
		OnEvent:  c.emitSSH,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.cfg.SSHAddr)
	if err != nil {
		_ = srv.Close()
		return err
	}
	g := &gate{Listener: ln, open: c.Reachable, conns: map[*gatedConn]struct{}{}}
	c.ssh = sshServer{srv: srv, gate: g}
	c.goServe(func() { _ = srv.Serve(g) })
	return nil
}

func (c *CVM) emitSSH(e sshd.Event) {
	c.emit(Event{Kind: e.Kind, User: e.User, Source: e.Source, Method: e.Method, Command: e.Command, Exit: e.Exit, Error: e.Error})
}

func (c *CVM) closeSSH() {
	if c.ssh.srv != nil {
		_ = c.ssh.srv.Close()
	}
}

// sshPower follows the CVM's power: off blackholes every SSH connection
// (no FIN, no RST: the client's keepalives or timeouts find out), on
// drops the blackholed ones, as a rebooted server answers RST to
// connections it forgot.
func (c *CVM) sshPower(on bool) {
	if c.ssh.gate != nil {
		c.ssh.gate.power(on)
	}
}

// gate is the SSH listener of a CVM that can be off. A connection made
// while the node is off is accepted by the real kernel but never answered
// (a SYN into the void has no loopback equivalent); it is dropped when
// the CVM comes up.
type gate struct {
	net.Listener
	open func() bool

	mu    sync.Mutex
	conns map[*gatedConn]struct{}
}

func (g *gate) Accept() (net.Conn, error) {
	for {
		conn, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		gc := &gatedConn{Conn: conn, g: g, closed: make(chan struct{})}
		g.mu.Lock()
		g.conns[gc] = struct{}{}
		g.mu.Unlock()
		if g.open() {
			return gc, nil
		}
		gc.setDead()
		go func() {
			// Swallow what the client sends until the conn is dropped.
			_, _ = io.Copy(io.Discard, gc)
			gc.Close()
		}()
	}
}

func (g *gate) Close() error {
	err := g.Listener.Close()
	g.mu.Lock()
	all := make([]*gatedConn, 0, len(g.conns))
	for c := range g.conns {
		all = append(all, c)
	}
	g.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
	return err
}

func (g *gate) power(on bool) {
	g.mu.Lock()
	all := make([]*gatedConn, 0, len(g.conns))
	for c := range g.conns {
		all = append(all, c)
	}
	g.mu.Unlock()
	for _, c := range all {
		if on {
			if c.isDead() {
				c.Close()
			}
		} else {
			c.setDead()
		}
	}
}

// gatedConn is one SSH connection; dead, it reads nothing more and its
// writes vanish.
type gatedConn struct {
	net.Conn
	g *gate

	mu     sync.Mutex
	dead   bool
	closed chan struct{}
	once   sync.Once
}

func (c *gatedConn) setDead() {
	c.mu.Lock()
	c.dead = true
	c.mu.Unlock()
}

func (c *gatedConn) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

func (c *gatedConn) Read(p []byte) (int, error) {
	if !c.isDead() {
		n, err := c.Conn.Read(p)
		if !c.isDead() {
			return n, err
		}
	}
	<-c.closed
	return 0, net.ErrClosed
}

func (c *gatedConn) Write(p []byte) (int, error) {
	if c.isDead() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *gatedConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		err = c.Conn.Close()
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
	})
	return err
}
