package nfs

import (
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	billy "github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/helper/chroot"
	"github.com/willscott/go-nfs/file"

	"github.com/autopathlab/autopathlab/clock"
)

// chunkSize is the allocation unit of file data. Files are sparse: a VM
// disk written at its last block costs one chunk, not its full size
// (go-billy's memfs would allocate everything up to the offset).
const chunkSize = 64 << 10

// memFS is the in-memory Store backend: a tree of nodes, each with a
// stable id that survives renames and dies with the node. It is safe for
// concurrent use: mu guards the tree (names, parents, children), each
// node's own mu guards its metadata and data.
type memFS struct {
	clk     clock.Clock
	maxSize int64

	mu   sync.RWMutex
	root *mnode
	byID map[uint64]*mnode
	next uint64
}

type mnode struct {
	id       uint64
	name     string
	parent   *mnode
	children map[string]*mnode // directories only

	mu           sync.RWMutex
	mode         os.FileMode // type bits and permissions
	uid, gid     uint32
	mtime, ctime time.Time
	size         int64
	chunks       map[int64][]byte
	target       string // symlinks
}

func newMemFS(clk clock.Clock, maxSize int64) *memFS {
	m := &memFS{clk: clk, maxSize: maxSize, byID: map[uint64]*mnode{}}
	m.root = m.newNode("", os.ModeDir|0o755)
	return m
}

// newNode allocates a node and its id; the caller links it into the tree
// under m.mu (or before the FS is shared).
func (m *memFS) newNode(name string, mode os.FileMode) *mnode {
	m.next++
	now := m.clk.Now()
	n := &mnode{id: m.next, name: name, mode: mode, mtime: now, ctime: now}
	if mode.IsDir() {
		n.children = map[string]*mnode{}
	}
	m.byID[n.id] = n
	return n
}

// split cleans a billy path into its components; the root is none. Paths
// cannot climb above the root.
func split(p string) []string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func pathErr(op, p string, err error) error { return &os.PathError{Op: op, Path: p, Err: err} }

// walk finds the node of a path without following symlinks. m.mu held.
func (m *memFS) walk(op, p string) (*mnode, error) {
	n := m.root
	for _, c := range split(p) {
		if n.children == nil {
			return nil, pathErr(op, p, syscall.ENOTDIR)
		}
		next, ok := n.children[c]
		if !ok {
			return nil, pathErr(op, p, os.ErrNotExist)
		}
		n = next
	}
	return n, nil
}

