package nfs

import (
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	billy "github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/helper/chroot"
)

// exportFS is what go-nfs sees of one container, for one connection: a
// billy filesystem rooted at the container whose paths cannot climb out of
// it. It is per connection so that a panic in the Store's code is pinned on
// the connection that caused it (recovered, the connection dropped, an
// event emitted) and so that go-nfs's RENAME check, reflect.DeepEqual of
// the two handles' filesystems, compares one pointer.
type exportFS struct {
	store *Store
	ctr   string
	ctrID uint64
	sess  *session // nil outside a session
}

// full maps an export path to a Store path.
func (e *exportFS) full(p string) string {
	if r := cleanRel(p); r != "" {
		return e.ctr + "/" + r
	}
	return e.ctr
}

// rel maps a Store path back to an export path.
func (e *exportFS) rel(p string) string {
	if p == e.ctr {
		return ""
	}
	return strings.TrimPrefix(p, e.ctr+"/")
}

// guard turns a panic in the Store into an error and drops the connection.
func (e *exportFS) guard(op string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("nfs: panic in %s: %v", op, r)
		if e.sess != nil {
			e.sess.panicked(op, r)
		}
	}
}

func (e *exportFS) wrap(f billy.File, err error) (billy.File, error) {
	if err != nil {
		return nil, err
	}
	return &exportFile{File: f, e: e, name: e.rel(cleanRel(f.Name()))}, nil
}

func (e *exportFS) Create(n string) (f billy.File, err error) {
	defer e.guard("create", &err)
	return e.wrap(e.store.be.Create(e.full(n)))
}

func (e *exportFS) Open(n string) (f billy.File, err error) {
	defer e.guard("open", &err)
	return e.wrap(e.store.be.Open(e.full(n)))
}

func (e *exportFS) OpenFile(n string, flag int, perm os.FileMode) (f billy.File, err error) {
	defer e.guard("open", &err)
	return e.wrap(e.store.be.OpenFile(e.full(n), flag, perm))
}

func (e *exportFS) Stat(n string) (fi os.FileInfo, err error) {
	defer e.guard("stat", &err)
	return e.store.be.Stat(e.full(n))
}

func (e *exportFS) Lstat(n string) (fi os.FileInfo, err error) {
	defer e.guard("lstat", &err)
	return e.store.be.Lstat(e.full(n))
}

func (e *exportFS) Rename(from, to string) (err error) {
	defer e.guard("rename", &err)
	if cleanRel(from) == "" || cleanRel(to) == "" {
		return &os.PathError{Op: "rename", Path: "/", Err: os.ErrPermission}
	}
	return e.store.be.Rename(e.full(from), e.full(to))
}

func (e *exportFS) Remove(n string) (err error) {
	defer e.guard("remove", &err)
	if cleanRel(n) == "" {
		return &os.PathError{Op: "remove", Path: "/", Err: os.ErrPermission}
	}
	return e.store.be.Remove(e.full(n))
}

func (e *exportFS) Join(elem ...string) string { return path.Join(elem...) }

func (e *exportFS) TempFile(dir, prefix string) (f billy.File, err error) {
	defer e.guard("tempfile", &err)
	return e.wrap(e.store.be.TempFile(e.full(dir), prefix))
}

func (e *exportFS) ReadDir(n string) (fis []os.FileInfo, err error) {
	defer e.guard("readdir", &err)
	return e.store.be.ReadDir(e.full(n))
}

func (e *exportFS) MkdirAll(n string, perm os.FileMode) (err error) {
	defer e.guard("mkdir", &err)
	return e.store.be.MkdirAll(e.full(n), perm)
}

func (e *exportFS) Symlink(target, link string) (err error) {
	defer e.guard("symlink", &err)
	return e.store.be.Symlink(target, e.full(link))
}

func (e *exportFS) Readlink(n string) (t string, err error) {
	defer e.guard("readlink", &err)
	return e.store.be.Readlink(e.full(n))
}

func (e *exportFS) Chroot(p string) (billy.Filesystem, error) { return chroot.New(e, p), nil }
func (e *exportFS) Root() string                              { return "/" }

func (e *exportFS) Chmod(n string, mode os.FileMode) (err error) {
	defer e.guard("chmod", &err)
	return e.store.be.Chmod(e.full(n), mode)
}

func (e *exportFS) Lchown(n string, uid, gid int) (err error) {
	defer e.guard("chown", &err)
	return e.store.be.Lchown(e.full(n), uid, gid)
}

func (e *exportFS) Chown(n string, uid, gid int) (err error) {
	defer e.guard("chown", &err)
	return e.store.be.Chown(e.full(n), uid, gid)
}

func (e *exportFS) Chtimes(n string, atime, mtime time.Time) (err error) {
	defer e.guard("chtimes", &err)
	return e.store.be.Chtimes(e.full(n), atime, mtime)
}

// exportFile names itself relative to the export: go-nfs's CREATE stats
// the new file by that name.
type exportFile struct {
	billy.File
	e    *exportFS
	name string
}

func (f *exportFile) Name() string { return f.name }

func (f *exportFile) Read(b []byte) (n int, err error) {
	defer f.e.guard("read", &err)
	return f.File.Read(b)
}

func (f *exportFile) ReadAt(b []byte, off int64) (n int, err error) {
	defer f.e.guard("read", &err)
	return f.File.ReadAt(b, off)
}

func (f *exportFile) Write(b []byte) (n int, err error) {
	defer f.e.guard("write", &err)
	return f.File.Write(b)
}

func (f *exportFile) Seek(off int64, whence int) (n int64, err error) {
	defer f.e.guard("seek", &err)
	return f.File.Seek(off, whence)
}

func (f *exportFile) Truncate(size int64) (err error) {
	defer f.e.guard("truncate", &err)
	return f.File.Truncate(size)
}

func (f *exportFile) Close() (err error) {
	defer f.e.guard("close", &err)
	return f.File.Close()
}
