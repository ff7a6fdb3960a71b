package controlapi

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/sshd"
)

// nodeProc is one node's "process": a lab of one node and its control
// API on a real port, as a container runs them.
type nodeProc struct {
	t    *testing.T
	lab  *harness.Lab
	srv  *Server
	hs   *http.Server
	done chan struct{}
	addr string
}

var gwKeyring = sshd.NewKeyring()

// fastBoot keeps a CVM that boots (its container started again) quick on
// real time.
var fastBoot = cvmsim.Timers{PingAfter: 5 * time.Millisecond, StargateAfter: 10 * time.Millisecond, InitAfter: 15 * time.Millisecond}

func startNodeProc(t *testing.T, self, addr, token string, boot bool) *nodeProc {
	t.Helper()
	// The other nodes' processes are nowhere (the fabric's peer watch
	// finds them off at once): these tests are about the control API.
	peers := map[string]string{}
	for _, b := range DefaultBackends(harness.Default(), 0) {
		peers[b.Name] = "127.0.0.1:1"
	}
	lab, err := harness.NewNode(harness.Default(), self, harness.NodeOptions{
		Options: harness.Options{NoWorkload: true, Keyring: gwKeyring, CVMTimers: fastBoot},
		SSHPort: 0, StatusPort: 0, NFSPort: -1, Boot: boot, Peers: peers,
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	p := &nodeProc{t: t, lab: lab, srv: NewServer(lab, Options{Token: token}), done: make(chan struct{}), addr: ln.Addr().String()}
	p.hs = &http.Server{Handler: p.srv}
	go func() {
		defer close(p.done)
		p.hs.Serve(ln)
	}()
	t.Cleanup(p.stop)
	return p
}

// stop is docker stop: the process goes away, connections and all.
func (p *nodeProc) stop() {
	p.srv.Close()
	p.hs.Close()
	<-p.done
	p.lab.Close()
}

type gwLab struct {
	t     *testing.T
	procs map[string]*nodeProc // by service name
	gw    *Gateway
	ts    *httptest.Server
	c     *Client
	token string
}

// startGatewayLab runs the default lab one process per node, and a
// gateway over them.
func startGatewayLab(t *testing.T, token string) *gwLab {
	t.Helper()
	topo := harness.Default()
	l := &gwLab{t: t, procs: map[string]*nodeProc{}, token: token}
	var backends []Backend
	for _, b := range DefaultBackends(topo, 7480) {
		p := startNodeProc(t, b.Name, "127.0.0.1:0", token, false)
		l.procs[b.Name] = p
		b.URL = "http://" + p.addr
		backends = append(backends, b)
	}
	gw, err := NewGateway(GatewayOptions{Topology: topo, Backends: backends, Token: token, Retry: 20 * time.Millisecond})
	require.NoError(t, err)
	l.gw = gw
	l.ts = httptest.NewServer(gw)
	t.Cleanup(l.ts.Close)
	t.Cleanup(gw.Close)
	l.c = NewClient(l.ts.URL, token)
	require.NoError(t, gw.WaitConnected(testCtx(t)))
	return l
}

func (l *gwLab) call(method, path, body string) (int, http.Header, []byte) {
	l.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, l.ts.URL+path, rd)
	require.NoError(l.t, err)
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(l.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestDefaultBackends(t *testing.T) {
	bs := DefaultBackends(harness.Default(), 7480)
	require.Len(t, bs, 6)
	assert.Equal(t, Backend{Name: "esxi-a", URL: "http://esxi-a:7480", Nodes: []string{"NTNX-BLOCK1-A"}}, bs[0])
	assert.Equal(t, Backend{Name: "cvm-c", URL: "http://cvm-c:7480", Nodes: []string{"NTNX-BLOCK1-C-CVM"}}, bs[5])

	_, err := NewGateway(GatewayOptions{Topology: harness.Default(), Backends: bs[:5]})
	assert.EqualError(t, err, "gateway: no backend runs NTNX-BLOCK1-C-CVM")
	_, err = NewGateway(GatewayOptions{Topology: harness.Default(), Backends: append(bs, Backend{Name: "x", URL: "http://x", Nodes: []string{"NTNX-BLOCK1-A"}})})
	assert.EqualError(t, err, "gateway: NTNX-BLOCK1-A is run by both esxi-a and x")
}

// The gateway answers every route a lab's control API answers.
func TestGatewayRoutesAreTheServers(t *testing.T) {
	a := startAPI(t, Options{})
	assert.Equal(t, a.srv.Routes(), (&Gateway{}).Routes())

	l := startGatewayLab(t, "")
	for _, r := range l.gw.Routes() {
		path := strings.NewReplacer("{host}", "b", "{cvm}", "b", "{id}", "esxi-a.99").Replace(r.Path)
		body := ""
		if r.Method == "POST" {
			body = "{}"
		}
		if r.Path == "/v1/events/stream" {
			continue // an answer that never ends
		}
		code, _, b := l.call(r.Method, path, body)
		assert.NotContains(t, string(b), "no route "+r.Method, r)
		assert.NotEqual(t, http.StatusMethodNotAllowed, code, r)
	}
}

// The lab at a glance, its endpoints, its hosts and CVMs: merged from
// every process, in topology order.
func TestGatewayMergesTheViews(t *testing.T) {
	l := startGatewayLab(t, "")
	ctx := testCtx(t)
	v, err := l.c.Lab(ctx)
	require.NoError(t, err)
	assert.Equal(t, "default", v.Name)
	assert.Equal(t, []string{"NTNX-BLOCK1-A", "NTNX-BLOCK1-B", "NTNX-BLOCK1-C"}, v.Hosts)
	assert.Equal(t, []string{"NTNX-BLOCK1-A-CVM", "NTNX-BLOCK1-B-CVM", "NTNX-BLOCK1-C-CVM"}, v.CVMs)
	var names []string
	for _, e := range v.Endpoints {
		names = append(names, e.Name)
		if e.Role == "esxi" || e.Role == "cvm" {
			assert.NotEmpty(t, e.Listeners["ssh"], e.Name)
		}
	}
	assert.Equal(t, []string{"NTNX-BLOCK1-A", "NTNX-BLOCK1-B", "NTNX-BLOCK1-C", "NTNX-BLOCK1-A-CVM", "NTNX-BLOCK1-B-CVM", "NTNX-BLOCK1-C-CVM", "gw"}, names)
	eps, err := l.c.Endpoints(ctx)
	require.NoError(t, err)
	assert.Equal(t, v.Endpoints, eps)

	hosts, err := l.c.Hosts(ctx)
	require.NoError(t, err)
	require.Len(t, hosts, 3)
	for i, h := range hosts {
		assert.Equal(t, v.Hosts[i], h.Name)
	}
	cvms, err := l.c.CVMs(ctx)
	require.NoError(t, err)
	require.Len(t, cvms, 3)
	assert.Equal(t, "192.168.1.29", cvms[2].IP)
	assert.Equal(t, "up", cvms[2].Power)
}

// Per-node routes go to the node's process, a letter or number resolved
// against the topology.
func TestGatewayProxiesPerNodeRoutes(t *testing.T) {
	l := startGatewayLab(t, "")
	ctx := testCtx(t)
	routes, err := l.c.AddRoute(ctx, "a", "", "192.168.5.2/32", "192.168.1.28")
	require.NoError(t, err)
	assert.Contains(t, routes, harness.RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.2/32", Gateway: "192.168.1.28", Interface: "vmk0"})
	assert.True(t, hasStatic(l.procs["esxi-a"].lab, "NTNX-BLOCK1-A"), "host A's process has it")
	assert.False(t, hasStatic(l.procs["esxi-b"].lab, "NTNX-BLOCK1-B"))

	h, err := l.c.Host(ctx, "1")
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-A", h.Name)
	_, err = l.c.Host(ctx, "q")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusNotFound, ae.Status)

	c, err := l.c.PowerOff(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, "off", c.Power)
	assert.Equal(t, cvmsim.PowerOff, l.procs["cvm-b"].lab.CVMs[0].Power())
	c, err = l.c.SetStargate(ctx, "c", "hung")
	require.NoError(t, err)
	assert.Equal(t, "hung", c.Fault)
	_, err = l.c.DeleteRoute(ctx, "a", "", "192.168.5.2/32", "")
	require.NoError(t, err)

	// A method a node's route does not take: the node's 405, relayed.
	code, hdr, _ := l.call("PUT", "/v1/hosts/a/routes", "")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	assert.Equal(t, "GET, POST, DELETE", hdr.Get("Allow"))
}

func hasStatic(lab *harness.Lab, host string) bool {
	v, _ := lab.HostView(host)
	for _, r := range v.Routes {
		if r.Network == "192.168.5.2/32" {
			return true
		}
	}
	return false
}

// Faults go to their node's process; a partition to both ends', a fault
// on the gateway node (modelled everywhere) to every process; each is one
// fault with a composite ID.
func TestGatewayFaults(t *testing.T) {
	l := startGatewayLab(t, "")
	ctx := testCtx(t)
	f1, err := l.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultLinkDown, Node: "a", Interface: "vmnic0"})
	require.NoError(t, err)
	assert.Equal(t, "esxi-a.1", f1.ID)
	f2, err := l.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultStargateDown, Node: "c"})
	require.NoError(t, err)
	assert.Equal(t, "cvm-c.1", f2.ID)
	assert.Equal(t, "NTNX-BLOCK1-C-CVM", f2.Spec.Node)
	f3, err := l.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultPartition, Node: "b", Peer: "NTNX-BLOCK1-A-CVM"})
	require.NoError(t, err)
	assert.Equal(t, "esxi-b.1+cvm-a.1", f3.ID)
	f4, err := l.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultLatency, Node: "gw", Interface: "vlan1", Latency: harness.Duration(time.Millisecond)})
	require.NoError(t, err)
	assert.Equal(t, "esxi-a.2+esxi-b.2+esxi-c.1+cvm-a.2+cvm-b.1+cvm-c.2", f4.ID)

	fs, err := l.c.Faults(ctx)
	require.NoError(t, err)
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	assert.ElementsMatch(t, []string{f1.ID, f2.ID, f3.ID, f4.ID}, ids)
	assert.Len(t, l.procs["esxi-b"].lab.Faults(), 2)

	require.NoError(t, l.c.RemoveFault(ctx, f3.ID))
	assert.Len(t, l.procs["esxi-b"].lab.Faults(), 1)
	assert.Len(t, l.procs["cvm-a"].lab.Faults(), 1)
	err = l.c.RemoveFault(ctx, "cvm-q.1")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusNotFound, ae.Status)

	// A refusal: the backend's 400, relayed.
	_, err = l.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultLinkDown, Node: "b", Interface: "vmnic9"})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadRequest, ae.Status)

	require.NoError(t, l.c.ClearFaults(ctx))
	for svc, p := range l.procs {
		assert.Empty(t, p.lab.Faults(), svc)
	}

	// All or nothing: with one process gone, a fault every process must
	// hold is taken back from the others.
	l.procs["cvm-c"].stop()
	_, err = l.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultLinkDown, Node: "gw", Interface: "vlan1"})
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.Status)
	assert.Contains(t, ae.Message, "cvm-c (NTNX-BLOCK1-C-CVM) does not answer")
	for svc, p := range l.procs {
		if svc != "cvm-c" {
			assert.Empty(t, p.lab.Faults(), svc)
		}
	}
}

