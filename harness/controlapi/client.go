package controlapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// Client is the Go client of the control API: one method per route,
// returning harness's own view types.
//
//	c := controlapi.NewClient(lab.APIURL, "")
//	_, err := c.PowerOff(ctx, "a")
//
// A non-2xx answer is an *APIError; a lab that cannot be reached is the
// *url.Error of net/http.
type Client struct {
	base  string
	token string
	// HTTP sends the requests; it must not time out requests itself, or
	// long waits and event streams break (bound them with the context).
	HTTP *http.Client
}

// NewClient returns a client of the API at baseURL ("http://127.0.0.1:7480");
// token "" sends no Authorization header.
func NewClient(baseURL, token string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, HTTP: &http.Client{}}
}

// APIError is a non-2xx answer of the API.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, http.StatusText(e.Status))
}

// Lab is GET /v1/lab.
func (c *Client) Lab(ctx context.Context) (v harness.LabView, err error) {
	return v, c.do(ctx, "GET", "/v1/lab", nil, nil, &v)
}

// Endpoints is GET /v1/endpoints.
func (c *Client) Endpoints(ctx context.Context) (v []harness.Endpoint, err error) {
	return v, c.do(ctx, "GET", "/v1/endpoints", nil, nil, &v)
}

// Hosts is GET /v1/hosts.
func (c *Client) Hosts(ctx context.Context) (v []harness.HostView, err error) {
	return v, c.do(ctx, "GET", "/v1/hosts", nil, nil, &v)
}

// Host is GET /v1/hosts/{host}.
func (c *Client) Host(ctx context.Context, host string) (v harness.HostView, err error) {
	return v, c.do(ctx, "GET", "/v1/hosts/"+url.PathEscape(host), nil, nil, &v)
}

// Routes is GET /v1/hosts/{host}/routes.
func (c *Client) Routes(ctx context.Context, host string) (v []harness.RouteView, err error) {
	return v, c.do(ctx, "GET", hostPath(host, "routes"), nil, nil, &v)
}

// Vmknics is GET /v1/hosts/{host}/vmknics.
func (c *Client) Vmknics(ctx context.Context, host string) (v []harness.VmknicView, err error) {
	return v, c.do(ctx, "GET", hostPath(host, "vmknics"), nil, nil, &v)
}

// Neighbors is GET /v1/hosts/{host}/neighbors.
func (c *Client) Neighbors(ctx context.Context, host string) (v []harness.NeighborView, err error) {
	return v, c.do(ctx, "GET", hostPath(host, "neighbors"), nil, nil, &v)
}

// Datastores is GET /v1/hosts/{host}/datastores.
func (c *Client) Datastores(ctx context.Context, host string) (v []harness.DatastoreView, err error) {
	return v, c.do(ctx, "GET", hostPath(host, "datastores"), nil, nil, &v)
}

// Flows is GET /v1/hosts/{host}/flows.
func (c *Client) Flows(ctx context.Context, host string) (v []harness.FlowView, err error) {
	return v, c.do(ctx, "GET", hostPath(host, "flows"), nil, nil, &v)
}

// Workload is GET /v1/hosts/{host}/workload (a 404 when the host runs
// none).
func (c *Client) Workload(ctx context.Context, host string) (v harness.WorkloadView, err error) {
	return v, c.do(ctx, "GET", hostPath(host, "workload"), nil, nil, &v)
}

// AddRoute is POST /v1/hosts/{host}/routes: esxcfg-route -a. It returns the
// host's routes after the change.
func (c *Client) AddRoute(ctx context.Context, host, netstack, network, gateway string) (v []harness.RouteView, err error) {
	return v, c.do(ctx, "POST", hostPath(host, "routes"), nil, RouteRequest{Netstack: netstack, Network: network, Gateway: gateway}, &v)
}

// DeleteRoute is DELETE /v1/hosts/{host}/routes: esxcfg-route -d; gateway
// "" deletes the network's static route whatever its gateway.
func (c *Client) DeleteRoute(ctx context.Context, host, netstack, network, gateway string) (v []harness.RouteView, err error) {
	q := url.Values{"network": {network}}
	if gateway != "" {
		q.Set("gateway", gateway)
	}
	if netstack != "" {
		q.Set("netstack", netstack)
	}
	return v, c.do(ctx, "DELETE", hostPath(host, "routes"), q, nil, &v)
}

