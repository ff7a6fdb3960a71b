package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
)

const (
	hostA = "NTNX-BLOCK1-A"
	hostB = "NTNX-BLOCK1-B"
	cvmA  = "NTNX-BLOCK1-A-CVM"
	cvmB  = "NTNX-BLOCK1-B-CVM"
	cvmC  = "NTNX-BLOCK1-C-CVM"
)

// env is labctl against a control API over a real lab (fake clock).
type env struct {
	lab   *harness.Lab
	srv   *controlapi.Server
	ts    *httptest.Server
	token string

	mu    sync.Mutex
	specs []harness.FaultSpec // every POST /v1/faults body, as sent
	// streams receives once per event stream the server has subscribed
	// (its response headers are written after the subscription).
	streams chan struct{}
}

// signalWriter signals its first WriteHeader.
type signalWriter struct {
	http.ResponseWriter
	once sync.Once
	ch   chan struct{}
}

func (w *signalWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	w.once.Do(func() { w.ch <- struct{}{} })
}

func (w *signalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newEnv(t *testing.T, token string, opts ...harness.Option) *env {
	t.Helper()
	lab := harness.Start(t, harness.Default(), append([]harness.Option{harness.WithFakeClock()}, opts...)...)
	e := &env{lab: lab, token: token, srv: controlapi.NewServer(lab, controlapi.Options{Token: token}), streams: make(chan struct{}, 8)}
	// Record what labctl asks of the lab before the lab answers.
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && r.URL.Path == "/v1/faults" {
			b, _ := io.ReadAll(r.Body)
			var s harness.FaultSpec
			if json.Unmarshal(b, &s) == nil {
				e.mu.Lock()
				e.specs = append(e.specs, s)
				e.mu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		if r.URL.Path == "/v1/events/stream" {
			w = &signalWriter{ResponseWriter: w, ch: e.streams}
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(e.ts.Close)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) lastSpec(t *testing.T) harness.FaultSpec {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	require.NotEmpty(t, e.specs, "labctl posted no fault")
	return e.specs[len(e.specs)-1]
}

// run runs labctl in process against the lab's API.
func (e *env) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var o, er bytes.Buffer
	full := append([]string{"--api", e.ts.URL}, args...)
	if e.token != "" {
		full = append(full, "--token", e.token)
	}
	code = run(ctx, full, &o, &er)
	return code, o.String(), er.String()
}

// ok runs labctl and requires exit 0.
func (e *env) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := e.run(t, args...)
	require.Equal(t, 0, code, "labctl %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out
}

func (e *env) cvm(t *testing.T, ref string) harness.CVMView {
	t.Helper()
	v, err := e.lab.CVMView(ref)
	require.NoError(t, err)
	return v
}

func (e *env) routes(t *testing.T, ref string) []harness.RouteView {
	t.Helper()
	v, err := e.lab.HostView(ref)
	require.NoError(t, err)
	return v.Routes
}

// sameJSON compares labctl's -o json output with a view as the API writes
// it.
func sameJSON(t *testing.T, want any, got string) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), got)
}

// rows matches each regexp against some line of out.
func rows(t *testing.T, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		assert.Regexp(t, regexp.MustCompile(`(?m)`+re), out)
	}
}

var seedRoute = harness.RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.2/32", Gateway: "192.168.1.28", Interface: "vmk0"}

