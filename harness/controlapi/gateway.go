package controlapi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/topology"
)

// The gateway is one control API over a lab whose nodes run in processes
// of their own (one container per ESXi host and per CVM, each serving the
// control API for its node): labctl, the Go client and the conformance kit
// work against it unchanged.
//
//   - GET /v1/lab, /v1/endpoints: merged; /v1/hosts, /v1/cvms: concatenated
//     in topology order.
//   - Per-node routes (/v1/hosts/{host}/..., /v1/cvms/{cvm}/...) go to the
//     node's process, the reference rewritten to the node's name.
//   - POST /v1/faults goes to the node's process (a partition to both
//     ends'; a fault on a node no process runs, a gateway or a filer, to
//     every process, which all model it); fault IDs are "SERVICE.ID",
//     joined with "+" for a fault several processes hold.
//   - DELETE /v1/faults and POST /v1/reset go to every process.
//   - POST /v1/wait goes to the process of the node the condition names;
//     an event condition is matched on the merged stream.
//   - GET /v1/events merges every process's events (by time);
//     /v1/events/stream is the merged stream of every process's stream, in
//     the order they arrive, with IDs of the gateway's own.
//   - GET /metrics merges every process's metrics, each sample labelled
//     backend="SERVICE".
//
// A process that does not answer is a node whose container is stopped: a
// CVM is reported off (power off, Stargate down: "cvm a power off" is met),
// a host is left out of /v1/hosts (the X-Autopathlab-Unreachable header
// names it) and its routes answer 503.

// Backend is one node process's control API.
type Backend struct {
	// Name is its service name (esxi-a): fault IDs and the backend label
	// of its metrics carry it.
	Name string
	// URL is its control API ("http://esxi-a:7480").
	URL string
	// Nodes are the hosts and CVMs it runs (topology names).
	Nodes []string
}

// DefaultBackends are the node processes of a topology by the service
// naming convention (harness.ServiceName): http://esxi-a:PORT for the
// first host, http://cvm-a:PORT for the first CVM, ...
func DefaultBackends(topo *topology.Topology, port int) []Backend {
	var out []Backend
	for _, n := range topoNodes(topo) {
		svc, _ := harness.ServiceName(topo, n)
		out = append(out, Backend{Name: svc, URL: "http://" + svc + ":" + strconv.Itoa(port), Nodes: []string{n}})
	}
	return out
}

// GatewayOptions configure a Gateway.
type GatewayOptions struct {
	// Topology is the lab's, the file every node process reads.
	Topology *topology.Topology
	// Backends run the topology's hosts and CVMs (DefaultBackends).
	Backends []Backend
	// Token, when set, is the bearer token clients must send.
	Token string
	// BackendToken is sent to the backends (default Token).
	BackendToken string
	// HTTP sends the requests to the backends (default: a client of its
	// own).
	HTTP *http.Client
	// StreamBuffer and StreamHistory are the event stream's, as Options'.
	StreamBuffer, StreamHistory int
	// Retry is how long the gateway waits before connecting again to a
	// backend's event stream (default 500 ms): how soon it sees a
	// stopped container started again.
	Retry time.Duration
	// Timeout bounds a request to a backend, but for waits and streams
	// (default 10 s).
	Timeout time.Duration
	// Probe is how often the gateway checks a backend whose stream is
	// quiet, and how long it gives it to answer (default 1 s): a
	// container cut off its network (docker network disconnect) breaks
	// no connection, it stops answering. Two probes unanswered make it
	// a node that does not answer.
	Probe time.Duration
}

// Gateway is the control API of a lab run one process per node, an
// http.Handler.
type Gateway struct {
	topo     *topology.Topology
	backends []*backend
	owner    map[string]*backend
	token    [32]byte
	auth     bool
	btoken   string
	http     *http.Client
	retry    time.Duration
	timeout  time.Duration
	probe    time.Duration
	mux      *http.ServeMux
	log      *harness.EventLog
	hub      *hub
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type backend struct {
	Backend
	// mu guards up and changed (the state of its event stream), and the
	// events copied from it.
	mu      sync.Mutex
	up      bool
	changed chan struct{} // closed (and replaced) when up changes
	// past are the events of its earlier processes (before its container
	// restarted), cur those of the process it runs now.
	past, cur []harness.Event
}

// keepEvents bounds each backend's copies, as a lab's log is bounded.
const keepEvents = 10000

// restarted moves the current process's copies to the past ones.
func (b *backend) restarted() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.past = append(b.past, b.cur...)
	b.cur = nil
	if n := len(b.past) - keepEvents; n > 0 {
		b.past = append([]harness.Event(nil), b.past[n:]...)
	}
}

func (b *backend) record(e harness.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cur = append(b.cur, e)
	if n := len(b.cur) - keepEvents; n > 0 {
		b.cur = append([]harness.Event(nil), b.cur[n:]...)
	}
}

// events returns the copies: of its earlier processes, and (all) of the
// current one's.
func (b *backend) events(all bool) []harness.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]harness.Event(nil), b.past...)
	if all {
		out = append(out, b.cur...)
	}
	return out
}

func (b *backend) setUp(up bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.up == up {
		return false
	}
	b.up = up
	close(b.changed)
	b.changed = make(chan struct{})
	return true
}

func (b *backend) state() (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.up, b.changed
}