// Reset goes to every process.
func TestGatewayReset(t *testing.T) {
	l := startGatewayLab(t, "")
	ctx := testCtx(t)
	_, err := l.c.PowerOff(ctx, "a")
	require.NoError(t, err)
	_, err = l.c.Reset(ctx)
	require.NoError(t, err)
	for svc, p := range l.procs {
		assert.Equal(t, 1, p.lab.View().Resets, svc)
	}
	assert.Equal(t, cvmsim.PowerUp, l.procs["cvm-a"].lab.CVMs[0].Power())
	v, err := l.c.Lab(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, v.Resets)
}

// A wait goes to the process of the node it names; an event wait is
// matched on the merged stream.
func TestGatewayWait(t *testing.T) {
	l := startGatewayLab(t, "")
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() {
		_, err := l.c.Wait(ctx, "host b route 192.168.5.2/32 via 192.168.1.29", 20*time.Second)
		done <- err
	}()
	// The wait holds until the route exists; adding it (once the wait
	// is in place or before) ends it.
	_, err := l.c.AddRoute(ctx, "NTNX-BLOCK1-B", "", "192.168.5.2/32", "192.168.1.29")
	require.NoError(t, err)
	require.NoError(t, <-done)

	_, err = l.c.Wait(ctx, "cvm a power off", 50*time.Millisecond)
	assert.True(t, IsTimeout(err), "%v", err)
	_, err = l.c.Wait(ctx, "cvm q ready", time.Second)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadRequest, ae.Status)

	// An event wait, on the merged stream: Stargate goes down and up
	// until the gateway, waiting, sees it go down.
	go func() {
		_, err := l.c.Wait(ctx, "event stargate.down on NTNX-BLOCK1-C-CVM", 20*time.Second)
		done <- err
	}()
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			return
		default:
		}
		_, err := l.c.SetStargate(ctx, "c", "down")
		require.NoError(t, err)
		_, err = l.c.SetStargate(ctx, "c", "up")
		require.NoError(t, err)
	}
}

