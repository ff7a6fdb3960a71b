// Command genesis runs the reference autopath on its own: Genesis' CVM
// autopathing for ESXi (seed 001), over real networking. Every interval it
// reads each CVM's Stargate status page over HTTP and corrects each ESXi
// host's route to 192.168.5.2 over one permanent SSH connection per host;
// before it removes a route through a healthy CVM it asks that CVM's
// Stargate to close the host's NFS connections (NfsTerminateConnection,
// the status page's RPC).
//
//	genesis [--interval D] [--stable-period D] [--probe-timeout D] [--log FILE] [--endpoints FILE]
//
// It reads the lab from the environment contract of docs/conformance.md
// (what `lab conform --autopath genesis` hands it; in the docker-compose
// lab, container names such as esxi-a:22 and http://cvm-a:2009/h/status),
// or from an endpoints file (`lab --endpoints-json FILE`). genesis.out
// lines go to --log, by default stderr. It runs until SIGTERM or SIGINT
// and then exits 0; a bad flag or lab description exits 2.
//
// It is built to run from a FROM-scratch image (CGO_ENABLED=0): no shell,
// no /etc/passwd, no user lookup, and every address is used as given.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/autopathlab/autopathlab/cvmsim/genesis"
)

// Defaults: seed 001's Genesis checks every 30 s, waits 30 s before it
// trusts a CVM that came back, and gives a Stargate 5 s to answer.
const (
	defaultInterval     = 30 * time.Second
	defaultStablePeriod = 30 * time.Second
	defaultProbeTimeout = 5 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr)
	stop()
	os.Exit(code)
}

// durationFlag is a duration flag that knows whether it was given, so
// that an environment default applies only when it was not.
type durationFlag struct {
	d   time.Duration
	set bool
}

func (f *durationFlag) String() string { return f.d.String() }
func (f *durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		// Plain seconds, as the environment gives them.
		if d, err = seconds(s); err != nil {
			return fmt.Errorf("want a duration such as 1.5s or 30s")
		}
	}
	if d <= 0 {
		return errors.New("want a positive duration")
	}
	f.d, f.set = d, true
	return nil
}

// settings are the command line's, with the environment's defaults
// applied.
type settings struct {
	interval, stable, probe time.Duration
	logFile, endpoints      string
	// notes are said on stderr at the start (a clamped timeout).
	notes []string
}

func parseFlags(args []string, env getenv, stderr io.Writer) (*settings, error) {
	fs := flag.NewFlagSet("genesis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var interval, stable, probe durationFlag
	fs.Var(&interval, "interval", "time between rounds `D` (default: $AUTOPATHLAB_LOOP_PERIOD seconds, else 30s)")
	fs.Var(&stable, "stable-period", "how long `D` a CVM that came back must stay healthy before its host switches back (default: $AUTOPATHLAB_STABLE_PERIOD seconds, else 30s)")
	fs.Var(&probe, "probe-timeout", "how long `D` a Stargate status page has to answer (default 5s, never more than --interval)")
	logFile := fs.String("log", "", "append genesis.out lines to `FILE` (default: stderr)")
	endpoints := fs.String("endpoints", "", "read the lab from endpoints `FILE` (lab --endpoints-json); default: the environment, then $AUTOPATHLAB_ENDPOINTS")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: genesis [flags]\n\nThe reference CVM autopath (Nutanix Genesis) for an autopathlab lab.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, configErrorf("unexpected argument %q (genesis takes flags only)", fs.Arg(0))
	}
	s := &settings{logFile: *logFile, endpoints: *endpoints}
	fromEnv := func(f durationFlag, key string, def time.Duration) (time.Duration, error) {
		if f.set {
			return f.d, nil
		}
		v, ok := env(key)
		if !ok || strings.TrimSpace(v) == "" {
			return def, nil
		}
		d, err := seconds(v)
		if err != nil {
			return 0, configErrorf("%s=%q: %v", key, v, err)
		}
		return d, nil
	}
	var err error
	if s.interval, err = fromEnv(interval, "AUTOPATHLAB_LOOP_PERIOD", defaultInterval); err != nil {
		return nil, err
	}
	if s.stable, err = fromEnv(stable, "AUTOPATHLAB_STABLE_PERIOD", defaultStablePeriod); err != nil {
		return nil, err
	}
	s.probe = defaultProbeTimeout
	if probe.set {
		s.probe = probe.d
	}
	if s.probe > s.interval {
		// A check that may take longer than the interval would stretch
		// every round past it whenever one Stargate hangs.
		if probe.set {
			s.notes = append(s.notes, fmt.Sprintf("--probe-timeout %v is longer than the interval: using %v", s.probe, s.interval))
		}
		s.probe = s.interval
	}
	return s, nil
}

// run is the command; its result is the exit status.
func run(ctx context.Context, args []string, env getenv, stderr io.Writer) int {
	s, err := parseFlags(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "genesis: %v\n", err)
		}
		// flag has printed its own message and the usage.
		return 2
	}
	cl, err := loadCluster(env, s.endpoints)
	if err != nil {
		fmt.Fprintf(stderr, "genesis: %v\n", err)
		return 2
	}
	var (
		cvms  []genesis.CVM
		pages []string
	)
	for _, c := range cl.CVMs {
		hc, err := genesis.NewHTTPCVM(genesis.HTTPCVMConfig{Name: c.Name, Host: c.Host, PublicIP: c.IP, StatusURL: c.StatusURL, Timeout: s.probe})
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 2
		}
		cvms = append(cvms, hc)
		pages = append(pages, hc.StatusURL())
	}
	var log io.Writer = stderr
	if s.logFile != "" {
		f, err := os.OpenFile(s.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "genesis: --log: %v\n", err)
			return 2
		}
		defer f.Close()
		log = f
	}
	g, err := genesis.New(genesis.Config{
		CVMs: cvms, Hosts: cl.Hosts,
		Interval: s.interval, StablePeriod: s.stable, ProbeTimeout: s.probe,
		Log: log,
		// Stargate transitions, with the reason, on stderr: genesis.out
		// gives the reason only in a round that has a leader, and a
		// container whose CVM names do not resolve has none.
		OnEvent: func(e genesis.Event) {
			switch e.Kind {
			case genesis.EventStargateDown:
				fmt.Fprintf(stderr, "genesis: %s: Stargate down: %s\n", e.CVM, e.Err)
			case genesis.EventStargateUp:
				fmt.Fprintf(stderr, "genesis: %s: Stargate up\n", e.CVM)
			}
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	defer g.Close()

	for _, n := range s.notes {
		fmt.Fprintf(stderr, "genesis: %s\n", n)
	}
	fmt.Fprintf(stderr, "genesis: watching %d host(s) and %d CVM(s) from %s, every %v (stable period %v, probe timeout %v)\n",
		len(cl.Hosts), len(cvms), cl.Source, s.interval, s.stable, s.probe)
	for _, h := range cl.Hosts {
		fmt.Fprintf(stderr, "genesis:   host %s %s: ssh %s as %s\n", h.Name, h.PublicIP, h.SSHAddr, h.User)
	}
	for i, c := range cvms {
		fmt.Fprintf(stderr, "genesis:   cvm %s %s on %s: %s\n", c.Name(), c.PublicIP(), c.Host(), pages[i])
	}
	// Run returns only when ctx ends: a signal, which is a clean stop.
	_ = g.Run(ctx)
	fmt.Fprintf(stderr, "genesis: stopping: %v\n", context.Cause(ctx))
	return 0
}