// CVMs is GET /v1/cvms.
func (c *Client) CVMs(ctx context.Context) (v []harness.CVMView, err error) {
	return v, c.do(ctx, "GET", "/v1/cvms", nil, nil, &v)
}

// CVM is GET /v1/cvms/{cvm}.
func (c *Client) CVM(ctx context.Context, cvm string) (v harness.CVMView, err error) {
	return v, c.do(ctx, "GET", "/v1/cvms/"+url.PathEscape(cvm), nil, nil, &v)
}

// Sessions is GET /v1/cvms/{cvm}/sessions.
func (c *Client) Sessions(ctx context.Context, cvm string) (v []harness.SessionView, err error) {
	return v, c.do(ctx, "GET", "/v1/cvms/"+url.PathEscape(cvm)+"/sessions", nil, nil, &v)
}

// PowerOff is POST /v1/cvms/{cvm}/power {"state":"off"}; it returns the
// CVM after the action, as every CVM action does.
func (c *Client) PowerOff(ctx context.Context, cvm string) (harness.CVMView, error) {
	return c.cvmState(ctx, cvm, "power", "off")
}

// PowerOn is POST /v1/cvms/{cvm}/power {"state":"on"}.
func (c *Client) PowerOn(ctx context.Context, cvm string) (harness.CVMView, error) {
	return c.cvmState(ctx, cvm, "power", "on")
}

// Reboot is POST /v1/cvms/{cvm}/power {"state":"reboot"}.
func (c *Client) Reboot(ctx context.Context, cvm string) (harness.CVMView, error) {
	return c.cvmState(ctx, cvm, "power", "reboot")
}

// SetStargate is POST /v1/cvms/{cvm}/stargate: "up", "down" or "hung".
func (c *Client) SetStargate(ctx context.Context, cvm, state string) (harness.CVMView, error) {
	return c.cvmState(ctx, cvm, "stargate", state)
}

func (c *Client) cvmState(ctx context.Context, cvm, what, state string) (v harness.CVMView, err error) {
	return v, c.do(ctx, "POST", "/v1/cvms/"+url.PathEscape(cvm)+"/"+what, nil, StateRequest{State: state}, &v)
}

// Faults is GET /v1/faults.
func (c *Client) Faults(ctx context.Context) (v []harness.Fault, err error) {
	return v, c.do(ctx, "GET", "/v1/faults", nil, nil, &v)
}

// AddFault is POST /v1/faults.
func (c *Client) AddFault(ctx context.Context, spec harness.FaultSpec) (v harness.Fault, err error) {
	return v, c.do(ctx, "POST", "/v1/faults", nil, spec, &v)
}

// RemoveFault is DELETE /v1/faults/{id}.
func (c *Client) RemoveFault(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/faults/"+url.PathEscape(id), nil, nil, nil)
}

// ClearFaults is DELETE /v1/faults.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/v1/faults", nil, nil, nil)
}

// Reset is POST /v1/reset; it returns how long the lab took.
func (c *Client) Reset(ctx context.Context) (time.Duration, error) {
	var r ResetResult
	err := c.do(ctx, "POST", "/v1/reset", nil, nil, &r)
	return time.Duration(r.DurationMS * float64(time.Millisecond)), err
}

// Wait is POST /v1/wait: it returns how long the condition took to hold,
// or an *APIError with Status 408 when timeout (0: the server's default)
// ran out first.
func (c *Client) Wait(ctx context.Context, condition string, timeout time.Duration) (time.Duration, error) {
	var r WaitResult
	err := c.do(ctx, "POST", "/v1/wait", nil, WaitRequest{Condition: condition, Timeout: harness.Duration(timeout)}, &r)
	return time.Duration(r.WaitedMS * float64(time.Millisecond)), err
}

// Events is GET /v1/events: the recent events, oldest first.
func (c *Client) Events(ctx context.Context, q EventQuery) (v []harness.Event, err error) {
	return v, c.do(ctx, "GET", "/v1/events", q.values(), nil, &v)
}