// A stopped container is a node that does not answer: a CVM is off (its
// wait for power off is met at once), a host drops out of /v1/hosts; when
// the container starts again (a new process on the same address, here a
// CVM that boots) the gateway follows it and its events.
func TestGatewayStoppedAndStartedContainer(t *testing.T) {
	l := startGatewayLab(t, "")
	ctx := testCtx(t)
	s, err := l.c.OpenStream(ctx, EventQuery{Kind: "power"})
	require.NoError(t, err)
	defer s.Close()
	gws, err := l.c.OpenStream(ctx, EventQuery{Kind: "gateway"})
	require.NoError(t, err)
	defer gws.Close()

	cvmA := l.procs["cvm-a"]
	cvmA.stop()
	_, err = l.c.Wait(ctx, "cvm a power off", 20*time.Second)
	require.NoError(t, err)
	_, err = l.c.Wait(ctx, "cvm a stargate down", 20*time.Second)
	require.NoError(t, err)
	cv, err := l.c.CVM(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, harness.CVMView{Name: "NTNX-BLOCK1-A-CVM", Host: "NTNX-BLOCK1-A", IP: "192.168.1.27", Power: "off", Stargate: "down", Sessions: []harness.SessionView{}}, cv)
	code, hdr, body := l.call("GET", "/v1/cvms", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "cvm-a", hdr.Get("X-Autopathlab-Unreachable"))
	assert.Contains(t, string(body), `"power": "off"`)
	_, err = l.c.PowerOff(ctx, "a")
	assert.NoError(t, err, "it is off")
	_, err = l.c.PowerOn(ctx, "a")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.Status)
	assert.Contains(t, ae.Message, "docker start it")
	_, err = l.c.Reset(ctx)
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, ae.Message, "cvm-a (NTNX-BLOCK1-A-CVM) does not answer")

	ev := nextEvent(t, gws)
	assert.Equal(t, "gateway.node-down", ev.Kind)
	assert.Equal(t, "NTNX-BLOCK1-A-CVM", ev.Node)
	// The stopped process's events stay in the lab's log, with the
	// gateway's own.
	es, err := l.c.Events(ctx, EventQuery{Node: "NTNX-BLOCK1-A-CVM"})
	require.NoError(t, err)
	var kinds []string
	for _, e := range es {
		kinds = append(kinds, e.Kind)
	}
	assert.Subset(t, kinds, []string{"booted", "gateway.node-down"})

	// Waiting for it to be ready waits for its container.
	ready := make(chan error, 1)
	go func() {
		_, err := l.c.Wait(ctx, "cvm a ready", 20*time.Second)
		ready <- err
	}()
	again := startNodeProc(t, "cvm-a", cvmA.addr, "", true)
	require.NoError(t, <-ready)
	assert.Equal(t, cvmsim.PowerUp, again.lab.CVMs[0].Power())
	ev = nextEvent(t, gws)
	assert.Equal(t, "gateway.node-up", ev.Kind)
	// The new process's events, from its start: it powered on.
	for {
		ev := nextEvent(t, s)
		if ev.Kind == "power.on" {
			assert.Equal(t, "NTNX-BLOCK1-A-CVM", ev.Node)
			break
		}
	}

	// Both processes' events: each booted once.
	es, err = l.c.Events(ctx, EventQuery{Kind: "booted", Node: "a"})
	require.NoError(t, err)
	assert.Len(t, es, 2)

	// A host whose process is gone drops out of the hosts.
	l.procs["esxi-c"].stop()
	hosts, err := l.c.Hosts(ctx)
	require.NoError(t, err)
	assert.Len(t, hosts, 2)
	_, err = l.c.Routes(ctx, "c")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusServiceUnavailable, ae.Status)
}

