package main

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
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
	"github.com/autopathlab/autopathlab/topology"
)

const gatewayUsage = `usage: lab gateway [--topology FILE] [--listen ADDR] [--backend NODE=URL ...] [flags]

Serves one control API over a lab that runs one process per node (the
docker-compose lab: esxisim and cvmsim, one container each, each serving the
control API for its node), so that labctl and the Go client work unchanged.
Without --backend, node N's API is at http://SERVICE:7480 (esxi-a, ...,
cvm-a, ...: the compose service names, docs/compose.md).

flags:
`

// runGateway is `lab gateway`.
func runGateway(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gatewayMain(ctx, args, stdout, stderr, nil)
}

// backendList is the repeatable --backend NODE=URL.
type backendList []string

func (l *backendList) String() string     { return strings.Join(*l, ",") }
func (l *backendList) Set(v string) error { *l = append(*l, v); return nil }

// gatewayMain runs the gateway until ctx ends; ready gets its URL once it
// listens.
func gatewayMain(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(url string)) int {
	fs := flag.NewFlagSet("lab gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, gatewayUsage)
		fs.PrintDefaults()
	}
	topoFile := fs.String("topology", os.Getenv("AUTOPATHLAB_TOPOLOGY"), "topology `FILE`, the nodes' (default $AUTOPATHLAB_TOPOLOGY, else the embedded three-node lab)")
	listen := fs.String("listen", defaultAPIAddr, "serve the lab's control API on `ADDR`; off loopback it needs --api-token or --api-open")
	var backends backendList
	fs.Var(&backends, "backend", "a node's control API, `NODE=URL` (NODE: topology or service name); repeatable; default http://SERVICE:backend-port")
	port := fs.Int("backend-port", 7480, "the nodes' control API `PORT` for the backends --backend does not name")
	token := fs.String("api-token", os.Getenv("AUTOPATHLAB_TOKEN"), "bearer `TOKEN` clients must send, and the gateway sends the nodes (default $AUTOPATHLAB_TOKEN)")
	open := fs.Bool("api-open", false, "serve without a token off loopback: inside a container network whose published port is on the host's loopback (docs/compose.md)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lab gateway: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	topo := topology.Default()
	if *topoFile != "" {
		t, err := topology.Load(*topoFile)
		if err != nil {
			fmt.Fprintf(stderr, "lab gateway: %v\n", err)
			return 1
		}
		topo = t
	}
	bs, err := gatewayBackends(topo, backends, *port)
	if err != nil {
		fmt.Fprintf(stderr, "lab gateway: --backend: %v\n", err)
		return 2
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "lab gateway: --listen %q: want HOST:PORT: %v\n", *listen, err)
		return 2
	}
	if *token == "" && !*open && !loopback(host) {
		fmt.Fprintf(stderr, "lab gateway: the control API on %s needs a bearer token: set --api-token or AUTOPATHLAB_TOKEN (or --api-open inside a container network)\n", *listen)
		return 2
	}
	gw, err := controlapi.NewGateway(controlapi.GatewayOptions{Topology: topo, Backends: bs, Token: *token})
	if err != nil {
		fmt.Fprintf(stderr, "lab gateway: %v\n", err)
		return 1
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "lab gateway: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	if a, err := netip.ParseAddrPort(ln.Addr().String()); err == nil && a.Addr().IsUnspecified() {
		// Every interface: the URL is for this machine's clients (in a
		// container, its published port's).
		url = "http://" + netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.Port()).String()
	}
	fmt.Fprintf(stdout, "autopathlab: gateway of lab %q on %s (labctl --api %s)\n", topo.Name, ln.Addr(), url)
	for _, b := range bs {
		fmt.Fprintf(stdout, "  %-8s %-26s %s\n", b.Name, b.URL, strings.Join(b.Nodes, ", "))
	}
	if ready != nil {
		ready(url)
	}
	select {
	case <-ctx.Done():
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "lab gateway: %v\n", err)
			return 1
		}
	}
	// The event streams end first, so that Shutdown finds the
	// connections idle.
	gw.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		srv.Close()
	}
	return 0
}

// gatewayBackends are the convention's backends with --backend's
// overrides.
func gatewayBackends(topo *topology.Topology, flags []string, port int) ([]controlapi.Backend, error) {
	bs := controlapi.DefaultBackends(topo, port)
	for _, f := range flags {
		node, u, ok := strings.Cut(f, "=")
		if !ok || node == "" || !strings.HasPrefix(u, "http") {
			return nil, fmt.Errorf("%q: want NODE=URL, e.g. NTNX-BLOCK1-A=http://esxi-a:7480", f)
		}
		name := node
		if n, err := harness.NodeForService(topo, node); err == nil {
			name = n
		}
		found := false
		for i := range bs {
			if strings.EqualFold(bs[i].Nodes[0], name) {
				bs[i].URL, found = u, true
			}
		}
		if !found {
			var known []string
			for _, b := range bs {
				known = append(known, b.Nodes[0]+" ("+b.Name+")")
			}
			return nil, fmt.Errorf("%q: the topology has no host or CVM %s (it has: %s)", f, node, strings.Join(known, ", "))
		}
	}
	return bs, nil
}
