// Command lab runs an autopathlab lab: by default seed 001's cluster of
// three ESXi hosts and three CVMs, host N's SSH on 127.0.0.1:2200+N, CVM
// N's SSH on 2300+N, its NFS on 2400+N and its Stargate status page on
// 2500+N.
//
//	lab [--topology FILE] [--ssh-port-base N] [--cvm-ssh-port-base N] [--nfs-port-base N]
//	    [--status-port-base N] [--endpoints-json FILE] [--events FILE]
//	    [--genesis [--genesis-log FILE]] [--time-scale F] [--api ADDR] [--api-token TOKEN]
//	lab validate FILE...
//	lab conform --autopath CMD [flags]
//	lab gateway [--topology FILE] [--listen ADDR] [--backend NODE=URL ...]
//
// The control API (labctl's) listens on 127.0.0.1:7480 by default.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/topology"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return runValidate(args[1:], stdout, stderr)
		case "conform":
			return runConform(args[1:], stdout, stderr)
		case "gateway":
			return runGateway(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	topoFile := fs.String("topology", "", "topology `FILE` (default: the embedded three-node lab)")
	portBase := fs.Int("ssh-port-base", 2200, "host N's SSH listens on `BASE`+N; 0 picks free ports")
	cvmSSHBase := fs.Int("cvm-ssh-port-base", 2300, "CVM N's SSH listens on `BASE`+N; 0 picks free ports")
	statusBase := fs.Int("status-port-base", 2500, "CVM N's Stargate status page (port 2009 on a CVM) listens on `BASE`+N; 0 picks free ports")
	nfsBase := fs.Int("nfs-port-base", 2400, "the Nth NFS server (CVMs, then filers) listens on `BASE`+N; 0 picks free ports")
	listen := fs.String("listen", "127.0.0.1", "`HOST` the real listeners bind to")
	endpoints := fs.String("endpoints-json", "", "write the endpoints to `FILE` once every listener accepts")
	eventsFile := fs.String("events", "", "append every event to `FILE` as JSON lines (- for stdout)")
	withGenesis := fs.Bool("genesis", false, "run the reference autopath (Genesis: every 30 s of emulated time)")
	genesisLog := fs.String("genesis-log", "", "write Genesis' genesis.out lines to `FILE`")
	apiAddr := fs.String("api", "127.0.0.1:7480", "serve the control API on `ADDR` (off: none); any address but loopback needs --api-token")
	apiToken := fs.String("api-token", os.Getenv("AUTOPATHLAB_TOKEN"), "bearer `TOKEN` the control API requires (default $AUTOPATHLAB_TOKEN)")
	scale := fs.Float64("time-scale", 1, "run the emulator's own timers at this `FACTOR` of real time (0.05 = 20x faster)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lab: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	topo := topology.Default()
	if *topoFile != "" {
		t, err := topology.Load(*topoFile)
		if err != nil {
			// FILE:LINE:COL: lines, as a compiler prints them; nothing
			// has started.
			var es topology.Errors
			if errors.As(err, &es) {
				fmt.Fprintf(stderr, "lab: %s: %d problem(s), nothing started:\n%v\n", *topoFile, len(es), err)
				return 1
			}
			fmt.Fprintf(stderr, "lab: %v\n", err)
			return 1
		}
		topo = t
	}
	var events io.Writer
	switch *eventsFile {
	case "":
	case "-":
		events = stdout
	default:
		f, err := os.OpenFile(*eventsFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "lab: %v\n", err)
			return 1
		}
		defer f.Close()
		events = f
	}
	var gen *harness.GenesisOptions
	if *withGenesis {
		gen = &harness.GenesisOptions{}
		if *genesisLog != "" {
			f, err := os.OpenFile(*genesisLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				fmt.Fprintf(stderr, "lab: %v\n", err)
				return 1
			}
			defer f.Close()
			gen.Log = f
		}
	}
	lab, err := harness.New(topo, harness.Options{
		Genesis:     gen,
		EventsTo:    events,
		Clock:       clock.Scaled(*scale),
		ListenHost:  *listen,
		SSHPortBase: *portBase,
		NFSPortBase: *nfsBase,
		// The CVMs' boot timers keep cvmsim's defaults, scaled with
		// every other timer by --time-scale.
		CVMSSHPortBase: *cvmSSHBase,
		StatusPortBase: *statusBase,
	})
	if err != nil {
		fmt.Fprintf(stderr, "lab: %v\n", err)
		return 1
	}
	defer lab.Close()

	if *apiAddr != "off" {
		url, stopAPI, err := startAPI(lab, *apiAddr, *apiToken)
		if err != nil {
			fmt.Fprintf(stderr, "lab: %v\n", err)
			return 1
		}
		defer stopAPI()
		fmt.Fprintf(stdout, "autopathlab: control API on %s (labctl --api %s)\n", url, url)
	}
	fmt.Fprintf(stdout, "autopathlab: lab %q up in %s\n\n", topo.Name, lab.Started.Round(100_000))
	lab.WriteEndpointsTable(stdout)
	for _, err := range lab.MountErrors {
		// As an ESXi host boots with an unreachable or refusing NAS: the
		// lab runs, the host's vmkernel.log says why.
		fmt.Fprintf(stderr, "lab: warning: %v\n", err)
	}
	fmt.Fprintln(stdout, "\nSSH: hosts root / nutanix/4u (keyboard-interactive), CVMs nutanix / nutanix/4u (password). Ctrl-C stops the lab.")
	if *endpoints != "" {
		if err := writeAtomically(*endpoints, lab); err != nil {
			fmt.Fprintf(stderr, "lab: %v\n", err)
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(stdout, "autopathlab: stopping")
	if err := lab.Close(); err != nil {
		fmt.Fprintf(stderr, "lab: %v\n", err)
		return 1
	}
	return 0
}

// writeAtomically writes the endpoints JSON so a reader polling for the
// file never sees half of it.
func writeAtomically(path string, lab *harness.Lab) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".endpoints-*")
	if err != nil {
		return err
	}
	if err := lab.WriteEndpointsJSON(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