func nextEvent(t *testing.T, s *EventStream) harness.Event {
	t.Helper()
	for {
		ev, err := s.Next()
		require.NoError(t, err)
		if ev.Event.Kind != "" {
			return ev.Event
		}
	}
}

// The merged stream: every process's events, as they come.
func TestGatewayEventStreamAndEvents(t *testing.T) {
	l := startGatewayLab(t, "")
	ctx := testCtx(t)
	s, err := l.c.OpenStream(ctx, EventQuery{Node: "b"})
	require.NoError(t, err)
	defer s.Close()
	_, err = l.c.AddRoute(ctx, "b", "", "192.168.5.2/32", "192.168.1.27")
	require.NoError(t, err)
	_, err = l.c.PowerOff(ctx, "b")
	require.NoError(t, err)
	seen := map[string]string{}
	for len(seen) < 2 {
		ev := nextEvent(t, s)
		if ev.Kind == "route.add" || ev.Kind == "power.off" {
			seen[ev.Kind] = ev.Node
		}
	}
	assert.Equal(t, map[string]string{"route.add": "NTNX-BLOCK1-B", "power.off": "NTNX-BLOCK1-B-CVM"}, seen)

	es, err := l.c.Events(ctx, EventQuery{Kind: "power", Node: "b"})
	require.NoError(t, err)
	require.NotEmpty(t, es)
	assert.Equal(t, "power.off", es[len(es)-1].Kind)
	es, err = l.c.Events(ctx, EventQuery{Limit: 1})
	require.NoError(t, err)
	assert.Len(t, es, 1)
}

