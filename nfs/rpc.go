package nfs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// ONC RPC (RFC 5531) constants used by the front end.
const (
	progPortmap = 100000
	progNFS     = 100003
	progMount   = 100005

	msgCall  = 0
	msgReply = 1

	msgAccepted = 0
	msgDenied   = 1

	acceptSuccess      = 0
	acceptProgUnavail  = 1
	acceptProgMismatch = 2
	acceptProcUnavail  = 3
	acceptGarbageArgs  = 4
	acceptSystemErr    = 5

	rejectRPCMismatch = 0

	lastFragment = 1 << 31

	maxAuthBody = 400 // RFC 5531: opaque_auth body<400>
)

// Transfer sizes: what a real server advertises (Linux knfsd and ganesha
// default to 1 MiB), not go-nfs's 1 GiB. maxRecord bounds a whole call
// record: a maximal WRITE plus its headers.
const (
	maxIO     = 1 << 20
	maxRecord = maxIO + 64<<10
)

var (
	errRecordTooLong = errors.New("nfs: RPC record too long")
	errNotCall       = errors.New("nfs: RPC message is not a call")
)

// recordHeadroom is kept free in front of every record read, so that the
// record can be handed to go-nfs with its record mark without a copy.
const recordHeadroom = 4

// readRecord reads one RPC record, reassembling fragments, and returns it
// with recordHeadroom spare bytes in front. A record longer than max ends
// the connection before anything is allocated for it.
func readRecord(r *bufio.Reader, max int) ([]byte, error) {
	buf := make([]byte, recordHeadroom, recordHeadroom+512)
	var mark [4]byte
	for {
		if _, err := io.ReadFull(r, mark[:]); err != nil {
			if err == io.ErrUnexpectedEOF || (err == io.EOF && len(buf) > recordHeadroom) {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		m := binary.BigEndian.Uint32(mark[:])
		n := int(m &^ lastFragment)
		if len(buf)-recordHeadroom+n > max {
			return nil, errRecordTooLong
		}
		buf = growTo(buf, len(buf)+n)
		if _, err := io.ReadFull(r, buf[len(buf)-n:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if m&lastFragment != 0 {
			return buf, nil
		}
	}
}

func growTo(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n)
	copy(nb, b)
	return nb
}

// callHeader is the part of an RPC call the front end dispatches on.
type callHeader struct {
	xid, rpcvers, prog, vers, proc uint32
	credFlavor                     uint32
	cred                           []byte
}

// parseCall decodes a call header; args is what follows it. A record too
// short to carry an xid is unanswerable and ends the connection.
func parseCall(rec []byte) (h callHeader, args []byte, err error) {
	d := xdrDec{b: rec}
	h.xid = d.u32()
	mt := d.u32()
	if d.err != nil {
		return h, nil, d.err
	}
	if mt != msgCall {
		return h, nil, errNotCall
	}
	h.rpcvers = d.u32()
	h.prog = d.u32()
	h.vers = d.u32()
	h.proc = d.u32()
	h.credFlavor = d.u32()
	h.cred = d.opaque(maxAuthBody)
	d.u32() // verifier flavor
	d.opaque(maxAuthBody)
	if d.err != nil {
		return h, nil, d.err
	}
	return h, rec[d.off:], nil
}

// acceptedReply builds a MSG_ACCEPTED reply record (mark included) with
// an AUTH_NONE verifier.
func acceptedReply(xid, stat uint32, body []byte) []byte {
	e := xdrEnc{b: make([]byte, 4, 28+len(body))}
	e.u32(xid)
	e.u32(msgReply)
	e.u32(msgAccepted)
	e.u32(0) // verf flavor AUTH_NONE
	e.u32(0) // verf length
	e.u32(stat)
	e.b = append(e.b, body...)
	return mark(e.b)
}

// mismatchReply is PROG_MISMATCH with the supported version range.
func mismatchReply(xid, low, high uint32) []byte {
	e := xdrEnc{}
	e.u32(low)
	e.u32(high)
	return acceptedReply(xid, acceptProgMismatch, e.b)
}

// rpcMismatchReply is MSG_DENIED/RPC_MISMATCH: we speak RPC version 2 only.
func rpcMismatchReply(xid uint32) []byte {
	e := xdrEnc{b: make([]byte, 4, 28)}
	e.u32(xid)
	e.u32(msgReply)
	e.u32(msgDenied)
	e.u32(rejectRPCMismatch)
	e.u32(2)
	e.u32(2)
	return mark(e.b)
}

// mark fills in the record mark of a record built with 4 spare bytes.
func mark(b []byte) []byte {
	binary.BigEndian.PutUint32(b, uint32(len(b)-4)|lastFragment)
	return b
}
