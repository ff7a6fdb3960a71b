package cvmsim

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// The Stargate status page (port 2009, reference §9.3) is what another
// CVM's Genesis health-checks over the modelled network, and what people
// open on the real loopback port. It is served by the Stargate process
// itself, so it shares Stargate's fate:
//
//   - Stargate up: 200. GET / is a small HTML page for people; GET
//     /h/status is the same as JSON for programs. Both say whether the CVM
//     is fully initialised: while it boots Stargate already serves (200)
//     but "initialised" is false, which is how seed 001's Genesis tells
//     "all Stargates alive, CVM not fully initialised" apart.
//   - Stargate down (or the CVM off or booting): the modelled port 2009
//     refuses connections, as a port nobody listens on does. The real
//     loopback port, which outlives the CVM, answers 503 instead.
//   - Stargate hung: connections are accepted and requests are never
//     answered, until the client gives up or Stargate recovers.
//
// The same server answers one RPC, for autopath implementations that run
// outside the lab and need what Genesis does before it removes a host's
// forwarding route (seed 001: "Genesis gracefully terminates the
// connection via the NfsTerminateConnection request"):
//
//	POST /h/rpc/nfs_terminate_connection
//	Content-Type: application/json
//	{"client_ip": "192.168.1.24"}
//
// Stargate closes every NFS connection from that client address cleanly
// (FIN: the client reads EOF and reconnects along its current route) and
// answers 200 {"terminated": N}, N the number of connections it closed (0
// is not an error). A body that is not that JSON object, or an address
// that does not parse, is 400 {"error": "..."}; another method is 405.
// The RPC shares the page's fate: refused on port 2009 (503 on the
// loopback port) while Stargate is down, never answered while it is hung.
// Each request shows in the event log as nfs.terminate.

// StatusPage is the page's JSON form (GET /h/status).
type StatusPage struct {
	CVM         string `json:"cvm"`
	IP          string `json:"ip"`
	State       string `json:"state"`
	Initialised bool   `json:"initialised"`
	StartTime   string `json:"start_time,omitempty"`
	UptimeSecs  int64  `json:"uptime_secs"`
	Boot        int    `json:"boot"`
	NFSSessions int    `json:"nfs_sessions"`
}

// statusConns tracks the status page's open connections for netstat.
type statusConns struct {
	mu sync.Mutex
	m  map[net.Conn]struct{}
}

func (s *statusConns) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		if s.m == nil {
			s.m = map[net.Conn]struct{}{}
		}
		s.m[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.m, c)
	}
}

func (s *statusConns) list() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Conn, 0, len(s.m))
	for c := range s.m {
		out = append(out, c)
	}
	return out
}

func (c *CVM) newStatusServer() *http.Server {
	return &http.Server{
		Handler:           http.HandlerFunc(c.serveStatus),
		ConnState:         c.sconns.track,
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: time.Minute,
	}
}

// PathTerminateRPC is the status page's NfsTerminateConnection RPC.
const PathTerminateRPC = "/h/rpc/nfs_terminate_connection"

// TerminateRequest is the body of a POST to PathTerminateRPC.
type TerminateRequest struct {
	ClientIP string `json:"client_ip"`
}

// TerminateResponse is its answer: how many connections were closed.
type TerminateResponse struct {
	Terminated int `json:"terminated"`
}

// rpcError is the body of a failed RPC.
type rpcError struct {
	Error string `json:"error"`
}

const errNotRunning = "Stargate is not running"

// maxRPCBody bounds an RPC's body: a client address needs a few bytes.
const maxRPCBody = 4 << 10

func (c *CVM) serveStatus(w http.ResponseWriter, r *http.Request) {
	rpc := r.URL.Path == PathTerminateRPC
	if r.URL.Path != "/" && r.URL.Path != "/h/status" && !rpc {
		http.NotFound(w, r)
		return
	}
	switch {
	case rpc && r.Method != http.MethodPost:
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, rpcError{Error: "method not allowed"})
		return
	case !rpc && r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !c.awaitStargate(w, r, rpc) {
		return
	}
	if rpc {
		c.serveTerminate(w, r)
		return
	}
	p := c.StatusPage()
	if r.URL.Path == "/h/status" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	init := "yes"
	if !p.Initialised {
		init = "no (CVM booting)"
	}
	fmt.Fprintf(w, `<html><head><title>Stargate on %[1]s</title></head>
<body>
<h2>Stargate</h2>
<pre>
CVM:          %[1]s
IP:           %[2]s
Status:       %[3]s
Initialised:  %[4]s
Start time:   %[5]s
Uptime:       %[6]d s
Boot:         %[7]d
NFS sessions: %[8]d
</pre>
</body></html>
`, html.EscapeString(p.CVM), p.IP, p.State, init, p.StartTime, p.UptimeSecs, p.Boot, p.NFSSessions)
}

// awaitStargate holds a request while Stargate is hung and answers 503
// while it is down (on the modelled port nobody listens then; the real
// loopback port outlives it), as JSON for an RPC. It reports whether
// Stargate is up to serve the request.
func (c *CVM) awaitStargate(w http.ResponseWriter, r *http.Request, rpc bool) bool {
	for {
		c.mu.RLock()
		state, hang := c.stargateStateLocked(), c.st.hang
		c.mu.RUnlock()
		switch state {
		case StargateDown:
			if rpc {
				writeJSON(w, http.StatusServiceUnavailable, rpcError{Error: errNotRunning})
			} else {
				http.Error(w, errNotRunning, http.StatusServiceUnavailable)
			}
			return false
		case StargateUp:
			return true
		}
		select {
		case <-hang: // no longer hung: look again
		case <-r.Context().Done():
			return false
		case <-c.ctx.Done():
			return false
		}
	}
}

// serveTerminate is NfsTerminateConnection: Stargate closes the client's
// NFS connections.
func (c *CVM) serveTerminate(w http.ResponseWriter, r *http.Request) {
	var req TerminateRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRPCBody))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, rpcError{Error: "bad request body: " + err.Error()})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, rpcError{Error: "bad request body: more than one JSON value"})
		return
	}
	ip, err := netip.ParseAddr(req.ClientIP)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, rpcError{Error: "bad client_ip: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, TerminateResponse{Terminated: c.srv.TerminateClient(ip)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// StatusPage returns what the status page shows now.
func (c *CVM) StatusPage() StatusPage {
	c.mu.RLock()
	st := c.st
	state := c.stargateStateLocked()
	c.mu.RUnlock()
	p := StatusPage{CVM: c.cfg.Name, IP: c.IP().String(), State: state.String(), Initialised: st.power == PowerUp, Boot: st.boot}
	if state != StargateDown {
		p.StartTime = st.sgSince.UTC().Format("2006-01-02 15:04:05Z")
		p.UptimeSecs = int64(max(c.clock.Now().Sub(st.sgSince), 0) / time.Second)
		p.NFSSessions = len(c.modelledSessions())
	}
	return p
}

// modelledSessions are the NFS sessions on the CVM's own addresses: the
// real loopback port's are not part of the model.
func (c *CVM) modelledSessions() []sessionInfo {
	mine := c.ownAddrs()
	var out []sessionInfo
	for _, s := range c.srv.Sessions() {
		if mine[s.Local.Addr()] {
			out = append(out, sessionInfo{local: s.Local, remote: s.Remote})
		}
	}
	return out
}

type sessionInfo struct {
	local, remote netip.AddrPort
}

func (c *CVM) ownAddrs() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, i := range c.node.Interfaces() {
		if a := i.Addr(); a.IsValid() {
			m[a.Addr()] = true
		}
	}
	return m
}
