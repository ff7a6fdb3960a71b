package shell

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// FS is a node's in-memory filesystem. It never touches the real one.
//
// Paths are absolute and cleaned ("a/b" is taken as "/a/b", ".." never
// escapes "/"). Directories under a mount point are served by the Mount.
// Errors are *fs.PathError wrapping a syscall.Errno, so errors.Is(err,
// fs.ErrNotExist) works and ErrorText gives busybox's wording.
//
// An FS is safe for concurrent use. Values returned by WithContext share the
// tree; their context is handed to mounts, whose operations may block (an
// NFS server that went away), so that Ctrl-C can end a hung `ls`.
type FS struct {
	t   *tree
	ctx context.Context
}

type tree struct {
	mu     sync.RWMutex
	root   *node
	mounts map[string]Mount
	clock  clock.Clock
}

// node is a file, directory, symlink or /dev/null in the tree.
type node struct {
	mode    fs.FileMode // type bits and permissions
	modTime time.Time
	data    []byte
	gen     func() ([]byte, error) // set for dynamic files
	target  string                 // symlink target
	kids    map[string]*node
}

func (n *node) isDir() bool     { return n.mode.IsDir() }
func (n *node) isSymlink() bool { return n.mode&fs.ModeSymlink != 0 }
func (n *node) isNull() bool    { return n.mode&fs.ModeCharDevice != 0 }

// FSOption configures NewFS.
type FSOption func(*FS)

// WithClock makes the FS stamp modification times from c (default: the
// wall clock), so that `ls -l` output is deterministic on a fake clock.
func WithClock(c clock.Clock) FSOption { return func(f *FS) { f.t.clock = c } }

// NewFS returns a filesystem holding only /, /dev, /dev/null and /tmp.
func NewFS(opts ...FSOption) *FS {
	f := &FS{t: &tree{mounts: map[string]Mount{}, clock: clock.Real()}}
	for _, o := range opts {
		o(f)
	}
	now := f.t.clock.Now()
	dir := func() *node { return &node{mode: fs.ModeDir | 0o755, modTime: now, kids: map[string]*node{}} }
	f.t.root = dir()
	dev := dir()
	dev.kids["null"] = &node{mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, modTime: now}
	f.t.root.kids["dev"] = dev
	tmp := dir()
	tmp.mode = fs.ModeDir | fs.ModeSticky | 0o777
	f.t.root.kids["tmp"] = tmp
	return f
}

// SetClock changes the clock used for modification times.
func (f *FS) SetClock(c clock.Clock) {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	f.t.clock = c
}

// WithContext returns a view of the same filesystem whose operations pass
// ctx to mounts.
func (f *FS) WithContext(ctx context.Context) *FS { return &FS{t: f.t, ctx: ctx} }

func (f *FS) context() context.Context {
	if f.ctx == nil {
		return context.Background()
	}
	return f.ctx
}

func (t *tree) now() time.Time { return t.clock.Now() }

// Clean returns name as an absolute clean path: relative names are taken
// relative to "/".
func Clean(name string) string { return path.Clean("/" + name) }

// Abs resolves name against the directory dir, as a command resolves its
// arguments against the current directory.
func Abs(dir, name string) string {
	if strings.HasPrefix(name, "/") {
		return path.Clean(name)
	}
	return Clean(dir + "/" + name)
}

// loc is where a path ends up: a node in the tree (or its would-be parent)
// or a path inside a mount.
type loc struct {
	path   string // resolved absolute path
	parent *node  // directory holding the last element; nil for "/"
	name   string // last element
	n      *node  // nil when the last element does not exist
	m      Mount  // non-nil when the path is served by a mount
	mpath  string // the mount point
	rel    string // path inside the mount, in io/fs form ("." is its root)
}

const maxSymlinks = 40

// resolve walks name, following symlinks (the last element only when
// follow is set) and stopping at the first mount point crossed.
// The caller holds t.mu.
func (t *tree) resolve(op, name string, follow bool) (loc, error) {
	p := Clean(name)
	for range maxSymlinks {
		l, next, err := t.walk(p, follow)
		if err != nil {
			return l, pathErr(op, name, err)
		}
		if next == "" {
			return l, nil
		}
		p = next
	}
	return loc{}, pathErr(op, name, errLoop)
}

