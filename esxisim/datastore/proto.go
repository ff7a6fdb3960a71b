package datastore

import (
	"bytes"
	"context"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// The NFSv3 (RFC 1813), MOUNT v3 and portmapper v2 (RFC 1833) procedures
// the ESXi client uses. Argument and result layouts reuse go-nfs-client's
// XDR types where it has them (Fattr, Sattr3, Diropargs3, WccData, ...).

// caller sends one RPC: an rpcConn, or a Datastore that retries across
// reconnections.
type caller interface {
	call(ctx context.Context, prog, vers, proc uint32, args any) (*bytes.Reader, error)
}

const (
	nfsProg   = nfsc.Nfs3Prog
	nfsVers   = nfsc.Nfs3Vers
	mountProg = nfsc.MountProg
	mountVers = nfsc.MountVers

	procNull        = 0
	procFSStat      = 18
	procReadDirPlus = nfsc.NFSProc3ReadDirPlus

	// stable_how of WRITE.
	fileSync = 2
	// createmode3 of CREATE.
	createUnchecked = 0
	createGuarded   = 1
)

// nfsCall runs an NFSv3 procedure: the nfsstat3 first, then on NFS3_OK
// the results decoded into res (nil: ignored).
func nfsCall(ctx context.Context, c caller, proc uint32, args, res any) error {
	rd, err := c.call(ctx, nfsProg, nfsVers, proc, args)
	if err != nil {
		return err
	}
	st, err := xdr.ReadUint32(rd)
	if err != nil {
		return err
	}
	if st != nfsc.NFS3Ok {
		return &NFSError{Status: st}
	}
	if res == nil {
		return nil
	}
	return xdr.Read(rd, res)
}

type fhArgs struct{ FH []byte }

type lookupRes struct {
	FH      []byte
	ObjAttr nfsc.PostOpAttr
	DirAttr nfsc.PostOpAttr
}

type readArgs struct {
	FH     []byte
	Offset uint64
	Count  uint32
}

type readRes struct {
	Attr  nfsc.PostOpAttr
	Count uint32
	EOF   bool
	Data  []byte
}

type writeArgs struct {
	FH     []byte
	Offset uint64
	Count  uint32
	Stable uint32
	Data   []byte
}

type writeRes struct {
	Wcc       nfsc.WccData
	Count     uint32
	Committed uint32
	Verf      [8]byte
}

type commitRes struct {
	Wcc  nfsc.WccData
	Verf [8]byte
}

type createHow struct {
	Mode uint32 // UNCHECKED or GUARDED: attributes follow
	Attr nfsc.Sattr3
}

type createArgs struct {
	Where nfsc.Diropargs3
	How   createHow
}

type mkdirArgs struct {
	Where nfsc.Diropargs3
	Attr  nfsc.Sattr3
}

// newObjRes is CREATE's and MKDIR's result.
type newObjRes struct {
	FH   nfsc.PostOpFH3
	Attr nfsc.PostOpAttr
	Wcc  nfsc.WccData
}

type renameArgs struct {
	From, To nfsc.Diropargs3
}

type setattrArgs struct {
	FH    []byte
	Attr  nfsc.Sattr3
	Guard bool // sattrguard3 check: false, no guard
}

type readDirPlusArgs struct {
	FH         []byte
	Cookie     uint64
	CookieVerf uint64
	DirCount   uint32
	MaxCount   uint32
}

type readDirPlusHead struct {
	DirAttr    nfsc.PostOpAttr
	CookieVerf uint64
}

type dirEntryPlus struct {
	Follows bool           `xdr:"union"`
	Entry   nfsc.EntryPlus `xdr:"unioncase=1"`
}

// FSStat is FSSTAT's answer: the datastore's capacity and free space.
type FSStat struct {
	Attr                   nfsc.PostOpAttr
	TotalBytes, FreeBytes  uint64
	AvailBytes, TotalFiles uint64
	FreeFiles, AvailFiles  uint64
	Invarsec               uint32
}

// readDirPlus lists a directory, following cookies to the end.
func readDirPlus(ctx context.Context, c caller, fh []byte) ([]nfsc.EntryPlus, error) {
	var out []nfsc.EntryPlus
	args := readDirPlusArgs{FH: fh, DirCount: 8192, MaxCount: 65536}
	for {
		rd, err := c.call(ctx, nfsProg, nfsVers, procReadDirPlus, &args)
		if err != nil {
			return nil, err
		}
		st, err := xdr.ReadUint32(rd)
		if err != nil {
			return nil, err
		}
		if st != nfsc.NFS3Ok {
			return nil, &NFSError{Status: st}
		}
		var head readDirPlusHead
		if err := xdr.Read(rd, &head); err != nil {
			return nil, err
		}
		n := 0
		for {
			var e dirEntryPlus
			if err := xdr.Read(rd, &e); err != nil {
				return nil, err
			}
			if !e.Follows {
				break
			}
			n++
			args.Cookie = e.Entry.Cookie
			out = append(out, e.Entry)
		}
		var eof bool
		if err := xdr.Read(rd, &eof); err != nil {
			return nil, err
		}
		if eof || n == 0 {
			return out, nil
		}
		args.CookieVerf = head.CookieVerf
	}
}

// getPort asks a portmapper for a program's TCP port (0: not registered).
func getPort(ctx context.Context, c caller, prog, vers uint32) (uint32, error) {
	rd, err := c.call(ctx, rpc.PmapProg, rpc.PmapVers, rpc.PmapProcGetPort,
		&rpc.Mapping{Prog: prog, Vers: vers, Prot: rpc.IPProtoTCP})
	if err != nil {
		return 0, err
	}
	return xdr.ReadUint32(rd)
}

// mnt runs MOUNT3 MNT: the export's root handle, or the mountstat3.
func mnt(ctx context.Context, c caller, dirpath string) ([]byte, uint32, error) {
	rd, err := c.call(ctx, mountProg, mountVers, nfsc.MountProc3MNT, &struct{ Dirpath string }{dirpath})
	if err != nil {
		return nil, 0, err
	}
	st, err := xdr.ReadUint32(rd)
	if err != nil || st != nfsc.MNT3Ok {
		return nil, st, err
	}
	fh, err := xdr.ReadOpaque(rd)
	return fh, st, err
}
