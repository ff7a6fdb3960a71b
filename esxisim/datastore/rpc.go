package datastore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// ONC RPC (RFC 5531) over one TCP connection, with record marking. This is
// ours rather than go-nfs-client's rpc.Client, which dials real TCP itself
// and re-sends on a package-global 5 s wall-clock timeout (see doc.go); the
// wire types (rpc.Header, rpc.Auth, AUTH_UNIX) and the XDR codec are the
// library's.

// maxRecord bounds a reply record: a READ of MaxTransferSize plus headers,
// with room to spare. A larger length means a corrupt stream.
const maxRecord = 64 << 20

// transportError is the loss of the connection a call was on (RST, FIN, a
// dead connection). The call may not have reached the server, or its reply
// was lost: the caller retries it on a new connection.
type transportError struct{ err error }

func (e *transportError) Error() string { return "rpc: connection lost: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// RPCError is a reply that is not SUCCESS: the server does not run the
// program, version or procedure, or refused the credentials.
type RPCError struct {
	// Accept is the accept_stat of an accepted reply (PROG_UNAVAIL = 1 ...),
	// or -1 for a denied one.
	Accept int
	// Reject is the reject_stat of a denied reply.
	Reject int
}

func (e *RPCError) Error() string {
	if e.Accept < 0 {
		return fmt.Sprintf("rpc: call denied (reject_stat %d)", e.Reject)
	}
	names := []string{"SUCCESS", "PROG_UNAVAIL", "PROG_MISMATCH", "PROC_UNAVAIL", "GARBAGE_ARGS", "SYSTEM_ERR"}
	if e.Accept < len(names) {
		return "rpc: " + names[e.Accept]
	}
	return fmt.Sprintf("rpc: accept_stat %d", e.Accept)
}

// callHeader is the call_body of RFC 5531 with its xid and direction.
type callHeader struct {
	Xid     uint32
	MsgType uint32 // 0: CALL
	rpc.Header
}

// rpcConn is one connection's calls in flight. Calls may be concurrent:
// replies are matched by xid. The first error on the connection fails every
// call on it with a transportError.
type rpcConn struct {
	c    net.Conn
	cred rpc.Auth
	// kick is the datastore's kick when this connection was dialled
	// (connectLoop): ended if a Manager.Reset came after.
	kick context.Context
	// send carries framed records to the writer goroutine, so that a caller
	// blocked behind a stalled flow can still give up on its ctx.
	send chan []byte

	mu      sync.Mutex
	xid     uint32
	pending map[uint32]chan []byte
	err     error
	dead    chan struct{}
	// replied is set by the first reply: the server took the connection.
	replied atomic.Bool
}

func newRPCConn(c net.Conn, cred rpc.Auth, xid uint32) *rpcConn {
	r := &rpcConn{
		c: c, cred: cred, xid: xid,
		send:    make(chan []byte),
		pending: map[uint32]chan []byte{},
		dead:    make(chan struct{}),
	}
	go r.readLoop()
	go r.writeLoop()
	return r
}

// fail marks the connection dead with err and closes it; pending calls
// fail with a transportError. It is idempotent.
func (r *rpcConn) fail(err error) {
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return
	}
	r.err = err
	r.pending = nil
	close(r.dead)
	r.mu.Unlock()
	r.c.Close()
}

// abort resets the connection (RST), as a client giving up on a server
// that stopped answering; the peer's end fails too.
func (r *rpcConn) abort(err error) {
	if rs, ok := r.c.(interface{ Reset() }); ok {
		rs.Reset()
	}
	r.fail(err)
}

// alive reports whether the connection still carries calls.
func (r *rpcConn) alive() bool {
	select {
	case <-r.dead:
		return false
	default:
		return true
	}
}

// hadReply reports whether the server ever answered on this connection.
func (r *rpcConn) hadReply() bool { return r.replied.Load() }

func (r *rpcConn) deadErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &transportError{r.err}
}

