package harness

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim/genesis"
)

// GenesisOptions run the reference autopath in the lab (lab --genesis).
type GenesisOptions struct {
	// Interval between rounds (default 30 s, on the lab's clock).
	Interval time.Duration
	// StablePeriod a recovered CVM must stay healthy before its host's
	// route is removed (default 30 s).
	StablePeriod time.Duration
	// Log receives genesis.out lines.
	Log io.Writer
	// ProbeTimeout bounds one Stargate check (default 5 s): how long a
	// hung Stargate delays a round.
	ProbeTimeout time.Duration
	// Clock drives Genesis' rounds (default: the lab's clock). A test
	// stepping rounds gives Genesis a fake clock of its own, so that the
	// loop's timer is the only waiter on it.
	Clock clock.Clock
}

// startGenesis runs Genesis over the lab's CVMs and hosts: probes over the
// modelled network from the leader CVM, routes over real SSH to the hosts,
// exactly the path an external implementation uses.
func (l *Lab) startGenesis(g *GenesisOptions) error {
	var cvms []genesis.CVM
	for _, c := range l.CVMs {
		// Probes leave from the leader's node over the modelled network
		// and read each Stargate's status page (port 2009), as
		// ha_service.py does.
		fc, err := genesis.NewFabricCVM(genesis.FabricCVMConfig{Name: c.Name(), Host: c.Host(), Node: c.Node(), Stargate: c.NFS(), Probe: genesis.StargateStatusProbe()})
		if err != nil {
			return fmt.Errorf("genesis: %w", err)
		}
		cvms = append(cvms, fc)
	}
	var hosts []genesis.Host
	for _, th := range l.Topology.Hosts {
		lh := l.Host(th.Name)
		if lh == nil {
			continue
		}
		h := genesis.Host{Name: th.Name, SSHAddr: lh.Addr().String(), User: "root", Password: "nutanix/4u"}
		for _, u := range th.SSH.Users {
			if u.Name == "root" && u.Password != "" {
				h.Password = u.Password
			}
		}
		if len(th.Vmknics) > 0 {
			if p, err := netip.ParsePrefix(th.Vmknics[0].IP); err == nil {
				h.PublicIP = p.Addr()
			}
		}
		hosts = append(hosts, h)
	}
	gclk := g.Clock
	if gclk == nil {
		gclk = l.Clock
	}
	cfg := genesis.Config{
		CVMs: cvms, Hosts: hosts, Clock: gclk,
		Interval: g.Interval, StablePeriod: g.StablePeriod, Log: g.Log, ProbeTimeout: g.ProbeTimeout,
		// The leader's own genesis.out, which `tail -f data/logs/genesis.out`
		// shows over the CVM's SSH.
		LeaderLog: func(leader genesis.CVM) io.Writer {
			if c := l.CVM(leader.Name()); c != nil {
				return c.GenesisLog()
			}
			return nil
		},
		OnEvent: func(e genesis.Event) { l.Events.Add(genesisEvent(e)) },
	}
	if _, fake := gclk.(*clockwork.FakeClock); fake {
		// Nothing advances a fake clock while a round waits on I/O.
		cfg.TimeoutClock = clock.Real()
	}
	gen, err := genesis.New(cfg)
	if err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	l.Genesis = gen
	ctx, cancel := context.WithCancel(context.Background())
	l.stopGenesis = func() {
		cancel()
		gen.Close()
	}
	l.serve(func() { _ = gen.Run(ctx) })
	return nil
}

func genesisEvent(e genesis.Event) Event {
	ev := Event{Time: e.Time, Kind: e.Kind, Node: e.Leader, Detail: e.Detail, Error: e.Err, Target: e.CVM}
	if e.Host != "" {
		ev.Server = e.Host
	}
	if e.Gateway.IsValid() {
		ev.Gateway = e.Gateway.String()
	}
	if e.Client.IsValid() {
		ev.Client = e.Client.String()
	}
	return ev
}
