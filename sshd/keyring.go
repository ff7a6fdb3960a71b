package sshd

import (
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// Keyring derives RSA host keys once per seed and hands the same key to
// every server that asks for that seed. A lab gives all its nodes one RSA
// seed: deriving a 2048-bit key costs 0.05–0.3 s of CPU, which times 128
// hosts would dominate a lab's start. Each node keeps its own ECDSA key
// (cheap, and what clients prefer), so known_hosts still tells nodes apart.
type Keyring struct {
	mu   sync.Mutex
	keys map[string]*rsaEntry
}

type rsaEntry struct {
	once sync.Once
	key  gossh.Signer
	err  error
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{keys: map[string]*rsaEntry{}} }

// RSA returns the RSA host key for seed, deriving it on first use; callers
// asking for the same seed meanwhile wait for that one derivation.
func (k *Keyring) RSA(seed string) (gossh.Signer, error) {
	k.mu.Lock()
	e, ok := k.keys[seed]
	if !ok {
		e = &rsaEntry{}
		k.keys[seed] = e
	}
	k.mu.Unlock()
	e.once.Do(func() { e.key, e.err = rsaHostKey(seed) })
	return e.key, e.err
}