// NewGateway serves the lab of o.Backends and starts following their event
// streams. Close stops it.
func NewGateway(o GatewayOptions) (*Gateway, error) {
	if o.Topology == nil {
		return nil, errors.New("gateway: no topology")
	}
	if len(o.Backends) == 0 {
		o.Backends = DefaultBackends(o.Topology, 7480)
	}
	if o.StreamBuffer <= 0 {
		o.StreamBuffer = 256
	}
	if o.StreamHistory <= 0 {
		o.StreamHistory = 1024
	}
	if o.Retry <= 0 {
		o.Retry = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Probe <= 0 {
		o.Probe = time.Second
	}
	if o.BackendToken == "" {
		o.BackendToken = o.Token
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	g := &Gateway{topo: o.Topology, owner: map[string]*backend{}, auth: o.Token != "", token: sha256.Sum256([]byte(o.Token)),
		btoken: o.BackendToken, http: o.HTTP, retry: o.Retry, timeout: o.Timeout, probe: o.Probe, log: harness.NewEventLog(nil)}
	known := map[string]bool{}
	for _, n := range topoNodes(o.Topology) {
		known[n] = true
	}
	names := map[string]bool{}
	for _, bo := range o.Backends {
		if bo.Name == "" || bo.URL == "" {
			return nil, fmt.Errorf("gateway: backend %+v: name and URL are required", bo)
		}
		if names[bo.Name] {
			return nil, fmt.Errorf("gateway: two backends named %s", bo.Name)
		}
		names[bo.Name] = true
		if _, err := url.Parse(bo.URL); err != nil {
			return nil, fmt.Errorf("gateway: backend %s: %w", bo.Name, err)
		}
		b := &backend{Backend: bo, changed: make(chan struct{})}
		b.URL = strings.TrimRight(b.URL, "/")
		for _, n := range bo.Nodes {
			if !known[n] {
				return nil, fmt.Errorf("gateway: backend %s: the topology has no host or CVM %q", bo.Name, n)
			}
			if prev := g.owner[n]; prev != nil {
				return nil, fmt.Errorf("gateway: %s is run by both %s and %s", n, prev.Name, bo.Name)
			}
			g.owner[n] = b
		}
		g.backends = append(g.backends, b)
	}
	for _, n := range topoNodes(o.Topology) {
		if g.owner[n] == nil {
			return nil, fmt.Errorf("gateway: no backend runs %s", n)
		}
	}
	g.hub = newHub(g.log, o.StreamBuffer, o.StreamHistory, nil)
	g.routes()
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	for _, b := range g.backends {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.follow(ctx, b)
		}()
	}
	return g, nil
}

// Close ends the event streams and stops following the backends.
func (g *Gateway) Close() {
	g.cancel()
	g.wg.Wait()
	g.hub.close()
}

// WaitConnected blocks until the gateway follows every backend's event
// stream (or ctx ends): from then on no backend's event is missed.
func (g *Gateway) WaitConnected(ctx context.Context) error {
	for _, b := range g.backends {
		for {
			up, ch := b.state()
			if up {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ch:
			}
		}
	}
	return nil
}

// Routes lists the routes the gateway answers: a Server's (a test keeps
// them equal), and whatever else a node's process answers under
// /v1/hosts/{host}/ and /v1/cvms/{cvm}/, which goes there as it is.
func (g *Gateway) Routes() []Route { return slices.Clone(gatewayRoutes) }

var gatewayRoutes = []Route{
	{"GET", "/v1/lab"},
	{"GET", "/v1/endpoints"},
	{"GET", "/v1/hosts"},
	{"GET", "/v1/hosts/{host}"},
	{"GET", "/v1/hosts/{host}/routes"},
	{"POST", "/v1/hosts/{host}/routes"},
	{"DELETE", "/v1/hosts/{host}/routes"},
	{"GET", "/v1/hosts/{host}/vmknics"},
	{"GET", "/v1/hosts/{host}/neighbors"},
	{"GET", "/v1/hosts/{host}/datastores"},
	{"GET", "/v1/hosts/{host}/flows"},
	{"GET", "/v1/hosts/{host}/workload"},
	{"GET", "/v1/hosts/{host}/files"},
	{"GET", "/v1/cvms"},
	{"GET", "/v1/cvms/{cvm}"},
	{"GET", "/v1/cvms/{cvm}/sessions"},
	{"GET", "/v1/cvms/{cvm}/files"},
	{"POST", "/v1/cvms/{cvm}/power"},
	{"POST", "/v1/cvms/{cvm}/stargate"},
	{"GET", "/v1/faults"},
	{"POST", "/v1/faults"},
	{"DELETE", "/v1/faults"},
	{"DELETE", "/v1/faults/{id}"},
	{"POST", "/v1/captures"},
	{"GET", "/v1/captures"},
	{"GET", "/v1/captures/{id}"},
	{"POST", "/v1/captures/{id}/stop"},
	{"GET", "/v1/captures/{id}/pcap"},
	{"DELETE", "/v1/captures/{id}"},
	{"POST", "/v1/reset"},
	{"GET", "/v1/events"},
	{"GET", "/v1/events/stream"},
	{"POST", "/v1/wait"},
	{"GET", "/metrics"},
	{"GET", "/openapi.yaml"},
}

func (g *Gateway) routes() {
	g.mux = http.NewServeMux()
	type h = http.HandlerFunc
	one := func(method string, f h) h {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method {
				w.Header().Set("Allow", method)
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, method))
				return
			}
			f(w, r)
		}
	}
	g.mux.HandleFunc("/v1/lab", one("GET", g.getLab))
	g.mux.HandleFunc("/v1/endpoints", one("GET", g.getEndpoints))
	g.mux.HandleFunc("/v1/hosts", one("GET", g.getHosts))
	g.mux.HandleFunc("/v1/hosts/{host}", g.proxyNode("host"))
	g.mux.HandleFunc("/v1/hosts/{host}/{rest...}", g.proxyNode("host"))
	g.mux.HandleFunc("/v1/cvms", one("GET", g.getCVMs))
	g.mux.HandleFunc("/v1/cvms/{cvm}", g.proxyNode("cvm"))
	g.mux.HandleFunc("/v1/cvms/{cvm}/{rest...}", g.proxyNode("cvm"))
	g.mux.HandleFunc("/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "GET":
			g.getFaults(w, r)
		case "POST":
			g.addFault(w, r)
		case "DELETE":
			g.clearFaults(w, r)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: GET, POST, DELETE)", r.Method, r.URL.Path))
		}
	})
	g.mux.HandleFunc("/v1/faults/{id}", one("DELETE", g.removeFault))
	g.mux.HandleFunc("/v1/captures", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "GET":
			g.getCaptures(w, r)
		case "POST":
			g.startCapture(w, r)
		default:
			w.Header().Set("Allow", "POST, GET")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: POST, GET)", r.Method, r.URL.Path))
		}
	})
	g.mux.HandleFunc("/v1/captures/{id}", g.proxyCapture)
	g.mux.HandleFunc("/v1/captures/{id}/{rest...}", g.proxyCapture)
	g.mux.HandleFunc("/v1/reset", one("POST", g.reset))
	g.mux.HandleFunc("/v1/events", one("GET", g.getEvents))
	g.mux.HandleFunc("/v1/events/stream", one("GET", g.stream))
	g.mux.HandleFunc("/v1/wait", one("POST", g.wait))
	g.mux.HandleFunc("/metrics", one("GET", g.getMetrics))
	g.mux.HandleFunc("/openapi.yaml", one("GET", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPISpec)
	}))
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s (GET /openapi.yaml lists them)", r.Method, r.URL.Path))
	})
}

