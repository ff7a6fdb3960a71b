package genesis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// HTTP paths of a Stargate status page (port 2009 on a real CVM; see
// cvmsim's status_page.go and docs/conformance.md). The RPC's JSON is
// mirrored here rather than imported from cvmsim: the CVM emulator is
// meant to run Genesis itself one day (it would import this package), and
// the standalone genesis binary should not carry an SSH server, a shell
// and an NFS server it never uses.
const (
	statusPath       = "/h/status"
	terminateRPCPath = "/h/rpc/nfs_terminate_connection"
)

// terminateRequest and terminateResponse are cvmsim.TerminateRequest and
// cvmsim.TerminateResponse on the wire.
type terminateRequest struct {
	ClientIP string `json:"client_ip"`
}

type terminateResponse struct {
	Terminated *int `json:"terminated"`
}

// maxStatusBody bounds what is read of a status page or an RPC answer.
const maxStatusBody = 64 << 10

// DefaultHTTPTimeout bounds one request of an HTTPCVM when its
// configuration says nothing: Genesis' probe timeout.
const DefaultHTTPTimeout = 5 * time.Second

// HTTPCVMConfig describes a CVM that Genesis reaches over real HTTP: a CVM
// in another container, or a lab's real status-page listener.
type HTTPCVMConfig struct {
	Name string
	// Host is the name of the ESXi host the CVM serves locally.
	Host string
	// PublicIP is eth0's modelled address: the gateway of a forwarding
	// route through the CVM. It need not be the address StatusURL
	// reaches.
	PublicIP netip.Addr
	// StatusURL is the Stargate status page, "http://cvm-a:2009/h/status"
	// or "http://127.0.0.1:2501/h/status". A URL without a path is the
	// page's base, and one without a scheme is http. The RPCs live under
	// the same base ("<base>/h/rpc/nfs_terminate_connection").
	StatusURL string
	// Timeout bounds each request, on Clock (default DefaultHTTPTimeout):
	// a status page that says nothing for that long is a hung Stargate.
	// Genesis bounds its checks by its own ProbeTimeout as well; this
	// bound matters for NfsTerminateConnection, which Genesis otherwise
	// bounds only by the host's whole share of the round.
	Timeout time.Duration
	// Clock measures Timeout (default real time).
	Clock clock.Clock
	// Client sends the requests (default: a client of the CVM's own that
	// dials directly, never through an HTTP proxy from the environment,
	// and opens a fresh connection per request).
	Client *http.Client
}

// HTTPCVM is a CVM as Genesis sees it over real networking: health from
// its Stargate status page, NfsTerminateConnection as the status page's
// RPC. It implements CVM; it is not a PeerChecker, since every check
// leaves from wherever Genesis runs.
type HTTPCVM struct {
	cfg       HTTPCVMConfig
	status    string
	terminate string
	client    *http.Client
}

// NewHTTPCVM checks cfg and returns the CVM; it connects to nothing.
func NewHTTPCVM(cfg HTTPCVMConfig) (*HTTPCVM, error) {
	if cfg.Name == "" {
		return nil, errors.New("genesis: http cvm: no name")
	}
	if !cfg.PublicIP.IsValid() {
		return nil, fmt.Errorf("genesis: cvm %s: no public (eth0) address", cfg.Name)
	}
	status, base, err := statusURLs(cfg.StatusURL)
	if err != nil {
		return nil, fmt.Errorf("genesis: cvm %s: %w", cfg.Name, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			// An HTTP_PROXY in a container's or a CI runner's environment
			// must not stand between Genesis and the Stargates: a proxy
			// would turn "refused" into 502 and "hung" into its own
			// timeout.
			Proxy:       nil,
			DialContext: (&net.Dialer{}).DialContext,
			// Every check is a new connection, as the built-in probe's:
			// a refused connect means Stargate down, and an idle
			// connection to a CVM that has gone cannot pass for a hung
			// Stargate.
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: maxStatusBody,
		}}
	}
	return &HTTPCVM{cfg: cfg, status: status, terminate: base + terminateRPCPath, client: client}, nil
}