// walk resolves p up to the first symlink it must follow, whose expansion
// it returns as next.
func (t *tree) walk(p string, follow bool) (l loc, next string, err error) {
	if p == "/" {
		return loc{path: "/", n: t.root, name: "/"}, "", nil
	}
	comps := strings.Split(p[1:], "/")
	cur, curPath := t.root, "/"
	for i, c := range comps {
		childPath := path.Join(curPath, c)
		if m, ok := t.mounts[childPath]; ok {
			rel := strings.Join(comps[i+1:], "/")
			if rel == "" {
				rel = "."
			}
			return loc{path: p, name: c, m: m, mpath: childPath, rel: rel}, "", nil
		}
		if !cur.isDir() {
			return loc{}, "", errNotDir
		}
		last := i == len(comps)-1
		child := cur.kids[c]
		if child == nil {
			if last {
				return loc{path: p, parent: cur, name: c}, "", nil
			}
			return loc{}, "", errNotExist
		}
		if child.isSymlink() && (!last || follow) {
			target := child.target
			if !strings.HasPrefix(target, "/") {
				target = curPath + "/" + target
			}
			return loc{}, path.Clean(target + "/" + strings.Join(comps[i+1:], "/")), nil
		}
		if last {
			return loc{path: p, parent: cur, name: c, n: child}, "", nil
		}
		cur, curPath = child, childPath
	}
	panic("unreachable")
}

// Stat returns the FileInfo of name, following symlinks.
func (f *FS) Stat(name string) (fs.FileInfo, error) { return f.stat("stat", name, true) }

// Lstat is Stat without following a final symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) { return f.stat("lstat", name, false) }

func (f *FS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	f.t.mu.RLock()
	l, err := f.t.resolve(op, name, follow)
	if err != nil {
		f.t.mu.RUnlock()
		return nil, err
	}
	if l.m != nil {
		f.t.mu.RUnlock()
		fi, err := l.m.Stat(f.context(), l.rel)
		if err != nil {
			return nil, pathErr(op, name, unwrapPath(err))
		}
		return renamed{fi, path.Base(Clean(name))}, nil
	}
	if l.n == nil {
		f.t.mu.RUnlock()
		return nil, pathErr(op, name, errNotExist)
	}
	fi := l.n.info(path.Base(Clean(name)))
	gen := l.n.gen
	f.t.mu.RUnlock()
	if gen != nil {
		// Generated outside the lock: the generator reads a model that may
		// take its own locks or read this FS.
		if data, err := gen(); err == nil {
			fi.size = int64(len(data))
		}
	}
	return fi, nil
}

// Realpath returns name with every symlink resolved, as `pwd -P` and
// `readlink -f` print it. Paths inside mounts are returned as they are.
func (f *FS) Realpath(name string) (string, error) {
	f.t.mu.RLock()
	defer f.t.mu.RUnlock()
	l, err := f.t.resolve("realpath", name, true)
	if err != nil {
		return "", err
	}
	if l.m == nil && l.n == nil {
		return "", pathErr("realpath", name, errNotExist)
	}
	return l.path, nil
}

// ReadDir lists a directory sorted by name, mount points included.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.t.mu.RLock()
	l, err := f.t.resolve("readdir", name, true)
	if err != nil {
		f.t.mu.RUnlock()
		return nil, err
	}
	if l.m != nil {
		f.t.mu.RUnlock()
		ents, err := l.m.ReadDir(f.context(), l.rel)
		if err != nil {
			return nil, pathErr("readdir", name, unwrapPath(err))
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		return ents, nil
	}
	defer f.t.mu.RUnlock()
	if l.n == nil {
		return nil, pathErr("readdir", name, errNotExist)
	}
	if !l.n.isDir() {
		return nil, pathErr("readdir", name, errNotDir)
	}
	seen := map[string]bool{}
	var ents []fs.DirEntry
	for mp, m := range f.t.mounts {
		if path.Dir(mp) == l.path {
			base := path.Base(mp)
			seen[base] = true
			ents = append(ents, mountEntry{name: base, m: m, ctx: f.context()})
		}
	}
	for k, n := range l.n.kids {
		if !seen[k] {
			ents = append(ents, dirEntry{fi: n.info(k), gen: n.gen})
		}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	return ents, nil
}

// Mkdir creates a directory whose parent must exist.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	f.t.mu.Lock()
	l, err := f.t.resolve("mkdir", name, false)
	if err != nil {
		f.t.mu.Unlock()
		return err
	}
	if l.m != nil {
		f.t.mu.Unlock()
		if err := l.m.Mkdir(f.context(), l.rel, perm); err != nil {
			return pathErr("mkdir", name, unwrapPath(err))
		}
		return nil
	}
	defer f.t.mu.Unlock()
	if l.n != nil {
		return pathErr("mkdir", name, errExist)
	}
	l.parent.kids[l.name] = &node{mode: fs.ModeDir | perm.Perm(), modTime: f.t.now(), kids: map[string]*node{}}
	l.parent.modTime = f.t.now()
	return nil
}