// Metrics: every process's, each sample labelled with its backend.
func TestGatewayMetrics(t *testing.T) {
	l := startGatewayLab(t, "")
	text, err := l.c.Metrics(testCtx(t))
	require.NoError(t, err)
	assert.Contains(t, text, `autopathlab_cvm_power{backend="cvm-a",cvm="NTNX-BLOCK1-A-CVM",state="up"} 1`)
	assert.Contains(t, text, `autopathlab_resets_total{backend="esxi-c"} 0`)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, "one valid exposition")
	assert.Len(t, fams["autopathlab_resets_total"].Metric, 6)
}

// The gateway asks its clients for the token and gives it to the
// backends.
func TestGatewayToken(t *testing.T) {
	l := startGatewayLab(t, "s3cret")
	resp, err := http.Get(l.ts.URL + "/v1/lab")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	v, err := l.c.Lab(testCtx(t))
	require.NoError(t, err)
	assert.Len(t, v.CVMs, 3)
	resp, err = http.Get(l.ts.URL + "/openapi.yaml")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// Captures are taken by the process of the node they capture on.
func TestGatewayCaptures(t *testing.T) {
	l := startGatewayLab(t, "")
	code, _, body := l.call("POST", "/v1/captures", `{"node": "b", "interface": "vmk0"}`)
	require.Equal(t, http.StatusCreated, code, string(body))
	var c harness.CaptureView
	require.NoError(t, json.Unmarshal(body, &c))
	assert.Equal(t, "esxi-b.1", c.ID)
	assert.Equal(t, "NTNX-BLOCK1-B", c.Node)
	assert.Len(t, l.procs["esxi-b"].lab.Captures(), 1)

	code, _, body = l.call("GET", "/v1/captures", "")
	require.Equal(t, http.StatusOK, code)
	var cs []harness.CaptureView
	require.NoError(t, json.Unmarshal(body, &cs))
	require.Len(t, cs, 1)
	assert.Equal(t, "esxi-b.1", cs[0].ID)

	code, _, body = l.call("POST", "/v1/captures/esxi-b.1/stop", "")
	require.Equal(t, http.StatusOK, code, string(body))
	require.NoError(t, json.Unmarshal(body, &c))
	assert.Equal(t, "esxi-b.1", c.ID)
	assert.False(t, c.Running)
	code, hdr, body := l.call("GET", "/v1/captures/esxi-b.1/pcap", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, PcapType, hdr.Get("Content-Type"))
	assert.Equal(t, []byte{0xb2, 0xa1}, body[2:4], "a pcap file (little-endian magic)")
	code, _, _ = l.call("DELETE", "/v1/captures/esxi-b.1", "")
	assert.Equal(t, http.StatusNoContent, code)
	code, _, _ = l.call("GET", "/v1/captures/esxi-b.1", "")
	assert.Equal(t, http.StatusNotFound, code)
	code, _, _ = l.call("GET", "/v1/captures/7", "")
	assert.Equal(t, http.StatusNotFound, code)
	code, _, _ = l.call("POST", "/v1/captures", `{"node": "nowhere"}`)
	assert.Equal(t, http.StatusNotFound, code)
}

// blackhole forwards TCP to a backend until cut: then it forwards nothing
// and closes nothing, as a container cut off its network; the connections
// made meanwhile go through once it is joined again, as TCP retransmits.
type blackhole struct {
	t      *testing.T
	ln     net.Listener
	to     string
	mu     sync.Mutex
	cut    bool
	held   []net.Conn
	conns  []net.Conn
	closed bool
}

func newBlackhole(t *testing.T, to string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &blackhole{t: t, ln: ln, to: to}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			if b.cut {
				b.held = append(b.held, c)
				b.mu.Unlock()
				continue
			}
			b.mu.Unlock()
			b.forward(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		b.closed = true
		for _, c := range append(b.conns, b.held...) {
			c.Close()
		}
		b.mu.Unlock()
	})
	return b
}

