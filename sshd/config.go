package sshd

import (
	"crypto/subtle"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/shell"
)

// Defaults of an unconfigured server.
const (
	// DefaultAddr is loopback on a free port: nothing binds beyond
	// loopback unless Config.Addr says so.
	DefaultAddr = "127.0.0.1:0"
	// DefaultServerVersion is the identification after "SSH-2.0-".
	DefaultServerVersion = "OpenSSH_9.7"
	// DefaultMaxAuthTries is OpenSSH's MaxAuthTries.
	DefaultMaxAuthTries = 6
	// DefaultPasswordPrompt is PAM's single question, asked by
	// keyboard-interactive on ESXi and on Linux alike.
	DefaultPasswordPrompt = "Password: "
)

// Config is one daemon's policy: everything that tells an ESXi host's sshd
// from a CVM's. Shell is required; the rest has defaults.
type Config struct {
	// Addr is the listen address of Start (default DefaultAddr).
	Addr string
	// ServerVersion is the identification after "SSH-2.0-" (default
	// DefaultServerVersion).
	ServerVersion string
	// HostKeySeed determines the host keys: the same seed gives the same
	// keys, so a client's known_hosts survives restarts. Required.
	HostKeySeed string
	// ECDSAOnly skips the RSA host key, whose derivation costs 0.05–0.3 s
	// of CPU.
	ECDSAOnly bool
	// RSAKeySeed seeds the RSA host key (default HostKeySeed). Servers
	// that share it and a Keyring share one RSA key, derived once.
	RSAKeySeed string
	// Keyring, if set, memoises RSA derivations across servers.
	Keyring *Keyring

	// Auth is who may log in, and how.
	Auth Auth

	// AcceptEnv lists the client "env" variables that reach the session,
	// as sshd_config's AcceptEnv: names, or patterns such as "LC_*".
	// Others are dropped (the request is still acknowledged).
	AcceptEnv []string
	// MOTD is printed before an interactive shell's first prompt, read at
	// every login as sshd's PrintMotd reads /etc/motd. Nil prints nothing.
	MOTD func() []byte
	// Prompt renders the interactive prompt when the shell.Config from
	// Shell has none.
	Prompt func(user, cwd string) string
	// Shell describes the shell of one session. The daemon builds the
	// shell.Session from it, chaining its own command event after
	// shell.Config.OnCommand.
	Shell func(l Login) shell.Config

	// Name prefixes the messages the daemon itself writes to a client,
	// e.g. "esxisim: internal error, session closed" (default "sshd").
	Name string
	// Hostname is the node's current name, for Event.Host.
	Hostname func() string
	// Clock stamps events (default the real clock).
	Clock clock.Clock
	// OnEvent receives logins, failed logins, commands, logouts and
	// recovered panics. It is called from connection and session
	// goroutines and must not block for long; a panic in it is recovered.
	OnEvent func(Event)
}

// Methods is a set of SSH authentication methods.
type Methods uint8

// The methods a server can offer.
const (
	PublicKey Methods = 1 << iota
	KeyboardInteractive
	Password
)

// Has reports whether m includes all of o.
func (m Methods) Has(o Methods) bool { return m&o == o }

// String is the list a failed login reports, in x/crypto's order (which is
// the order OpenSSH clients print): "publickey,keyboard-interactive",
// "password,publickey,keyboard-interactive".
func (m Methods) String() string {
	var s []string
	for _, x := range []struct {
		m    Methods
		name string
	}{{Password, "password"}, {PublicKey, "publickey"}, {KeyboardInteractive, "keyboard-interactive"}} {
		if m.Has(x.m) {
			s = append(s, x.name)
		}
	}
	return strings.Join(s, ",")
}

// Auth is the authentication policy.
type Auth struct {
	// Methods are those offered. ESXi offers PublicKey|KeyboardInteractive
	// (passwordauthentication no); a CVM's OpenSSH offers Password too.
	// Without Password, paramiko still logs in: see ident.go.
	Methods Methods
	// Password returns a user's password; ok is false for an unknown user,
	// who fails password and keyboard-interactive.
	Password func(user string) (password string, ok bool)
	// AuthorizedKeys returns a user's authorized_keys file, read at every
	// publickey attempt (so a key appended from the shell works at once).
	// An error or an unknown user fails the attempt.
	AuthorizedKeys func(user string) ([]byte, error)
	// PublicKeyAlgorithms are the user key signature algorithms accepted
	// (default x/crypto's).
	PublicKeyAlgorithms []string
	// PasswordPrompt is keyboard-interactive's question (default
	// DefaultPasswordPrompt).
	PasswordPrompt string
	// MaxTries is the number of failed attempts before the server
	// disconnects (default DefaultMaxAuthTries).
	MaxTries int
}

// Users is a fixed set of accounts, for a policy with no filesystem to
// read them from: Auth{Password: u.Password, AuthorizedKeys:
// u.AuthorizedKeys}.
type Users map[string]User

// User is one account of Users.
type User struct {
	Password string
	// AuthorizedKeys holds authorized_keys lines.
	AuthorizedKeys []string
}

// Password is Auth.Password for u.
func (u Users) Password(user string) (string, bool) {
	a, ok := u[user]
	return a.Password, ok
}

// AuthorizedKeys is Auth.AuthorizedKeys for u.
func (u Users) AuthorizedKeys(user string) ([]byte, error) {
	a, ok := u[user]
	if !ok {
		return nil, nil
	}
	return []byte(strings.Join(a.AuthorizedKeys, "\n")), nil
}

// checkPassword compares in constant time, and compares for unknown users
// too, so that timing does not tell users apart.
func (a *Auth) checkPassword(user, password string) bool {
	want, ok := "", false
	if a.Password != nil {
		want, ok = a.Password(user)
	}
	eq := subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1
	return ok && eq
}

// authorized reports whether key is in user's authorized_keys.
func (a *Auth) authorized(user string, key gossh.PublicKey) bool {
	if a.AuthorizedKeys == nil {
		return false
	}
	data, err := a.AuthorizedKeys(user)
	if err != nil {
		return false
	}
	want := key.Marshal()
	for len(data) > 0 {
		pk, _, _, rest, err := gossh.ParseAuthorizedKey(data)
		if err != nil {
			// Nothing parseable is left (ParseAuthorizedKey skips
			// comments and bad lines itself).
			return false
		}
		if subtle.ConstantTimeCompare(pk.Marshal(), want) == 1 {
			return true
		}
		data = rest
	}
	return false
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.ServerVersion == "" {
		c.ServerVersion = DefaultServerVersion
	}
	if c.Auth.MaxTries == 0 {
		c.Auth.MaxTries = DefaultMaxAuthTries
	}
	if c.Auth.PasswordPrompt == "" {
		c.Auth.PasswordPrompt = DefaultPasswordPrompt
	}
	if c.Name == "" {
		c.Name = "sshd"
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	return c
}
