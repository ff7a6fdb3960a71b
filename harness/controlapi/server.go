// Package controlapi serves a running lab over HTTP, Toxiproxy-style: every
// route is one call of harness's Go API (views, actions, faults, waiters,
// the event log), JSON in and out, and Client mirrors the routes one to one.
//
//	srv := controlapi.NewServer(lab, controlapi.Options{Token: token})
//	defer srv.Close()
//	http.Serve(ln, srv)
//
// Errors are {"error": "..."}: 400 bad input, 401 missing or wrong bearer
// token, 404 unknown node, fault or route, 405 wrong method, 408 a wait
// that timed out, 500 the lab failed. openapi.yaml documents every route.
package controlapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPI returns the embedded OpenAPI 3.0 document (GET /openapi.yaml).
func OpenAPI() []byte { return slices.Clone(openAPISpec) }

// Options configure a Server.
type Options struct {
	// Token, when set, is the bearer token every route but GET
	// /openapi.yaml requires.
	Token string
	// StreamBuffer is how many events one event-stream client may fall
	// behind before the server drops events for it (default 256).
	StreamBuffer int
	// StreamHistory is how many events the server keeps for clients that
	// reconnect with Last-Event-ID (default 1024).
	StreamHistory int
}

// Server is the control API of one lab, an http.Handler.
type Server struct {
	lab     *harness.Lab
	token   [32]byte
	auth    bool
	routes  []route
	mux     *http.ServeMux
	hub     *hub
	metrics *metrics
}

// Route is a method and a path template ("/v1/hosts/{host}") the server
// answers, as openapi.yaml spells them.
type Route struct {
	Method, Path string
}

type route struct {
	Route
	handle http.HandlerFunc
}

// NewServer serves lab. Close it to end its event streams and its
// subscription to the lab's event log.
func NewServer(lab *harness.Lab, o Options) *Server {
	if o.StreamBuffer <= 0 {
		o.StreamBuffer = 256
	}
	if o.StreamHistory <= 0 {
		o.StreamHistory = 1024
	}
	s := &Server{lab: lab, auth: o.Token != "", token: sha256.Sum256([]byte(o.Token))}
	s.metrics = newMetrics(lab)
	s.hub = newHub(lab.Events, o.StreamBuffer, o.StreamHistory, s.metrics.count)
	s.routes = []route{
		{Route{"GET", "/v1/lab"}, s.getLab},
		{Route{"GET", "/v1/endpoints"}, s.getEndpoints},
		{Route{"GET", "/v1/hosts"}, s.getHosts},
		{Route{"GET", "/v1/hosts/{host}"}, s.getHost},
		{Route{"GET", "/v1/hosts/{host}/routes"}, s.hostPart(func(v harness.HostView) any { return v.Routes })},
		{Route{"POST", "/v1/hosts/{host}/routes"}, s.addRoute},
		{Route{"DELETE", "/v1/hosts/{host}/routes"}, s.deleteRoute},
		{Route{"GET", "/v1/hosts/{host}/vmknics"}, s.hostPart(func(v harness.HostView) any { return v.Vmknics })},
		{Route{"GET", "/v1/hosts/{host}/neighbors"}, s.hostPart(func(v harness.HostView) any { return v.Neighbors })},
		{Route{"GET", "/v1/hosts/{host}/datastores"}, s.hostPart(func(v harness.HostView) any { return v.Datastores })},
		{Route{"GET", "/v1/hosts/{host}/flows"}, s.hostPart(func(v harness.HostView) any { return v.Flows })},
		{Route{"GET", "/v1/hosts/{host}/workload"}, s.getWorkload},
		{Route{"GET", "/v1/hosts/{host}/files"}, s.getFile(s.lab.HostFile, "host")},
		{Route{"GET", "/v1/cvms"}, s.getCVMs},
		{Route{"GET", "/v1/cvms/{cvm}"}, s.getCVM},
		{Route{"GET", "/v1/cvms/{cvm}/sessions"}, s.getSessions},
		{Route{"GET", "/v1/cvms/{cvm}/files"}, s.getFile(s.lab.CVMFile, "cvm")},
		{Route{"POST", "/v1/cvms/{cvm}/power"}, s.setPower},
		{Route{"POST", "/v1/cvms/{cvm}/stargate"}, s.setStargate},
		{Route{"GET", "/v1/faults"}, s.getFaults},
		{Route{"POST", "/v1/faults"}, s.addFault},
		{Route{"DELETE", "/v1/faults"}, s.clearFaults},
		{Route{"DELETE", "/v1/faults/{id}"}, s.removeFault},
		{Route{"POST", "/v1/captures"}, s.startCapture},
		{Route{"GET", "/v1/captures"}, s.getCaptures},
		{Route{"GET", "/v1/captures/{id}"}, s.getCapture},
		{Route{"POST", "/v1/captures/{id}/stop"}, s.stopCapture},
		{Route{"GET", "/v1/captures/{id}/pcap"}, s.getPcap},
		{Route{"DELETE", "/v1/captures/{id}"}, s.removeCapture},
		{Route{"POST", "/v1/reset"}, s.reset},
		{Route{"GET", "/v1/events"}, s.getEvents},
		{Route{"GET", "/v1/events/stream"}, s.stream},
		{Route{"POST", "/v1/wait"}, s.wait},
		{Route{"GET", "/metrics"}, s.metrics.handler.ServeHTTP},
		{Route{"GET", "/openapi.yaml"}, s.getOpenAPI},
	}
	// One mux entry per path, dispatching on the method here, so that a
	// wrong method gets a JSON 405 with Allow rather than ServeMux's text.
	s.mux = http.NewServeMux()
	byPath := map[string][]route{}
	var paths []string
	for _, r := range s.routes {
		if byPath[r.Path] == nil {
			paths = append(paths, r.Path)
		}
		byPath[r.Path] = append(byPath[r.Path], r)
	}
	for _, p := range paths {
		s.mux.HandleFunc(p, methods(byPath[p]))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s (GET /openapi.yaml lists them)", r.Method, r.URL.Path))
	})
	return s
}

