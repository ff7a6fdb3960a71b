package sshd

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/sshd/sshdtest"
)

// TestHostKeyGolden pins the derivation: known_hosts files written against
// earlier releases of the lab (the keys were esxisim's then) stay valid.
func TestHostKeyGolden(t *testing.T) {
	for _, tc := range []struct{ seed, ecdsa, rsa string }{
		{"lab/A", "SHA256:O2UVyirXfmkEJPIPgRPc5Mq34i0rjAhcAtqyS3LBx0U", "SHA256:4rS3SOGu8omTGezehbYjhQSOJRmG0ewTUiGTTyYYAmw"},
		{"autopathlab/NTNX-BLOCK1-A", "SHA256:XfoOm0b97ohOqJLum3FbO3DDh0RN2cHnidhLQw1QZuY", "SHA256:RgVaDA/oCDUJibADBXNqP7L3G8ieRVEbQZZz54lEtKA"},
	} {
		e, err := ecdsaHostKey(tc.seed)
		require.NoError(t, err)
		r, err := rsaHostKey(tc.seed)
		require.NoError(t, err)
		assert.Equal(t, tc.ecdsa, gossh.FingerprintSHA256(e.PublicKey()), tc.seed)
		assert.Equal(t, tc.rsa, gossh.FingerprintSHA256(r.PublicKey()), tc.seed)
	}
}

func TestHostKeys(t *testing.T) {
	cfg := cvmPolicy()
	cfg.HostKeySeed = "lab/cvm-a"
	a := newServer(t, cfg)
	cfg.ECDSAOnly = true
	b := newServer(t, cfg)
	ka, err := a.HostKeys()
	require.NoError(t, err)
	kb, err := b.HostKeys()
	require.NoError(t, err)
	require.Len(t, ka, 2)
	require.Len(t, kb, 1)
	assert.Equal(t, gossh.KeyAlgoECDSA256, ka[0].Type())
	assert.Equal(t, gossh.KeyAlgoRSA, ka[1].Type())
	assert.Equal(t, ka[0].Marshal(), kb[0].Marshal(), "same seed, same key")

	// The server presents them: ECDSA, and RSA to a client that only
	// takes RSA.
	for i, algo := range []string{gossh.KeyAlgoECDSA256, gossh.KeyAlgoRSASHA512} {
		var seen gossh.PublicKey
		c, err := gossh.Dial("tcp", a.Addr().String(), &gossh.ClientConfig{
			User: "nutanix", Auth: []gossh.AuthMethod{sshdtest.KeyboardInteractive("nutanix/4u")},
			HostKeyAlgorithms: []string{algo},
			HostKeyCallback: func(_ string, _ net.Addr, key gossh.PublicKey) error {
				seen = key
				return nil
			},
		})
		require.NoError(t, err, algo)
		c.Close()
		assert.Equal(t, ka[i].Marshal(), seen.Marshal(), algo)
	}
}

// A keyring derives an RSA key once per seed: two servers sharing the seed
// present the same RSA key and their own ECDSA keys.
func TestKeyringSharesRSA(t *testing.T) {
	kr := NewKeyring()
	a, err := kr.RSA("lab")
	require.NoError(t, err)
	b, err := kr.RSA("lab")
	require.NoError(t, err)
	require.Same(t, a, b)
	want, err := rsaHostKey("lab")
	require.NoError(t, err)
	require.Equal(t, gossh.FingerprintSHA256(want.PublicKey()), gossh.FingerprintSHA256(a.PublicKey()))
	c, err := kr.RSA("other")
	require.NoError(t, err)
	require.NotEqual(t, gossh.FingerprintSHA256(a.PublicKey()), gossh.FingerprintSHA256(c.PublicKey()))
}
