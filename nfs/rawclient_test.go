package nfs

import (
	"bufio"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawClient speaks ONC RPC over one connection, one call at a time, with
// AUTH_UNIX credentials: just enough to test the server byte for byte.
type rawClient struct {
	t   testing.TB
	c   net.Conn
	br  *bufio.Reader
	xid uint32
}

func newRawClient(t testing.TB, c net.Conn) *rawClient {
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, br: bufio.NewReader(c), xid: 0x1000}
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	return newRawClient(t, c)
}

// reply is a decoded RPC reply.
type reply struct {
	xid      uint32
	denied   bool
	stat     uint32 // accept_stat, or reject_stat when denied
	body     []byte // after accept_stat (or reject_stat)
	mismatch [2]uint32
}

func (r *rawClient) send(prog, vers, proc uint32, args []byte) uint32 {
	r.xid++
	e := xdrEnc{b: make([]byte, 4)}
	e.u32(r.xid)
	e.u32(msgCall)
	e.u32(2)
	e.u32(prog)
	e.u32(vers)
	e.u32(proc)
	cred := xdrEnc{}
	cred.u32(0)        // stamp
	cred.string("esx") // machine name
	cred.u32(0)        // uid
	cred.u32(0)        // gid
	cred.u32(0)        // gids
	e.u32(authUnix)
	e.opaque(cred.b)
	e.u32(0)
	e.u32(0)
	e.b = append(e.b, args...)
	_, err := r.c.Write(mark(e.b))
	require.NoError(r.t, err)
	return r.xid
}

func (r *rawClient) recv() (reply, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rec, err := readRecord(r.br, 8<<20)
	if err != nil {
		return reply{}, err
	}
	d := xdrDec{b: rec[recordHeadroom:]}
	var rp reply
	rp.xid = d.u32()
	require.Equal(r.t, uint32(msgReply), d.u32())
	if d.u32() == msgDenied {
		rp.denied = true
		rp.stat = d.u32()
		rp.body = d.b[d.off:]
		return rp, d.err
	}
	d.u32()
	d.opaque(400)
	rp.stat = d.u32()
	if rp.stat == acceptProgMismatch {
		rp.mismatch = [2]uint32{d.u32(), d.u32()}
	}
	rp.body = d.b[d.off:]
	require.NoError(r.t, d.err)
	return rp, nil
}

func (r *rawClient) call(prog, vers, proc uint32, args []byte) reply {
	r.t.Helper()
	xid := r.send(prog, vers, proc, args)
	rp, err := r.recv()
	require.NoError(r.t, err)
	require.Equal(r.t, xid, rp.xid)
	return rp
}

// mnt mounts dir and returns the mount status and root handle.
func (r *rawClient) mnt(dir string) (uint32, []byte) {
	r.t.Helper()
	e := xdrEnc{}
	e.string(dir)
	rp := r.call(progMount, 3, mountMnt, e.b)
	require.Equal(r.t, uint32(acceptSuccess), rp.stat)
	d := xdrDec{b: rp.body}
	st := d.u32()
	if st != mnt3OK {
		return st, nil
	}
	fh := d.opaque(64)
	require.NoError(r.t, d.err)
	return st, append([]byte(nil), fh...)
}

// nfsStatus makes an NFS call whose arguments are fh followed by extra,
// and returns the NFS status and the rest of the result.
func (r *rawClient) nfsCall(proc uint32, fh []byte, extra ...uint32) (uint32, []byte) {
	r.t.Helper()
	e := xdrEnc{}
	e.opaque(fh)
	for _, x := range extra {
		e.u32(x)
	}
	rp := r.call(progNFS, 3, proc, e.b)
	require.Equal(r.t, uint32(acceptSuccess), rp.stat)
	return binary.BigEndian.Uint32(rp.body), rp.body[4:]
}