func (r *rpcConn) readLoop() {
	br := bufio.NewReaderSize(r.c, 64<<10)
	for {
		rec, err := readRecord(br)
		if err != nil {
			r.fail(err)
			return
		}
		if len(rec) < 4 {
			r.fail(errors.New("rpc: short reply"))
			return
		}
		xid := binary.BigEndian.Uint32(rec)
		r.mu.Lock()
		ch, ok := r.pending[xid]
		delete(r.pending, xid)
		r.mu.Unlock()
		r.replied.Store(true)
		if ok {
			ch <- rec[4:] // buffered: never blocks
		}
		// A reply nobody waits for (its caller gave up) is dropped.
	}
}

func (r *rpcConn) writeLoop() {
	for {
		select {
		case rec := <-r.send:
			if _, err := r.c.Write(rec); err != nil {
				r.fail(err)
				return
			}
		case <-r.dead:
			return
		}
	}
}

// readRecord reads one record-marked message, joining its fragments.
func readRecord(br *bufio.Reader) ([]byte, error) {
	var rec []byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		last, size := n&0x80000000 != 0, int(n&0x7fffffff)
		if len(rec)+size > maxRecord {
			return nil, fmt.Errorf("rpc: record of %d bytes", len(rec)+size)
		}
		start := len(rec)
		rec = append(rec, make([]byte, size)...)
		if _, err := io.ReadFull(br, rec[start:]); err != nil {
			return nil, err
		}
		if last {
			return rec, nil
		}
	}
}

// call sends one call and waits for its reply. args is XDR-encoded after
// the header (nil for none). It returns the procedure's results, positioned
// after the accept_stat. A ctx that ends first abandons the call (its reply,
// if any, is dropped); the connection stays up.
func (r *rpcConn) call(ctx context.Context, prog, vers, proc uint32, args any) (*bytes.Reader, error) {
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return nil, r.deadErr()
	}
	r.xid++
	xid := r.xid
	ch := make(chan []byte, 1)
	r.pending[xid] = ch
	r.mu.Unlock()

	var buf bytes.Buffer
	buf.Write([]byte{0, 0, 0, 0}) // record mark, filled below
	hdr := callHeader{Xid: xid, Header: rpc.Header{Rpcvers: 2, Prog: prog, Vers: vers, Proc: proc, Cred: r.cred, Verf: rpc.AuthNull}}
	if err := xdr.Write(&buf, &hdr); err != nil {
		r.forget(xid)
		return nil, err
	}
	if args != nil {
		if err := xdr.Write(&buf, args); err != nil {
			r.forget(xid)
			return nil, err
		}
	}
	rec := buf.Bytes()
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-4)|0x80000000)

	select {
	case r.send <- rec:
	case <-r.dead:
		return nil, r.deadErr()
	case <-ctx.Done():
		r.forget(xid)
		return nil, context.Cause(ctx)
	}
	select {
	case body := <-ch:
		return parseReply(body)
	case <-r.dead:
		return nil, r.deadErr()
	case <-ctx.Done():
		r.forget(xid)
		return nil, context.Cause(ctx)
	}
}

func (r *rpcConn) forget(xid uint32) {
	r.mu.Lock()
	delete(r.pending, xid)
	r.mu.Unlock()
}

// parseReply reads a reply_body (after the xid) and returns the results.
func parseReply(body []byte) (*bytes.Reader, error) {
	rd := bytes.NewReader(body)
	var h struct {
		MsgType   uint32
		ReplyStat uint32
	}
	if err := xdr.Read(rd, &h); err != nil {
		return nil, err
	}
	if h.MsgType != 1 {
		return nil, fmt.Errorf("rpc: message type %d is not a reply", h.MsgType)
	}
	if h.ReplyStat != 0 {
		rej, _ := xdr.ReadUint32(rd)
		return nil, &RPCError{Accept: -1, Reject: int(rej)}
	}
	var verf rpc.Auth
	if err := xdr.Read(rd, &verf); err != nil {
		return nil, err
	}
	st, err := xdr.ReadUint32(rd)
	if err != nil {
		return nil, err
	}
	if st != 0 {
		return nil, &RPCError{Accept: int(st)}
	}
	return rd, nil
}
