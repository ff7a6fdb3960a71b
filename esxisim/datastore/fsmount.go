package datastore

import (
	"context"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"

	"github.com/autopathlab/autopathlab/shell"
)

// The datastore as a shell.Mount: /vmfs/volumes/<label> in the host's
// shell, and the file API the VM IO workload uses. Every operation is NFS
// calls on the datastore's connection, so it sees what the server has, and
// during APD it blocks (until ctx ends: Ctrl-C) and fails with an I/O error
// after Misc.APDTimeout.

var _ shell.Mount = (*Datastore)(nil)

// lookup resolves an io/fs name ("." or "a/b") to its handle and attributes.
func (d *Datastore) lookup(ctx context.Context, name string) ([]byte, nfsc.Fattr, error) {
	fh := d.root
	var attr nfsc.Fattr
	if name == "." || name == "" {
		err := nfsCall(ctx, d, nfsc.NFSProc3GetAttr, &fhArgs{fh}, &attr)
		return fh, attr, err
	}
	for _, c := range strings.Split(name, "/") {
		var res lookupRes
		if err := nfsCall(ctx, d, nfsc.NFSProc3Lookup, &nfsc.Diropargs3{FH: fh, Filename: c}, &res); err != nil {
			return nil, attr, err
		}
		fh = res.FH
		if res.ObjAttr.IsSet {
			attr = res.ObjAttr.Attr
		} else if err := nfsCall(ctx, d, nfsc.NFSProc3GetAttr, &fhArgs{fh}, &attr); err != nil {
			return nil, attr, err
		}
	}
	return fh, attr, nil
}

// parent resolves the directory holding name and returns it with name's
// last element.
func (d *Datastore) parent(ctx context.Context, name string) ([]byte, string, error) {
	if name == "." || name == "" {
		return nil, "", syscall.EINVAL
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	fh, attr, err := d.lookup(ctx, dir)
	if err != nil {
		return nil, "", err
	}
	if attr.Type != nfsc.NF3Dir {
		return nil, "", syscall.ENOTDIR
	}
	return fh, base, nil
}

// Stat implements shell.Mount.
func (d *Datastore) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	_, attr, err := d.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return newFileInfo(path.Base(name), attr), nil
}

// ReadDir implements shell.Mount: READDIRPLUS, sorted by name.
func (d *Datastore) ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	fh, attr, err := d.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if attr.Type != nfsc.NF3Dir {
		return nil, syscall.ENOTDIR
	}
	ents, err := readDirPlus(ctx, d, fh)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(ents))
	for _, e := range ents {
		if e.FileName == "." || e.FileName == ".." {
			continue
		}
		var a nfsc.Fattr
		if e.Attr.IsSet {
			a = e.Attr.Attr
		}
		out = append(out, fs.FileInfoToDirEntry(newFileInfo(e.FileName, a)))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// OpenFile implements shell.Mount. The returned *File reads and writes
// under ctx (the shell passes the command's, which Ctrl-C ends).
func (d *Datastore) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (shell.File, error) {
	return d.Open(ctx, name, flag, perm)
}

// Open is OpenFile returning the concrete *File, with ReadAt, WriteAt,
// Sync and Truncate for the VM IO workload.
func (d *Datastore) Open(ctx context.Context, name string, flag int, perm fs.FileMode) (*File, error) {
	writing := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if d.readonly && (writing || flag&os.O_CREATE != 0) {
		return nil, errReadOnly
	}
	if name == "." {
		if writing {
			return nil, syscall.EISDIR
		}
		return &File{d: d, fh: d.root, name: ".", flag: flag, ctx: ctx}, nil
	}
	dir, base, err := d.parent(ctx, name)
	if err != nil {
		return nil, err
	}
	var res lookupRes
	err = nfsCall(ctx, d, nfsc.NFSProc3Lookup, &nfsc.Diropargs3{FH: dir, Filename: base}, &res)
	switch {
	case err == nil:
		if flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
			return nil, syscall.EEXIST
		}
		if res.ObjAttr.IsSet && res.ObjAttr.Attr.Type == nfsc.NF3Dir && writing {
			return nil, syscall.EISDIR
		}
		f := &File{d: d, fh: res.FH, name: base, flag: flag, ctx: ctx}
		if writing && flag&os.O_TRUNC != 0 {
			if err := f.TruncateContext(ctx, 0); err != nil {
				return nil, err
			}
		}
		return f, nil
	case !isStatus(err, nfsc.NFS3ErrNoEnt) || flag&os.O_CREATE == 0:
		return nil, err
	}
	how := uint32(createUnchecked)
	if flag&os.O_EXCL != 0 {
		how = createGuarded
	}
	args := createArgs{
		Where: nfsc.Diropargs3{FH: dir, Filename: base},
		How:   createHow{Mode: how, Attr: nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: true, Mode: uint32(perm.Perm())}}},
	}
	var cr newObjRes
	if err := nfsCall(ctx, d, nfsc.NFSProc3Create, &args, &cr); err != nil {
		return nil, err
	}
	fh := cr.FH.FH
	if !cr.FH.IsSet {
		if err := nfsCall(ctx, d, nfsc.NFSProc3Lookup, &nfsc.Diropargs3{FH: dir, Filename: base}, &res); err != nil {
			return nil, err
		}
		fh = res.FH
	}
	return &File{d: d, fh: fh, name: base, flag: flag, ctx: ctx}, nil
}

