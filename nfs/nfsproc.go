package nfs

import (
	"bytes"

	gonfs "github.com/willscott/go-nfs"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// nfs answers an NFSv3 call: NULL, FSINFO, denied and malformed calls
// here; everything else goes to a go-nfs worker.
func (ss *session) nfs(h callHeader, rec, args []byte) error {
	if h.proc == nfsNull {
		return ss.write(acceptedReply(h.xid, acceptSuccess, nil))
	}
	if h.proc >= nfsProcs {
		return ss.write(acceptedReply(h.xid, acceptProcUnavail, nil))
	}
	fh, err := checkNFSArgs(h.proc, args)
	if err != nil {
		return ss.write(acceptedReply(h.xid, acceptGarbageArgs, nil))
	}
	if e, ok := ss.exportOf(fh); ok {
		if !ss.allowed(e) {
			ss.deniedOnce(e)
			return ss.write(acceptedReply(h.xid, acceptSuccess, failBody(h.proc, nfs3Acces)))
		}
		ss.setExport(e.Path)
	}
	if h.proc == nfsRead {
		return ss.read(h, args)
	}
	if h.proc == nfsFsinfo {
		return ss.write(acceptedReply(h.xid, acceptSuccess, ss.fsinfo(fh)))
	}
	return ss.forward(rec)
}

// exportOf finds the export a handle belongs to on this server, if any.
// Handles that do not decode are go-nfs's to call stale.
func (ss *session) exportOf(fh []byte) (Export, bool) {
	h, ok := decodeHandle(fh)
	if !ok || h.epoch != ss.srv.store.epoch {
		return Export{}, false
	}
	ss.mu.Lock()
	name, ok := ss.ctrNames[h.ctr]
	ss.mu.Unlock()
	if !ok {
		p, found := ss.srv.store.be.lookupID(h.ctr)
		if !found {
			return Export{}, false
		}
		name = p
		ss.mu.Lock()
		if len(ss.ctrNames) < 1024 {
			ss.ctrNames[h.ctr] = name
		}
		ss.mu.Unlock()
	}
	return ss.srv.export(name)
}

func (ss *session) deniedOnce(e Export) {
	ss.mu.Lock()
	first := !ss.denied
	ss.denied = true
	ss.mu.Unlock()
	if first {
		ss.srv.emit(Event{Type: EventNFSDenied, Client: ss.remote, Local: ss.local, Export: e.Path})
	}
}

// FSINFO properties (RFC 1813).
const (
	fsfLink        = 0x0001
	fsfSymlink     = 0x0002
	fsfHomogeneous = 0x0008
	fsfCanSetTime  = 0x0010
)

// fsinfo answers FSINFO with a real server's transfer sizes; go-nfs
// advertises 1 GiB, which clients then try to use.
func (ss *session) fsinfo(fh []byte) []byte {
	fs, p, err := ss.handler.FromHandle(fh)
	if err != nil {
		return failBody(nfsFsinfo, nfs3Stale)
	}
	full := fs.Join(p...)
	var attrs *gonfs.FileAttribute
	if fi, err := fs.Lstat(full); err == nil {
		attrs = gonfs.ToFileAttribute(fi, full)
	}
	var buf bytes.Buffer
	_ = xdr.Write(&buf, uint32(nfs3OK))
	_ = gonfs.WritePostOpAttrs(&buf, attrs)
	e := xdrEnc{b: buf.Bytes()}
	e.u32(maxIO)    // rtmax
	e.u32(maxIO)    // rtpref
	e.u32(4096)     // rtmult
	e.u32(maxIO)    // wtmax
	e.u32(maxIO)    // wtpref
	e.u32(4096)     // wtmult
	e.u32(64 << 10) // dtpref
	e.u64(uint64(DefaultMaxFileSize))
	e.u32(0) // time_delta: 1 ns
	e.u32(1)
	e.u32(fsfLink | fsfSymlink | fsfHomogeneous | fsfCanSetTime)
	return e.b
}