// ServeHTTP checks the bearer token, then routes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.auth && !(r.Method == http.MethodGet && r.URL.Path == "/openapi.yaml") {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(sum[:], g.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="autopathlab"`)
			msg := "missing bearer token (Authorization: Bearer TOKEN)"
			if ok {
				msg = "wrong bearer token"
			}
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
	}
	g.mux.ServeHTTP(w, r)
}

// --- talking to the backends ---

// answer is a backend's answer; err is set when the backend did not
// answer at all (its container is stopped).
type answer struct {
	b      *backend
	status int
	header http.Header
	body   []byte
	err    error
}

func (a answer) ok() bool { return a.err == nil && a.status/100 == 2 }

// downError says a backend does not answer.
func downError(b *backend, err error) string {
	return fmt.Sprintf("%s (%s) does not answer (its container stopped?): %v", b.Name, strings.Join(b.Nodes, ", "), err)
}

// call sends one request to a backend. A request without a deadline of
// its own gets the gateway's timeout, or the probe's for a backend that
// does not answer now (it may be cut off its network: nothing refuses).
func (g *Gateway) call(ctx context.Context, b *backend, method, path string, body []byte, h http.Header) answer {
	up, changed := b.state()
	if _, ok := ctx.Deadline(); !ok {
		d := g.timeout
		if !up {
			d = g.probe
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if up {
		// A backend found not answering ends the requests it holds.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-changed:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.URL+path, rd)
	if err != nil {
		return answer{b: b, err: err}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if g.btoken != "" {
		req.Header.Set("Authorization", "Bearer "+g.btoken)
	}
	resp, err := g.http.Do(req)
	if err != nil {
		return answer{b: b, err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return answer{b: b, err: err}
	}
	return answer{b: b, status: resp.StatusCode, header: resp.Header, body: data}
}

// fanout sends the same request to backends at once; the answers come in
// the backends' order.
func (g *Gateway) fanout(ctx context.Context, bs []*backend, method, path string, body []byte) []answer {
	out := make([]answer, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = g.call(ctx, b, method, path, body, nil)
		}()
	}
	wg.Wait()
	return out
}

// relay writes a backend's answer as the gateway's.
func relay(w http.ResponseWriter, a answer) {
	for _, k := range []string{"Content-Type", "Content-Disposition", "Allow", "WWW-Authenticate"} {
		if v := a.header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// refusal relays the first backend that refused or did not answer; ok is
// false when there was one.
func refusal(w http.ResponseWriter, as []answer) (ok bool) {
	for _, a := range as {
		if a.err != nil {
			writeError(w, http.StatusServiceUnavailable, downError(a.b, a.err))
			return false
		}
		if !a.ok() {
			relay(w, a)
			return false
		}
	}
	return true
}

// --- resolving references against the topology ---

func topoNodes(topo *topology.Topology) []string {
	var out []string
	for _, h := range topo.Hosts {
		out = append(out, h.Name)
	}
	for _, c := range topo.CVMs {
		out = append(out, c.Name)
	}
	return out
}

func (g *Gateway) hostNames() []string {
	out := make([]string, len(g.topo.Hosts))
	for i, h := range g.topo.Hosts {
		out[i] = h.Name
	}
	return out
}

func (g *Gateway) cvmNames() []string {
	out := make([]string, len(g.topo.CVMs))
	for i, c := range g.topo.CVMs {
		out[i] = c.Name
	}
	return out
}

// resolveRef names a host or CVM as harness does: its name (any case),
// its letter (a is the first) or its number (1 is the first).
func resolveRef(kind, ref string, names []string) (string, error) {
	for _, n := range names {
		if strings.EqualFold(n, ref) {
			return n, nil
		}
	}
	if len(ref) == 1 && (ref[0] >= 'a' && ref[0] <= 'z' || ref[0] >= 'A' && ref[0] <= 'Z') {
		if i := int(ref[0]|0x20) - 'a'; i < len(names) {
			return names[i], nil
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && strconv.Itoa(n) == ref && n >= 1 && n <= len(names) {
		return names[n-1], nil
	}
	return "", &harness.NotFoundError{Kind: kind, Ref: ref, Known: names}
}

func (g *Gateway) resolve(kind, ref string) (string, error) {
	if kind == "host" {
		return resolveRef("host", ref, g.hostNames())
	}
	return resolveRef("cvm", ref, g.cvmNames())
}

// otherNode finds a gateway or filer of the topology: nodes every process
// models and none runs.
func (g *Gateway) otherNode(ref string) (string, bool) {
	for _, gw := range g.topo.Gateways {
		if strings.EqualFold(gw.Name, ref) {
			return gw.Name, true
		}
	}
	for _, f := range g.topo.Filers {
		if strings.EqualFold(f.Name, ref) {
			return f.Name, true
		}
	}
	return "", false
}

// --- the merged views ---

func (g *Gateway) getLab(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.backends, "GET", "/v1/lab", nil)
	v := harness.LabView{Name: g.topo.Name, Hosts: g.hostNames(), CVMs: g.cvmNames()}
	var eps [][]harness.Endpoint
	for _, a := range as {
		var lv harness.LabView
		if !a.ok() || json.Unmarshal(a.body, &lv) != nil {
			continue
		}
		if v.Time.IsZero() {
			v.Time = lv.Time
		}
		v.Genesis = v.Genesis || lv.Genesis
		v.Resets = max(v.Resets, lv.Resets)
		eps = append(eps, lv.Endpoints)
	}
	if v.Time.IsZero() {
		v.Time = time.Now()
	}
	v.Endpoints = g.mergeEndpoints(eps)
	v.Faults = g.mergeFaults(as, func(b []byte) []harness.Fault {
		var lv harness.LabView
		_ = json.Unmarshal(b, &lv)
		return lv.Faults
	})
	markUnreachable(w, as)
	writeJSON(w, http.StatusOK, v)
}

func (g *Gateway) getEndpoints(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.backends, "GET", "/v1/endpoints", nil)
	var eps [][]harness.Endpoint
	for _, a := range as {
		var e []harness.Endpoint
		if a.ok() && json.Unmarshal(a.body, &e) == nil {
			eps = append(eps, e)
		}
	}
	markUnreachable(w, as)
	writeJSON(w, http.StatusOK, g.mergeEndpoints(eps))
}

// markUnreachable names the backends that did not answer in a header.
func markUnreachable(w http.ResponseWriter, as []answer) {
	var down []string
	for _, a := range as {
		if a.err != nil {
			down = append(down, a.b.Name)
		}
	}
	if len(down) > 0 {
		w.Header().Set("X-Autopathlab-Unreachable", strings.Join(down, ", "))
	}
}

// mergeEndpoints lists every node once, in the order of a lab's
// endpoints (hosts, CVMs, filers, gateways), from whichever process
// describes it; a node whose process does not answer has its topology
// addresses and no listeners.
func (g *Gateway) mergeEndpoints(lists [][]harness.Endpoint) []harness.Endpoint {
	seen := map[string]harness.Endpoint{}
	for _, l := range lists {
		for _, e := range l {
			if _, ok := seen[e.Name]; !ok {
				seen[e.Name] = e
			}
		}
	}
	ip := func(cidr string) string { return strings.SplitN(cidr, "/", 2)[0] }
	out := []harness.Endpoint{}
	add := func(name, role string, ips []string) {
		if e, ok := seen[name]; ok {
			out = append(out, e)
			return
		}
		out = append(out, harness.Endpoint{Name: name, Role: role, IPs: ips})
	}
	for _, h := range g.topo.Hosts {
		var ips []string
		for _, v := range h.Vmknics {
			if v.IP != "" {
				ips = append(ips, ip(v.IP))
			}
		}
		add(h.Name, "esxi", ips)
	}
	for _, c := range g.topo.CVMs {
		var ips []string
		for _, i := range c.Interfaces {
			ips = append(ips, ip(i.IP))
		}
		add(c.Name, "cvm", ips)
	}
	for _, f := range g.topo.Filers {
		var ips []string
		for _, i := range f.Interfaces {
			ips = append(ips, ip(i.IP))
		}
		add(f.Name, "filer", ips)
	}
	for _, gw := range g.topo.Gateways {
		add(gw.Name, "gateway", []string{ip(gw.IP)})
	}
	return out
}

// order sorts views by their node's place in the topology.
func order[T any](items []T, name func(T) string, names []string) {
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	sort.SliceStable(items, func(i, j int) bool { return idx[name(items[i])] < idx[name(items[j])] })
}

func (g *Gateway) getHosts(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.ownersOf(g.hostNames()), "GET", "/v1/hosts", nil)
	out := []harness.HostView{}
	for _, a := range as {
		var vs []harness.HostView
		if a.err == nil && !a.ok() {
			relay(w, a)
			return
		}
		if a.ok() && json.Unmarshal(a.body, &vs) == nil {
			out = append(out, vs...)
		}
	}
	order(out, func(v harness.HostView) string { return v.Name }, g.hostNames())
	markUnreachable(w, as)
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) getCVMs(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.ownersOf(g.cvmNames()), "GET", "/v1/cvms", nil)
	out := []harness.CVMView{}
	for _, a := range as {
		if a.err != nil {
			for _, n := range a.b.Nodes {
				if v, ok := g.offCVM(n); ok {
					out = append(out, v)
				}
			}
			continue
		}
		if !a.ok() {
			relay(w, a)
			return
		}
		var vs []harness.CVMView
		if json.Unmarshal(a.body, &vs) == nil {
			out = append(out, vs...)
		}
	}
	order(out, func(v harness.CVMView) string { return v.Name }, g.cvmNames())
	markUnreachable(w, as)
	writeJSON(w, http.StatusOK, out)
}

// ownersOf lists the backends that run any of the nodes, in order.
func (g *Gateway) ownersOf(names []string) []*backend {
	var out []*backend
	for _, n := range names {
		if b := g.owner[n]; b != nil && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// offCVM is a CVM whose process does not answer: its container is
// stopped, the CVM is off.
func (g *Gateway) offCVM(name string) (harness.CVMView, bool) {
	for _, c := range g.topo.CVMs {
		if c.Name != name {
			continue
		}
		v := harness.CVMView{Name: c.Name, Host: c.Host, Power: "off", Stargate: "down", Sessions: []harness.SessionView{}}
		if len(c.Interfaces) > 0 {
			v.IP = strings.SplitN(c.Interfaces[0].IP, "/", 2)[0]
		}
		return v, true
	}
	return harness.CVMView{}, false
}

// proxyNode sends a per-node route to the node's process, the reference
// rewritten to the node's name.
func (g *Gateway) proxyNode(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue(kind)
		name, err := g.resolve(kind, ref)
		if err != nil {
			writeErr(w, err)
			return
		}
		b := g.owner[name]
		prefix := "/v1/" + kind + "s/"
		tail := ""
		if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				tail = rest[i:]
			}
		}
		path := prefix + url.PathEscape(name) + tail
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "request body: "+err.Error())
			return
		}
		if r.Method == "GET" || len(body) == 0 {
			body = nil
		}
		h := http.Header{}
		for _, k := range []string{"Content-Type", "Accept"} {
			if v := r.Header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		a := g.call(r.Context(), b, r.Method, path, body, h)
		if a.err == nil {
			relay(w, a)
			return
		}
		if r.Context().Err() != nil {
			return
		}
		if kind == "cvm" && g.answerOffCVM(w, r.Method, name, tail, body) {
			return
		}
		writeError(w, http.StatusServiceUnavailable, downError(b, a.err))
	}
}

// answerOffCVM answers what a CVM whose container is stopped can answer:
// its view (off), its sessions (none), powering it off (it is).
func (g *Gateway) answerOffCVM(w http.ResponseWriter, method, name, tail string, body []byte) bool {
	v, ok := g.offCVM(name)
	if !ok {
		return false
	}
	switch {
	case method == "GET" && tail == "":
		writeJSON(w, http.StatusOK, v)
	case method == "GET" && tail == "/sessions":
		writeJSON(w, http.StatusOK, v.Sessions)
	case method == "POST" && tail == "/power":
		var req StateRequest
		if json.Unmarshal(body, &req) != nil || req.State != "off" {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("cvm %s is off: its container (%s) is stopped; docker start it to power it on", name, g.owner[name].Name))
			return true
		}
		writeJSON(w, http.StatusOK, v)
	default:
		return false
	}
	return true
}

// --- faults ---

// Gateway fault IDs: "SERVICE.ID", "+"-joined for a fault several
// processes hold.
func faultID(b *backend, id string) string { return b.Name + "." + id }

func (g *Gateway) splitFaultID(id string) ([]struct {
	b  *backend
	id string
}, error) {
	var out []struct {
		b  *backend
		id string
	}
	for _, part := range strings.Split(id, "+") {
		svc, n, ok := strings.Cut(part, ".")
		var b *backend
		for _, x := range g.backends {
			if x.Name == svc {
				b = x
			}
		}
		if !ok || b == nil || n == "" {
			return nil, fmt.Errorf("fault %s: %w (a gateway's fault IDs are SERVICE.ID, e.g. esxi-a.1)", id, harness.ErrNoFault)
		}
		out = append(out, struct {
			b  *backend
			id string
		}{b, n})
	}
	return out, nil
}

// mergeFaults lists the backends' faults with gateway IDs; the two ends of
// a partition (or the copies of a fault on a node every process models)
// are one fault.
func (g *Gateway) mergeFaults(as []answer, faults func([]byte) []harness.Fault) []harness.Fault {
	out := []harness.Fault{}
	groups := map[string][]int{} // a fault's identity -> its entries in out
	holders := map[int]map[*backend]bool{}
	for _, a := range as {
		if !a.ok() {
			continue
		}
	next:
		for _, f := range faults(a.body) {
			f.ID = faultID(a.b, f.ID)
			key := ""
			switch {
			case f.Spec.Kind == harness.FaultPartition:
				ends := []string{strings.ToLower(f.Spec.Node), strings.ToLower(f.Spec.Peer)}
				sort.Strings(ends)
				key = "partition " + strings.Join(ends, " ")
			case g.owner[f.Spec.Node] == nil:
				spec, _ := json.Marshal(f.Spec)
				key = string(spec)
			}
			if key != "" {
				// The first entry of this identity no copy from this
				// backend has joined yet.
				for _, i := range groups[key] {
					if !holders[i][a.b] {
						out[i].ID += "+" + f.ID
						holders[i][a.b] = true
						continue next
					}
				}
				groups[key] = append(groups[key], len(out))
				holders[len(out)] = map[*backend]bool{a.b: true}
			}
			out = append(out, f)
		}
	}
	return out
}

func (g *Gateway) getFaults(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.backends, "GET", "/v1/faults", nil)
	for _, a := range as {
		if a.err == nil && !a.ok() {
			relay(w, a)
			return
		}
	}
	markUnreachable(w, as)
	writeJSON(w, http.StatusOK, g.mergeFaults(as, func(b []byte) []harness.Fault {
		var fs []harness.Fault
		_ = json.Unmarshal(b, &fs)
		return fs
	}))
}

