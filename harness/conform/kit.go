package conform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/sshd"
	"github.com/autopathlab/autopathlab/topology"
)

// Config says what to grade and how.
type Config struct {
	// Autopath is Builtin or a command line run with /bin/sh -c. Empty
	// with Attach.
	Autopath string
	// Attach grades an implementation that is already running: the lab
	// listens on the fixed default ports (SSH 2200+N, CVM SSH 2300+N,
	// NFS 2400+N, status 2500+N) and the kit waits for it to log in.
	Attach bool
	// EndpointsJSON is where the endpoints JSON goes (default: a
	// temporary file, removed at the end).
	EndpointsJSON string
	// Topology is the lab (default: seed 001's three-node cluster).
	Topology *topology.Topology
	// TimeScale runs the emulator's own timers at this factor of real
	// time (default 1; the implementation runs on real time).
	TimeScale float64
	// Scenarios are names or letters ("c", "c-cvm-power-off"); empty:
	// all, in order.
	Scenarios []string
	// MaxDetection and MaxOutage are the thresholds, in real time
	// (defaults 45 s and 60 s: seed 001's 30 s Genesis loop at time scale
	// 1, plus a 5 s probe timeout and slack).
	MaxDetection, MaxOutage time.Duration
	// Settle is how long the implementation must be silent (no SSH
	// command, no route change) before a scenario starts (default
	// min(2 s, a third of the Genesis loop at TimeScale)).
	Settle time.Duration
	// Observe is how long the kit keeps watching after a scenario's last
	// answer, to catch flapping (default one Genesis loop, 30 s ×
	// TimeScale, at least 500 ms).
	Observe time.Duration
	// ConnectTimeout bounds the wait for the implementation's first SSH
	// login on every host (default 60 s; attached: 5 min).
	ConnectTimeout time.Duration
	// Progress receives what happens, for people (-v); nil for none.
	Progress io.Writer
	// Output receives the launched implementation's stdout and stderr;
	// nil keeps only the tail, for error messages.
	Output io.Writer
	// Serve, if set, is called for every lab the kit starts, before the
	// endpoints JSON is written (lab conform serves the control API from
	// it and sets lab.APIURL); stop is called before the lab closes.
	Serve func(lab *harness.Lab) (stop func(), err error)
}

func (c Config) withDefaults() Config {
	if c.TimeScale <= 0 {
		c.TimeScale = 1
	}
	if c.Topology == nil {
		c.Topology = topology.Default()
	}
	if c.MaxDetection <= 0 {
		c.MaxDetection = 45 * time.Second
	}
	if c.MaxOutage <= 0 {
		c.MaxOutage = 60 * time.Second
	}
	loop := time.Duration(float64(genesisLoop) * c.TimeScale)
	if c.Settle <= 0 {
		c.Settle = min(2*time.Second, max(loop/3, 100*time.Millisecond))
	}
	if c.Observe <= 0 {
		c.Observe = max(loop, 500*time.Millisecond)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = time.Minute
		if c.Attach {
			c.ConnectTimeout = 5 * time.Minute
		}
	}
	return c
}

// kitBoot is a CVM's boot sequence in the kit's labs, on the lab's clock:
// shorter than cvmsim's 2 minutes so that a run is quick, long enough that
// a CVM is seen booting (Stargate answering, not fully initialised) for
// one 30 s Genesis loop.
var kitBoot = cvmsim.Timers{PingAfter: 15 * time.Second, StargateAfter: 30 * time.Second, InitAfter: 60 * time.Second}

// Fixed ports of an attached run: lab's defaults.
const (
	attachSSHBase    = 2200
	attachCVMSSHBase = 2300
	attachNFSBase    = 2400
	attachStatusBase = 2500
)

// UsageError is a Config the kit cannot run (lab conform exits 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// kit is one conformance run.
type kit struct {
	cfg     Config
	scale   float64
	rec     *recorder
	keyring *sshd.Keyring
	lab     *harness.Lab
	info    labInfo
	impl    implementation
	tmpdir  string
	// unserve stops what Config.Serve started for the current lab.
	unserve func()
}

