package sshd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"

	gossh "golang.org/x/crypto/ssh"
)

// Host keys are derived from a seed (the lab and host names by default) so
// that a client's known_hosts stays valid across restarts of the same lab:
// real ESXi hosts keep their keys across reboots, and autopath
// implementations under test usually pin them.
//
// ESXi 8 runs sshd in FIPS mode and has RSA and ECDSA host keys; ed25519 is
// rejected, so it is never offered here.
//
// crypto/ecdsa.ParseRawPrivateKey turns 32 seed-derived bytes into a P-256
// key directly. crypto/rsa.GenerateKey ignores its reader in current Go (it
// always draws from the system CSPRNG), so the RSA key is built by hand: two
// 1024-bit primes searched for in a ChaCha8 stream seeded from the seed,
// checked with math/big's ProbablyPrime (Miller-Rabin + Baillie-PSW), then
// validated by crypto/rsa. That costs roughly 0.05–0.3 s of CPU per host,
// which is why it runs in the background from New and can be switched off
// (Config.ECDSAOnly).

// ecdsaHostKey derives the host's ECDSA P-256 key.
func ecdsaHostKey(seed string) (gossh.Signer, error) {
	for i := 0; i < 16; i++ {
		d := sha256.Sum256(fmt.Appendf(nil, "autopathlab/hostkey/ecdsa-p256/%d/%s", i, seed))
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
		if err != nil {
			// d is zero or not below the group order: about 2^-32 likely.
			continue
		}
		return gossh.NewSignerFromKey(k)
	}
	return nil, errors.New("sshd: cannot derive an ECDSA host key")
}

// rsaHostKey derives the host's 2048-bit RSA key.
func rsaHostKey(seed string) (gossh.Signer, error) {
	s := sha256.Sum256([]byte("autopathlab/hostkey/rsa-2048/" + seed))
	stream := rand.NewChaCha8(s)
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for tries := 0; tries < 64; tries++ {
		p := rsaPrime(stream, 1024)
		q := rsaPrime(stream, 1024)
		if p.Cmp(q) == 0 {
			continue
		}
		if p.Cmp(q) < 0 {
			p, q = q, p
		}
		n := new(big.Int).Mul(p, q)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
		if k.Validate() != nil {
			continue
		}
		k.Precompute()
		return gossh.NewSignerFromKey(k)
	}
	return nil, errors.New("sshd: cannot derive an RSA host key")
}

// rsaPrime returns a prime of exactly bits bits whose two top bits are set,
// so that the product of two of them has exactly 2*bits bits.
func rsaPrime(stream *rand.ChaCha8, bits int) *big.Int {
	b := make([]byte, bits/8)
	for {
		_, _ = stream.Read(b)
		b[0] |= 0xc0
		b[len(b)-1] |= 1
		p := new(big.Int).SetBytes(b)
		if p.ProbablyPrime(20) {
			return p
		}
	}
}