func (b *blackhole) forward(c net.Conn) {
	u, err := net.Dial("tcp", b.to)
	if err != nil {
		c.Close()
		return
	}
	b.mu.Lock()
	b.conns = append(b.conns, c, u)
	b.mu.Unlock()
	go b.pipe(c, u)
	go b.pipe(u, c)
}

func (b *blackhole) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		b.mu.Lock()
		cut := b.cut
		b.mu.Unlock()
		if cut {
			continue // dropped on the floor
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (b *blackhole) setCut(cut bool) {
	b.mu.Lock()
	b.cut = cut
	held := b.held
	if !cut {
		b.held = nil
	}
	b.mu.Unlock()
	if !cut {
		for _, c := range held {
			b.forward(c)
		}
	}
}

// A container cut off its network (docker network disconnect) answers
// nothing and closes nothing: the gateway's probes find it, and its CVM
// is off until it answers again.
func TestGatewayNetworkDisconnect(t *testing.T) {
	topo := harness.Default()
	var backends []Backend
	var bh *blackhole
	for _, b := range DefaultBackends(topo, 7480) {
		p := startNodeProc(t, b.Name, "127.0.0.1:0", "", false)
		b.URL = "http://" + p.addr
		if b.Name == "cvm-b" {
			bh = newBlackhole(t, p.addr)
			b.URL = "http://" + bh.ln.Addr().String()
		}
		backends = append(backends, b)
	}
	gw, err := NewGateway(GatewayOptions{Topology: topo, Backends: backends, Retry: 20 * time.Millisecond, Probe: 100 * time.Millisecond, Timeout: 2 * time.Second})
	require.NoError(t, err)
	ts := httptest.NewServer(gw)
	t.Cleanup(ts.Close)
	t.Cleanup(gw.Close)
	ctx := testCtx(t)
	require.NoError(t, gw.WaitConnected(ctx))
	c := NewClient(ts.URL, "")
	s, err := c.OpenStream(ctx, EventQuery{Kind: "gateway"})
	require.NoError(t, err)
	defer s.Close()

	bh.setCut(true)
	ev := nextEvent(t, s)
	assert.Equal(t, "gateway.node-down", ev.Kind)
	assert.Equal(t, "NTNX-BLOCK1-B-CVM", ev.Node)
	assert.Contains(t, ev.Detail, "no answer to two probes")
	_, err = c.Wait(ctx, "cvm b power off", 10*time.Second)
	require.NoError(t, err)
	v, err := c.CVM(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, "off", v.Power)

	bh.setCut(false)
	ev = nextEvent(t, s)
	assert.Equal(t, "gateway.node-up", ev.Kind)
	_, err = c.Wait(ctx, "cvm b power on", 10*time.Second)
	require.NoError(t, err)
}
