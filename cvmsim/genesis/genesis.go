// Package genesis is the reference autopath: Nutanix Genesis' CVM
// autopathing for ESXi, as seed 001 describes it. Every Interval (30 s)
// the leader CVM checks every Stargate (ha_service.py) and corrects each
// ESXi host's route to 192.168.5.2 over its permanent SSH connection to the
// host (hypervisor_ha.py):
//
//   - a host whose local CVM is down gets `esxcfg-route -a 192.168.5.2
//     255.255.255.255 <eth0 of a healthy CVM>`; a route through a CVM that
//     failed since is re-pointed, a route an operator deleted is re-added;
//   - a host whose local CVM is healthy (and, after a failure, has stayed
//     healthy for StablePeriod) loses any such route: Genesis first sends
//     NfsTerminateConnection to the CVM the route leads to, so that Stargate
//     closes the host's connections cleanly, then deletes the route
//     ("illegal forwarding"); a route to something that is not a healthy
//     CVM is just deleted.
//
// Genesis depends on two small views: CVM (name, eth0 address, the host it
// serves, its Stargate's health, NfsTerminateConnection) and Host (how to
// reach an ESXi host over real SSH). FabricCVM implements CVM over a lab's
// fabric nodes and nfs.Servers; a CVM emulator implements it over its own
// Stargate and status page.
package genesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/autopathlab/autopathlab/clock"
)

// CVM is a Controller VM as Genesis sees it.
type CVM interface {
	Name() string
	// PublicIP is eth0's address: the gateway of a forwarding route.
	PublicIP() netip.Addr
	// Host is the name of the ESXi host the CVM serves locally.
	Host() string
	// Healthy reports whether the CVM's Stargate is alive and serving. It
	// must return when ctx ends; an error means unhealthy and says why.
	Healthy(ctx context.Context) (bool, error)
	// TerminateNFS is NfsTerminateConnection on this CVM: its Stargate
	// closes every NFS connection from client. It returns how many.
	TerminateNFS(ctx context.Context, client netip.Addr) (int, error)
}

// PeerChecker is implemented by a CVM that can check another CVM's
// Stargate from itself. Genesis then runs every check from the leader, as
// ha_service.py runs on one CVM, so that a CVM that is up but cut off from
// the leader counts as down. A CVM without it is judged by its own
// Healthy.
type PeerChecker interface {
	CheckPeer(ctx context.Context, peer CVM) (bool, error)
}

// Host is an ESXi host Genesis corrects.
type Host struct {
	Name string
	// PublicIP is the host's management (vmk0) address: the client
	// address a remote Stargate sees, and what NfsTerminateConnection
	// names.
	PublicIP netip.Addr
	// SSHAddr is the host's real SSH listener, "127.0.0.1:2201".
	SSHAddr        string
	User, Password string
	// HostKeyCallback checks the host's key (default: any key).
	HostKeyCallback ssh.HostKeyCallback
}

// Config configures Genesis.
type Config struct {
	CVMs  []CVM
	Hosts []Host
	// Clock drives the loop and the stability period (default real
	// time).
	Clock clock.Clock
	// TimeoutClock measures ProbeTimeout and HostTimeout (default Clock).
	// Tests that drive Genesis with a fake Clock and call Tick set it to
	// clock.Real(): nothing would advance a fake clock while a round waits
	// for a probe that never answers.
	TimeoutClock clock.Clock
	// Interval between rounds (default 30 s, ha_service.py's period).
	Interval time.Duration
	// StablePeriod is how long a local CVM that was seen down must stay
	// healthy before its host's forwarding route is removed (default 30 s:
	// seed 001, "After 30 seconds, it detects all three Stargates are
	// alive and functioning then creates a task to delete"). A CVM healthy
	// when Genesis first sees it counts as stable.
	StablePeriod time.Duration
	// ProbeTimeout bounds one Stargate check (default 5 s).
	ProbeTimeout time.Duration
	// HostTimeout bounds one host's share of a round: connecting, listing
	// the routes and every change (default 20 s). Hosts are served
	// concurrently, so a slow host delays nobody else.
	HostTimeout time.Duration
	// Leader picks the CVM that runs the checks. Default: an election
	// among the CVMs whose own Healthy says yes: the current leader stays
	// while it is healthy, else the lowest-named one leads. A nil or
	// unhealthy configured leader skips the round.
	Leader func() CVM
	// Log receives genesis.out lines.
	Log io.Writer
	// LeaderLog, if set, also receives each round's lines: the writer of
	// the leader's own genesis.out (a CVM emulator's shell shows it).
	LeaderLog func(leader CVM) io.Writer
	// OnEvent receives what Genesis did. Calls are serialised; fn must not
	// call back into Genesis.
	OnEvent func(Event)
}

// Event kinds.
const (
	EventCheck        = "genesis.check"         // a round's Stargate check
	EventLeader       = "genesis.leader"        // another CVM leads
	EventStargateDown = "genesis.stargate_down" // a Stargate stopped answering
	EventStargateUp   = "genesis.stargate_up"   // it answers again
	EventRouteAdd     = "genesis.route_add"
	EventRouteDelete  = "genesis.route_delete"
	EventTerminate    = "genesis.terminate" // NfsTerminateConnection
	EventNoTarget     = "genesis.no_target" // no healthy CVM to forward to
	EventSSHError     = "genesis.ssh_error" // a host could not be reached
	EventRound        = "genesis.round"     // a round's host actions are done
)

