package nfs

import "encoding/binary"

// NFSv3 procedure numbers (RFC 1813).
const (
	nfsNull = iota
	nfsGetattr
	nfsSetattr
	nfsLookup
	nfsAccess
	nfsReadlink
	nfsRead
	nfsWrite
	nfsCreate
	nfsMkdir
	nfsSymlink
	nfsMknod
	nfsRemove
	nfsRmdir
	nfsRename
	nfsLink
	nfsReaddir
	nfsReaddirplus
	nfsFsstat
	nfsFsinfo
	nfsPathconf
	nfsCommit
	nfsProcs
)

// NFSv3 status codes the front end answers with.
const (
	nfs3OK    = 0
	nfs3Acces = 13
	nfs3Stale = 70
)

// Argument limits: a handle is at most 64 bytes (NFS3_FHSIZE); names and
// symlink targets at most a path's length; data at most the record.
const (
	maxFH   = 64
	maxName = 1024
)

// failWords is how many "attributes follow = FALSE" words follow the status
// in each procedure's failure result (post_op_attr = 1, wcc_data = 2):
// what a denied or stale call is answered with.
var failWords = [nfsProcs]int{
	nfsGetattr: 0, nfsSetattr: 2, nfsLookup: 1, nfsAccess: 1, nfsReadlink: 1,
	nfsRead: 1, nfsWrite: 2, nfsCreate: 2, nfsMkdir: 2, nfsSymlink: 2,
	nfsMknod: 2, nfsRemove: 2, nfsRmdir: 2, nfsRename: 4, nfsLink: 3,
	nfsReaddir: 1, nfsReaddirplus: 1, nfsFsstat: 1, nfsFsinfo: 1,
	nfsPathconf: 1, nfsCommit: 2,
}

// failBody is a procedure's failure result with status st.
func failBody(proc, st uint32) []byte {
	e := xdrEnc{}
	e.u32(st)
	for range failWords[proc] {
		e.u32(0)
	}
	return e.b
}

// checkNFSArgs walks a call's arguments with bounds checks and returns its
// (first) file handle. go-nfs decodes with an allocation sized by whatever
// length the client claims, so nothing reaches it unchecked. It also
// clamps a READ's count to maxIO in place, so go-nfs never allocates more.
func checkNFSArgs(proc uint32, args []byte) ([]byte, error) {
	d := &xdrDec{b: args}
	fh := d.opaque(maxFH)
	switch proc {
	case nfsGetattr, nfsReadlink, nfsFsstat, nfsFsinfo, nfsPathconf:
	case nfsSetattr:
		sattr(d)
		if d.bool() {
			d.u64()
		}
	case nfsLookup, nfsRemove, nfsRmdir:
		d.opaque(maxName)
	case nfsAccess:
		d.u32()
	case nfsRead:
		d.u64()
		at := d.off
		if n := d.u32(); d.err == nil && n > maxIO {
			binary.BigEndian.PutUint32(args[at:], maxIO)
		}
	case nfsWrite:
		d.u64()
		d.u32()
		d.u32()
		d.opaque(maxRecord)
	case nfsCreate:
		d.opaque(maxName)
		switch d.u32() {
		case 0, 1:
			sattr(d)
		case 2:
			d.fixed(8)
		default:
			d.fail()
		}
	case nfsMkdir:
		d.opaque(maxName)
		sattr(d)
	case nfsSymlink:
		d.opaque(maxName)
		sattr(d)
		d.opaque(maxName)
	case nfsMknod:
		d.opaque(maxName)
		switch d.u32() {
		case 3, 4: // BLK, CHR
			sattr(d)
			d.u64()
		case 6, 7: // SOCK, FIFO
			sattr(d)
		case 1, 2, 5: // REG, DIR, LNK: no device data
		default:
			d.fail()
		}
	case nfsRename:
		d.opaque(maxName)
		d.opaque(maxFH)
		d.opaque(maxName)
	case nfsLink:
		d.opaque(maxFH)
		d.opaque(maxName)
	case nfsReaddir:
		d.u64()
		d.fixed(8)
		d.u32()
	case nfsReaddirplus:
		d.u64()
		d.fixed(8)
		d.u32()
		d.u32()
	case nfsCommit:
		d.u64()
		d.u32()
	default:
		d.fail()
	}
	return fh, d.err
}

// sattr walks a sattr3.
func sattr(d *xdrDec) {
	for range 3 { // mode, uid, gid
		if d.bool() {
			d.u32()
		}
	}
	if d.bool() { // size
		d.u64()
	}
	for range 2 { // atime, mtime
		switch d.u32() {
		case 0, 1:
		case 2:
			d.u64()
		default:
			d.fail()
		}
	}
}
