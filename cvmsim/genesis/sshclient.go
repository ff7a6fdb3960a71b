package genesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// hostConn is the permanent SSH connection Genesis keeps with one ESXi
// host (seed 001: "the permanent SSH connection it maintains with each
// ESXi host"). It connects on first use, runs every command of a round as
// its own session over the one connection, and reconnects on the next
// command after the connection dropped.
type hostConn struct {
	h      Host
	config *ssh.ClientConfig

	mu        sync.Mutex
	client    *ssh.Client
	connected bool // a connection was up before: the next is a reconnect
	closed    bool
}

func newHostConn(h Host) *hostConn {
	hk := h.HostKeyCallback
	if hk == nil {
		// The lab's host keys are derived from a seed and Genesis talks
		// only to the hosts it was configured with, on loopback.
		hk = ssh.InsecureIgnoreHostKey()
	}
	password := h.Password
	return &hostConn{
		h: h,
		config: &ssh.ClientConfig{
			User: h.User,
			Auth: []ssh.AuthMethod{
				// ESXi offers publickey and keyboard-interactive only
				// (reference §8.4); the PAM prompt is "Password: ". Every
				// prompt gets the password.
				ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
					answers := make([]string, len(questions))
					for i := range answers {
						answers[i] = password
					}
					return answers, nil
				}),
				// For hosts configured with PasswordAuth; never offered by
				// a real ESXi.
				ssh.Password(password),
			},
			HostKeyCallback: hk,
		},
	}
}

// errConnClosed is returned after close.
var errConnClosed = errors.New("genesis: connection closed")

// get returns the live client, dialling a new one if there is none;
// onConnect (may be nil) hears of a new connection.
func (c *hostConn) get(ctx context.Context, onConnect func(reconnect bool)) (*ssh.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errConnClosed
	}
	if c.client != nil {
		return c.client, nil
	}
	client, err := dialSSH(ctx, c.h.SSHAddr, c.config)
	if err != nil {
		return nil, err
	}
	c.client = client
	reconnect := c.connected
	c.connected = true
	go func() {
		// Wait returns when the connection drops (the host closed it, the
		// network failed, we closed it): forget it so that the next
		// command reconnects instead of failing on a dead client.
		_ = client.Wait()
		c.drop(client)
	}()
	if onConnect != nil {
		onConnect(reconnect)
	}
	return client, nil
}

// drop forgets client if it is still the current one, and closes it.
func (c *hostConn) drop(client *ssh.Client) {
	c.mu.Lock()
	if c.client == client {
		c.client = nil
	}
	c.mu.Unlock()
	client.Close()
}

func (c *hostConn) close() {
	c.mu.Lock()
	c.closed = true
	client := c.client
	c.client = nil
	c.mu.Unlock()
	if client != nil {
		client.Close()
	}
}

// dialSSH connects and authenticates, bounded by ctx: the TCP connect, the
// handshake and the authentication together.
func dialSSH(ctx context.Context, addr string, config *ssh.ClientConfig) (*ssh.Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// A host that accepts and then says nothing would hold the handshake
	// for ever: closing the socket when ctx ends unblocks it.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	conn, chans, reqs, err := ssh.NewClientConn(nc, addr, config)
	if !stop() {
		if err == nil {
			conn.Close()
		}
		return nil, ctxErr(ctx)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return ssh.NewClient(conn, chans, reqs), nil
}

// result is what one command did on the host.
type result struct {
	stdout, stderr string
	exit           int
}

// failed describes a command that ran and exited non-zero.
func (r result) failed() string {
	msg := strings.TrimSpace(r.stderr)
	if msg == "" {
		msg = strings.TrimSpace(r.stdout)
	}
	return fmt.Sprintf("exit status %d: %s", r.exit, msg)
}

// run executes one command. err is about the connection (refused, dropped,
// timed out); a command that ran and failed has err nil and a non-zero
// exit. A command still running when ctx ends costs the connection: a
// host that does not answer within the round's time is not trusted with
// the next command on the same connection.
func (c *hostConn) run(ctx context.Context, cmd string, onConnect func(reconnect bool)) (result, error) {
	client, err := c.get(ctx, onConnect)
	if err != nil {
		return result{}, err
	}
	res, err := runOn(ctx, client, cmd)
	if err != nil && ctx.Err() == nil && isConnGone(err) {
		// The connection died between two rounds and Wait has not said so
		// yet: one fresh connection, one more try. The command never
		// started on the old one, so it is not run twice.
		c.drop(client)
		if client, err = c.get(ctx, onConnect); err != nil {
			return result{}, err
		}
		res, err = runOn(ctx, client, cmd)
	}
	if err != nil {
		c.drop(client)
	}
	return res, err
}

// errSessionOpen marks a failure to open the session: the command never
// ran.
type errSessionOpen struct{ err error }

func (e errSessionOpen) Error() string { return "ssh session: " + e.err.Error() }
func (e errSessionOpen) Unwrap() error { return e.err }

func isConnGone(err error) bool {
	var so errSessionOpen
	return errors.As(err, &so)
}

func runOn(ctx context.Context, client *ssh.Client, cmd string) (result, error) {
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	sess, err := client.NewSession()
	if err != nil {
		if ctx.Err() != nil {
			return result{}, ctxErr(ctx)
		}
		return result{}, errSessionOpen{err}
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	err = sess.Run(cmd)
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.exit = exit.ExitStatus()
	case ctx.Err() != nil:
		return res, ctxErr(ctx)
	default:
		return res, err
	}
	return res, nil
}

// ctxErr prefers the cause a clock timeout gave ("timed out after 20s")
// over context.Canceled.
func ctxErr(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ctx.Err()
}
