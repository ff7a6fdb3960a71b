package datastore

import (
	"context"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	nfsc "github.com/willscott/go-nfs-client/nfs"
)

// File is an open file of a datastore, addressed by its NFS handle: it
// stays valid across reconnections and route changes, as the handle does.
//
// Read, Write, ReadAt, WriteAt, Sync and Stat run under the context given
// to Open; the *Context variants take their own. Writes are FILE_SYNC, as
// ESXi writes VM disks; Sync sends a COMMIT all the same.
type File struct {
	d    *Datastore
	fh   []byte
	name string
	flag int
	ctx  context.Context

	mu     sync.Mutex
	off    int64
	closed bool
}

func (f *File) readable() bool { return f.flag&os.O_WRONLY == 0 }
func (f *File) writable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

func (f *File) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fs.ErrClosed
	}
	return nil
}

// Read reads from the file's offset.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	off := f.off
	f.mu.Unlock()
	n, err := f.ReadAtContext(f.ctx, p, off)
	f.mu.Lock()
	f.off += int64(n)
	f.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Write writes at the file's offset (at the end with O_APPEND).
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	off := f.off
	f.mu.Unlock()
	if f.flag&os.O_APPEND != 0 {
		fi, err := f.StatContext(f.ctx)
		if err != nil {
			return 0, err
		}
		off = fi.Size()
	}
	n, err := f.WriteAtContext(f.ctx, p, off)
	f.mu.Lock()
	f.off = off + int64(n)
	f.mu.Unlock()
	return n, err
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.ReadAtContext(f.ctx, p, off) }

// WriteAt implements io.WriterAt.
func (f *File) WriteAt(p []byte, off int64) (int, error) { return f.WriteAtContext(f.ctx, p, off) }

// Sync commits the file's data (COMMIT).
func (f *File) Sync() error { return f.SyncContext(f.ctx) }

// Truncate sets the file's size (SETATTR).
func (f *File) Truncate(size int64) error { return f.TruncateContext(f.ctx, size) }

// Stat returns the file's attributes (GETATTR).
func (f *File) Stat() (fs.FileInfo, error) { return f.StatContext(f.ctx) }

// Close releases the file; NFSv3 has no open state, so nothing is sent.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return nil
}

// ReadAtContext reads len(p) bytes at off in READs of at most the
// transfer size; fewer at the end of the file, with io.EOF.
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if !f.readable() {
		return 0, syscall.EBADF
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	n := 0
	for n < len(p) {
		count := min(uint32(len(p)-n), f.d.maxIO)
		var res readRes
		if err := nfsCall(ctx, f.d, nfsc.NFSProc3Read, &readArgs{FH: f.fh, Offset: uint64(off) + uint64(n), Count: count}, &res); err != nil {
			return n, err
		}
		n += copy(p[n:], res.Data)
		if res.EOF || len(res.Data) == 0 {
			if n < len(p) {
				return n, io.EOF
			}
			break
		}
	}
	return n, nil
}

// WriteAtContext writes p at off in FILE_SYNC WRITEs of at most the
// transfer size.
func (f *File) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if !f.writable() {
		return 0, syscall.EBADF
	}
	if f.d.readonly {
		return 0, errReadOnly
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	n := 0
	for n < len(p) || len(p) == 0 {
		chunk := p[n:min(len(p), n+int(f.d.maxIO))]
		var res writeRes
		args := writeArgs{FH: f.fh, Offset: uint64(off) + uint64(n), Count: uint32(len(chunk)), Stable: fileSync, Data: chunk}
		if err := nfsCall(ctx, f.d, nfsc.NFSProc3Write, &args, &res); err != nil {
			return n, err
		}
		if len(p) == 0 {
			break
		}
		if res.Count == 0 {
			return n, syscall.EIO
		}
		n += int(min(res.Count, uint32(len(chunk))))
	}
	return n, nil
}

// SyncContext sends COMMIT for the whole file.
func (f *File) SyncContext(ctx context.Context) error {
	if err := f.check(); err != nil {
		return err
	}
	return nfsCall(ctx, f.d, nfsc.NFSProc3Commit, &readArgs{FH: f.fh}, nil)
}

// TruncateContext sets the file's size.
func (f *File) TruncateContext(ctx context.Context, size int64) error {
	if f.d.readonly {
		return errReadOnly
	}
	if size < 0 {
		return syscall.EINVAL
	}
	args := setattrArgs{FH: f.fh, Attr: nfsc.Sattr3{Size: nfsc.SetSize{SetIt: true, Size: uint64(size)}}}
	return nfsCall(ctx, f.d, nfsc.NFSProc3SetAttr, &args, nil)
}

// StatContext returns the file's attributes.
func (f *File) StatContext(ctx context.Context) (fs.FileInfo, error) {
	var attr nfsc.Fattr
	if err := nfsCall(ctx, f.d, nfsc.NFSProc3GetAttr, &fhArgs{f.fh}, &attr); err != nil {
		return nil, err
	}
	return newFileInfo(f.name, attr), nil
}
