package esxisim

import (
	"errors"
	"fmt"
	"net"
	"path"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/shell"
	"github.com/autopathlab/autopathlab/sshd"
)

// The SSH server is package sshd with ESXi 8's policy: publickey and
// keyboard-interactive (passwordauthentication no, unless
// Config.PasswordAuth), keys in /etc/ssh/keys-<user>/authorized_keys of
// the host's own filesystem, /etc/motd, the busybox shell with ESXi's
// commands and prompt.

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = sshd.ErrServerClosed

// Window is a terminal size in characters.
type Window = sshd.Window

// pubKeyAlgorithms are the user key signature algorithms ESXi 8's sshd
// accepts: RSA with SHA-2 and ECDSA (certificates of those follow), never
// ed25519, which FIPS mode rejects (reference §8.4), nor SHA-1 "ssh-rsa",
// off by default since OpenSSH 8.8.
func pubKeyAlgorithms() []string {
	return []string{
		gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSASHA512,
		gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA384, gossh.KeyAlgoECDSA521,
	}
}

// sshdPolicy is ESXi's sshd_config (host.go) and PAM, as sshd.Config.
func (h *Host) sshdPolicy() sshd.Config {
	methods := sshd.PublicKey | sshd.KeyboardInteractive
	if h.cfg.AuthMethods != 0 {
		methods = h.cfg.AuthMethods
	}
	if h.cfg.PasswordAuth {
		methods |= sshd.Password
	}
	return sshd.Config{
		Addr:          h.cfg.Addr,
		ServerVersion: h.cfg.ServerVersion,
		HostKeySeed:   h.cfg.HostKeySeed,
		ECDSAOnly:     h.cfg.ECDSAOnly,
		RSAKeySeed:    h.cfg.RSAKeySeed,
		Keyring:       h.cfg.Keyring,
		Auth: sshd.Auth{
			Methods:             methods,
			Password:            h.password,
			AuthorizedKeys:      h.authorizedKeys,
			PublicKeyAlgorithms: pubKeyAlgorithms(),
			MaxTries:            h.cfg.MaxAuthTries,
		},
		// ESXi's sshd accepts nothing beyond the terminal's locale.
		AcceptEnv: []string{"LANG", "LC_*"},
		MOTD: func() []byte {
			// Read at every login: an edited /etc/motd shows at once.
			b, _ := h.fs.ReadFile("/etc/motd")
			return b
		},
		Prompt:   h.Prompt,
		Shell:    h.shellConfig,
		Name:     "esxisim",
		Hostname: h.vm.Hostname,
		Clock:    h.clock,
		OnEvent:  h.cfg.OnEvent,
	}
}

func (h *Host) password(user string) (string, bool) {
	u, ok := h.cfg.Users[user]
	return u.Password, ok
}

// authorizedKeys reads /etc/ssh/keys-<user>/authorized_keys of the host's
// own filesystem at every attempt: a key appended from the shell works at
// once, as on ESXi.
func (h *Host) authorizedKeys(user string) ([]byte, error) {
	if _, ok := h.cfg.Users[user]; !ok || strings.Contains(user, "/") {
		return nil, fmt.Errorf("esxisim: no user %q", user)
	}
	return h.fs.ReadFile(path.Join("/etc/ssh", "keys-"+user, "authorized_keys"))
}

// shellConfig is the busybox shell of one SSH session, logged to
// /var/log/shell.log under its own pid as the ash sshd forks on ESXi.
func (h *Host) shellConfig(l sshd.Login) shell.Config {
	env := l.Env
	env["PATH"] = "/bin:/sbin"
	env["HOME"] = "/"
	env["SHELL"] = "/bin/sh"
	if l.PTY {
		env["SSH_TTY"] = "/dev/char/pty/t0"
	}
	pid := h.nextPID.Add(1)
	return shell.Config{
		FS:        h.fs,
		Commands:  h.reg,
		Clock:     h.clock,
		Env:       env,
		Dir:       "/",
		Hostname:  h.vm.Hostname,
		Uname:     h.uname,
		OnCommand: func(line string, _ int) { h.logShell(pid, l.User, line) },
		// An interactive shell prefixes "-" itself, as a login shell.
		Name: "sh",
	}
}

// Start listens on Config.Addr and serves in the background. The listener
// is open when Start returns; connections made before the host keys are
// derived (the RSA key takes a moment) wait for them.
func (h *Host) Start() error {
	if err := h.srv.Start(); err != nil {
		if errors.Is(err, ErrServerClosed) {
			return err
		}
		return fmt.Errorf("esxisim: %s: %w", h.vm.Hostname(), err)
	}
	return nil
}

// Serve accepts SSH connections on ln until Close, which closes ln. It
// returns ErrServerClosed after Close, or the listener's error.
func (h *Host) Serve(ln net.Listener) error { return h.srv.Serve(ln) }

// Addr returns the listener's address, nil before Start or Serve.
func (h *Host) Addr() net.Addr { return h.srv.Addr() }

// Close stops the SSH server (every session ends, its commands' contexts
// are cancelled, Close waits for all of it) and unmounts the datastores.
// Close is idempotent.
func (h *Host) Close() error {
	err := h.srv.Close()
	h.ds.Close()
	return err
}

// HostKeys returns the host's public keys (ECDSA first, then RSA unless
// Config.ECDSAOnly), e.g. to write a known_hosts file. It waits for the
// RSA key's derivation.
func (h *Host) HostKeys() ([]gossh.PublicKey, error) { return h.srv.HostKeys() }
