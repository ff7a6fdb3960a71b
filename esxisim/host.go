// Package esxisim is one emulated VMware ESXi host: the VMkernel model
// (package vmkernel), a per-host busybox shell over a virtual filesystem laid
// out like ESXi's, the ESXi commands, and an SSH server that authenticates
// and behaves like ESXi 8's sshd.
//
// A Host is used like an httptest.Server:
//
//	h, err := esxisim.New(nw, esxisim.Config{VMkernel: cfg})
//	err = h.Start()     // 127.0.0.1 on a free port
//	addr := h.Addr()    // the real listener
//	defer h.Close()     // closes every session and waits for them
package esxisim

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync/atomic"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/sshd"
)

// Default credentials of a Nutanix-installed ESXi host.
const (
	DefaultUser     = "root"
	DefaultPassword = "nutanix/4u"
)

// DefaultAddr is where the SSH server listens unless told otherwise: the
// loopback interface only, on a free port.
const DefaultAddr = "127.0.0.1:0"

// DefaultServerVersion is the SSH identification string after "SSH-2.0-".
// INFERRED: ESXi 8.0 U3 ships an OpenSSH 9.x; the exact string was not
// captured.
const DefaultServerVersion = "OpenSSH_9.7"

// Config describes a host and its SSH server.
type Config struct {
	// VMkernel is the host's network model: name, version, vmnics,
	// vSwitches, vmknics, routes.
	VMkernel vmkernel.Config

	// Addr is the SSH listen address (default 127.0.0.1:0: loopback, a
	// free port). Nothing binds beyond loopback unless Addr says so.
	Addr string
	// Users maps user names to their credentials (default: root with
	// password nutanix/4u).
	Users map[string]User
	// PasswordAuth offers the SSH "password" method too. ESXi does not
	// (passwordauthentication no): it offers publickey and
	// keyboard-interactive only, and so does Host by default.
	PasswordAuth bool
	// AuthMethods replaces ESXi's publickey + keyboard-interactive (0
	// keeps them); PasswordAuth still adds password.
	AuthMethods sshd.Methods
	// MaxAuthTries is the number of failed attempts before the server
	// disconnects (default 6, OpenSSH's).
	MaxAuthTries int
	// HostKeySeed determines the host keys: the same seed gives the same
	// keys, so known_hosts stays valid across restarts (default: the
	// host name). Use the lab's name plus the host's.
	HostKeySeed string
	// ECDSAOnly skips the RSA host key, whose derivation costs 0.05–0.3 s of
	// CPU per host. ESXi has both.
	ECDSAOnly bool
	// RSAKeySeed and Keyring let the hosts of a lab share one RSA host key,
	// derived once (see sshd.Keyring); each keeps its own ECDSA key.
	RSAKeySeed string
	Keyring    *sshd.Keyring
	// ServerVersion is the SSH identification after "SSH-2.0-" (default
	// DefaultServerVersion).
	ServerVersion string

	// Datastore configures the NFS client (heartbeats, APD timeout).
	Datastore datastore.Config

	// OnEvent receives logins, failed logins, commands, logouts and
	// recovered panics. It is called from connection and session
	// goroutines and must not block for long.
	OnEvent func(Event)
}

// User is an account on the host.
type User struct {
	Password string
	// AuthorizedKeys are OpenSSH authorized_keys lines, written to
	// /etc/ssh/keys-<user>/authorized_keys (ESXi's AuthorizedKeysFile).
	AuthorizedKeys []string
}

// Host is one ESXi host: its VMkernel, filesystem, commands and SSH server.
type Host struct {
	cfg   Config
	vm    *vmkernel.Host
	fs    *shell.FS
	reg   *shell.Registry
	ds    *datastore.Manager
	clock clock.Clock
	srv   *sshd.Server

	// nextPID numbers shell sessions for shell.log, like the ash
	// processes sshd forks on ESXi.
	nextPID atomic.Int64
}

// New builds the host on the network: the VMkernel model, the filesystem
// and the commands. It does not listen: call Start or Serve.
func New(nw *fabric.Network, cfg Config) (*Host, error) {
	vm, err := vmkernel.New(nw, cfg.VMkernel)
	if err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if len(cfg.Users) == 0 {
		cfg.Users = map[string]User{DefaultUser: {Password: DefaultPassword}}
	}
	for name := range cfg.Users {
		if name == "" || strings.ContainsAny(name, "/:\n") {
			return nil, fmt.Errorf("esxisim: bad user name %q", name)
		}
	}
	if cfg.HostKeySeed == "" {
		cfg.HostKeySeed = vm.Hostname()
	}
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = DefaultServerVersion
	}
	if cfg.MaxAuthTries == 0 {
		cfg.MaxAuthTries = 6
	}
	h := &Host{
		cfg:   cfg,
		vm:    vm,
		clock: vm.Clock(),
		fs:    shell.NewFS(shell.WithClock(vm.Clock())),
		reg:   shell.NewRegistry(),
	}
	h.nextPID.Store(2099000)
	// The SSH server first: it derives the RSA host key in the background
	// while the rest is built, and hosts built one after another derive
	// theirs in parallel. Close waits for it.
	if h.srv, err = sshd.New(h.sshdPolicy()); err != nil {
		return nil, err
	}
	if err := h.layoutFS(); err != nil {
		return nil, err
	}
	// The NFS client exists before the commands that view it, and its
	// datastores appear under /vmfs/volumes.
	if h.ds, err = datastore.New(vm, cfg.Datastore); err != nil {
		return nil, err
	}
	if err := h.ds.Mount(h.fs); err != nil {
		return nil, err
	}
	h.registerCommands()
	return h, nil
}

