package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strings"
	"sync"
	"time"
)

// paramiko's password fallback, and why the server reads the client's SSH
// identification itself.
//
// ESXi offers no "password" method. paramiko, asked to log in with a
// password, tries "password", gets "publickey,keyboard-interactive" back,
// and falls back to keyboard-interactive with the same password — but it
// sends a second SSH_MSG_SERVICE_REQUEST before every attempt. OpenSSH's
// sshd answers those; golang.org/x/crypto/ssh's server ends the connection
// ("unexpected message type 5", golang/go#75268, fix proposed in
// golang/crypto#322, not released). Until x/crypto accepts it, a paramiko
// client gets what its fallback would have got from ESXi: its password
// checked in the "password" method. Only paramiko, and only under a policy
// that offers keyboard-interactive but not password (ESXi's): every other
// client sees "publickey,keyboard-interactive" exactly, and a policy that
// offers password (a CVM's) needs no fallback. The client is recognised by
// its identification string, which x/crypto reads only after the server
// configuration is fixed; so the server exchanges identifications itself
// first.

// paramikoPrefix starts paramiko's identification string.
const paramikoPrefix = "SSH-2.0-paramiko_"

func isParamiko(clientVersion string) bool { return strings.HasPrefix(clientVersion, paramikoPrefix) }

// paramikoFallback reports whether a client gets its password checked in
// the "password" method although the policy does not offer it.
func paramikoFallback(m Methods, clientVersion string) bool {
	return m.Has(KeyboardInteractive) && !m.Has(Password) && isParamiko(clientVersion)
}

// errBadIdent is a client that sent no SSH identification line.
var errBadIdent = errors.New("sshd: no SSH identification from client")

// exchangeIdent sends serverIdent ("SSH-2.0-OpenSSH_9.7") and reads the
// client's identification. The returned conn replays the client's line to
// x/crypto and swallows x/crypto's own identification line, so that the
// handshake proceeds as if x/crypto had exchanged them.
func exchangeIdent(c net.Conn, serverIdent string, timeout time.Duration) (net.Conn, string, error) {
	line := []byte(serverIdent + "\r\n")
	_ = c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(line); err != nil {
		return nil, "", err
	}
	r := bufio.NewReaderSize(c, 512)
	var replay []byte
	// RFC 4253 §4.2 lets only servers send lines before theirs; be as
	// lenient as x/crypto (5 lines of at most 255 bytes).
	for range 5 {
		l, err := r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, "", errBadIdent
			}
			return nil, "", err
		}
		replay = append(replay, l...)
		if bytes.HasPrefix(l, []byte("SSH-")) {
			ident := string(bytes.TrimRight(l, "\r\n"))
			return &identConn{Conn: c, r: r, replay: replay, swallow: line}, ident, nil
		}
	}
	return nil, "", errBadIdent
}

// identConn is a connection whose identification exchange already
// happened.
type identConn struct {
	net.Conn
	r *bufio.Reader

	rmu    sync.Mutex
	replay []byte

	wmu     sync.Mutex
	swallow []byte
}

func (c *identConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	return c.r.Read(p)
}

func (c *identConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.swallow != nil {
		// x/crypto writes its identification in one Write.
		if !bytes.HasPrefix(p, c.swallow) {
			return 0, errors.New("sshd: unexpected identification write")
		}
		skip := len(c.swallow)
		c.swallow = nil
		if len(p) == skip {
			return len(p), nil
		}
		n, err := c.Conn.Write(p[skip:])
		return n + skip, err
	}
	return c.Conn.Write(p)
}
