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

	// Originator side only.
	path       path
	dialRouter Router
	dialIface  *Interface
	onClose    func()
	closeOnce  sync.Once
}

func (c *Conn) Read(b []byte) (int, error)  { return c.carrier.Read(b) }
func (c *Conn) Write(b []byte) (int, error) { return c.carrier.Write(b) }

// Close sends FIN: the peer reads EOF.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		if c.onClose != nil {
			c.onClose()
		}
	})
	return c.carrier.Close()
}

// Reset aborts the flow with RST: both ends fail with ErrConnReset.
func (c *Conn) Reset() {
	c.carrier.Reset()
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

// Listener accepts modelled flows on one port of a node.
type Listener struct {
	node *Node
	port uint16
	ch   chan *Conn

	once sync.Once
	done chan struct{}
}

// offer queues an incoming flow; false if the listener is gone or full
// (the SYN is answered with RST).
func (l *Listener) offer(c *Conn) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	default:
		return false
	}
}

// Accept waits for the next flow.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, ErrClosed
	}
}

// Close stops accepting.
func (l *Listener) Close() error {
	l.node.unlisten(l)
	l.shut()
	return nil
}

func (l *Listener) shut() { l.once.Do(func() { close(l.done) }) }

// Addr returns the listening port on the node's unspecified address.
func (l *Listener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.IPv4Unspecified(), l.port))
}
