package sshd

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExchangeIdent(t *testing.T) {
	for _, tc := range []struct {
		name, client, ident string
		err                 bool
	}{
		{name: "plain", client: "SSH-2.0-paramiko_3.4.0\r\n", ident: "SSH-2.0-paramiko_3.4.0"},
		{name: "lines before", client: "hello\r\nSSH-2.0-OpenSSH_9.6\r\n", ident: "SSH-2.0-OpenSSH_9.6"},
		{name: "no ident", client: "1\n2\n3\n4\n5\nSSH-2.0-late\r\n", err: true},
		{name: "eof", client: "SSH-2.0-cut", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := net.Pipe()
			defer cli.Close()
			go func() {
				r := bufio.NewReader(cli)
				_, _ = r.ReadString('\n') // the server's line
				_, _ = io.WriteString(cli, tc.client)
				if tc.name == "eof" {
					cli.Close()
				}
			}()
			ic, ident, err := exchangeIdent(srv, "SSH-2.0-OpenSSH_9.7", 5*time.Second)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.ident, ident)
			// x/crypto then reads the client's lines again, and its own
			// identification line is swallowed, written once already.
			got := make([]byte, len(tc.client))
			_, err = io.ReadFull(ic, got)
			require.NoError(t, err)
			assert.Equal(t, tc.client, string(got))
			done := make(chan []byte)
			go func() {
				b := make([]byte, 3)
				_, _ = io.ReadFull(cli, b)
				done <- b
			}()
			n, err := ic.Write([]byte("SSH-2.0-OpenSSH_9.7\r\nabc"))
			require.NoError(t, err)
			assert.Equal(t, 24, n)
			assert.Equal(t, "abc", string(<-done))
		})
	}
}

func TestParamikoFallbackPolicy(t *testing.T) {
	const p = "SSH-2.0-paramiko_3.4.0"
	assert.True(t, paramikoFallback(PublicKey|KeyboardInteractive, p))
	assert.False(t, paramikoFallback(PublicKey|KeyboardInteractive|Password, p), "password offered")
	assert.False(t, paramikoFallback(PublicKey, p), "no keyboard-interactive to fall back to")
	assert.False(t, paramikoFallback(PublicKey|KeyboardInteractive, "SSH-2.0-OpenSSH_9.6"))
}