// Every read verb, for people and for scripts.
func TestReadVerbs(t *testing.T) {
	e := newEnv(t, "")
	hostView := func(ref string) harness.HostView {
		v, err := e.lab.HostView(ref)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct {
		args  []string
		table []string // regexps, each matching a line
		json  func() any
	}{
		{[]string{"lab"}, []string{`^LAB\s+default$`, `^HOSTS\s+NTNX-BLOCK1-A, NTNX-BLOCK1-B, NTNX-BLOCK1-C$`, `^FAULTS\s+0$`},
			func() any { return nil }},
		{[]string{"endpoints"}, []string{`^NODE\s+ROLE\s+IPS\s+SSH\s+NFS\s+STATUS$`,
			`^NTNX-BLOCK1-A\s+esxi\s+192\.168\.1\.24, 192\.168\.5\.1\s+` + regexp.QuoteMeta(e.lab.Hosts[0].Addr().String()),
			`^NTNX-BLOCK1-B-CVM\s+cvm\s+192\.168\.1\.28, 192\.168\.5\.2, 192\.168\.5\.254\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+$`},
			func() any { return e.lab.Endpoints() }},
		{[]string{"hosts"}, []string{`^HOST\s+HOSTNAME\s+VERSION`, `^NTNX-BLOCK1-C\s+\S+\s+\S+\s+3\s+0\s+ctr1 accessible\s+\d+ ops, \d+ errors$`},
			nil},
		{[]string{"host", "a"}, []string{`^HOST\s+NTNX-BLOCK1-A$`, `^VMKNICS\s+vmk0 192\.168\.1\.24/24 \(Management Network\), vmk1 192\.168\.5\.1/24 \(vmk-svm-iscsi-pg\)$`,
			`^DATASTORES\s+ctr1 accessible$`, `^defaultTcpipStack\s+default\s+192\.168\.1\.1\s+vmk0$`},
			nil},
		{[]string{"host", "a", "routes"}, []string{`^NETSTACK\s+NETWORK\s+GATEWAY\s+INTERFACE$`, `^defaultTcpipStack\s+192\.168\.5\.0/24\s+Local Subnet\s+vmk1$`},
			func() any { return hostView("a").Routes }},
		{[]string{"host", "b", "vmknics"}, []string{`^vmk0\s+Management Network\s+defaultTcpipStack\s+192\.168\.1\.25/24\s+\S+\s+1500\s+true$`},
			func() any { return hostView("b").Vmknics }},
		{[]string{"host", "a", "neighbors"}, []string{`^IP\s+MAC\s+INTERFACE\s+EXPIRY$`, `^192\.168\.5\.2\s+\S+\s+vmk1\s+\d+ sec$`},
			func() any { return hostView("a").Neighbors }},
		{[]string{"host", "c", "datastores"}, []string{`^ctr1\s+192\.168\.5\.2\s+/ctr1\s+\S+\s+true\s+true$`},
			func() any { return hostView("c").Datastores }},
		{[]string{"host", "a", "flows"}, []string{`^LOCAL\s+REMOTE\s+EGRESS\s+NEXT HOP\s+TARGET$`, `^192\.168\.5\.1:\d+\s+192\.168\.5\.2:2049\s+vmk1\s+\S+\s+NTNX-BLOCK1-A-CVM$`},
			func() any { return hostView("a").Flows }},
		{[]string{"host", "a", "workload"}, []string{`^VM\s+vm-NTNX-BLOCK1-A$`, `^STALLED\s+false$`},
			nil},
		{[]string{"cvms"}, []string{`^CVM\s+HOST\s+IP\s+POWER\s+STARGATE\s+FAULT\s+SESSIONS$`, `^NTNX-BLOCK1-B-CVM\s+NTNX-BLOCK1-B\s+192\.168\.1\.28\s+up\s+up\s+-\s+1$`},
			func() any { return e.lab.CVMViews() }},
		{[]string{"cvm", "b"}, []string{`^CVM\s+NTNX-BLOCK1-B-CVM$`, `^POWER\s+up$`, `^INITIALISED\s+true$`, `^192\.168\.5\.1:\d+\s+192\.168\.5\.2:2049`},
			nil},
		{[]string{"cvm", "a", "sessions"}, []string{`^CLIENT\s+LOCAL\s+EXPORT\s+SINCE$`, `^192\.168\.5\.1:\d+\s+192\.168\.5\.2:2049`},
			nil},
		{[]string{"faults"}, []string{`^ID\s+KIND\s+NODE\s+DETAIL\s+EXPIRES\s+HITS$`},
			func() any { return e.lab.Faults() }},
		{[]string{"events", "--kind", "nfs.mount"}, []string{`^TIME\s+KIND\s+NODE\s+DETAIL$`, `^\S+\s+nfs\.mount\s+NTNX-BLOCK1-C-CVM\s+.*client=192\.168\.5\.1:\d+`},
			nil},
		{[]string{"metrics"}, []string{`^autopathlab_cvm_power\{cvm="NTNX-BLOCK1-A-CVM",state="up"\} 1$`, `^# TYPE autopathlab_events_total counter$`},
			nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := e.ok(t, tc.args...)
			rows(t, out, tc.table...)
			if tc.args[0] == "metrics" {
				return
			}
			js := e.ok(t, append([]string{"-o", "json"}, tc.args...)...)
			var v any
			require.NoError(t, json.Unmarshal([]byte(js), &v), js)
			if tc.json != nil {
				if want := tc.json(); want != nil {
					sameJSON(t, want, js)
				}
			}
		})
	}
	// -o json is the API's JSON: the same document a script would GET.
	js := e.ok(t, "cvm", "c", "-o", "json")
	var cv harness.CVMView
	require.NoError(t, json.Unmarshal([]byte(js), &cv))
	assert.Equal(t, cvmC, cv.Name)
	assert.Equal(t, "192.168.1.29", cv.IP)
	var lv harness.LabView
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "-o", "json", "lab")), &lv))
	assert.Equal(t, "default", lv.Name)
	var evs []harness.Event
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "events", "-o", "json", "--kind", "nfs.mount", "--node", "b")), &evs))
	require.Len(t, evs, 1)
	assert.Equal(t, cvmB, evs[0].Node)
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "events", "-o", "json", "--limit", "2")), &evs))
	assert.Len(t, evs, 2)
}

