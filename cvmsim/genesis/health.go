package genesis

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/fabric"
)

// withTimeout bounds ctx by d on clk. clockwork's own WithTimeout is not
// used: on its fake clock, Err blocks until the context is done, which
// breaks every caller that polls ctx.Err() (fabric's Dial does).
func withTimeout(ctx context.Context, clk clock.Clock, d time.Duration, what string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := clk.AfterFunc(d, func() { cancel(fmt.Errorf("%s: %w after %v", what, errTimedOut, d)) })
	return ctx, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// errTimedOut is the cause of a context that ran out of its time.
var errTimedOut = errors.New("timed out")

// Probe reports whether the Stargate at addr serves, as seen from the node
// from over the modelled network: nil if it does. It must return when ctx
// ends. NFSNullProbe is the one today's lab can answer;
// StargateStatusProbe reads the status page on port 2009 that the CVM
// emulator serves.
type Probe func(ctx context.Context, from *fabric.Node, addr netip.Addr) error

// Terminator is what NfsTerminateConnection needs of a Stargate:
// nfs.Server's TerminateClient.
type Terminator interface {
	TerminateClient(client netip.Addr) int
}

// FabricCVMConfig describes a CVM of a lab as Genesis sees it.
type FabricCVMConfig struct {
	Name string
	// Host is the name of the ESXi host the CVM serves locally.
	Host string
	// Node is the CVM's node on the fabric: probes leave from it.
	Node *fabric.Node
	// PublicIP is eth0's address (default: the address of Node's
	// interface eth0).
	PublicIP netip.Addr
	// Stargate terminates NFS connections (the CVM's nfs.Server).
	Stargate Terminator
	// Probe checks a Stargate (default NFSNullProbe).
	Probe Probe
}

// FabricCVM is a CVM of a lab: its health is probed over the modelled
// network, its NfsTerminateConnection is its Stargate's TerminateClient.
type FabricCVM struct {
	cfg FabricCVMConfig
}

// NewFabricCVM returns a CVM for Genesis over a lab node.
func NewFabricCVM(cfg FabricCVMConfig) (*FabricCVM, error) {
	if cfg.Node == nil {
		return nil, fmt.Errorf("genesis: cvm %s: no node", cfg.Name)
	}
	if !cfg.PublicIP.IsValid() {
		if i := cfg.Node.Interface("eth0"); i != nil {
			cfg.PublicIP = i.Addr().Addr()
		}
		if !cfg.PublicIP.IsValid() {
			return nil, fmt.Errorf("genesis: cvm %s: no public address (no eth0)", cfg.Name)
		}
	}
	if cfg.Probe == nil {
		cfg.Probe = NFSNullProbe
	}
	return &FabricCVM{cfg: cfg}, nil
}

func (c *FabricCVM) Name() string         { return c.cfg.Name }
func (c *FabricCVM) PublicIP() netip.Addr { return c.cfg.PublicIP }
func (c *FabricCVM) Host() string         { return c.cfg.Host }

// Node returns the CVM's fabric node.
func (c *FabricCVM) Node() *fabric.Node { return c.cfg.Node }

// Healthy probes the CVM's own Stargate from its own node: the CVM's view
// of itself, which Genesis uses to elect a leader. A powered-off node
// cannot even try (fabric.ErrPoweredOff).
func (c *FabricCVM) Healthy(ctx context.Context) (bool, error) {
	if err := c.cfg.Probe(ctx, c.cfg.Node, c.cfg.PublicIP); err != nil {
		if errors.Is(err, fabric.ErrPoweredOff) {
			// Said in the cluster's words: nobody can tell a powered-off
			// CVM from one that does not answer.
			return false, fmt.Errorf("CVM is not reachable: %w", err)
		}
		return false, err
	}
	return true, nil
}

// CheckPeer probes peer's Stargate from this CVM's node, over the
// modelled network: how the leader sees every other CVM.
func (c *FabricCVM) CheckPeer(ctx context.Context, peer CVM) (bool, error) {
	if err := c.cfg.Probe(ctx, c.cfg.Node, peer.PublicIP()); err != nil {
		return false, err
	}
	return true, nil
}

// errCVMDown answers an NfsTerminateConnection sent to a CVM that is off.
var errCVMDown = errors.New("CVM is powered off")

// TerminateNFS is NfsTerminateConnection: the Stargate closes every
// connection from client cleanly (FIN), and the host reconnects.
func (c *FabricCVM) TerminateNFS(ctx context.Context, client netip.Addr) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !c.cfg.Node.Powered() {
		return 0, errCVMDown
	}
	if c.cfg.Stargate == nil {
		return 0, fmt.Errorf("genesis: cvm %s has no Stargate", c.cfg.Name)
	}
	return c.cfg.Stargate.TerminateClient(client), nil
}

// DialFrom opens a modelled TCP flow from node to dst. A node with a
// routing table uses it; a bare node (today's harness CVMs have none)
// leaves by the interface whose subnet holds dst, as a connected route
// would.
func DialFrom(ctx context.Context, from *fabric.Node, dst netip.AddrPort) (net.Conn, error) {
	var o fabric.DialOptions
	if from.DefaultRouter() == nil {
		for _, i := range from.Interfaces() {
			if i.Up() && i.Addr().Contains(dst.Addr()) {
				o.Iface = i
				break
			}
		}
		if o.Iface == nil {
			return nil, fabric.ErrNetUnreachable
		}
	}
	return from.Dial(ctx, dst, o)
}

