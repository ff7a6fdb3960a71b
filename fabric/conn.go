package fabric

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// FlowInfo describes a flow as its originator sees it.
type FlowInfo struct {
	Local, Remote netip.AddrPort
	Egress        string // egress interface name
	NextHop       string // next-hop address
	Target        string // node that accepted the flow
}

// Conn is one end of a modelled TCP flow. Its addresses are the modelled
// ones: the server sees the client's egress interface address as
// RemoteAddr, which is what NFS whitelists are checked against.
type Conn struct {
	node          *Node
	local, remote netip.AddrPort
	carrier       Carrier
	inbound       bool
	peer          *Node // for inbound conns: the originator
	origin        *Conn // for inbound conns: the dialer's end, to forget it on reset
	// wire is the flow as captures see it (wire.go), shared by both
	// ends; the dialer's end holds it in flow.
	wire *tcpWire
	flow tcpWire

	// Originator side only.
	path       path
	dialRouter Router
	dialIface  *Interface
	onClose    func()
	closeOnce  sync.Once
	// pending is a flow to a remote target whose handshake is under way
	// (remote.go): it holds its port, but re-evaluations and listings
	// leave it out until the dial settles it.
	pending atomic.Bool
}

func (c *Conn) Read(b []byte) (int, error) { return c.carrier.Read(b) }

// Write sends b. With injected latency or loss on the flow's path the
// bytes arrive late (fault.go); Write itself returns at once, as a socket
// write into its buffer does.
func (c *Conn) Write(b []byte) (int, error) {
	p := &c.path
	if c.inbound && c.origin != nil {
		p = &c.origin.path
	}
	// The segments are seen before the bytes can reach the peer, so that
	// its answer never shows up in a capture ahead of them.
	c.wire.write(c.end(), b)
	var n int
	var err error
	if d := p.transit(); d > 0 {
		if dw, ok := c.carrier.(delayedWriter); ok {
			n, err = dw.writeDelayed(b, d)
		} else {
			// A carrier that cannot hold bytes back: the writer waits
			// instead, which delays delivery the same.
			c.node.net.clock.Sleep(d)
			n, err = c.carrier.Write(b)
		}
	} else {
		n, err = c.carrier.Write(b)
	}
	if err == ErrConnReset {
		// The peer had closed: it answered RST.
		c.wire.abort(1 - c.end())
	}
	return n, err
}

// end is the flow's end this Conn is: 0 dialled, 1 accepted.
func (c *Conn) end() int {
	if c.inbound {
		return 1
	}
	return 0
}

// pause stalls the flow (a blackhole) or resumes it.
func (c *Conn) pause(on bool) {
	if c.wire != nil {
		c.wire.stalled.Store(on)
	}
	c.carrier.Pause(on)
}

// delayedWriter is a Carrier that can deliver a write later than it is
// made, in order with the writes before it.
type delayedWriter interface {
	writeDelayed(b []byte, d time.Duration) (int, error)
}

// Close sends FIN: the peer reads what was sent, then EOF.
func (c *Conn) Close() error {
	c.wire.closeByApp(c.end())
	c.release()
	return c.carrier.Close()
}

// Reset aborts the flow with RST: both ends fail with ErrConnReset. Unlike
// Close it discards bytes still in flight.
func (c *Conn) Reset() {
	c.wire.abort(c.end())
	c.carrier.Reset()
	c.release()
}

// release drops an originated flow from its node's table: it no longer
// holds its local port, nor is it re-evaluated.
func (c *Conn) release() {
	c.closeOnce.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
}

// LocalAddr returns the modelled local address.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.local) }

// RemoteAddr returns the modelled remote address.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

func (c *Conn) SetDeadline(t time.Time) error      { return c.carrier.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.carrier.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.carrier.SetWriteDeadline(t) }

// Info describes the flow.
func (c *Conn) Info() FlowInfo {
	fi := FlowInfo{Local: c.local, Remote: c.remote}
	if c.path.egress != nil {
		fi.Egress = c.path.egress.name
		fi.NextHop = c.path.nextHop.String()
	}
	if c.path.target != nil {
		fi.Target = c.path.target.name
	}
	return fi
}