// Each action verb changes the model.
func TestActionVerbs(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	for _, tc := range []struct {
		args   []string
		table  []string
		effect func(t *testing.T)
	}{
		{[]string{"cvm", "a", "power", "off"}, []string{`^NTNX-BLOCK1-A-CVM\s+NTNX-BLOCK1-A\s+192\.168\.1\.27\s+off\s+`},
			func(t *testing.T) { assert.Equal(t, "off", e.cvm(t, "a").Power) }},
		{[]string{"cvm", "a", "power", "on"}, []string{`^NTNX-BLOCK1-A-CVM\s+\S+\s+\S+\s+booting\s+`},
			func(t *testing.T) { assert.Equal(t, "booting", e.cvm(t, "a").Power) }},
		{[]string{"cvm", "b", "reboot"}, []string{`^NTNX-BLOCK1-B-CVM\s+\S+\s+\S+\s+booting\s+`},
			func(t *testing.T) {
				assert.Equal(t, "booting", e.cvm(t, "b").Power)
				ev := e.lab.Events.Events()
				assert.Equal(t, "power.on "+cvmB, ev[len(ev)-1].Kind+" "+ev[len(ev)-1].Node)
			}},
		{[]string{"cvm", "c", "stargate", "down"}, []string{`^NTNX-BLOCK1-C-CVM\s+\S+\s+\S+\s+up\s+down\s+down\s+`},
			func(t *testing.T) { assert.Equal(t, "down", e.cvm(t, "c").Stargate) }},
		{[]string{"cvm", "c", "stargate", "hang"}, []string{`\s+hung\s+hung\s+`},
			func(t *testing.T) { assert.Equal(t, "hung", e.cvm(t, "c").Stargate) }},
		{[]string{"cvm", "c", "stargate", "up"}, []string{`\s+up\s+up\s+-\s+\d+$`},
			func(t *testing.T) { assert.Equal(t, "up", e.cvm(t, "c").Stargate) }},
		{[]string{"host", "a", "route", "add", "192.168.5.2/32", "192.168.1.28"}, []string{`^defaultTcpipStack\s+192\.168\.5\.2/32\s+192\.168\.1\.28\s+vmk0$`},
			func(t *testing.T) { assert.Contains(t, e.routes(t, "a"), seedRoute) }},
		{[]string{"host", "a", "route", "delete", "192.168.5.2/32"}, []string{`^defaultTcpipStack\s+default\s+192\.168\.1\.1\s+vmk0$`},
			func(t *testing.T) { assert.NotContains(t, e.routes(t, "a"), seedRoute) }},
		{[]string{"host", "b", "route", "add", "192.168.5.2", "192.168.1.29", "--netstack", "defaultTcpipStack"}, nil,
			func(t *testing.T) {
				assert.Contains(t, e.routes(t, "b"), harness.RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.2/32", Gateway: "192.168.1.29", Interface: "vmk0"})
			}},
		{[]string{"host", "b", "route", "delete", "192.168.5.2/32", "192.168.1.29"}, nil,
			func(t *testing.T) {
				for _, r := range e.routes(t, "b") {
					assert.NotEqual(t, "192.168.5.2/32", r.Network)
				}
			}},
		{[]string{"fault", "stargate-down", "cvm", "a"}, []string{`^1\s+stargate-down\s+NTNX-BLOCK1-A-CVM\s+-\s+-\s+0$`},
			func(t *testing.T) {
				require.Len(t, e.lab.Faults(), 1)
				assert.Equal(t, "down", e.cvm(t, "a").Stargate)
			}},
		{[]string{"fault", "stargate-hang", "cvm", "b", "--for", "30s"}, []string{`^2\s+stargate-hang\s+NTNX-BLOCK1-B-CVM\s+for 30s\s+\d\d:\d\d:\d\d\s+0$`},
			func(t *testing.T) {
				require.Len(t, e.lab.Faults(), 2)
				// CVM B is still booting (its Stargate is down as
				// clients see it): the fault stands behind that.
				assert.Equal(t, "hung", e.cvm(t, "b").Fault)
			}},
		{[]string{"fault", "rm", "1"}, []string{`^fault 1 removed$`},
			func(t *testing.T) {
				require.Len(t, e.lab.Faults(), 1)
				assert.Empty(t, e.cvm(t, "a").Fault)
			}},
		{[]string{"fault", "clear"}, []string{`^every fault removed$`},
			func(t *testing.T) {
				assert.Empty(t, e.lab.Faults())
				assert.Empty(t, e.cvm(t, "b").Fault)
			}},
		{[]string{"wait", "--timeout", "5s", "cvm", "a", "power", "booting"}, []string{`^condition met after \S+: cvm a power booting$`}, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out := e.ok(t, tc.args...)
			rows(t, out, tc.table...)
			if tc.effect != nil {
				tc.effect(t)
			}
		})
	}
}

