package fabric

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Faults the lab injects on command: a link (carrier) down, extra latency
// and packet loss on an interface, a partition between two nodes.
//
// They act where a real network would: no route is removed and nobody is
// told. A packet that crosses a carrier-down interface, an interface with
// 100% loss, or goes between partitioned nodes is blackholed: open flows
// stall (no RST, no FIN), dials wait for a network change or their context,
// echo requests go unanswered. When the fault goes, stalled flows resume
// with what was written meanwhile.
//
// Latency and partial loss do not change a flow's fate, only its timing:
// each write is delivered late, on the network's clock.

// TCP retransmission timeouts of the loss model. A lost segment is resent
// after the RTO, and the RTO doubles while the resends are lost too (RFC
// 6298 back-off). rtoMin is Linux's TCP_RTO_MIN and rtoMax its TCP_RTO_MAX;
// synRTO is the initial RTO a SYN waits (RFC 6298 §2.1).
const (
	rtoMin = 200 * time.Millisecond
	rtoMax = 120 * time.Second
	synRTO = time.Second
	// maxResends bounds the draws for one segment: tcp_retries2's 15.
	// Beyond it the segment is taken as delivered; the chance of getting
	// there at 99% loss is 86%, at 50% it is 3e-5.
	maxResends = 15
)

// ifaceFaults is the fault state of an interface. Atomics, because every
// write of every flow through the interface reads them.
type ifaceFaults struct {
	noCarrier atomic.Bool
	latency   atomic.Int64  // time.Duration, one way
	loss      atomic.Uint64 // math.Float64bits of a probability in [0, 1]

	rngMu sync.Mutex
	rng   *rand.Rand
}

// Carrier reports whether the interface has a physical link.
func (i *Interface) Carrier() bool { return !i.flt.noCarrier.Load() }

// SetCarrier brings the physical link up or down, as a pulled cable or a
// dead switch port does: unlike SetUp (the administrative state) it leaves
// the routes alone, so traffic keeps choosing the interface and is
// blackholed there. Every flow of the network is re-evaluated.
func (i *Interface) SetCarrier(up bool) {
	if i.flt.noCarrier.Swap(!up) == !up {
		return
	}
	i.node.net.noteFault(i)
	i.node.net.reevaluate()
}

// Latency returns the extra one-way delay of the interface.
func (i *Interface) Latency() time.Duration { return time.Duration(i.flt.latency.Load()) }

// SetLatency adds d to every packet that crosses the interface, either
// way: an echo's RTT grows by 2d when its reply comes back through it (the
// model sends replies back along the request's hops), a TCP connection
// set-up by 2d, and each write is delivered d later. Flows keep their path,
// so nothing is re-evaluated.
func (i *Interface) SetLatency(d time.Duration) {
	i.flt.latency.Store(int64(max(d, 0)))
	i.node.net.noteFault(i)
}

// Loss returns the interface's packet loss in percent.
func (i *Interface) Loss() float64 { return 100 * i.loss() }

func (i *Interface) loss() float64 { return math.Float64frombits(i.flt.loss.Load()) }

// SetLoss drops percent of the packets that cross the interface. Draws
// come from a PRNG seeded from the node and interface names, reseeded at
// every call, so a test that sets a loss sees the same drops on every run.
//
//   - An echo request is lost with that probability (one draw per interface
//     per echo: it is the loss vmkping reports).
//   - A TCP write is resent after an RTO with that probability, and again
//     after twice the RTO if the resend is lost too (rtoMin doubling, capped
//     at rtoMax): the write is delivered late, never dropped. A SYN waits
//     synRTO the same way.
//   - 100% blackholes the interface, as a carrier loss does: flows stall
//     and resume when the loss drops.
func (i *Interface) SetLoss(percent float64) {
	p := percent / 100
	if math.IsNaN(p) || p < 0 {
		p = 0
	}
	p = min(p, 1)
	i.flt.rngMu.Lock()
	h := fnv.New64a()
	h.Write([]byte(i.node.name + "/" + i.name))
	seed := h.Sum64()
	i.flt.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	i.flt.rngMu.Unlock()
	was := i.flt.loss.Swap(math.Float64bits(p))
	i.node.net.noteFault(i)
	if (math.Float64frombits(was) >= 1) != (p >= 1) {
		i.node.net.reevaluate()
	}
}

// blackholes reports whether nothing gets through the interface.
func (i *Interface) blackholes() bool {
	return i.flt.noCarrier.Load() || i.loss() >= 1
}

// lost draws whether a packet crossing the interface is lost. At 100% the
// interface blackholes and flows stall (pathTo): what is written meanwhile
// is held by the stall, not delayed by resends on top of it.
func (i *Interface) lost() bool {
	p := i.loss()
	if p <= 0 || p >= 1 {
		return false
	}
	i.flt.rngMu.Lock()
	defer i.flt.rngMu.Unlock()
	return i.flt.rng.Float64() < p
}