// Run grades an implementation: it starts a lab and the implementation,
// runs the scenarios one after the other on that lab (Reset between
// them), and returns the report. An error means nothing could be graded:
// a bad Config (*UsageError), a lab that did not start, an implementation
// that never connected.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	sel, err := Select(cfg.Scenarios)
	if err != nil {
		return nil, &UsageError{err}
	}
	switch {
	case cfg.Attach && cfg.Autopath != "":
		return nil, &UsageError{errors.New("give either an autopath command or attach, not both")}
	case !cfg.Attach && cfg.Autopath == "":
		return nil, &UsageError{errors.New("no autopath to grade: give a command, " + Builtin + ", or attach")}
	}
	k := &kit{cfg: cfg, scale: cfg.TimeScale, rec: newRecorder(), keyring: sshd.NewKeyring()}
	switch {
	case cfg.Attach:
		k.impl = attachedImpl{}
	case cfg.Autopath == Builtin:
		k.impl = builtinImpl{}
	default:
		k.impl = &processImpl{command: cfg.Autopath, out: cfg.Output, tail: &tailBuffer{max: 4096}}
	}
	defer k.close()
	rep := &Report{Implementation: cfg.Autopath, Lab: cfg.Topology.Name, Started: time.Now(), TimeScale: k.scale,
		Thresholds: Thresholds{MaxDetectionMS: ms(cfg.MaxDetection), MaxOutageMS: ms(cfg.MaxOutage)}, Scenarios: []ScenarioResult{}}
	if cfg.Attach {
		rep.Implementation = "attached"
	}
	if err := k.start(ctx); err != nil {
		return nil, err
	}
	rep.Passed = true
	for i, sc := range sel {
		var res ScenarioResult
		err := ctx.Err()
		if err == nil && i > 0 {
			err = k.reset(ctx, sc.Stable)
		}
		if err == nil {
			err = k.impl.exited()
		}
		if err != nil {
			res = ScenarioResult{Name: sc.Name, Title: sc.Title, Description: sc.Description, DetectionMS: -1, OutageMS: -1,
				Checks: []Check{}, Commands: []CommandRecord{}, FinalRoutes: map[string][]string{}, Error: err.Error()}
		} else {
			res = k.run(ctx, sc)
		}
		k.progress("%s %s", verdict(res), res.Name)
		rep.Scenarios = append(rep.Scenarios, res)
		rep.Passed = rep.Passed && res.Passed
	}
	rep.DurationMS = ms(time.Since(rep.Started))
	return rep, nil
}

func verdict(r ScenarioResult) string {
	switch {
	case r.Skipped:
		return "SKIP"
	case r.Passed:
		return "PASS"
	}
	return "FAIL"
}

func (k *kit) progress(format string, args ...any) {
	if k.cfg.Progress != nil {
		fmt.Fprintf(k.cfg.Progress, "conform: "+format+"\n", args...)
	}
}