func (q EventQuery) values() url.Values {
	v := url.Values{}
	if q.Kind != "" {
		v.Set("kind", q.Kind)
	}
	if q.Node != "" {
		v.Set("node", q.Node)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Metrics is GET /metrics, Prometheus' text format.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	b, err := c.raw(ctx, "/metrics")
	return string(b), err
}

// OpenAPI is GET /openapi.yaml.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/openapi.yaml")
}

func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.send(ctx, "GET", path, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// StreamEvent is one message of the event stream: an event with its ID, or
// a notice that Dropped events will never arrive (the client read too
// slowly, or reconnected after the server stopped keeping them).
type StreamEvent struct {
	ID      int64
	Event   harness.Event
	Dropped int64
}

// EventStream is an open GET /v1/events/stream.
type EventStream struct {
	ctx  context.Context
	body io.ReadCloser
	r    *bufio.Reader
}

// OpenStream is GET /v1/events/stream. It returns once the server follows
// the event log for this stream: every later event arrives. With
// q.LastEventID > 0 the kept events after it arrive first.
func (c *Client) OpenStream(ctx context.Context, q EventQuery) (*EventStream, error) {
	h := http.Header{"Accept": {"text/event-stream"}}
	if q.LastEventID > 0 {
		h.Set("Last-Event-ID", strconv.FormatInt(q.LastEventID, 10))
	}
	q.Limit = 0
	resp, err := c.send(ctx, "GET", "/v1/events/stream?"+q.values().Encode(), nil, h)
	if err != nil {
		return nil, err
	}
	return &EventStream{ctx: ctx, body: resp.Body, r: bufio.NewReader(resp.Body)}, nil
}

// Next returns the next event or drop notice. It returns io.EOF when the
// server ends the stream, and ctx's error once ctx ends.
func (s *EventStream) Next() (StreamEvent, error) {
	var ev StreamEvent
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if s.ctx.Err() != nil {
				return ev, s.ctx.Err()
			}
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" { // the end of a message
			if data != nil {
				if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &ev.Event); err != nil {
					return ev, fmt.Errorf("event stream: event %d: %w", ev.ID, err)
				}
				return ev, nil
			}
			if ev.Dropped > 0 {
				return ev, nil
			}
			continue
		}
		if c, ok := strings.CutPrefix(line, ":"); ok {
			ev.Dropped += droppedIn(strings.TrimSpace(c))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID, _ = strconv.ParseInt(value, 10, 64)
		case "data":
			data = append(data, value)
		}
	}
}

// droppedIn reads the server's drop comments: "dropped N events: ..." and
// "N events after id M are no longer kept".
func droppedIn(comment string) int64 {
	f := strings.Fields(comment)
	switch {
	case len(f) >= 2 && f[0] == "dropped":
		n, _ := strconv.ParseInt(f[1], 10, 64)
		return n
	case strings.HasSuffix(comment, "are no longer kept") && len(f) > 0:
		n, _ := strconv.ParseInt(f[0], 10, 64)
		return n
	}
	return 0
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// Stream follows the event stream, calling fn for each event or drop
// notice, until fn returns an error (which Stream returns), the server ends
// the stream (io.EOF) or ctx ends (ctx's error).
func (c *Client) Stream(ctx context.Context, q EventQuery, fn func(StreamEvent) error) error {
	s, err := c.OpenStream(ctx, q)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		ev, err := s.Next()
		if err != nil {
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

func hostPath(host, part string) string { return "/v1/hosts/" + url.PathEscape(host) + "/" + part }

// do sends a JSON request (in may be nil) and decodes a 2xx answer into out
// (nil: discard it).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	h := http.Header{"Accept": {"application/json"}}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
		h.Set("Content-Type", "application/json")
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, method, path, body, h)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// send sends a request and turns a non-2xx answer into an *APIError.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, h http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e ErrorBody
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
		if e.Error == "" {
			e.Error = method + " " + path
		}
	}
	return nil, &APIError{Status: resp.StatusCode, Message: e.Error}
}

// IsTimeout reports whether err is a wait that timed out (HTTP 408).
func IsTimeout(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusRequestTimeout
}