// faultTargets resolves a fault's node (and a partition's peer) to names
// and the backends that apply it.
func (g *Gateway) faultTargets(spec *harness.FaultSpec) ([]*backend, error) {
	everyone := false
	node := func(ref string, kinds ...string) (string, error) {
		var first error
		for _, k := range kinds {
			n, err := g.resolve(k, ref)
			if err == nil {
				return n, nil
			}
			if first == nil {
				first = err
			}
		}
		if n, ok := g.otherNode(ref); ok && len(kinds) == 2 {
			everyone = true
			return n, nil
		}
		var nf *harness.NotFoundError
		if errors.As(first, &nf) && len(kinds) == 2 {
			nf.Kind, nf.Known = "node", topoNodes(g.topo)
		}
		return "", first
	}
	if spec.Node == "" {
		return nil, nil // the backend says what is missing
	}
	kinds := []string{"host", "cvm"}
	switch spec.Kind {
	case harness.FaultStargateDown, harness.FaultStargateHang:
		kinds = []string{"cvm"}
	case harness.FaultSSHRefuse, harness.FaultSSHSlow, harness.FaultSSHDrop, harness.FaultSSHHang:
		kinds = []string{"host"}
	}
	n, err := node(spec.Node, kinds...)
	if err != nil {
		return nil, err
	}
	spec.Node = n
	names := []string{n}
	if spec.Kind == harness.FaultPartition && spec.Peer != "" {
		p, err := node(spec.Peer, "host", "cvm")
		if err != nil {
			return nil, err
		}
		spec.Peer = p
		names = append(names, p)
	}
	if everyone {
		return g.backends, nil
	}
	return g.ownersOf(names), nil
}

