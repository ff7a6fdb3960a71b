package nfs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	billy "github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/helper/chroot"
)

// rewalkEvery throttles full scans for ids the table does not know: a
// client hammering a stale handle must not turn into a disk walk per call.
const rewalkEvery = time.Second

// dirBackend is a Store on disk, over os.Root: every call is confined to
// the directory, symlinks included (go-billy's osfs would need
// github.com/cyphar/filepath-securejoin, which the module does not carry;
// os.Root gives the same confinement from the standard library). Ids are inode numbers: stable over
// renames, the same in every process that opens the directory. The table
// maps them back to paths; a miss (a file renamed by another process, or a
// handle from before a restart) rescans the tree.
type dirBackend struct {
	r                *os.Root
	root             string
	rootDev, rootIno uint64

	mu       sync.Mutex
	byID     map[uint64]string
	lastWalk time.Time
}

func newDirBackend(dir string) (*dirBackend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &os.PathError{Op: "store", Path: abs, Err: syscall.ENOTDIR}
	}
	st := fi.Sys().(*syscall.Stat_t)
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	b := &dirBackend{
		r:    r,
		root: abs, rootDev: uint64(st.Dev), rootIno: st.Ino,
		byID: map[uint64]string{st.Ino: ""},
	}
	return b, nil
}

func cleanRel(p string) string { return strings.Join(split(p), "/") }

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

func (b *dirBackend) idOf(p string) (uint64, error) {
	p = cleanRel(p)
	fi, err := b.Lstat(p)
	if err != nil {
		return 0, err
	}
	id := inode(fi)
	b.mu.Lock()
	b.byID[id] = p
	b.mu.Unlock()
	return id, nil
}

func (b *dirBackend) lookupID(id uint64) (string, bool) {
	if p, ok := b.check(id); ok {
		return p, true
	}
	b.mu.Lock()
	if time.Since(b.lastWalk) < rewalkEvery {
		b.mu.Unlock()
		return "", false
	}
	b.lastWalk = time.Now()
	b.mu.Unlock()
	found := map[uint64]string{}
	_ = filepath.WalkDir(b.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			rel, _ := filepath.Rel(b.root, p)
			if rel == "." {
				rel = ""
			}
			found[inode(info)] = filepath.ToSlash(rel)
		}
		return nil
	})
	b.mu.Lock()
	b.byID = found
	b.mu.Unlock()
	return b.check(id)
}

// check returns the table's path for id if the file there still is id.
func (b *dirBackend) check(id uint64) (string, bool) {
	b.mu.Lock()
	p, ok := b.byID[id]
	b.mu.Unlock()
	if !ok {
		return "", false
	}
	fi, err := b.Lstat(p)
	if err != nil || inode(fi) != id {
		return "", false
	}
	return p, true
}

// name converts a billy path to an os.Root name.
func name(p string) string {
	if c := cleanRel(p); c != "" {
		return c
	}
	return "."
}

func (b *dirBackend) Create(n string) (billy.File, error) {
	return b.OpenFile(n, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (b *dirBackend) Open(n string) (billy.File, error) { return b.OpenFile(n, os.O_RDONLY, 0) }

func (b *dirBackend) OpenFile(n string, flag int, perm os.FileMode) (billy.File, error) {
	f, err := b.r.OpenFile(name(n), flag, perm)
	if err != nil {
		return nil, err
	}
	return &osFile{File: f, name: cleanRel(n)}, nil
}

func (b *dirBackend) Stat(n string) (os.FileInfo, error)  { return b.r.Stat(name(n)) }
func (b *dirBackend) Lstat(n string) (os.FileInfo, error) { return b.r.Lstat(name(n)) }
func (b *dirBackend) Rename(from, to string) error        { return b.r.Rename(name(from), name(to)) }
func (b *dirBackend) Remove(n string) error               { return b.r.Remove(name(n)) }
func (b *dirBackend) Join(elem ...string) string          { return path.Join(elem...) }
func (b *dirBackend) MkdirAll(n string, perm os.FileMode) error {
	return b.r.MkdirAll(name(n), perm)
}
func (b *dirBackend) Symlink(target, link string) error         { return b.r.Symlink(target, name(link)) }
func (b *dirBackend) Readlink(n string) (string, error)         { return b.r.Readlink(name(n)) }
func (b *dirBackend) Chroot(p string) (billy.Filesystem, error) { return chroot.New(b, p), nil }
func (b *dirBackend) Root() string                              { return "/" }

func (b *dirBackend) TempFile(dir, prefix string) (billy.File, error) {
	for i := 0; ; i++ {
		n := path.Join(dir, fmt.Sprintf("%s%d.%d", prefix, time.Now().UnixNano(), i))
		f, err := b.OpenFile(n, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil || !os.IsExist(err) || i > 100 {
			return f, err
		}
	}
}

func (b *dirBackend) ReadDir(n string) ([]os.FileInfo, error) {
	f, err := b.r.Open(name(n))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fis, err := f.Readdir(-1)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(fis, func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	return fis, nil
}

func (b *dirBackend) Chmod(n string, mode os.FileMode) error { return b.r.Chmod(name(n), mode) }
func (b *dirBackend) Lchown(n string, uid, gid int) error    { return b.r.Lchown(name(n), uid, gid) }
func (b *dirBackend) Chown(n string, uid, gid int) error     { return b.r.Lchown(name(n), uid, gid) }
func (b *dirBackend) Chtimes(n string, atime, mtime time.Time) error {
	return b.r.Chtimes(name(n), atime, mtime)
}

// osFile is an *os.File with the Store-relative name go-nfs expects and
// billy's advisory locks (NFSv3 has none of its own: a no-op).
type osFile struct {
	*os.File
	name string
}

func (f *osFile) Name() string  { return f.name }
func (f *osFile) Lock() error   { return nil }
func (f *osFile) Unlock() error { return nil }
