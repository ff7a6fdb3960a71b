package nfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"

	gonfs "github.com/willscott/go-nfs"
)

// NFSv3 status codes READ answers with.
const (
	nfs3NoEnt = 2
	nfs3IO    = 5
	nfs3IsDir = 21
)

// read answers READ in the front end, concurrently with the connection's
// other calls (it holds a worker's slot while it runs). go-nfs's READ
// opens the file, allocates the data, and then copies it four more times
// on its way out (XDR reflection, two buffers, the write serializer); here
// the data is read straight into the reply record, which goes out in one
// write. It is the throughput-critical procedure of a VM's disk.
func (ss *session) read(h callHeader, args []byte) error {
	d := xdrDec{b: args}
	fh := d.opaque(maxFH)
	off := d.u64()
	count := min(d.u32(), maxIO) // validated and clamped already
	var slot *worker
	select {
	case slot = <-ss.idle:
	case <-ss.done:
		return nil
	}
	go func() {
		defer func() { ss.idle <- slot }()
		defer func() {
			if v := recover(); v != nil {
				ss.panicked("read", v)
			}
		}()
		_ = ss.write(ss.readReply(h.xid, fh, off, count))
	}()
	return nil
}

func (ss *session) readReply(xid uint32, fh []byte, off uint64, count uint32) []byte {
	fail := func(st uint32) []byte { return acceptedReply(xid, acceptSuccess, failBody(nfsRead, st)) }
	fs, p, err := ss.handler.FromHandle(fh)
	if err != nil {
		return fail(nfs3Stale)
	}
	full := fs.Join(p...)
	fi, err := fs.Lstat(full)
	switch {
	case os.IsNotExist(err):
		return fail(nfs3NoEnt)
	case err != nil:
		return fail(nfs3IO)
	case fi.IsDir():
		return fail(nfs3IsDir)
	}
	var attrs bytes.Buffer
	_ = gonfs.WritePostOpAttrs(&attrs, gonfs.ToFileAttribute(fi, full))

	size := uint64(max(fi.Size(), 0))
	if off >= size {
		count = 0
	} else {
		count = uint32(min(uint64(count), size-off))
	}
	rec := acceptedReply(xid, acceptSuccess, nil) // header only
	e := xdrEnc{b: make([]byte, 0, len(rec)+4+attrs.Len()+12+int(count)+3)}
	e.b = append(e.b, rec...)
	e.u32(nfs3OK)
	e.b = append(e.b, attrs.Bytes()...)
	at := len(e.b)
	e.u32(0) // count
	e.u32(0) // eof
	e.u32(0) // data length
	n := 0
	if count > 0 {
		f, err := fs.Open(full)
		if err != nil {
			return fail(nfs3IO)
		}
		n, err = f.ReadAt(e.b[len(e.b):len(e.b)+int(count)], int64(off))
		_ = f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return fail(nfs3IO)
		}
	}
	eof := off+uint64(n) >= size
	binary.BigEndian.PutUint32(e.b[at:], uint32(n))
	if eof {
		binary.BigEndian.PutUint32(e.b[at+4:], 1)
	}
	binary.BigEndian.PutUint32(e.b[at+8:], uint32(n))
	e.b = e.b[:len(e.b)+n]
	for ; n%4 != 0; n++ {
		e.b = append(e.b, 0)
	}
	return mark(e.b)
}