func (g *Gateway) addFault(w http.ResponseWriter, r *http.Request) {
	var spec harness.FaultSpec
	if !readJSON(w, r, &spec) {
		return
	}
	targets, err := g.faultTargets(&spec)
	if err != nil {
		writeErr(w, err)
		return
	}
	if len(targets) == 0 {
		targets = g.backends[:1] // no node: let a backend say what is wrong
	}
	body, _ := json.Marshal(spec)
	as := g.fanout(r.Context(), targets, "POST", "/v1/faults", body)
	var made []harness.Fault
	var ids []string
	for _, a := range as {
		var f harness.Fault
		if a.ok() && json.Unmarshal(a.body, &f) == nil {
			made = append(made, f)
			ids = append(ids, faultID(a.b, f.ID))
			continue
		}
		// All or nothing: take back what the others applied.
		for _, b := range as {
			var f harness.Fault
			if b.ok() && json.Unmarshal(b.body, &f) == nil {
				g.call(context.WithoutCancel(r.Context()), b.b, "DELETE", "/v1/faults/"+url.PathEscape(f.ID), nil, nil)
			}
		}
		refusal(w, []answer{a})
		return
	}
	f := made[0]
	f.ID = strings.Join(ids, "+")
	writeJSON(w, http.StatusCreated, f)
}

