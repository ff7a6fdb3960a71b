package fabric

import (
	"net"
	"net/netip"
	"sync"
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

	// Originator side only.
	path       path
	dialRouter Router
	dialIface  *Interface
	onClose    func()
	closeOnce  sync.Once
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
	if d := p.transit(); d > 0 {
		if dw, ok := c.carrier.(delayedWriter); ok {
			return dw.writeDelayed(b, d)
		}
		// A carrier that cannot hold bytes back: the writer waits
		// instead, which delays delivery the same.
		c.node.net.clock.Sleep(d)
	}
	return c.carrier.Write(b)
}

// delayedWriter is a Carrier that can deliver a write later than it is
// made, in order with the writes before it.
type delayedWriter interface {
	writeDelayed(b []byte, d time.Duration) (int, error)
}

// Close sends FIN: the peer reads what was sent, then EOF.
func (c *Conn) Close() error {
	c.release()
	return c.carrier.Close()
}

// Reset aborts the flow with RST: both ends fail with ErrConnReset. Unlike
// Close it discards bytes still in flight.
func (c *Conn) Reset() {
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
