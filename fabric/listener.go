package fabric

import (
	"context"
	"net"
	"net/netip"
	"sync"
)

// acceptBacklog is the accept queue length, Linux's default somaxconn of
// old; a SYN beyond it is dropped and retransmitted, not refused.
const acceptBacklog = 64

// Listener accepts modelled flows on one port of a node.
type Listener struct {
	node *Node
	port uint16
	ch   chan *Conn

	once sync.Once
	done chan struct{}
	// reset is whether flows left in the queue at shut are reset (Close)
	// or dropped into the blackhole (power-off). Written before done is
	// closed, read after.
	reset bool
}

func newListener(n *Node, port uint16) *Listener {
	return &Listener{node: n, port: port, ch: make(chan *Conn, acceptBacklog), done: make(chan struct{})}
}

// offer queues an incoming flow. It waits while the queue is full, like a
// SYN retransmitted until the server accepts or the client gives up (ctx);
// a closed listener refuses (RST).
func (l *Listener) offer(ctx context.Context, c *Conn) error {
	select {
	case <-l.done:
		return ErrConnRefused
	default:
	}
	select {
	case l.ch <- c:
	case <-l.done:
		return ErrConnRefused
	case <-ctx.Done():
		return ctx.Err()
	}
	// shut may have drained the queue before c landed in it: drain again so
	// that no flow waits forever in a queue nobody reads.
	select {
	case <-l.done:
		l.drain()
	default:
	}
	return nil
}

// Accept waits for the next flow.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, ErrClosed
	default:
	}
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, ErrClosed
	}
}

// Close stops accepting. Flows queued but not accepted are reset, as the
// kernel resets the connections of a closed listening socket.
func (l *Listener) Close() error {
	l.node.unlisten(l)
	l.shut(true)
	return nil
}

func (l *Listener) shut(reset bool) {
	l.once.Do(func() {
		l.reset = reset
		close(l.done)
	})
	l.drain()
}

func (l *Listener) drain() {
	for {
		select {
		case c := <-l.ch:
			if l.reset {
				c.wire.abort(c.end())
				c.carrier.Reset()
				if c.origin != nil {
					c.origin.release()
				}
			}
		default:
			return
		}
	}
}

// Addr returns the listening port on the node's unspecified address.
func (l *Listener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.IPv4Unspecified(), l.port))
}
