package fabric

import (
	"io"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// Transport carries the bytes of modelled flows between nodes of this
// process. A flow to a remote node (Node.SetRemote) does not use it: it is
// carried over real TCP by a bridge (remote.go, bridge.go), whose Conn end
// is an in-memory link too, on the MemTransport's clock.
type Transport interface {
	// Carry returns the client and server ends of a new flow. It is called
	// with the network's flow lock held, so it must not block.
	Carry(f FlowInfo) (client, server Carrier)
}

// Carrier is one end of a flow's byte stream, with the TCP events the model
// needs beyond a plain stream.
type Carrier interface {
	io.ReadWriteCloser
	// Reset aborts the flow (RST): reads and writes on both ends fail.
	Reset()
	// Pause stops delivery in both directions while true (a blackhole):
	// written bytes wait, readers block, nobody is told.
	Pause(bool)
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// MemTransport carries flows through buffered in-process pipes. Buffered,
// because an unbuffered pipe (net.Pipe) deadlocks an SSH handshake.
type MemTransport struct {
	// Clock interprets deadlines. Nil means wall time, as net.Conn
	// documents and as libraries that set deadlines from time.Now()
	// (go-nfs-client, x/crypto/ssh) expect. Set it to the network's clock
	// when every deadline is computed from that clock, e.g. a fake clock
	// in tests.
	Clock clock.Clock
}

// memBufLimit bounds the bytes in flight one way, like a socket buffer:
// a writer blocks while its peer has this much unread.
const memBufLimit = 4 << 20

// Carry implements Transport.
func (t MemTransport) Carry(FlowInfo) (Carrier, Carrier) {
	l := newLink(t.Clock)
	return &memEnd{l: l, side: 0}, &memEnd{l: l, side: 1}
}
