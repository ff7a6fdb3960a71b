package shell

import (
	"context"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Mount serves a directory tree, e.g. an NFS export mounted under
// /vmfs/volumes. Names are relative to the mount's root in io/fs form:
// "." is the root, "a/b" below it, never a leading slash or "..".
//
// Any method may block (a server that stopped answering); it must return
// once ctx is done. Errors should wrap a syscall.Errno or an io/fs sentinel
// so that commands print the usual text (see ErrorText).
type Mount interface {
	Stat(ctx context.Context, name string) (fs.FileInfo, error)
	ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error)
	// OpenFile takes os.O_* flags; O_RDONLY opens for reading.
	OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error)
	Mkdir(ctx context.Context, name string, perm fs.FileMode) error
	Remove(ctx context.Context, name string) error
	Rename(ctx context.Context, oldname, newname string) error
}

// Mount makes m serve dir and everything below it. dir's parent must be a
// directory outside any mount; dir itself need not exist (a mount point
// shows up in its parent's listing either way, and hides what was there).
func (f *FS) Mount(dir string, m Mount) error {
	p := Clean(dir)
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	if p == "/" {
		return pathErr("mount", dir, errBusy)
	}
	if _, ok := f.t.mounts[p]; ok {
		return pathErr("mount", dir, errBusy)
	}
	l, err := f.t.resolve("mount", path.Dir(p), true)
	if err != nil {
		return err
	}
	if l.m != nil {
		return pathErr("mount", dir, errXDev)
	}
	if l.n == nil {
		return pathErr("mount", dir, errNotExist)
	}
	if !l.n.isDir() {
		return pathErr("mount", dir, errNotDir)
	}
	f.t.mounts[Clean(l.path+"/"+path.Base(p))] = m
	return nil
}

// Unmount detaches the mount at dir.
func (f *FS) Unmount(dir string) error {
	p := Clean(dir)
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	if _, ok := f.t.mounts[p]; !ok {
		return pathErr("umount", dir, errInval)
	}
	delete(f.t.mounts, p)
	return nil
}

// MountPoints lists the mount points, sorted.
func (f *FS) MountPoints() []string {
	f.t.mu.RLock()
	defer f.t.mu.RUnlock()
	var out []string
	for mp := range f.t.mounts {
		out = append(out, mp)
	}
	sort.Strings(out)
	return out
}

// mountUnder reports whether a mount point lies strictly below dir.
func (t *tree) mountUnder(dir string) bool {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for mp := range t.mounts {
		if strings.HasPrefix(mp, prefix) {
			return true
		}
	}
	return false
}

// unwrapPath strips a mount's own *fs.PathError so that ours, naming the
// path as the user typed it, is the only one.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