// Mkdir implements shell.Mount.
func (d *Datastore) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if d.readonly {
		return errReadOnly
	}
	dir, base, err := d.parent(ctx, name)
	if err != nil {
		return err
	}
	args := mkdirArgs{
		Where: nfsc.Diropargs3{FH: dir, Filename: base},
		Attr:  nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: true, Mode: uint32(perm.Perm())}},
	}
	return nfsCall(ctx, d, nfsc.NFSProc3Mkdir, &args, nil)
}

// Remove implements shell.Mount: RMDIR for a directory, else REMOVE.
func (d *Datastore) Remove(ctx context.Context, name string) error {
	if d.readonly {
		return errReadOnly
	}
	dir, base, err := d.parent(ctx, name)
	if err != nil {
		return err
	}
	var res lookupRes
	where := nfsc.Diropargs3{FH: dir, Filename: base}
	if err := nfsCall(ctx, d, nfsc.NFSProc3Lookup, &where, &res); err != nil {
		return err
	}
	proc := uint32(nfsc.NFSProc3Remove)
	if res.ObjAttr.IsSet && res.ObjAttr.Attr.Type == nfsc.NF3Dir {
		proc = nfsc.NFSProc3RmDir
	}
	return nfsCall(ctx, d, proc, &where, nil)
}

// Rename implements shell.Mount.
func (d *Datastore) Rename(ctx context.Context, oldname, newname string) error {
	if d.readonly {
		return errReadOnly
	}
	from, fbase, err := d.parent(ctx, oldname)
	if err != nil {
		return err
	}
	to, tbase, err := d.parent(ctx, newname)
	if err != nil {
		return err
	}
	args := renameArgs{From: nfsc.Diropargs3{FH: from, Filename: fbase}, To: nfsc.Diropargs3{FH: to, Filename: tbase}}
	return nfsCall(ctx, d, nfsc.NFSProc3Rename, &args, nil)
}

// FSStat returns the datastore's capacity and free space (FSSTAT).
func (d *Datastore) FSStat(ctx context.Context) (FSStat, error) {
	var st FSStat
	err := nfsCall(ctx, d, procFSStat, &fhArgs{d.root}, &st)
	return st, err
}

// fileInfo is an NFS object's attributes as an fs.FileInfo.
type fileInfo struct {
	name string
	attr nfsc.Fattr
}

func newFileInfo(name string, a nfsc.Fattr) *fileInfo { return &fileInfo{name: name, attr: a} }

func (fi *fileInfo) Name() string { return fi.name }
func (fi *fileInfo) Size() int64  { return int64(fi.attr.Filesize) }
func (fi *fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.attr.FileMode & 0o777)
	switch fi.attr.Type {
	case nfsc.NF3Dir:
		m |= fs.ModeDir
	case nfsc.NF3Lnk:
		m |= fs.ModeSymlink
	case nfsc.NF3Chr:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case nfsc.NF3Blk:
		m |= fs.ModeDevice
	case nfsc.NF3Sock:
		m |= fs.ModeSocket
	case nfsc.NF3FIFO:
		m |= fs.ModeNamedPipe
	}
	return m
}
func (fi *fileInfo) ModTime() time.Time {
	return time.Unix(int64(fi.attr.Mtime.Seconds), int64(fi.attr.Mtime.Nseconds))
}
func (fi *fileInfo) IsDir() bool { return fi.attr.Type == nfsc.NF3Dir }
func (fi *fileInfo) Sys() any    { return &fi.attr }