// MkdirAll creates a directory and any missing parents (mode 0755).
func (f *FS) MkdirAll(name string) error {
	p := Clean(name)
	if p == "/" {
		return nil
	}
	dir := ""
	for c := range strings.SplitSeq(p[1:], "/") {
		dir += "/" + c
		fi, err := f.Stat(dir)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return pathErr("mkdir", name, errNotDir)
		}
		if err := f.Mkdir(dir, 0o755); err != nil && !isExist(err) {
			return err
		}
	}
	return nil
}

func isExist(err error) bool {
	pe, ok := err.(*fs.PathError)
	return ok && pe.Err == errExist
}

// Open opens name for reading.
func (f *FS) Open(name string) (File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// OpenFile opens name with os.O_* flags, creating it with perm if asked.
// A dynamic file's content is generated once, at open.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	writing := flag&(os.O_WRONLY|os.O_RDWR) != 0
	f.t.mu.Lock()
	l, err := f.t.resolve("open", name, true)
	if err != nil {
		f.t.mu.Unlock()
		return nil, err
	}
	if l.m != nil {
		f.t.mu.Unlock()
		file, err := l.m.OpenFile(f.context(), l.rel, flag, perm)
		if err != nil {
			return nil, pathErr("open", name, unwrapPath(err))
		}
		return file, nil
	}
	n := l.n
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		f.t.mu.Unlock()
		return nil, pathErr("open", name, errNotExist)
	case n == nil:
		n = &node{mode: perm.Perm(), modTime: f.t.now()}
		l.parent.kids[l.name] = n
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		f.t.mu.Unlock()
		return nil, pathErr("open", name, errExist)
	case n.isDir() && writing:
		f.t.mu.Unlock()
		return nil, pathErr("open", name, errIsDir)
	case n.gen != nil && writing:
		f.t.mu.Unlock()
		return nil, pathErr("open", name, errAccess)
	case writing && flag&os.O_TRUNC != 0 && !n.isNull():
		n.data = nil
		n.modTime = f.t.now()
	}
	file := &memFile{t: f.t, n: n, name: path.Base(Clean(name)), flag: flag}
	gen := n.gen
	f.t.mu.Unlock()
	if gen != nil {
		data, err := gen()
		if err != nil {
			return nil, pathErr("open", name, unwrapPath(err))
		}
		file.snap = data
	}
	return file, nil
}

// ReadFile returns the content of name.
func (f *FS) ReadFile(name string) ([]byte, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		return nil, pathErr("read", name, unwrapPath(err))
	}
	return data, nil
}

// WriteFile replaces the content of name, creating it with perm if needed.
// The parent directory must exist.
func (f *FS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return f.writeFile(name, data, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
}

// AppendFile appends data to name, creating it (0644) if needed: the way
// logs grow while `tail -f` watches them.
func (f *FS) AppendFile(name string, data []byte) error {
	return f.writeFile(name, data, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
}

func (f *FS) writeFile(name string, data []byte, flag int, perm fs.FileMode) error {
	file, err := f.OpenFile(name, flag, perm)
	if err != nil {
		return err
	}
	_, err = file.Write(data)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return pathErr("write", name, unwrapPath(err))
	}
	return nil
}

// SetDynamic makes name a read-only file whose content gen produces on
// every open (and stat), e.g. a log or config file rendered from a model.
// The parent directory must exist; an existing file is replaced.
func (f *FS) SetDynamic(name string, gen func() ([]byte, error)) error {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	l, err := f.t.resolve("open", name, true)
	if err != nil {
		return err
	}
	if l.m != nil {
		return pathErr("open", name, errXDev)
	}
	if l.n != nil && l.n.isDir() {
		return pathErr("open", name, errIsDir)
	}
	l.parent.kids[l.name] = &node{mode: 0o444, modTime: f.t.now(), gen: gen}
	return nil
}

// Symlink creates link pointing at target (which need not exist).
func (f *FS) Symlink(target, link string) error {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	l, err := f.t.resolve("symlink", link, false)
	if err != nil {
		return err
	}
	if l.m != nil {
		return pathErr("symlink", link, errXDev)
	}
	if l.n != nil || l.parent == nil {
		return pathErr("symlink", link, errExist)
	}
	l.parent.kids[l.name] = &node{mode: fs.ModeSymlink | 0o777, modTime: f.t.now(), target: target}
	return nil
}

// Readlink returns a symlink's target.
func (f *FS) Readlink(name string) (string, error) {
	f.t.mu.RLock()
	defer f.t.mu.RUnlock()
	l, err := f.t.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if l.m != nil || l.n == nil {
		return "", pathErr("readlink", name, errNotExist)
	}
	if !l.n.isSymlink() {
		return "", pathErr("readlink", name, errInval)
	}
	return l.n.target, nil
}

// Chmod sets the permission bits of name.
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	return f.modify("chmod", name, func(n *node) { n.mode = n.mode&^fs.ModePerm | mode.Perm() })
}

