// Package nodecmd is what esxisim and cvmsim share: one node of a lab per
// process (one container per ESXi host and per CVM), built with
// harness.NewNode from the topology every container has, serving the
// control API for its own node.
package nodecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
	"github.com/autopathlab/autopathlab/topology"
)

// Kind is the node kind a binary runs.
type Kind string

// The node kinds.
const (
	Host Kind = "esxi"
	CVM  Kind = "cvm"
)

// BootMarker is the file a CVM process writes in its state directory once
// it is up: a CVM whose container starts again finds it and boots, as a
// powered-on CVM does (the file lives in the container's own filesystem,
// which docker stop keeps and docker-compose down removes).
const BootMarker = "booted"

// Running is a started node, handed to Run's ready callback.
type Running struct {
	Lab *harness.Lab
	// API is the control API's URL ("" when off).
	API string
	// Booting: the CVM found the boot marker and goes through its boot
	// sequence.
	Booting bool
}

// Run runs the node until ctx ends (SIGTERM: docker stop). ready, if
// not nil, is called once every listener accepts. The exit status is 0,
// 1 when the node cannot start, 2 on a usage error.
func Run(ctx context.Context, kind Kind, args []string, stdout, stderr io.Writer, ready func(Running)) int {
	prog := "esxisim"
	if kind == CVM {
		prog = "cvmsim"
	}
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	topoFile := fs.String("topology", os.Getenv("AUTOPATHLAB_TOPOLOGY"), "topology `FILE`, the same in every node's process (default $AUTOPATHLAB_TOPOLOGY, else the embedded three-node lab)")
	node := fs.String("node", os.Getenv("AUTOPATHLAB_NODE"), "the `NAME` of the node this process runs: topology name or service name (esxi-a, cvm-a) (default $AUTOPATHLAB_NODE)")
	listen := fs.String("listen", "127.0.0.1", "`HOST` the node's real listeners bind to (0.0.0.0 in a container)")
	sshPort := fs.Int("ssh-port", 22, "the node's SSH `PORT` (0: a free one)")
	fabricPort := fs.Int("fabric-port", harness.DefaultFabricPort, "`PORT` where the node takes the other nodes' flows, and where it finds theirs (0: takes none)")
	peersFlag := fs.String("peers", os.Getenv("AUTOPATHLAB_PEERS"), "fabric addresses of the other nodes' processes, `NAME=HOST:PORT,...` (default: SERVICE:fabric-port, e.g. cvm-a:7000; $AUTOPATHLAB_PEERS)")
	watch := fs.Duration("watch-every", harness.DefaultWatchEvery, "how often the other nodes' processes are probed (one that does not answer is off)")
	apiAddr := fs.String("api", "127.0.0.1:7480", "serve this node's control API on `ADDR` (off: none); off loopback it needs --api-token or --api-open")
	apiToken := fs.String("api-token", os.Getenv("AUTOPATHLAB_TOKEN"), "bearer `TOKEN` the control API requires (default $AUTOPATHLAB_TOKEN)")
	apiOpen := fs.Bool("api-open", false, "serve the control API without a token off loopback: for a container network whose only published port is the gateway's, on the host's loopback (docs/compose.md)")
	scale := fs.Float64("time-scale", envFloat("AUTOPATHLAB_TIME_SCALE", 1), "run the emulator's own timers at this `FACTOR` of real time (default $AUTOPATHLAB_TIME_SCALE, else 1)")
	eventsFile := fs.String("events", "", "append every event to `FILE` as JSON lines (- for stdout)")
	advertise := fs.String("advertise", "", "`HOST` the endpoints name for listeners on every interface (default: the node's service name)")
	stateDir := fs.String("state-dir", "/var/lib/autopathlab", "`DIR` of the node's own state (a CVM's boot marker)")
	noWorkload := fs.Bool("no-workload", false, "start no VM IO workload (hosts)")
	var nfsPort, statusPort *int
	var store *string
	if kind == CVM {
		nfsPort = fs.Int("nfs-port", 2049, "real NFS `PORT` (portmapper, MOUNT and NFS, every client admitted, for tools like nfs-ls; -1: none, 0: a free one)")
		statusPort = fs.Int("status-port", 2009, "Stargate status page `PORT` (0: a free one)")
		store = fs.String("store", os.Getenv("AUTOPATHLAB_STORE"), "the cluster store's `DIR`, shared by every CVM (a named volume; default $AUTOPATHLAB_STORE, else the topology's cluster.store)")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", prog, fs.Arg(0))
		return 2
	}
	if *node == "" {
		fmt.Fprintf(stderr, "%s: --node is required (a %s of the topology, by name or service name)\n", prog, kind)
		return 2
	}
	peers, err := parsePeers(*peersFlag)
	if err != nil {
		fmt.Fprintf(stderr, "%s: --peers: %v\n", prog, err)
		return 2
	}
	if *scale <= 0 {
		fmt.Fprintf(stderr, "%s: --time-scale must be positive\n", prog)
		return 2
	}
	topo := topology.Default()
	if *topoFile != "" {
		if topo, err = topology.Load(*topoFile); err != nil {
			return fail(err)
		}
	}
	if err := checkKind(topo, kind, *node); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 2
	}
	var events io.Writer
	switch *eventsFile {
	case "":
	case "-":
		events = stdout
	default:
		f, err := os.OpenFile(*eventsFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		events = f
	}

	o := harness.NodeOptions{
		Options:    harness.Options{Clock: clock.Scaled(*scale), ListenHost: *listen, EventsTo: events, NoWorkload: *noWorkload},
		SSHPort:    *sshPort,
		Peers:      peers,
		FabricPort: *fabricPort,
		WatchEvery: *watch,
		Advertise:  *advertise,
	}
	if *fabricPort != 0 {
		o.FabricAddr = net.JoinHostPort(*listen, strconv.Itoa(*fabricPort))
	} else {
		o.FabricPort = harness.DefaultFabricPort
	}
	marker := filepath.Join(*stateDir, BootMarker)
	if kind == CVM {
		o.NFSPort, o.StatusPort, o.StoreDir = *nfsPort, *statusPort, *store
		if o.StoreDir != "" {
			if err := os.MkdirAll(o.StoreDir, 0o755); err != nil {
				return fail(err)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			o.Boot = true
		}
	}
	if *apiAddr != "off" && *apiToken == "" && !*apiOpen && !loopback(*apiAddr) {
		fmt.Fprintf(stderr, "%s: the control API on %s needs a bearer token: set --api-token or AUTOPATHLAB_TOKEN (or --api-open inside a container network)\n", prog, *apiAddr)
		return 2
	}

	t0 := time.Now()
	lab, err := harness.NewNode(topo, *node, o)
	if err != nil {
		return fail(err)
	}
	defer lab.Close()
	svc, _ := harness.ServiceName(topo, lab.Self())
	// Listeners on every interface are named by the service name, which
	// the other containers resolve.
	name := svc
	if *advertise != "" {
		name = *advertise
	}
	run := Running{Lab: lab, Booting: o.Boot}
	if *apiAddr != "off" {
		url, stop, err := serveAPI(lab, *apiAddr, *apiToken, name)
		if err != nil {
			return fail(err)
		}
		defer stop()
		run.API = url
	}
	if kind == CVM {
		// Written once the CVM is up: a container stopped before this
		// point comes up at once again, as it never ran.
		if err := os.MkdirAll(*stateDir, 0o755); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
			return fail(err)
		}
	}
	how := "up"
	if o.Boot {
		how = "booting (its container started again)"
	}
	fmt.Fprintf(stdout, "autopathlab: %s (%s) of lab %q %s in %s\n", lab.Self(), svc, topo.Name, how, time.Since(t0).Round(100*time.Microsecond))
	for _, e := range lab.Endpoints() {
		if e.Name != lab.Self() {
			continue
		}
		for _, k := range []string{"ssh", "nfs", "status"} {
			if a := e.Listeners[k]; a != "" {
				fmt.Fprintf(stdout, "  %-7s %s\n", k, a)
			}
		}
	}
	if a := lab.FabricAddr(); a != nil {
		fmt.Fprintf(stdout, "  %-7s %s\n", "fabric", named(a, name))
	}
	if run.API != "" {
		fmt.Fprintf(stdout, "  %-7s %s\n", "api", run.API)
	}
	if ready != nil {
		ready(run)
	}
	<-ctx.Done()
	fmt.Fprintf(stdout, "autopathlab: %s stopping\n", lab.Self())
	if err := lab.Close(); err != nil {
		return fail(err)
	}
	return 0
}