func (g *Gateway) removeFault(w http.ResponseWriter, r *http.Request) {
	parts, err := g.splitFaultID(r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	for _, p := range parts {
		a := g.call(r.Context(), p.b, "DELETE", "/v1/faults/"+url.PathEscape(p.id), nil, nil)
		if !refusal(w, []answer{a}) {
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// clearFaults clears every process's faults; a stopped one has none.
func (g *Gateway) clearFaults(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.backends, "DELETE", "/v1/faults", nil)
	for _, a := range as {
		if a.err == nil && !a.ok() {
			relay(w, a)
			return
		}
	}
	markUnreachable(w, as)
	w.WriteHeader(http.StatusNoContent)
}

// reset resets every process; one that does not answer cannot be, and the
// reset fails (after the others are reset).
func (g *Gateway) reset(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.backends, "POST", "/v1/reset", nil)
	var res ResetResult
	var errs []string
	for _, a := range as {
		var rr ResetResult
		switch {
		case a.err != nil:
			errs = append(errs, downError(a.b, a.err)+": docker start it")
		case !a.ok():
			var e ErrorBody
			_ = json.Unmarshal(a.body, &e)
			errs = append(errs, a.b.Name+": "+e.Error)
		case json.Unmarshal(a.body, &rr) == nil:
			res.DurationMS = max(res.DurationMS, rr.DurationMS)
		}
	}
	if len(errs) > 0 {
		writeError(w, http.StatusInternalServerError, "reset: "+strings.Join(errs, "; "))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// --- captures ---

// Captures are held by the process of the node they capture on; their
// IDs are "SERVICE.ID". A capture on a gateway or filer (every process
// models them) is taken in the first process's model.

// withID rewrites the "id" of a JSON object, or of each object of an
// array, to the gateway's.
func withID(b *backend, body []byte) ([]byte, error) {
	var one map[string]json.RawMessage
	if json.Unmarshal(body, &one) == nil {
		var id string
		if json.Unmarshal(one["id"], &id) == nil {
			one["id"], _ = json.Marshal(faultID(b, id))
		}
		return json.MarshalIndent(one, "", "  ")
	}
	var many []map[string]json.RawMessage
	if err := json.Unmarshal(body, &many); err != nil {
		return nil, err
	}
	for _, o := range many {
		var id string
		if json.Unmarshal(o["id"], &id) == nil {
			o["id"], _ = json.Marshal(faultID(b, id))
		}
	}
	return json.MarshalIndent(many, "", "  ")
}

// relayWithID relays a JSON answer with its IDs rewritten.
func relayWithID(w http.ResponseWriter, a answer) {
	if a.ok() && strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		if body, err := withID(a.b, a.body); err == nil {
			a.body = append(body, '\n')
		}
	}
	relay(w, a)
}

func (g *Gateway) startCapture(w http.ResponseWriter, r *http.Request) {
	var req map[string]json.RawMessage
	if !readJSON(w, r, &req) {
		return
	}
	var ref string
	_ = json.Unmarshal(req["node"], &ref)
	b := g.backends[0]
	if ref != "" {
		name, err := g.resolve("host", ref)
		if err != nil {
			name, err = g.resolve("cvm", ref)
		}
		switch {
		case err == nil:
			b = g.owner[name]
			req["node"], _ = json.Marshal(name)
		default:
			if _, ok := g.otherNode(ref); !ok {
				writeErr(w, &harness.NotFoundError{Kind: "node", Ref: ref, Known: topoNodes(g.topo)})
				return
			}
		}
	}
	body, _ := json.Marshal(req)
	a := g.call(r.Context(), b, "POST", "/v1/captures", body, nil)
	if a.err != nil {
		writeError(w, http.StatusServiceUnavailable, downError(b, a.err))
		return
	}
	relayWithID(w, a)
}

func (g *Gateway) getCaptures(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.backends, "GET", "/v1/captures", nil)
	out := []json.RawMessage{}
	for _, a := range as {
		if a.err == nil && !a.ok() {
			relay(w, a)
			return
		}
		if !a.ok() {
			continue
		}
		body, err := withID(a.b, a.body)
		var cs []json.RawMessage
		if err == nil && json.Unmarshal(body, &cs) == nil {
			out = append(out, cs...)
		}
	}
	markUnreachable(w, as)
	writeJSON(w, http.StatusOK, out)
}

// proxyCapture sends /v1/captures/{id}[/...] to the capture's process.
func (g *Gateway) proxyCapture(w http.ResponseWriter, r *http.Request) {
	parts, err := g.splitFaultID(r.PathValue("id"))
	if err != nil || len(parts) != 1 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no capture %q (a gateway's capture IDs are SERVICE.ID, e.g. esxi-a.1)", r.PathValue("id")))
		return
	}
	p := parts[0]
	tail := ""
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/captures/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			tail = rest[i:]
		}
	}
	path := "/v1/captures/" + url.PathEscape(p.id) + tail
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	a := g.call(r.Context(), p.b, r.Method, path, nil, nil)
	if a.err != nil {
		if r.Context().Err() == nil {
			writeError(w, http.StatusServiceUnavailable, downError(p.b, a.err))
		}
		return
	}
	relayWithID(w, a)
}

// --- waits ---