// NFS program and port for the NULL probe.
const (
	nfsPort    = 2049
	nfsProgram = 100003
	nfsVersion = 3
)

// NFSNullProbe sends an NFSv3 NULL call to addr:2049 and waits for the
// reply: a powered-off CVM never answers (ctx ends the wait), a CVM whose
// Stargate is down refuses or resets the connection, a hung one accepts and
// never answers. It is what ESXi's own NFS heartbeat asks.
func NFSNullProbe(ctx context.Context, from *fabric.Node, addr netip.Addr) error {
	c, err := DialFrom(ctx, from, netip.AddrPortFrom(addr, nfsPort))
	if err != nil {
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		return err
	}
	// Modelled flows take wall-clock deadlines; ctx may run on another
	// clock, so the wait ends by closing the flow instead.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	xid := rand.Uint32() // one call per flow: any xid will do, a random one is never stale
	var call [44]byte
	binary.BigEndian.PutUint32(call[0:], 1<<31|40) // last fragment, 40 bytes
	binary.BigEndian.PutUint32(call[4:], xid)
	binary.BigEndian.PutUint32(call[8:], 0)  // CALL
	binary.BigEndian.PutUint32(call[12:], 2) // RPC version
	binary.BigEndian.PutUint32(call[16:], nfsProgram)
	binary.BigEndian.PutUint32(call[20:], nfsVersion)
	binary.BigEndian.PutUint32(call[24:], 0) // NULL
	// credentials and verifier: AUTH_NONE, empty (bytes 28..43 stay 0)
	if _, err := c.Write(call[:]); err != nil {
		return probeErr(ctx, err)
	}
	if err := readNullReply(bufio.NewReader(c), xid); err != nil {
		return probeErr(ctx, err)
	}
	return nil
}

func probeErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("connection closed by Stargate")
	}
	return err
}

// readNullReply reads one RPC reply record and checks it accepts the
// call: xid, REPLY, MSG_ACCEPTED, SUCCESS.
func readNullReply(r io.Reader, xid uint32) error {
	var mark [4]byte
	if _, err := io.ReadFull(r, mark[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(mark[:]) &^ (1 << 31)
	if n < 24 || n > 1024 {
		return fmt.Errorf("bad RPC reply record of %d bytes", n)
	}
	rec := make([]byte, n)
	if _, err := io.ReadFull(r, rec); err != nil {
		return err
	}
	u := func(off int) uint32 { return binary.BigEndian.Uint32(rec[off:]) }
	if u(0) != xid || u(4) != 1 {
		return fmt.Errorf("unexpected RPC message (xid %d, type %d)", u(0), u(4))
	}
	if u(8) != 0 {
		return fmt.Errorf("RPC call denied")
	}
	verfLen := int(u(16))
	off := 20 + (verfLen+3)&^3
	if off+4 > len(rec) {
		return fmt.Errorf("short RPC reply")
	}
	if st := u(off); st != 0 {
		return fmt.Errorf("RPC accept status %d", st)
	}
	return nil
}

// ErrNotInitialised is a probe's answer for a Stargate that serves while
// its CVM has not finished booting: seed 001's "all Stargates are alive,
// but the powered on CVM is not fully initialised yet". Genesis counts it
// as not healthy and says so in those words.
var ErrNotInitialised = errors.New("Stargate is alive but the CVM is not fully initialised yet")

// HTTPProbe returns a probe that GETs http://addr:port/path over the
// modelled network and wants 200 OK; check (may be nil) then judges the
// body.
func HTTPProbe(port uint16, path string, check func(body []byte) error) Probe {
	return func(ctx context.Context, from *fabric.Node, addr netip.Addr) error {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return DialFrom(ctx, from, netip.AddrPortFrom(addr, port))
			},
			DisableKeepAlives: true,
		}
		defer tr.CloseIdleConnections()
		url := "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(int(port))) + path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return probeErr(ctx, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return probeErr(ctx, err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status page: %s", resp.Status)
		}
		if check != nil {
			return check(body)
		}
		return nil
	}
}

// StargateStatusProbe reads Stargate's status page (port 2009, reference
// §9.3) as the CVM emulator serves it: GET /h/status answers 200 with
// {"initialised": bool, ...} while Stargate runs; a down Stargate refuses
// or answers 503, a hung one never answers. A Stargate that serves on a CVM
// still booting is ErrNotInitialised.
func StargateStatusProbe() Probe {
	return HTTPProbe(2009, "/h/status", func(body []byte) error {
		var st struct {
			Initialised *bool `json:"initialised"`
		}
		if err := json.Unmarshal(body, &st); err != nil || st.Initialised == nil {
			return fmt.Errorf("status page: unreadable /h/status")
		}
		if !*st.Initialised {
			return ErrNotInitialised
		}
		return nil
	})
}
