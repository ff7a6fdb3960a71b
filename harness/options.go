package harness

import (
	"io"

	"github.com/jonboulle/clockwork"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/sshd"
	"github.com/autopathlab/autopathlab/topology"
)

// Option configures a lab started with Start. An Options value is itself
// an Option (it replaces every setting); the With* functions change one.
type Option interface{ apply(*Options) }

func (o Options) apply(dst *Options) { *dst = o }

type optionFunc func(*Options)

func (f optionFunc) apply(o *Options) { f(o) }

// Default is seed 001's three-node cluster (examples/topologies/default.yaml).
func Default() *topology.Topology { return topology.Default() }

// WithClock drives every emulator timer from c.
func WithClock(c clock.Clock) Option { return optionFunc(func(o *Options) { o.Clock = c }) }

// WithFakeClock runs the lab on a fake clock that only moves when the test
// advances it: Lab.FakeClock() returns it.
func WithFakeClock() Option {
	return optionFunc(func(o *Options) { o.Clock = clock.NewFake() })
}

// WithGenesis runs the reference autopath in the lab.
func WithGenesis(g GenesisOptions) Option {
	return optionFunc(func(o *Options) { o.Genesis = &g })
}

// WithoutWorkload starts no VM IO workload.
func WithoutWorkload() Option { return optionFunc(func(o *Options) { o.NoWorkload = true }) }

// WithCVMTimers sets the CVMs' boot sequence (tests on real time shorten
// it).
func WithCVMTimers(t cvmsim.Timers) Option {
	return optionFunc(func(o *Options) { o.CVMTimers = t })
}

// WithEventsTo writes every event to w as a JSON line.
func WithEventsTo(w io.Writer) Option { return optionFunc(func(o *Options) { o.EventsTo = w }) }

// WithKeyring shares RSA host-key derivations between labs.
func WithKeyring(k *sshd.Keyring) Option { return optionFunc(func(o *Options) { o.Keyring = k }) }

// FakeClock returns the lab's clock when it is a fake one (WithFakeClock,
// or Options.Clock set to clock.NewFake()), else nil.
func (l *Lab) FakeClock() *clockwork.FakeClock {
	f, _ := l.Clock.(*clockwork.FakeClock)
	return f
}