// Event is one thing Genesis observed or did.
type Event struct {
	Time time.Time
	Kind string
	// Leader is the CVM that ran the round.
	Leader string
	// Host is the ESXi host concerned.
	Host string
	// CVM is the CVM concerned: the route's target, the terminating
	// Stargate, the one that went up or down.
	CVM string
	// Gateway is the route's gateway.
	Gateway netip.Addr
	// Client is the address NfsTerminateConnection named.
	Client netip.Addr
	// Count is how many connections NfsTerminateConnection closed.
	Count int
	// Detail is a human summary (the check's results).
	Detail string
	// Err says what failed; empty on success.
	Err string
}

// Genesis is the autopath loop. It is safe for concurrent use; rounds
// never overlap.
type Genesis struct {
	cfg   Config
	cvms  []CVM // sorted by name
	hosts []*hostState
	log   *logger

	evMu sync.Mutex // serialises OnEvent

	// round is held for a whole round: Tick from a test and Run never
	// overlap, and the state below belongs to the round holding it.
	round  sync.Mutex
	states map[string]*cvmState
	leader string
	// forget is set by Reset: the next round starts from a blank memory.
	forget atomic.Bool
}

// hostState is one host and its permanent SSH connection.
type hostState struct {
	h    Host
	conn *hostConn
}

// cvmState is what Genesis remembers of a Stargate between rounds.
type cvmState struct {
	seen    bool
	healthy bool
	// upSince is when a Stargate seen down answered again; zero if it has
	// been healthy since Genesis first saw it.
	upSince time.Time
}

// stable reports whether the Stargate has been healthy long enough for
// its host's traffic to come back.
func (s *cvmState) stable(now time.Time, period time.Duration) bool {
	return s.healthy && (s.upSince.IsZero() || now.Sub(s.upSince) >= period)
}

// New checks cfg and returns Genesis; it connects to nothing until the
// first round.
func New(cfg Config) (*Genesis, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.TimeoutClock == nil {
		cfg.TimeoutClock = cfg.Clock
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.StablePeriod <= 0 {
		cfg.StablePeriod = 30 * time.Second
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 5 * time.Second
	}
	if cfg.HostTimeout <= 0 {
		cfg.HostTimeout = 20 * time.Second
	}
	if len(cfg.CVMs) == 0 {
		return nil, errors.New("genesis: no CVMs")
	}
	g := &Genesis{cfg: cfg, states: map[string]*cvmState{}, log: &logger{clk: cfg.Clock, w: cfg.Log}}
	names, ips := map[string]bool{}, map[netip.Addr]bool{}
	for _, c := range cfg.CVMs {
		if c == nil {
			return nil, errors.New("genesis: nil CVM")
		}
		if names[c.Name()] || ips[c.PublicIP()] {
			return nil, fmt.Errorf("genesis: CVM %s (%s) given twice", c.Name(), c.PublicIP())
		}
		names[c.Name()], ips[c.PublicIP()] = true, true
		g.cvms = append(g.cvms, c)
		g.states[c.Name()] = &cvmState{}
	}
	// Name order is the election order and the order in which a failed
	// CVM's host is handed to the next one.
	slices.SortFunc(g.cvms, func(a, b CVM) int { return strings.Compare(a.Name(), b.Name()) })
	for _, h := range cfg.Hosts {
		if h.SSHAddr == "" || !h.PublicIP.IsValid() {
			return nil, fmt.Errorf("genesis: host %q needs SSHAddr and PublicIP", h.Name)
		}
		g.hosts = append(g.hosts, &hostState{h: h, conn: newHostConn(h)})
	}
	return g, nil
}

// Run runs a round at once and then every Interval on the clock until ctx
// ends. A round that overruns the interval is followed by the next at
// once; rounds are never skipped or stacked.
func (g *Genesis) Run(ctx context.Context) error {
	for {
		start := g.cfg.Clock.Now()
		g.Tick(ctx)
		wait := g.cfg.Interval - g.cfg.Clock.Since(start)
		if wait <= 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		t := g.cfg.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.Chan():
		}
	}
}

// Reset makes Genesis forget what it has seen, so that the next round
// behaves as the first round after New: no failure history (a CVM seen
// down, then back, no longer has to stay healthy for StablePeriod before
// its host's route goes; a healthy CVM counts as stable at once), no
// Stargate up/down transitions remembered, no leader (the next round's
// leader is announced again). The permanent SSH connections to the hosts
// stay up, and Run's schedule is unchanged. A round in progress finishes
// with what it knew; Reset does not wait for it.
func (g *Genesis) Reset() { g.forget.Store(true) }

// forgetLocked applies a pending Reset. The caller holds round.
func (g *Genesis) forgetLocked() {
	if !g.forget.Swap(false) {
		return
	}
	for name := range g.states {
		g.states[name] = &cvmState{}
	}
	g.leader = ""
}

// Close drops the SSH connections.
func (g *Genesis) Close() error {
	for _, h := range g.hosts {
		h.conn.close()
	}
	return nil
}

func (g *Genesis) emit(e Event) {
	if g.cfg.OnEvent == nil {
		return
	}
	e.Time = g.cfg.Clock.Now()
	g.evMu.Lock()
	defer g.evMu.Unlock()
	g.cfg.OnEvent(e)
}