func (g *Gateway) wait(w http.ResponseWriter, r *http.Request) {
	var req WaitRequest
	if !readJSON(w, r, &req) {
		return
	}
	f := strings.Fields(req.Condition)
	if len(f) == 0 {
		writeError(w, http.StatusBadRequest, "wait: condition is required: "+oneLine(harness.ConditionHelp))
		return
	}
	timeout := time.Duration(req.Timeout)
	if timeout < 0 {
		writeError(w, http.StatusBadRequest, "wait: timeout must not be negative")
		return
	}
	if timeout == 0 {
		timeout = DefaultWaitTimeout
	}
	bad := func(msg string) {
		writeErr(w, &harness.ConditionError{Cond: strings.Join(f, " "), Msg: msg})
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	t0 := time.Now()
	timedOut := func() {
		writeJSON(w, http.StatusRequestTimeout, WaitResult{WaitedMS: ms(time.Since(t0)),
			Error: fmt.Sprintf("timed out after %s waiting for %q", timeout, req.Condition)})
	}
	if len(f) < 2 {
		bad("want one of: " + oneLine(harness.ConditionHelp))
		return
	}
	switch f[0] {
	case "event":
		match, err := g.eventMatcher(f)
		if err != nil {
			bad(err.Error())
			return
		}
		if err := g.waitEvent(ctx, match); err != nil {
			if r.Context().Err() == nil {
				timedOut()
			}
			return
		}
		writeJSON(w, http.StatusOK, WaitResult{Met: true, WaitedMS: ms(time.Since(t0))})
		return
	case "host", "cvm":
	default:
		bad("want one of: " + oneLine(harness.ConditionHelp))
		return
	}
	name, err := g.resolve(f[0], f[1])
	if err != nil {
		bad(err.Error())
		return
	}
	f[1] = name
	cond := strings.Join(f, " ")
	b := g.owner[name]
	offCond := f[0] == "cvm" && len(f) == 4 && (f[2] == "power" && f[3] == "off" || f[2] == "stargate" && f[3] == "down")
	for {
		up, changed := b.state()
		if !up && offCond {
			// The node's container is stopped (or cut off): a CVM is off.
			writeJSON(w, http.StatusOK, WaitResult{Met: true, WaitedMS: ms(time.Since(t0))})
			return
		}
		dl, _ := ctx.Deadline()
		body, _ := json.Marshal(WaitRequest{Condition: cond, Timeout: harness.Duration(time.Until(dl))})
		a := g.call(ctx, b, "POST", "/v1/wait", body, nil)
		if a.err == nil {
			var res WaitResult
			if a.ok() && json.Unmarshal(a.body, &res) == nil {
				res.WaitedMS = ms(time.Since(t0))
				writeJSON(w, a.status, res)
				return
			}
			relay(w, a)
			return
		}
		if r.Context().Err() != nil {
			return
		}
		if ctx.Err() != nil {
			timedOut()
			return
		}
		// The node's container is stopped: a CVM is off. What else the
		// condition asks waits for the container to start again.
		if offCond {
			writeJSON(w, http.StatusOK, WaitResult{Met: true, WaitedMS: ms(time.Since(t0))})
			return
		}
		if up2, _ := b.state(); up2 != up {
			continue // the call ended as the backend went down
		}
		select {
		case <-ctx.Done():
			if r.Context().Err() == nil {
				timedOut()
			}
			return
		case <-changed:
		}
	}
}

// eventMatcher parses "event KIND [on NODE]" against the topology; NODE
// is taken as the events filter takes it (a letter: the host and its CVM),
// as harness.Lab's waiters do.
func (g *Gateway) eventMatcher(f []string) (func(harness.Event) bool, error) {
	kind, ref := f[1], ""
	switch {
	case len(f) == 4 && f[2] == "on":
		ref = f[3]
	case len(f) != 2:
		return nil, errors.New("want: event KIND [on NODE]")
	}
	onNode := g.matcher(EventQuery{Node: ref})
	return func(e harness.Event) bool { return e.Kind == kind && onNode(e) }, nil
}

func (g *Gateway) waitEvent(ctx context.Context, match func(harness.Event) bool) error {
	hit := make(chan struct{})
	var once sync.Once
	cancel := g.log.Subscribe(func(e harness.Event) {
		if match(e) {
			once.Do(func() { close(hit) })
		}
	})
	defer cancel()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-hit:
		return nil
	}
}

// --- events ---

func (g *Gateway) getEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a number of events", l))
			return
		}
		limit = n
	}
	// A running process answers for itself (fresh: what an action just
	// did is there). Every process resolves a node reference against the
	// whole topology, as the gateway does: the query goes as it is,
	// without the limit, applied to the merge. The events of a process
	// that does not answer, and of those its container ran before, are
	// the gateway's copies; the gateway's own events join them.
	q.Del("limit")
	path := "/v1/events"
	if enc := q.Encode(); enc != "" {
		path += "?" + enc
	}
	match := g.matcher(EventQuery{Kind: q.Get("kind"), Node: q.Get("node")})
	as := g.fanout(r.Context(), g.backends, "GET", path, nil)
	var lists [][]harness.Event
	for _, a := range as {
		if a.err == nil && !a.ok() {
			relay(w, a)
			return
		}
		var es []harness.Event
		for _, e := range a.b.events(a.err != nil) {
			if match(e) {
				es = append(es, e)
			}
		}
		var now []harness.Event
		if a.ok() && json.Unmarshal(a.body, &now) == nil {
			es = append(es, now...)
		}
		lists = append(lists, es)
	}
	var own []harness.Event
	for _, e := range g.log.Events() {
		if strings.HasPrefix(e.Kind, "gateway.") && match(e) {
			own = append(own, e)
		}
	}
	lists = append(lists, own)
	out := []harness.Event{}
	for _, l := range lists {
		out = append(out, l...)
	}
	// Each list is in order; between them, by time (each process's lab
	// clock: see docs/compose.md).
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	markUnreachable(w, as)
	writeJSON(w, http.StatusOK, out)
}

// matcher filters the merged stream as a Server's does.
func (g *Gateway) matcher(q EventQuery) func(harness.Event) bool {
	nodes := map[string]bool{}
	if q.Node != "" {
		nodes[strings.ToLower(q.Node)] = true
		if n, err := g.resolve("host", q.Node); err == nil {
			nodes[strings.ToLower(n)] = true
		}
		if n, err := g.resolve("cvm", q.Node); err == nil {
			nodes[strings.ToLower(n)] = true
		}
	}
	return func(e harness.Event) bool {
		if q.Kind != "" && e.Kind != q.Kind && !strings.HasPrefix(e.Kind, q.Kind+".") {
			return false
		}
		return q.Node == "" || nodes[strings.ToLower(e.Node)]
	}
}