// The -o json answers of actions are the API's.
func TestActionJSON(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	var cv harness.CVMView
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "-o", "json", "cvm", "a", "power", "off")), &cv))
	assert.Equal(t, "off", cv.Power)
	var rs []harness.RouteView
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "-o", "json", "host", "a", "route", "add", "192.168.5.2/32", "192.168.1.28")), &rs))
	assert.Contains(t, rs, seedRoute)
	var f harness.Fault
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "-o", "json", "fault", "stargate-down", "cvm", "c")), &f))
	assert.Equal(t, harness.FaultSpec{Kind: "stargate-down", Node: cvmC}, f.Spec)
	assert.Equal(t, "", e.ok(t, "-o", "json", "fault", "rm", f.ID))
	assert.Empty(t, e.lab.Faults())
	var w controlapi.WaitResult
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "-o", "json", "wait", "cvm a power off")), &w))
	assert.True(t, w.Met)
}

// The fault verbs of the issue, verbatim: what labctl sends, then what the
// lab did with it.
func TestFaultVerbs(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	d := func(s string) harness.Duration { v, _ := time.ParseDuration(s); return harness.Duration(v) }
	for _, tc := range []struct {
		line string
		want harness.FaultSpec
	}{
		{"fault ssh-hang host a --for 30s", harness.FaultSpec{Kind: "ssh-hang", Node: hostA, For: d("30s")}},
		{"fault ssh-hang host a --for 30s --count 2 --command esxcfg-route", harness.FaultSpec{Kind: "ssh-hang", Node: hostA, For: d("30s"), Count: 2, Command: "esxcfg-route"}},
		{"fault ssh-refuse host b", harness.FaultSpec{Kind: "ssh-refuse", Node: hostB}},
		{"fault ssh-slow host a --delay 2s", harness.FaultSpec{Kind: "ssh-slow", Node: hostA, Delay: d("2s")}},
		{"fault ssh-drop host 1 --count 1", harness.FaultSpec{Kind: "ssh-drop", Node: hostA, Count: 1}},
		{"fault link-down host a vmnic0", harness.FaultSpec{Kind: "link-down", Node: hostA, Interface: "vmnic0"}},
		{"fault link-down cvm b eth0", harness.FaultSpec{Kind: "link-down", Node: cvmB, Interface: "eth0"}},
		{"fault latency cvm b eth0 50ms", harness.FaultSpec{Kind: "latency", Node: cvmB, Interface: "eth0", Latency: d("50ms")}},
		{"fault loss host a vmnic0 10", harness.FaultSpec{Kind: "loss", Node: hostA, Interface: "vmnic0", LossPercent: 10}},
		{"fault partition NTNX-BLOCK1-A-CVM NTNX-BLOCK1-B-CVM", harness.FaultSpec{Kind: "partition", Node: cvmA, Peer: cvmB}},
		{"fault stargate-down cvm a", harness.FaultSpec{Kind: "stargate-down", Node: cvmA}},
		{"fault stargate-hang cvm c --for 1m", harness.FaultSpec{Kind: "stargate-hang", Node: cvmC, For: d("1m")}},
	} {
		t.Run(tc.line, func(t *testing.T) {
			code, out, errOut := e.run(t, strings.Fields(tc.line)...)
			assert.Equal(t, tc.want, e.lastSpec(t), "what labctl sent")
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			fs := e.lab.Faults()
			require.Len(t, fs, 1)
			assert.Equal(t, tc.want, fs[0].Spec)
			rows(t, out, `^`+fs[0].ID+`\s+`+regexp.QuoteMeta(tc.want.Kind+"")+`\s+`+regexp.QuoteMeta(tc.want.Node)+`\s+`)
			e.ok(t, "fault", "clear")
		})
	}
}