// start starts a lab and the implementation, and waits until the
// implementation has logged in to every host and gone quiet.
func (k *kit) start(ctx context.Context) error {
	o := harness.Options{
		Clock:     clock.Scaled(k.scale),
		CVMTimers: kitBoot,
		Keyring:   k.keyring,
	}
	if k.cfg.Attach {
		o.SSHPortBase, o.CVMSSHPortBase, o.NFSPortBase, o.StatusPortBase = attachSSHBase, attachCVMSSHBase, attachNFSBase, attachStatusBase
	}
	if k.cfg.Autopath == Builtin {
		o.Genesis = &harness.GenesisOptions{}
	}
	lab, err := harness.New(kitTopology(k.cfg.Topology, k.scale), o)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	k.lab, k.info = lab, newLabInfo(lab)
	if len(lab.MountErrors) > 0 {
		return fmt.Errorf("lab: %w", errors.Join(lab.MountErrors...))
	}
	k.rec.forgetLogins() // a new lab: the implementation logs in anew
	k.rec.attach(lab.Events)
	k.progress("lab %q up in %v", lab.Topology.Name, lab.Started.Round(time.Millisecond))
	if k.cfg.Serve != nil {
		if k.unserve, err = k.cfg.Serve(lab); err != nil {
			return err
		}
	}
	path := k.cfg.EndpointsJSON
	if path == "" {
		if k.tmpdir == "" {
			if k.tmpdir, err = os.MkdirTemp("", "autopathlab-conform-"); err != nil {
				return err
			}
		}
		path = filepath.Join(k.tmpdir, "endpoints.json")
	}
	if err := writeEndpoints(path, lab); err != nil {
		return fmt.Errorf("endpoints: %w", err)
	}
	env := Env(lab, path, k.scale)
	if k.cfg.Attach {
		k.progress("endpoints in %s; waiting for the implementation to log in to every host", path)
		for _, kv := range env {
			k.progress("  %s", kv)
		}
	}
	if err := k.impl.start(env); err != nil {
		return err
	}
	t0 := time.Now()
	if err := k.waitConnected(ctx, k.cfg.ConnectTimeout); err != nil {
		return err
	}
	k.progress("the implementation logged in to every host after %v", time.Since(t0).Round(time.Millisecond))
	k.settle(ctx, false)
	return nil
}

// reset brings the lab back to its initial state for the next scenario;
// stable says the next one needs every CVM trusted as stable. Should
// Reset fail, the kit starts a new lab (and implementation) rather than
// grade on a dirty one.
func (k *kit) reset(ctx context.Context, stable bool) error {
	recovered := false
	for _, c := range worldOf(k.lab).cvm {
		if !c.healthy() {
			recovered = true
		}
	}
	d, err := k.lab.Reset(ctx)
	if err == nil {
		k.progress("lab reset in %v", d.Round(time.Microsecond))
		k.rec.attach(k.lab.Events)
		k.settle(ctx, recovered && stable)
		return nil
	}
	k.progress("lab reset: %v; starting a new lab instead", err)
	k.stopLab()
	return k.start(ctx)
}

// settle waits until the implementation has had time to see the lab as
// it is and has gone quiet. With stable (a reset brought CVMs back and
// the next scenario needs them trusted), that is first the stable period
// plus one loop: an implementation that waits for a recovered CVM to be
// stable (seed 001) would otherwise still distrust it.
func (k *kit) settle(ctx context.Context, stable bool) {
	if stable {
		d := time.Duration(float64(genesisStable)*k.scale) + k.cfg.Observe
		k.progress("waiting %v: the stable period and one loop, for the CVMs the reset brought back", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	// An implementation that polls more often than Settle is never
	// silent; after a few settle periods, no route change will do.
	limit := 4 * k.cfg.Settle
	if !k.rec.quiet(ctx, k.cfg.Settle, limit) {
		k.progress("the implementation was never silent for %v within %v; it changed no route for that long", k.cfg.Settle, limit)
	}
}

func (k *kit) stopLab() {
	k.impl.stop()
	if k.unserve != nil {
		k.unserve()
		k.unserve = nil
	}
	k.rec.close()
	if k.lab != nil {
		k.lab.Close()
		k.lab = nil
	}
}

func (k *kit) close() {
	k.stopLab()
	if k.tmpdir != "" {
		os.RemoveAll(k.tmpdir)
	}
}

// kitTopology is the topology with the kit's workload pace where the
// topology leaves it open: one IO every 10 ms of real time (at least the
// workload's 20 ms of lab time), so a run at a small time scale does not
// drown the machine in IO and the outages are still measured to ~10 ms.
func kitTopology(t *topology.Topology, scale float64) *topology.Topology {
	c := *t
	c.Hosts = append([]topology.Host(nil), t.Hosts...)
	iv := max(time.Duration(float64(10*time.Millisecond)/scale), 20*time.Millisecond)
	for i, h := range c.Hosts {
		w := topology.Workload{}
		if h.Workload != nil {
			w = *h.Workload
		}
		if w.Interval == "" {
			w.Interval = iv.String()
		}
		c.Hosts[i].Workload = &w
	}
	return &c
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