// Routes lists every method and path the server answers.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.Route
	}
	return out
}

// Close ends every event stream and stops following the lab's event log.
func (s *Server) Close() { s.hub.close() }

func methods(rs []route) http.HandlerFunc {
	allow := make([]string, len(rs))
	for i, r := range rs {
		allow[i] = r.Method
	}
	return func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range rs {
			if rt.Method == r.Method {
				rt.handle(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
	}
}

// ServeHTTP checks the bearer token, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.auth && !(r.Method == http.MethodGet && r.URL.Path == "/openapi.yaml") {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Compare digests so neither the content nor the length of the
		// token leaks through timing.
		sum := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="autopathlab"`)
			msg := "missing bearer token (Authorization: Bearer TOKEN)"
			if ok {
				msg = "wrong bearer token"
			}
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) getLab(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.lab.View())
}

func (s *Server) getEndpoints(w http.ResponseWriter, r *http.Request) {
	eps := s.lab.Endpoints()
	if eps == nil {
		eps = []harness.Endpoint{}
	}
	writeJSON(w, http.StatusOK, eps)
}

func (s *Server) getHosts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.lab.HostViews())
}

func (s *Server) getHost(w http.ResponseWriter, r *http.Request) {
	s.hostPart(func(v harness.HostView) any { return v })(w, r)
}

func (s *Server) hostPart(part func(harness.HostView) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := s.lab.HostView(r.PathValue("host"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, part(v))
	}
}

func (s *Server) getWorkload(w http.ResponseWriter, r *http.Request) {
	v, err := s.lab.HostView(r.PathValue("host"))
	if err != nil {
		writeErr(w, err)
		return
	}
	if v.Workload == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %s runs no VM IO workload", v.Name))
		return
	}
	writeJSON(w, http.StatusOK, v.Workload)
}

// RouteRequest is the body of POST /v1/hosts/{host}/routes.
type RouteRequest struct {
	// Netstack defaults to defaultTcpipStack.
	Netstack string `json:"netstack,omitempty"`
	// Network is a CIDR, an address (a /32) or "default".
	Network string `json:"network"`
	Gateway string `json:"gateway"`
}

// The route changes answer with the host's routes after the change.
func (s *Server) addRoute(w http.ResponseWriter, r *http.Request) {
	var req RouteRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Network == "" || req.Gateway == "" {
		writeError(w, http.StatusBadRequest, "route: network and gateway are required")
		return
	}
	s.routeChange(w, r, http.StatusCreated, s.lab.AddRoute(r.PathValue("host"), req.Netstack, req.Network, req.Gateway))
}

func (s *Server) deleteRoute(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("network") == "" {
		writeError(w, http.StatusBadRequest, "route: the network query parameter is required")
		return
	}
	s.routeChange(w, r, http.StatusOK, s.lab.DeleteRoute(r.PathValue("host"), q.Get("netstack"), q.Get("network"), q.Get("gateway")))
}

func (s *Server) routeChange(w http.ResponseWriter, r *http.Request, status int, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	v, err := s.lab.HostView(r.PathValue("host"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, status, v.Routes)
}

func (s *Server) getCVMs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.lab.CVMViews())
}

func (s *Server) getCVM(w http.ResponseWriter, r *http.Request) {
	v, err := s.lab.CVMView(r.PathValue("cvm"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getSessions(w http.ResponseWriter, r *http.Request) {
	v, err := s.lab.CVMView(r.PathValue("cvm"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v.Sessions)
}

// StateRequest is the body of POST /v1/cvms/{cvm}/power ("off", "on",
// "reboot") and POST /v1/cvms/{cvm}/stargate ("up", "down", "hung").
type StateRequest struct {
	State string `json:"state"`
}

// PowerStates are the states POST /v1/cvms/{cvm}/power takes.
var PowerStates = []string{"off", "on", "reboot"}

func (s *Server) setPower(w http.ResponseWriter, r *http.Request) {
	var req StateRequest
	if !readJSON(w, r, &req) {
		return
	}
	act := map[string]func(string) error{"off": s.lab.PowerOff, "on": s.lab.PowerOn, "reboot": s.lab.Reboot}[req.State]
	if act == nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("power state %q: want one of %s", req.State, strings.Join(PowerStates, ", ")))
		return
	}
	s.cvmAction(w, r, act(r.PathValue("cvm")))
}

func (s *Server) setStargate(w http.ResponseWriter, r *http.Request) {
	var req StateRequest
	if !readJSON(w, r, &req) {
		return
	}
	// Resolve first: an unknown CVM is a 404 even with a bad state.
	if _, err := s.lab.ResolveCVM(r.PathValue("cvm")); err != nil {
		writeErr(w, err)
		return
	}
	s.cvmAction(w, r, s.lab.SetStargate(r.PathValue("cvm"), req.State))
}

// cvmAction answers an action with the CVM as it is now.
func (s *Server) cvmAction(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	s.getCVM(w, r)
}

func (s *Server) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.lab.Faults())
}

func (s *Server) addFault(w http.ResponseWriter, r *http.Request) {
	var spec harness.FaultSpec
	if !readJSON(w, r, &spec) {
		return
	}
	f, err := s.lab.AddFault(spec)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, f)
}

func (s *Server) removeFault(w http.ResponseWriter, r *http.Request) {
	if err := s.lab.RemoveFault(r.PathValue("id")); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) clearFaults(w http.ResponseWriter, r *http.Request) {
	s.lab.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

// ResetResult is the answer of POST /v1/reset.
type ResetResult struct {
	DurationMS float64 `json:"duration_ms"`
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	d, err := s.lab.Reset(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ResetResult{DurationMS: ms(d)})
}

// WaitRequest is the body of POST /v1/wait.
type WaitRequest struct {
	// Condition is in harness's condition language ("cvm a power off").
	Condition string `json:"condition"`
	// Timeout is Go syntax ("60s") or seconds; default DefaultWaitTimeout.
	Timeout harness.Duration `json:"timeout,omitempty"`
}

// WaitResult is the answer of POST /v1/wait: 200 when the condition was
// met, 408 (with Error set) when the timeout ran out first.
type WaitResult struct {
	Met      bool    `json:"met"`
	WaitedMS float64 `json:"waited_ms"`
	Error    string  `json:"error,omitempty"`
}

// DefaultWaitTimeout bounds a wait that names no timeout.
const DefaultWaitTimeout = 60 * time.Second

func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	var req WaitRequest
	if !readJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Condition) == "" {
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
	// The timeout is real time: the caller's clock, not the lab's.
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	t0 := time.Now()
	err := s.lab.Wait(ctx, req.Condition)
	waited := ms(time.Since(t0))
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, WaitResult{Met: true, WaitedMS: waited})
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		writeJSON(w, http.StatusRequestTimeout, WaitResult{WaitedMS: waited,
			Error: fmt.Sprintf("timed out after %s waiting for %q", timeout, req.Condition)})
	default:
		writeErr(w, err)
	}
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPISpec)
}

// EventQuery selects events: Kind matches a kind exactly or as a prefix
// ("ssh" matches ssh.login and ssh.command); Node matches a node's name,
// and a letter or number matches both the host and the CVM it names.
type EventQuery struct {
	Kind string
	Node string
	// Limit keeps the last Limit events (GET /v1/events only; 0: all).
	Limit int
	// LastEventID replays the events after this ID (the stream only).
	LastEventID int64
}

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	q, err := s.query(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	match := s.matcher(q)
	out := []harness.Event{}
	for _, e := range s.lab.Events.Events() {
		if match(e) {
			out = append(out, e)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) query(r *http.Request) (EventQuery, error) {
	v := r.URL.Query()
	q := EventQuery{Kind: v.Get("kind"), Node: v.Get("node")}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return q, fmt.Errorf("limit %q: want a number of events", l)
		}
		q.Limit = n
	}
	return q, nil
}

// matcher returns the filter for q.
func (s *Server) matcher(q EventQuery) func(harness.Event) bool {
	on := s.lab.EventOn(q.Node)
	return func(e harness.Event) bool {
		if q.Kind != "" && e.Kind != q.Kind && !strings.HasPrefix(e.Kind, q.Kind+".") {
			return false
		}
		return on(e)
	}
}

// ErrorBody is every error's JSON.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorBody{Error: msg})
}

// writeErr maps the harness's errors: an unknown node, fault, capture or
// file is a 404; a bad condition (*harness.ConditionError), a bad argument
// or any other refusal of an action is a 400.
func writeErr(w http.ResponseWriter, err error) {
	var nf *harness.NotFoundError
	if errors.As(err, &nf) || errors.Is(err, harness.ErrNoFault) || errors.Is(err, fs.ErrNotExist) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// readJSON decodes a request body strictly (an unknown field is a typo the
// caller wants to hear about) and answers 400 when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body")
		}
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "request body: more than one JSON value")
		return false
	}
	return true
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