func TestEventsFollow(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	for _, tc := range []struct {
		name string
		args []string
		want *regexp.Regexp
	}{
		{"table", []string{"events", "-f", "--kind", "power"}, regexp.MustCompile(`(?m)^\S+\s+power\.off\s+NTNX-BLOCK1-C-CVM`)},
		{"json lines", []string{"-o", "json", "events", "--node", "c", "-f"}, regexp.MustCompile(`(?m)^\{"time":"[^"]+","kind":"power\.off","node":"NTNX-BLOCK1-C-CVM"[,}]`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut syncBuffer
			runCtx, interrupt := context.WithCancel(ctx)
			code := make(chan int, 1)
			go func() { code <- run(runCtx, append([]string{"--api", e.ts.URL}, tc.args...), &out, &errOut) }()
			select {
			case <-e.streams: // the server follows the log for labctl
			case <-ctx.Done():
				t.Fatalf("labctl opened no stream: %s", errOut.String())
			}
			require.NoError(t, e.lab.PowerOff("c"))
			out.waitFor(ctx, t, "the power-off", tc.want.MatchString)
			interrupt() // Ctrl-C: the normal end of -f
			assert.Equal(t, 0, <-code, errOut.String())
			require.NoError(t, e.lab.PowerOn("c"))
		})
	}
	// The lab going away ends -f with exit 3.
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(context.Background(), []string{"--api", e.ts.URL, "events", "-f"}, &out, &errOut) }()
	<-e.streams
	out.waitFor(context.Background(), t, "the header", func(s string) bool { return strings.HasPrefix(s, "TIME") })
	e.srv.Close()
	assert.Equal(t, 3, <-code)
	assert.Contains(t, errOut.String(), "labctl: the lab closed the event stream")
}

