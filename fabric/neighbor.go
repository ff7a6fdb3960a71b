package fabric

import (
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// Neighbor is one entry of a node's ARP cache.
type Neighbor struct {
	IP    netip.Addr
	MAC   net.HardwareAddr
	Iface string
	// Expiry is the time left before the entry is dropped.
	Expiry time.Duration
}

type neighborKey struct {
	iface *Interface
	ip    netip.Addr
}

type neighborEntry struct {
	mac     net.HardwareAddr
	expires time.Time
}

// neighborTable is fed by traffic: every resolved next hop is learned, and
// every ARP request a node answers teaches it the asker.
type neighborTable struct {
	clock   clock.Clock
	timeout time.Duration

	mu sync.Mutex
	m  map[neighborKey]neighborEntry
}

func newNeighborTable(c clock.Clock, timeout time.Duration) *neighborTable {
	return &neighborTable{clock: c, timeout: timeout, m: map[neighborKey]neighborEntry{}}
}

func (t *neighborTable) learn(i *Interface, ip netip.Addr, mac net.HardwareAddr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[neighborKey{i, ip}] = neighborEntry{mac: mac, expires: t.clock.Now().Add(t.timeout)}
}

// has reports whether a live entry for ip on i exists: a sender with one
// skips ARP and sends to the cached MAC even if its owner is gone.
func (t *neighborTable) has(i *Interface, ip netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[neighborKey{i, ip}]
	return ok && t.clock.Now().Before(e.expires)
}

func (t *neighborTable) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m = map[neighborKey]neighborEntry{}
}

func (t *neighborTable) flushIface(i *Interface) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.m {
		if k.iface == i {
			delete(t.m, k)
		}
	}
}

// list returns the live entries, oldest interface first, then by address.
func (t *neighborTable) list() []Neighbor {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.clock.Now()
	var out []Neighbor
	seqs := map[string]uint64{}
	for k, e := range t.m {
		left := e.expires.Sub(now)
		if left <= 0 {
			delete(t.m, k)
			continue
		}
		seqs[k.iface.name] = k.iface.seq
		out = append(out, Neighbor{IP: k.ip, MAC: e.mac, Iface: k.iface.name, Expiry: left})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Iface != out[b].Iface {
			return seqs[out[a].Iface] < seqs[out[b].Iface]
		}
		return out[a].IP.Less(out[b].IP)
	})
	return out
}