// stream is GET /v1/events/stream over the merged log (as Server.stream).
func (g *Gateway) stream(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := EventQuery{Kind: v.Get("kind"), Node: v.Get("node")}
	serveStream(w, r, g.hub, g.matcher(q), "autopathlab event stream (gateway)", "the gateway is shutting down")
}

// follow copies a backend's events into the gateway's log for as long as
// the gateway runs, connecting again after every break; the gateway logs
// gateway.node-down and gateway.node-up as a backend stops and starts
// answering.
func (g *Gateway) follow(ctx context.Context, b *backend) {
	var last string // the last event copied from the backend, as JSON
	everUp := false
	for ctx.Err() == nil {
		err := g.followOnce(ctx, b, &last, func() {
			if b.setUp(true) && everUp {
				g.log.Add(backendEvent(b, "gateway.node-up", "answers again"))
			}
			everUp = true
		})
		if ctx.Err() != nil {
			return
		}
		if b.setUp(false) {
			g.log.Add(backendEvent(b, "gateway.node-down", errString(err)))
		}
		t := time.NewTimer(g.retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "the stream ended"
	}
	return err.Error()
}

// backendEvent is a gateway's own event about a backend.
func backendEvent(b *backend, kind, detail string) harness.Event {
	return harness.Event{Time: time.Now(), Kind: kind, Node: strings.Join(b.Nodes, ","), Detail: b.Name + ": " + detail}
}

// followOnce follows one connection to a backend. It subscribes to the
// stream first, then reads the backend's log (every event since the
// process started, its start included, which its stream never had): what
// follows the last event copied from this process, or all of it from a
// process started again (its container restarted), is copied, then the
// stream, past what the log already gave.
func (g *Gateway) followOnce(ctx context.Context, b *backend, last *string, connected func()) (err error) {
	// The stream ends when the backend stops answering probes. (Defers
	// run last first: the probe is cancelled, then waited for.)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.probeWhile(ctx, b, cancel)
	}()
	defer func() {
		if cause := context.Cause(ctx); err != nil && cause != nil && cause != context.Canceled {
			err = cause
		}
	}()
	req, err := http.NewRequestWithContext(ctx, "GET", b.URL+"/v1/events/stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if g.btoken != "" {
		req.Header.Set("Authorization", "Bearer "+g.btoken)
	}
	// The stream answers at once, or not at all.
	slow := time.AfterFunc(g.timeout, func() { cancel(errors.New("the event stream did not answer")) })
	resp, err := g.http.Do(req)
	slow.Stop()
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("event stream: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	a := g.call(ctx, b, "GET", "/v1/events", nil, nil)
	if a.err != nil {
		return a.err
	}
	var hist []harness.Event
	if err := json.Unmarshal(a.body, &hist); err != nil || !a.ok() {
		return fmt.Errorf("events: %s: %s", http.StatusText(a.status), strings.TrimSpace(string(a.body)))
	}
	keys := make([]string, len(hist))
	from := 0
	for i, e := range hist {
		k, _ := json.Marshal(e)
		keys[i] = string(k)
		if *last != "" && keys[i] == *last {
			from = i + 1 // the same process: what came after
		}
	}
	if *last != "" && from == 0 {
		// Not the process seen last: a new one (its container
		// restarted).
		b.restarted()
	}
	seen := make(map[string]bool, len(keys))
	for i, e := range hist {
		seen[keys[i]] = true
		if i >= from {
			b.record(e)
			g.log.Add(e)
			*last = keys[i]
		}
	}
	connected()
	s := &EventStream{ctx: ctx, body: resp.Body, r: bufio.NewReader(resp.Body)}
	for {
		ev, err := s.Next()
		if err != nil {
			return err
		}
		if ev.Event.Kind == "" {
			continue // a drop notice
		}
		k, _ := json.Marshal(ev.Event)
		key := string(k)
		if seen != nil {
			if seen[key] {
				continue // in the log already
			}
			seen = nil // past the log: no more overlap
		}
		*last = key
		b.record(ev.Event)
		g.log.Add(ev.Event)
	}
}

// probeWhile asks the backend for something small every probe period
// until ctx ends; two answers missing in a row end the stream (stop).
func (g *Gateway) probeWhile(ctx context.Context, b *backend, stop context.CancelCauseFunc) {
	t := time.NewTicker(g.probe)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, g.probe)
		a := g.call(pctx, b, "GET", "/v1/faults", nil, nil)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if a.err == nil {
			missed = 0
			continue
		}
		if missed++; missed >= 2 {
			stop(fmt.Errorf("no answer to two probes: %w", a.err))
			return
		}
	}
}

// --- metrics ---

// getMetrics merges the backends' metrics, each sample labelled with its
// backend's name (the same series come from every process: event
// counters, faults, resets).
func (g *Gateway) getMetrics(w http.ResponseWriter, r *http.Request) {
	as := g.fanout(r.Context(), g.backends, "GET", "/metrics", nil)
	fams := map[string]*dto.MetricFamily{}
	var names []string
	for _, a := range as {
		if !a.ok() {
			continue
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		got, err := p.TextToMetricFamilies(bytes.NewReader(a.body))
		if err != nil {
			writeError(w, http.StatusBadGateway, fmt.Sprintf("%s: metrics: %v", a.b.Name, err))
			return
		}
		label := "backend"
		for name, mf := range got {
			for _, m := range mf.Metric {
				m.Label = append([]*dto.LabelPair{{Name: &label, Value: &a.b.Name}}, m.Label...)
			}
			if f, ok := fams[name]; ok {
				f.Metric = append(f.Metric, mf.Metric...)
				continue
			}
			fams[name] = mf
			names = append(names, name)
		}
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	markUnreachable(w, as)
	for _, n := range names {
		if _, err := expfmt.MetricFamilyToText(w, fams[n]); err != nil {
			return
		}
	}
}