func TestWaitVerb(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	done := make(chan int, 1)
	var out, errOut syncBuffer
	go func() {
		done <- run(context.Background(), []string{"--api", e.ts.URL, "wait", "--timeout", "20s", "host a route 192.168.5.2/32 via 192.168.1.28"}, &out, &errOut)
	}()
	e.ok(t, "host", "a", "route", "add", "192.168.5.2/32", "192.168.1.28")
	assert.Equal(t, 0, <-done, errOut.String())
	rows(t, out.String(), `^condition met after \S+: host a route 192\.168\.5\.2/32 via 192\.168\.1\.28$`)

	code, _, errs := e.run(t, "wait", "--timeout", "50ms", "cvm a power off")
	assert.Equal(t, 4, code)
	assert.Equal(t, "labctl: timed out after 50ms waiting for \"cvm a power off\"\n", errs)

	code, _, errs = e.run(t, "wait", "cvm", "a", "levitating")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, `labctl: condition "cvm a levitating"`)
}

func TestResetVerb(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	e.ok(t, "cvm", "a", "power", "off")
	e.ok(t, "host", "a", "route", "add", "192.168.5.2/32", "192.168.1.28")
	e.ok(t, "fault", "stargate-down", "cvm", "b")
	rows(t, e.ok(t, "reset"), `^lab reset in \S+$`)
	assert.Equal(t, "up", e.cvm(t, "a").Power)
	assert.NotContains(t, e.routes(t, "a"), seedRoute)
	assert.Empty(t, e.lab.Faults())
	assert.Equal(t, 1, e.lab.View().Resets)
	var r controlapi.ResetResult
	require.NoError(t, json.Unmarshal([]byte(e.ok(t, "-o", "json", "reset")), &r))
	assert.Positive(t, r.DurationMS)
}

func TestHelp(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out := e.ok(t, args...)
		rows(t, out, `^Usage: labctl `, `^  wait\s+wait until`, `^Exit codes:$`, `^  3  the lab cannot be reached$`, `^  4  wait timed out$`)
	}
	rows(t, e.ok(t, "help", "wait"), `^Usage: labctl wait \[--timeout 60s\] CONDITION$`, `cvm REF power on\|off\|booting`)
	rows(t, e.ok(t, "help", "fault"), `^  labctl fault latency cvm b eth0 50ms$`)
	for _, v := range verbs {
		rows(t, e.ok(t, "help", v.name), `^Usage: labctl `+regexp.QuoteMeta(v.name))
	}
}

// Exit codes: 1 refused, 2 usage, 3 unreachable, 4 timeout (TestWaitVerb).
func TestExitCodes(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "Usage: labctl"},
		{[]string{"frobnicate"}, 2, `labctl: unknown verb "frobnicate"`},
		{[]string{"--bogus", "lab"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"-o", "yaml", "lab"}, 2, `-o "yaml": want table or json`},
		{[]string{"hosts", "--for", "30s"}, 2, "labctl hosts: --for does not apply"},
		{[]string{"lab", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"host"}, 2, "which host?"},
		{[]string{"host", "a", "sideways"}, 2, `unknown host view "sideways"`},
		{[]string{"host", "a", "route", "add", "192.168.5.2/32"}, 2, "route add NETWORK GATEWAY"},
		{[]string{"cvm", "a", "power", "sideways"}, 2, "labctl cvm: unexpected"},
		{[]string{"cvm", "a", "stargate", "sideways"}, 2, `stargate "sideways"`},
		{[]string{"fault"}, 2, "which fault?"},
		{[]string{"fault", "meteor", "host", "a"}, 2, `unknown fault kind "meteor"`},
		{[]string{"fault", "latency", "cvm", "b", "eth0"}, 2, "want: fault latency host|cvm REF IFACE LATENCY"},
		{[]string{"fault", "latency", "cvm", "b", "eth0", "soon"}, 2, `latency "soon"`},
		{[]string{"fault", "loss", "host", "a", "vmnic0", "200"}, 2, `loss "200"`},
		{[]string{"fault", "link-down", "switch", "a", "vmnic0"}, 2, `"switch": want host or cvm`},
		{[]string{"fault", "rm"}, 2, "fault rm ID"},
		{[]string{"events", "-f", "--limit", "3"}, 2, "--limit does not apply with -f"},
		{[]string{"wait"}, 2, "wait for what?"},
		{[]string{"help", "frobnicate"}, 2, `unknown verb "frobnicate"`},
		{[]string{"host", "z"}, 1, `labctl: no host "z" (the lab has: NTNX-BLOCK1-A, NTNX-BLOCK1-B, NTNX-BLOCK1-C)`},
		{[]string{"cvm", "9", "power", "off"}, 1, `labctl: no cvm "9"`},
		{[]string{"fault", "stargate-down", "cvm", "z"}, 1, `labctl: no cvm "z"`},
		{[]string{"fault", "rm", "77"}, 1, "labctl: fault 77: no such fault"},
		{[]string{"host", "a", "route", "add", "192.168.5.2/24", "192.168.1.28"}, 1, "host bits set"},
		{[]string{"host", "a", "route", "delete", "10.0.0.0/8"}, 1, "no static route to 10.0.0.0/8"},
		{[]string{"--api", dead, "lab"}, 3, "labctl: cannot reach the lab at " + dead},
		{[]string{"--api", dead, "events", "-f"}, 3, "labctl: cannot reach the lab"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := e.run(t, tc.args...)
			assert.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			assert.Contains(t, errOut, tc.stderr)
			if tc.code != 0 {
				assert.Empty(t, out)
			}
		})
	}
	// Nothing refused changed anything.
	assert.Equal(t, "up", e.cvm(t, "a").Power)
	assert.Empty(t, e.lab.Faults())
}