// clearFaults removes the interface's faults and reports whether it was
// blackholing, which needs a re-evaluation.
func (i *Interface) clearFaults() bool {
	was := i.blackholes()
	i.flt.noCarrier.Store(false)
	i.flt.latency.Store(0)
	i.flt.loss.Store(0)
	return was
}

// nodePair is an unordered pair of nodes, smaller name first.
type nodePair struct{ a, b *Node }

func pairOf(x, y *Node) nodePair {
	if y.name < x.name {
		x, y = y, x
	}
	return nodePair{x, y}
}

// faultState is the network's record of what is broken, so that
// ClearFaults touches only that.
type faultState struct {
	mu      sync.Mutex
	faulted map[*Interface]struct{}
	// parts are the standing partitions by id; cut counts them per pair,
	// so that two partitions of one pair heal one at a time.
	parts  map[uint64]nodePair
	cut    map[nodePair]int
	nextID uint64
	// nparts is len(parts), read without the lock on every hop.
	nparts atomic.Int32
}

func (n *Network) noteFault(i *Interface) {
	f := &n.faults
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.faulted == nil {
		f.faulted = map[*Interface]struct{}{}
	}
	f.faulted[i] = struct{}{}
}

// Partition cuts nodes a and b off from each other, both ways: packets
// between them are dropped, whether they are neighbours or talk through
// routers, and so are packets between either and a router when the router
// is the other one. Flows between them stall, dials wait, echoes go
// unanswered. heal (idempotent) undoes this partition; stalled flows resume.
func (n *Network) Partition(a, b string) (heal func(), err error) {
	na, nb := n.Node(a), n.Node(b)
	switch {
	case na == nil:
		return nil, fmt.Errorf("fabric: no node %q", a)
	case nb == nil:
		return nil, fmt.Errorf("fabric: no node %q", b)
	case na == nb:
		return nil, fmt.Errorf("fabric: cannot partition %s from itself", a)
	}
	key := pairOf(na, nb)
	f := &n.faults
	f.mu.Lock()
	if f.parts == nil {
		f.parts, f.cut = map[uint64]nodePair{}, map[nodePair]int{}
	}
	f.nextID++
	id := f.nextID
	f.parts[id] = key
	f.cut[key]++
	f.nparts.Store(int32(len(f.parts)))
	f.mu.Unlock()
	n.reevaluate()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			_, ok := f.parts[id]
			if ok {
				delete(f.parts, id)
				if f.cut[key]--; f.cut[key] <= 0 {
					delete(f.cut, key)
				}
				f.nparts.Store(int32(len(f.parts)))
			}
			f.mu.Unlock()
			// Healed already by ClearFaults: nothing changed.
			if ok {
				n.reevaluate()
			}
		})
	}, nil
}

// partitioned reports whether packets between x and y are dropped.
func (n *Network) partitioned(x, y *Node) bool {
	f := &n.faults
	if x == y || f.nparts.Load() == 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cut[pairOf(x, y)] > 0
}

// ClearFaults removes every fault: carrier up, no latency nor loss on any
// interface, partitions healed. It costs nothing when nothing is broken,
// and one re-evaluation when something was blackholed.
func (n *Network) ClearFaults() {
	f := &n.faults
	f.mu.Lock()
	ifs := f.faulted
	f.faulted = nil
	healed := len(f.parts) > 0
	f.parts, f.cut = nil, nil
	f.nparts.Store(0)
	f.mu.Unlock()
	again := healed
	for i := range ifs {
		if i.clearFaults() {
			again = true
		}
	}
	if again {
		n.reevaluate()
	}
}

// sleep waits d on the network's clock, or until ctx is done.
func (n *Network) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := n.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// latencyDelay is the extra one-way delay of the path's interfaces.
func (p *path) latencyDelay() time.Duration {
	var d time.Duration
	for _, i := range p.ifaces {
		d += i.Latency()
	}
	return d
}

// lost draws whether a packet along the path is lost: one draw at every
// interface with a loss.
func (p *path) lost() bool {
	lost := false
	for _, i := range p.ifaces {
		// Every interface draws, so that each one's sequence depends only
		// on the packets that cross it.
		if i.lost() {
			lost = true
		}
	}
	return lost
}

// resendDelay is how late loss makes a segment: the RTOs of its lost
// sends, starting at rto and doubling.
func (p *path) resendDelay(rto time.Duration) time.Duration {
	var d time.Duration
	for range maxResends {
		if !p.lost() {
			break
		}
		d += rto
		rto = min(2*rto, rtoMax)
	}
	return d
}

// transit is how long a write takes to arrive beyond the modelled network's
// own (unwaited) hop latency: the interfaces' latency and loss.
func (p *path) transit() time.Duration {
	return p.latencyDelay() + p.resendDelay(rtoMin)
}