// VMkernel returns the host's model.
func (h *Host) VMkernel() *vmkernel.Host { return h.vm }

// Datastores returns the host's NFS datastore client.
func (h *Host) Datastores() *datastore.Manager { return h.ds }

// FS returns the host's filesystem.
func (h *Host) FS() *shell.FS { return h.fs }

// Registry returns the host's commands, e.g. to add one in a test.
func (h *Host) Registry() *shell.Registry { return h.reg }

// Prompt renders ESXi 6.x+'s prompt "[user@short-hostname:cwd] ", with
// "~" for "/", root's home on ESXi (reference §0.1).
func (h *Host) Prompt(user, cwd string) string {
	if cwd == "/" || cwd == "" {
		cwd = "~"
	}
	return fmt.Sprintf("[%s@%s:%s] ", user, h.vm.ShortName(), cwd)
}

// Motd is ESXi 8's message of the day (reference §8.4, VERIFIED), kept in
// /etc/motd and printed by interactive logins.
const Motd = `The time and date of this login have been sent to the system logs.

WARNING:
   All commands run on the ESXi shell are logged and may be included in
   support bundles. Do not provide passwords directly on the command line.
   Most tools can prompt for secrets or accept them from standard input.

VMware offers powerful and supported automation tools. Please
see https://developer.vmware.com for details.

The ESXi Shell can be disabled by an administrative user. See the
vSphere Security documentation for more information.
`

// sshdConfig is ESXi 8.0.2's /etc/ssh/sshd_config (reference §8.4,
// VERIFIED lines). The server does not read it; it is there for clients
// that look.
const sshdConfig = `banner /etc/issue
challengeresponseauthentication yes
passwordauthentication no
usepam yes
permitrootlogin yes
printmotd yes
fipsmode yes
authorizedkeysfile /etc/ssh/keys-%u/authorized_keys
subsystem sftp /usr/lib/vmware/openssh/bin/sftp-server -f LOCAL5 -l INFO
`

// layoutFS creates ESXi's directories and files.
func (h *Host) layoutFS() error {
	f := h.fs
	var errs []error
	for _, d := range []string{
		"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/lib/vmware", "/opt",
		"/etc/vmware", "/etc/ssh", "/var/log", "/var/run", "/var/tmp",
		"/vmfs/volumes", "/scratch/log", "/tmp",
	} {
		errs = append(errs, f.MkdirAll(d))
	}
	write := func(name, content string, perm uint32) {
		errs = append(errs, f.WriteFile(name, []byte(content), fs.FileMode(perm)))
	}
	write("/etc/motd", Motd, 0o644)
	write("/etc/issue", "", 0o644)
	write("/etc/ssh/sshd_config", sshdConfig, 0o600)
	write("/etc/shells", "/bin/ash\n/bin/sh\n", 0o644)
	passwd := "root:x:0:0:Administrator:/:/bin/sh\n"
	for name := range h.cfg.Users {
		if name != "root" {
			passwd += fmt.Sprintf("%s:x:%d:100::/:/bin/sh\n", name, 1000+len(passwd)%1000)
		}
	}
	write("/etc/passwd", passwd, 0o644)
	for name, u := range h.cfg.Users {
		dir := path.Join("/etc/ssh", "keys-"+name)
		errs = append(errs, f.MkdirAll(dir))
		var keys strings.Builder
		for _, k := range u.AuthorizedKeys {
			if k = strings.TrimSpace(k); k != "" {
				keys.WriteString(k + "\n")
			}
		}
		write(path.Join(dir, "authorized_keys"), keys.String(), 0o600)
	}
	write("/var/log/shell.log", "", 0o644)
	errs = append(errs, f.SetDynamic("/var/log/vmkernel.log", func() ([]byte, error) {
		return h.vm.Log().Bytes(), nil
	}))
	return errors.Join(errs...)
}

// logShell appends a command to /var/log/shell.log in the 7.x+ format
// "<ts> shell[pid]: [user]: <cmd>".
func (h *Host) logShell(pid int64, user, line string) {
	ts := h.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	for _, l := range strings.Split(strings.TrimRight(line, "\n"), "\n") {
		_ = h.fs.AppendFile("/var/log/shell.log", fmt.Appendf(nil, "%s shell[%d]: [%s]: %s\n", ts, pid, user, l))
	}
}