// parentOf finds the directory that holds p and p's last component.
func (m *memFS) parentOf(op, p string) (*mnode, string, error) {
	cs := split(p)
	if len(cs) == 0 {
		return nil, "", pathErr(op, p, syscall.EBUSY)
	}
	dir, err := m.walk(op, strings.Join(cs[:len(cs)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	if dir.children == nil {
		return nil, "", pathErr(op, p, syscall.ENOTDIR)
	}
	return dir, cs[len(cs)-1], nil
}

// pathOf returns a node's path from the root. m.mu held.
func (m *memFS) pathOf(n *mnode) string {
	var cs []string
	for ; n != nil && n.parent != nil; n = n.parent {
		cs = append(cs, n.name)
	}
	slices.Reverse(cs)
	return strings.Join(cs, "/")
}

// lookupID returns the path of a live node.
func (m *memFS) lookupID(id uint64) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.byID[id]
	if !ok {
		return "", false
	}
	return m.pathOf(n), true
}

// idOf returns the id of the node at p.
func (m *memFS) idOf(p string) (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.walk("stat", p)
	if err != nil {
		return 0, err
	}
	return n.id, nil
}

// drop forgets a node unlinked from the tree, and its subtree: their
// handles go stale. m.mu held.
func (m *memFS) drop(n *mnode) {
	delete(m.byID, n.id)
	for _, c := range n.children {
		m.drop(c)
	}
}

func (m *memFS) Create(name string) (billy.File, error) {
	return m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (m *memFS) Open(name string) (billy.File, error) { return m.OpenFile(name, os.O_RDONLY, 0) }

func (m *memFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	m.mu.Lock()
	n, err := m.walk("open", name)
	if err != nil && flag&os.O_CREATE != 0 && os.IsNotExist(err) {
		var dir *mnode
		var base string
		dir, base, err = m.parentOf("open", name)
		if err == nil {
			n = m.newNode(base, perm.Perm())
			n.parent = dir
			dir.children[base] = n
			m.touchLocked(dir)
		}
	} else if err == nil && flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL {
		err = pathErr("open", name, os.ErrExist)
	}
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	n.mu.RLock()
	mode := n.mode
	n.mu.RUnlock()
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if mode.IsDir() && writable {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	if mode&os.ModeSymlink != 0 {
		return nil, pathErr("open", name, syscall.ELOOP)
	}
	if flag&os.O_TRUNC != 0 && writable {
		if err := m.truncate(n, 0); err != nil {
			return nil, err
		}
	}
	return &mfile{fs: m, n: n, name: strings.Join(split(name), "/"), flag: flag}, nil
}

func (m *memFS) touchLocked(n *mnode) {
	now := m.clk.Now()
	n.mu.Lock()
	n.mtime, n.ctime = now, now
	n.mu.Unlock()
}

func (m *memFS) Stat(name string) (os.FileInfo, error) {
	// Follow a final symlink a few times, within the store.
	p := name
	for range 8 {
		fi, err := m.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return fi, err
		}
		t, err := m.Readlink(p)
		if err != nil {
			return nil, err
		}
		if path.IsAbs(t) {
			p = t
		} else {
			p = path.Join(path.Dir("/"+strings.Join(split(p), "/")), t)
		}
	}
	return nil, pathErr("stat", name, syscall.ELOOP)
}

func (m *memFS) Lstat(name string) (os.FileInfo, error) {
	m.mu.RLock()
	n, err := m.walk("lstat", name)
	m.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return n.info(), nil
}

func (m *memFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("rename", from)
	if err != nil {
		return err
	}
	if n == m.root {
		return pathErr("rename", from, syscall.EBUSY)
	}
	dir, base, err := m.parentOf("rename", to)
	if err != nil {
		return err
	}
	// A directory cannot move into its own subtree.
	for d := dir; d != nil; d = d.parent {
		if d == n {
			return pathErr("rename", to, syscall.EINVAL)
		}
	}
	if old, ok := dir.children[base]; ok {
		if old == n {
			return nil
		}
		switch {
		case n.children != nil && old.children == nil:
			return pathErr("rename", to, syscall.ENOTDIR)
		case n.children == nil && old.children != nil:
			return pathErr("rename", to, syscall.EISDIR)
		case old.children != nil && len(old.children) > 0:
			return pathErr("rename", to, syscall.ENOTEMPTY)
		}
		m.drop(old)
	}
	delete(n.parent.children, n.name)
	m.touchLocked(n.parent)
	n.name, n.parent = base, dir
	dir.children[base] = n
	m.touchLocked(dir)
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("remove", name)
	if err != nil {
		return err
	}
	if n == m.root {
		return pathErr("remove", name, syscall.EBUSY)
	}
	if len(n.children) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(n.parent.children, n.name)
	m.touchLocked(n.parent)
	m.drop(n)
	return nil
}

func (m *memFS) Join(elem ...string) string { return path.Join(elem...) }

func (m *memFS) TempFile(dir, prefix string) (billy.File, error) {
	for i := 0; ; i++ {
		name := path.Join(dir, prefix+time.Now().Format("150405.000000000")+string(rune('a'+i%26)))
		f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil || !os.IsExist(err) || i > 100 {
			return f, err
		}
	}
}

func (m *memFS) ReadDir(name string) ([]os.FileInfo, error) {
	m.mu.RLock()
	n, err := m.walk("readdir", name)
	if err == nil && n.children == nil {
		err = pathErr("readdir", name, syscall.ENOTDIR)
	}
	var kids []*mnode
	if err == nil {
		for _, c := range n.children {
			kids = append(kids, c)
		}
	}
	m.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	out := make([]os.FileInfo, 0, len(kids))
	for _, c := range kids {
		out = append(out, c.info())
	}
	slices.SortFunc(out, func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (m *memFS) MkdirAll(name string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, c := range split(name) {
		if n.children == nil {
			return pathErr("mkdir", name, syscall.ENOTDIR)
		}
		next, ok := n.children[c]
		if !ok {
			next = m.newNode(c, os.ModeDir|perm.Perm())
			next.parent = n
			n.children[c] = next
			m.touchLocked(n)
		}
		n = next
	}
	if n.children == nil {
		return pathErr("mkdir", name, syscall.ENOTDIR)
	}
	return nil
}

func (m *memFS) Symlink(target, link string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentOf("symlink", link)
	if err != nil {
		return err
	}
	if _, ok := dir.children[base]; ok {
		return pathErr("symlink", link, os.ErrExist)
	}
	n := m.newNode(base, os.ModeSymlink|0o777)
	n.target, n.size = target, int64(len(target))
	n.parent = dir
	dir.children[base] = n
	m.touchLocked(dir)
	return nil
}

func (m *memFS) Readlink(link string) (string, error) {
	m.mu.RLock()
	n, err := m.walk("readlink", link)
	m.mu.RUnlock()
	if err != nil {
		return "", err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.mode&os.ModeSymlink == 0 {
		return "", pathErr("readlink", link, syscall.EINVAL)
	}
	return n.target, nil
}

func (m *memFS) Chroot(p string) (billy.Filesystem, error) { return chroot.New(m, p), nil }
func (m *memFS) Root() string                              { return "/" }

// node returns the node at p for an attribute change.
func (m *memFS) node(op, p string) (*mnode, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.walk(op, p)
}

func (m *memFS) Chmod(name string, mode os.FileMode) error {
	n, err := m.node("chmod", name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.mode = n.mode&^os.ModePerm | mode.Perm()
	n.ctime = m.clk.Now()
	n.mu.Unlock()
	return nil
}

func (m *memFS) Lchown(name string, uid, gid int) error {
	n, err := m.node("chown", name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.uid, n.gid = uint32(uid), uint32(gid)
	n.ctime = m.clk.Now()
	n.mu.Unlock()
	return nil
}

func (m *memFS) Chown(name string, uid, gid int) error { return m.Lchown(name, uid, gid) }

func (m *memFS) Chtimes(name string, _ time.Time, mtime time.Time) error {
	n, err := m.node("chtimes", name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.mtime = mtime
	n.ctime = m.clk.Now()
	n.mu.Unlock()
	return nil
}

// truncate sets a file's size, dropping whole chunks past it and zeroing
// the tail of the last one so that a later extension reads zeros.
func (m *memFS) truncate(n *mnode, size int64) error {
	if size < 0 || size > m.maxSize {
		return syscall.EFBIG
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.mode.IsRegular() {
		return syscall.EISDIR
	}
	if size < n.size {
		for k := range n.chunks {
			if k*chunkSize >= size {
				delete(n.chunks, k)
			}
		}
		if c, ok := n.chunks[size/chunkSize]; ok {
			clear(c[size%chunkSize:])
		}
	}
	n.size = size
	n.mtime = m.clk.Now()
	n.ctime = n.mtime
	return nil
}

func (n *mnode) readAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.mode.IsDir() {
		return 0, syscall.EISDIR
	}
	if off >= n.size {
		return 0, io.EOF
	}
	want := min(int64(len(b)), n.size-off)
	done := int64(0)
	for done < want {
		o := off + done
		k, in := o/chunkSize, o%chunkSize
		l := min(chunkSize-in, want-done)
		if c, ok := n.chunks[k]; ok {
			copy(b[done:done+l], c[in:in+l])
		} else {
			clear(b[done : done+l])
		}
		done += l
	}
	if want < int64(len(b)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

func (n *mnode) writeAt(m *memFS, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	end := off + int64(len(p))
	if end > m.maxSize || end < off {
		return 0, syscall.EFBIG
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.mode.IsRegular() {
		return 0, syscall.EISDIR
	}
	if n.chunks == nil {
		n.chunks = map[int64][]byte{}
	}
	done := int64(0)
	for done < int64(len(p)) {
		o := off + done
		k, in := o/chunkSize, o%chunkSize
		l := min(chunkSize-in, int64(len(p))-done)
		c, ok := n.chunks[k]
		if !ok {
			c = make([]byte, chunkSize)
			n.chunks[k] = c
		}
		copy(c[in:in+l], p[done:done+l])
		done += l
	}
	if end > n.size {
		n.size = end
	}
	n.mtime = m.clk.Now()
	n.ctime = n.mtime
	return len(p), nil
}

// info snapshots a node. The file id, link count and owner travel in Sys()
// as go-nfs's file.FileInfo, which go-nfs puts into fattr3.
func (n *mnode) info() os.FileInfo {
	n.mu.RLock()
	defer n.mu.RUnlock()
	nlink := uint32(1)
	if n.children != nil {
		nlink = 2
	}
	return &minfo{name: n.name, size: n.size, mode: n.mode, mtime: n.mtime,
		sys: &file.FileInfo{Nlink: nlink, UID: n.uid, GID: n.gid, Fileid: n.id}}
}

type minfo struct {
	name  string
	size  int64
	mode  os.FileMode
	mtime time.Time
	sys   *file.FileInfo
}

func (i *minfo) Name() string {
	if i.name == "" {
		return "/"
	}
	return i.name
}
func (i *minfo) Size() int64        { return i.size }
func (i *minfo) Mode() os.FileMode  { return i.mode }
func (i *minfo) ModTime() time.Time { return i.mtime }
func (i *minfo) IsDir() bool        { return i.mode.IsDir() }
func (i *minfo) Sys() any           { return i.sys }

// mfile is one open of a node: its own offset over the shared data.
type mfile struct {
	fs   *memFS
	n    *mnode
	name string
	flag int

	mu     sync.Mutex
	off    int64
	closed bool
}

func (f *mfile) Name() string { return f.name }

func (f *mfile) check(write bool) error {
	if f.closed {
		return os.ErrClosed
	}
	acc := f.flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if write && acc == os.O_RDONLY || !write && acc == os.O_WRONLY {
		return pathErr("io", f.name, syscall.EBADF)
	}
	return nil
}

func (f *mfile) Read(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(false); err != nil {
		return 0, err
	}
	n, err := f.n.readAt(b, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *mfile) ReadAt(b []byte, off int64) (int, error) {
	f.mu.Lock()
	err := f.check(false)
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.n.readAt(b, off)
}

func (f *mfile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		f.n.mu.RLock()
		f.off = f.n.size
		f.n.mu.RUnlock()
	}
	n, err := f.n.writeAt(f.fs, p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *mfile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	err := f.check(true)
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return f.n.writeAt(f.fs, p, off)
}

func (f *mfile) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	switch whence {
	case io.SeekCurrent:
		off += f.off
	case io.SeekEnd:
		f.n.mu.RLock()
		off += f.n.size
		f.n.mu.RUnlock()
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	f.off = off
	return off, nil
}

func (f *mfile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	f.closed = true
	return nil
}

func (f *mfile) Lock() error   { return nil }
func (f *mfile) Unlock() error { return nil }

func (f *mfile) Truncate(size int64) error {
	f.mu.Lock()
	err := f.check(true)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.fs.truncate(f.n, size)
}