// Chtimes sets the modification time of name.
func (f *FS) Chtimes(name string, mtime time.Time) error {
	return f.modify("chtimes", name, func(n *node) { n.modTime = mtime })
}

func (f *FS) modify(op, name string, fn func(*node)) error {
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	l, err := f.t.resolve(op, name, true)
	if err != nil {
		return err
	}
	if l.m != nil {
		return nil // mounts keep their own metadata
	}
	if l.n == nil {
		return pathErr(op, name, errNotExist)
	}
	fn(l.n)
	return nil
}

// Remove removes a file, symlink or empty directory.
func (f *FS) Remove(name string) error {
	f.t.mu.Lock()
	l, err := f.t.resolve("remove", name, false)
	if err != nil {
		f.t.mu.Unlock()
		return err
	}
	if l.m != nil {
		f.t.mu.Unlock()
		if l.rel == "." {
			return pathErr("remove", name, errBusy)
		}
		if err := l.m.Remove(f.context(), l.rel); err != nil {
			return pathErr("remove", name, unwrapPath(err))
		}
		return nil
	}
	defer f.t.mu.Unlock()
	switch {
	case l.n == nil:
		return pathErr("remove", name, errNotExist)
	case l.parent == nil || f.t.mountUnder(l.path):
		return pathErr("remove", name, errBusy)
	case l.n.isDir() && len(l.n.kids) > 0:
		return pathErr("remove", name, errNotEmpty)
	}
	delete(l.parent.kids, l.name)
	l.parent.modTime = f.t.now()
	return nil
}

// RemoveAll removes name and everything below it; a missing name is not an
// error. It refuses (EBUSY) to touch a tree holding a mount point, so that
// `rm -rf /vmfs` cannot empty a datastore.
func (f *FS) RemoveAll(name string) error {
	f.t.mu.RLock()
	l, err := f.t.resolve("remove", name, false)
	busy := err == nil && l.m == nil && (l.parent == nil || f.t.mountUnder(l.path))
	f.t.mu.RUnlock()
	if busy {
		return pathErr("remove", name, errBusy)
	}
	return f.removeAll(name)
}

func (f *FS) removeAll(name string) error {
	fi, err := f.Lstat(name)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok && pe.Err == errNotExist {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		ents, err := f.ReadDir(name)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := f.removeAll(Clean(name) + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	return f.Remove(name)
}

// Rename moves oldname to newname, replacing a file or empty directory
// there. Both must be in the same mount (or both outside any), else EXDEV.
func (f *FS) Rename(oldname, newname string) error {
	f.t.mu.Lock()
	ol, err := f.t.resolve("rename", oldname, false)
	if err != nil {
		f.t.mu.Unlock()
		return err
	}
	nl, err := f.t.resolve("rename", newname, false)
	if err != nil {
		f.t.mu.Unlock()
		return err
	}
	if ol.m != nil || nl.m != nil {
		f.t.mu.Unlock()
		if ol.mpath != nl.mpath || ol.rel == "." || nl.rel == "." {
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errXDev}
		}
		if err := ol.m.Rename(f.context(), ol.rel, nl.rel); err != nil {
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: unwrapPath(err)}
		}
		return nil
	}
	defer f.t.mu.Unlock()
	lerr := func(e error) error { return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: e} }
	switch {
	case ol.n == nil:
		return lerr(errNotExist)
	case ol.parent == nil || nl.parent == nil || f.t.mountUnder(ol.path):
		return lerr(errBusy)
	case ol.path == nl.path:
		return nil
	case ol.n.isDir() && strings.HasPrefix(nl.path, ol.path+"/"):
		return lerr(errInval)
	}
	if nl.n != nil {
		switch {
		case nl.n.isDir() && !ol.n.isDir():
			return lerr(errIsDir)
		case !nl.n.isDir() && ol.n.isDir():
			return lerr(errNotDir)
		case nl.n.isDir() && len(nl.n.kids) > 0:
			return lerr(errNotEmpty)
		}
	}
	delete(ol.parent.kids, ol.name)
	nl.parent.kids[nl.name] = ol.n
	now := f.t.now()
	ol.parent.modTime, nl.parent.modTime = now, now
	return nil
}
