package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/conform"
	"github.com/autopathlab/autopathlab/harness/conform/report"
	"github.com/autopathlab/autopathlab/topology"
)

const conformUsage = `usage: lab conform --autopath 'CMD ...' | --autopath builtin:genesis | --attach [flags]

Grades a CVM autopath implementation against a lab: seed 001's failure
scenarios and more, each scored on detection time, IO outage, final routes
and behaviour. CMD runs with /bin/sh -c and finds the lab in AUTOPATHLAB_*
environment variables (docs/conformance.md). Exit status: 0 every scenario
passed, 1 one failed, 2 usage error or the lab could not start.

At time scale s the lab's own timers run s times real time, and so does the
built-in Genesis' 30 s loop (30 s x s of real time); an external
implementation runs on real time (AUTOPATHLAB_TIME_SCALE tells it the scale).
Thresholds are real time.

flags:
`

// stringList is a repeatable flag that also takes comma lists.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// runConform is `lab conform`.
func runConform(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lab conform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, conformUsage)
		fs.PrintDefaults()
	}
	var cfg conform.Config
	var scen stringList
	fs.StringVar(&cfg.Autopath, "autopath", "", "the implementation: a command line (run with /bin/sh -c) or "+conform.Builtin)
	fs.BoolVar(&cfg.Attach, "attach", false, "grade an implementation already running against the lab's fixed ports (SSH 2200+N, CVM SSH 2300+N, NFS 2400+N, status 2500+N)")
	fs.StringVar(&cfg.EndpointsJSON, "endpoints-json", "", "write the endpoints JSON to `FILE` (default: a temporary file; AUTOPATHLAB_ENDPOINTS names it)")
	topoFile := fs.String("topology", "", "topology `FILE` (default: seed 001's three-node cluster)")
	fs.Float64Var(&cfg.TimeScale, "time-scale", 1, "run the emulator's own timers at this `FACTOR` of real time (0.05 = 20x faster)")
	fs.Var(&scen, "scenario", "run only this scenario (`NAME` or letter; repeatable or comma list; default all)")
	fs.DurationVar(&cfg.MaxDetection, "max-detection", 45*time.Second, "longest real time from a fault to the route change that answers it")
	fs.DurationVar(&cfg.MaxOutage, "max-outage", time.Minute, "longest real time a VM on an affected host may go without IO")
	fs.DurationVar(&cfg.Settle, "settle", 0, "silence (no SSH command) the kit waits for before each scenario (default min(2s, 10s x time scale))")
	fs.DurationVar(&cfg.Observe, "observe", 0, "how long the kit keeps watching after a scenario's last answer (default 30s x time scale, at least 500ms)")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 0, "how long the implementation has to log in to every host (default 1m; attached 5m)")
	apiAddr := fs.String("api", "", "serve the control API on `ADDR` (default: "+defaultAPIAddr+" with --attach, else off)")
	apiToken := fs.String("api-token", os.Getenv("AUTOPATHLAB_TOKEN"), "bearer `TOKEN` the control API requires off loopback (default $AUTOPATHLAB_TOKEN)")
	junit := fs.String("junit", "", "write a JUnit XML report to `FILE`")
	jsonOut := fs.String("json", "", "write the JSON report to `FILE`")
	html := fs.String("html", "", "write the HTML report to `FILE`")
	verbose := fs.Bool("v", false, "progress (and the implementation's output) on stderr")
	list := fs.Bool("list", false, "list the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lab conform: unexpected argument %q (quote the whole command: --autopath 'python3 autopath.py')\n", fs.Arg(0))
		return 2
	}
	if *list {
		for _, sc := range conform.All() {
			fmt.Fprintf(stdout, "%-30s %s\n", sc.Name, sc.Title)
		}
		return 0
	}
	if cfg.TimeScale <= 0 {
		fmt.Fprintln(stderr, "lab conform: --time-scale must be positive")
		return 2
	}
	if *topoFile != "" {
		t, err := topology.Load(*topoFile)
		if err != nil {
			fmt.Fprintf(stderr, "lab conform: %v\n", err)
			return 2
		}
		cfg.Topology = t
	}
	cfg.Scenarios = scen
	if *apiAddr == "" && cfg.Attach {
		*apiAddr = defaultAPIAddr
	}
	if *apiAddr != "" && *apiAddr != "off" {
		addr, token := *apiAddr, *apiToken
		cfg.Serve = func(lab *harness.Lab) (func(), error) {
			url, stop, err := startAPI(lab, addr, token)
			if err == nil && cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "conform: control API on %s\n", url)
			}
			return stop, err
		}
	}
	if *verbose {
		cfg.Progress = stderr
		cfg.Output = &prefixWriter{w: stderr, prefix: "autopath: "}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := conform.Run(ctx, cfg)
	if err != nil {
		var ue *conform.UsageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "lab conform: %v\n", err)
			fs.Usage()
			return 2
		}
		fmt.Fprintf(stderr, "lab conform: %v\n", err)
		return 2
	}
	summary(stdout, rep)
	status := 0
	if !rep.Passed {
		status = 1
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, *conform.Report) error
	}{{*junit, report.JUnit}, {*jsonOut, report.JSON}, {*html, report.HTML}} {
		if out.path == "" {
			continue
		}
		if err := writeReport(out.path, rep, out.write); err != nil {
			fmt.Fprintf(stderr, "lab conform: %v\n", err)
			status = 2
		}
	}
	return status
}

func writeReport(path string, rep *conform.Report, write func(io.Writer, *conform.Report) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// summary prints one line per scenario and the failed checks' reasons.
func summary(w io.Writer, rep *conform.Report) {
	passed := 0
	for _, s := range rep.Scenarios {
		verdict := "FAIL"
		switch {
		case s.Skipped:
			verdict = "SKIP"
		case s.Passed:
			verdict = "PASS"
		}
		if s.Passed {
			passed++
		}
		fmt.Fprintf(w, "%s %-30s detection %-8s outage %s\n", verdict, s.Name, msec(s.DetectionMS), msec(s.OutageMS))
		if s.Error != "" {
			fmt.Fprintf(w, "     %s\n", s.Error)
		}
		for _, c := range s.Checks {
			if !c.Passed {
				fmt.Fprintf(w, "     %s: %s\n", c.Name, c.Reason)
			}
		}
	}
	fmt.Fprintf(w, "%d/%d scenarios passed in %s (%s, time scale %g)\n", passed, len(rep.Scenarios),
		time.Duration(rep.DurationMS*float64(time.Millisecond)).Round(100*time.Millisecond), rep.Implementation, rep.TimeScale)
}

func msec(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

// prefixWriter prefixes each line (the implementation's output on the
// kit's stderr).
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out bytes.Buffer
	for _, c := range b {
		if !p.mid {
			out.WriteString(p.prefix)
			p.mid = true
		}
		out.WriteByte(c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}