// statusURLs normalises a status page URL and returns it with its base.
func statusURLs(raw string) (status, base string, err error) {
	if raw == "" {
		return "", "", errors.New("no status URL")
	}
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("status URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", fmt.Errorf("status URL %q: want http or https", raw)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("status URL %q: no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", "", fmt.Errorf("status URL %q: want scheme://host:port%s, nothing more", raw, statusPath)
	}
	switch p := strings.TrimSuffix(u.Path, "/"); {
	case p == "":
		u.Path = ""
	case strings.HasSuffix(p, statusPath):
		// A prefix before /h/status (a reverse proxy's) stays part of
		// the base.
		u.Path = strings.TrimSuffix(p, statusPath)
	default:
		return "", "", fmt.Errorf("status URL %q: the path should end in %s", raw, statusPath)
	}
	u.RawPath = ""
	base = u.String()
	return base + statusPath, base, nil
}

func (c *HTTPCVM) Name() string         { return c.cfg.Name }
func (c *HTTPCVM) PublicIP() netip.Addr { return c.cfg.PublicIP }
func (c *HTTPCVM) Host() string         { return c.cfg.Host }

// StatusURL is the status page Healthy reads.
func (c *HTTPCVM) StatusURL() string { return c.status }

// TerminateURL is where TerminateNFS posts.
func (c *HTTPCVM) TerminateURL() string { return c.terminate }

// Healthy reads the status page: 200 with "initialised": true is healthy;
// "initialised": false is ErrNotInitialised (Stargate alive, the CVM still
// booting); another status (503: Stargate down or the CVM off), a refused
// connection or no answer before ctx or Timeout ends (Stargate hung) is
// not.
func (c *HTTPCVM) Healthy(ctx context.Context) (bool, error) {
	ctx, cancel := withTimeout(ctx, c.cfg.Clock, c.cfg.Timeout, "status page")
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.status, nil)
	if err != nil {
		return false, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return false, httpErr(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	if err != nil {
		return false, httpErr(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status page: %s", resp.Status)
	}
	if err := checkStatusPage(body); err != nil {
		return false, err
	}
	return true, nil
}

// checkStatusPage judges a 200 /h/status body as StargateStatusProbe
// does: {"initialised": true} serves, false is ErrNotInitialised, anything
// else is unreadable.
func checkStatusPage(body []byte) error {
	var st struct {
		Initialised *bool `json:"initialised"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Initialised == nil {
		return fmt.Errorf("status page: unreadable %s", statusPath)
	}
	if !*st.Initialised {
		return ErrNotInitialised
	}
	return nil
}

// TerminateNFS is NfsTerminateConnection over the status page's RPC:
// POST {"client_ip": client}, answered 200 {"terminated": N}.
func (c *HTTPCVM) TerminateNFS(ctx context.Context, client netip.Addr) (int, error) {
	if !client.IsValid() {
		return 0, errors.New("NfsTerminateConnection: no client address")
	}
	ctx, cancel := withTimeout(ctx, c.cfg.Clock, c.cfg.Timeout, "NfsTerminateConnection")
	defer cancel()
	body, err := json.Marshal(terminateRequest{ClientIP: client.Unmap().String()})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.terminate, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, httpErr(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	if err != nil {
		return 0, httpErr(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return 0, fmt.Errorf("NfsTerminateConnection: %s: %s", resp.Status, e.Error)
		}
		return 0, fmt.Errorf("NfsTerminateConnection: %s", resp.Status)
	}
	var tr terminateResponse
	if err := json.Unmarshal(data, &tr); err != nil || tr.Terminated == nil || *tr.Terminated < 0 {
		return 0, fmt.Errorf("NfsTerminateConnection: unreadable answer %q", truncate(data, 80))
	}
	return *tr.Terminated, nil
}

// httpErr says what went wrong with a request in the cluster's words: a
// timeout by its cause ("status page: timed out after 5s"), otherwise the
// transport's error without net/http's `Get "url": ` wrapping, which
// genesis.out already names.
func httpErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return probeErr(ctx, err)
}

func truncate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