func TestToken(t *testing.T) {
	e := newEnv(t, "s3cret", harness.WithoutWorkload())
	e.ok(t, "cvm", "a", "power", "off")
	assert.Equal(t, "off", e.cvm(t, "a").Power)

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--api", e.ts.URL, "cvm", "a", "power", "on"}, &out, &errOut)
	assert.Equal(t, 1, code)
	assert.Equal(t, "labctl: missing bearer token (Authorization: Bearer TOKEN)\nlabctl: set --token or AUTOPATHLAB_TOKEN to the lab's --api-token\n", errOut.String())
	assert.Equal(t, "off", e.cvm(t, "a").Power)

	// The environment supplies both.
	t.Setenv("AUTOPATHLAB_API", e.ts.URL)
	t.Setenv("AUTOPATHLAB_TOKEN", "s3cret")
	out.Reset()
	errOut.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"cvm", "a", "power", "on"}, &out, &errOut), errOut.String())
	assert.Equal(t, "booting", e.cvm(t, "a").Power)
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		o    func(o options) any
		want any
	}{
		{[]string{"fault", "ssh-hang", "host", "a", "--for", "30s"}, []string{"fault", "ssh-hang", "host", "a"}, func(o options) any { return o.forD }, 30 * time.Second},
		{[]string{"-o", "json", "hosts"}, []string{"hosts"}, func(o options) any { return o.output }, "json"},
		{[]string{"hosts", "-o=json"}, []string{"hosts"}, func(o options) any { return o.output }, "json"},
		{[]string{"events", "-f", "--kind", "ssh"}, []string{"events"}, func(o options) any { return o.follow && o.kind == "ssh" }, true},
		{[]string{"wait", "--", "cvm", "a", "-x"}, []string{"wait", "cvm", "a", "-x"}, func(o options) any { return o.timeout }, 60 * time.Second},
	} {
		var o options
		fs := newFlagSet(&o, io.Discard)
		pos, err := parseArgs(fs, tc.args)
		require.NoError(t, err, tc.args)
		assert.Equal(t, tc.pos, pos, tc.args)
		assert.Equal(t, tc.want, tc.o(o), tc.args)
	}
}

// syncBuffer is a bytes.Buffer for a writer and a reader in two
// goroutines, with a wait on its content.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// snapshot returns the content and a channel closed at the next write.
func (s *syncBuffer) snapshot() (string, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.b.String(), s.changed
}

func (s *syncBuffer) waitFor(ctx context.Context, t *testing.T, what string, cond func(string) bool) {
	t.Helper()
	for {
		out, ch := s.snapshot()
		if cond(out) {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, out)
		}
	}
}