// checkKind refuses a node of the other kind: esxisim runs hosts, cvmsim
// CVMs.
func checkKind(topo *topology.Topology, kind Kind, ref string) error {
	name := ref
	if n, err := harness.NodeForService(topo, ref); err == nil {
		name = n
	}
	var mine, theirs []string
	for _, h := range topo.Hosts {
		if kind == Host {
			mine = append(mine, h.Name)
		} else {
			theirs = append(theirs, h.Name)
		}
	}
	for _, c := range topo.CVMs {
		if kind == CVM {
			mine = append(mine, c.Name)
		} else {
			theirs = append(theirs, c.Name)
		}
	}
	for _, n := range mine {
		if strings.EqualFold(n, name) {
			return nil
		}
	}
	other := map[Kind]string{Host: "cvmsim", CVM: "esxisim"}[kind]
	for _, n := range theirs {
		if strings.EqualFold(n, name) {
			return fmt.Errorf("--node %s is not a %s: run it with %s", ref, kind, other)
		}
	}
	var svcs []string
	for _, n := range mine {
		s, _ := harness.ServiceName(topo, n)
		svcs = append(svcs, n+" ("+s+")")
	}
	return fmt.Errorf("--node %s: the topology has no such %s (it has: %s)", ref, kind, strings.Join(svcs, ", "))
}

// parsePeers reads NAME=HOST:PORT,...
func parsePeers(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want NAME=HOST:PORT", kv)
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return nil, fmt.Errorf("%q: want NAME=HOST:PORT: %v", kv, err)
		}
		out[k] = v
	}
	return out, nil
}

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

// loopback reports whether addr's host names only this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// named is a listener's address, with name for an address on every
// interface.
func named(a net.Addr, name string) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil || !ap.Addr().IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort(name, strconv.Itoa(int(ap.Port())))
}

// serveAPI serves the node's control API; stop ends its event streams,
// then the server. Its URL names host name when it listens on every
// interface.
func serveAPI(lab *harness.Lab, addr, token, name string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("control API: %w", err)
	}
	api := controlapi.NewServer(lab, controlapi.Options{Token: token})
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "control API: %v\n", err)
		}
	}()
	url = "http://" + named(ln.Addr(), name)
	lab.APIURL = url
	return url, func() {
		api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}
