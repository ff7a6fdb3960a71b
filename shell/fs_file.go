package shell

import (
	"context"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// File is an open file. Reads and writes of one File are sequential;
// several Files on the same node may be used concurrently.
type File interface {
	io.Reader
	io.Writer
	io.Closer
	Stat() (fs.FileInfo, error)
}

// memFile is an open node of the in-memory tree. It reads and writes the
// node's bytes under the tree lock, so a reader sees appends made through
// another File (tail -f on a log).
type memFile struct {
	t    *tree
	n    *node
	name string
	flag int
	snap []byte // content of a dynamic file, fixed at open

	mu     sync.Mutex
	off    int
	closed bool
}

func (f *memFile) readable() bool { return f.flag&os.O_WRONLY == 0 }
func (f *memFile) writable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

func (f *memFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || !f.readable() {
		return 0, pathErr("read", f.name, errBadF)
	}
	if f.n.isDir() {
		return 0, pathErr("read", f.name, errIsDir)
	}
	if f.n.isNull() {
		return 0, io.EOF
	}
	data := f.snap
	if f.n.gen == nil {
		f.t.mu.RLock()
		defer f.t.mu.RUnlock()
		data = f.n.data
	}
	if f.off >= len(data) {
		return 0, io.EOF
	}
	n := copy(p, data[f.off:])
	f.off += n
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || !f.writable() {
		return 0, pathErr("write", f.name, errBadF)
	}
	if f.n.isNull() {
		return len(p), nil
	}
	f.t.mu.Lock()
	defer f.t.mu.Unlock()
	if f.flag&os.O_APPEND != 0 {
		f.off = len(f.n.data)
	}
	if end := f.off + len(p); end > len(f.n.data) {
		if end > cap(f.n.data) {
			grown := make([]byte, end, 2*end)
			copy(grown, f.n.data)
			f.n.data = grown
		} else {
			f.n.data = f.n.data[:end]
		}
	}
	copy(f.n.data[f.off:], p)
	f.off += len(p)
	f.n.modTime = f.t.now()
	return len(p), nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, errBadF)
	}
	f.closed = true
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.t.mu.RLock()
	defer f.t.mu.RUnlock()
	fi := f.n.info(f.name)
	if f.n.gen != nil {
		fi.size = int64(len(f.snap))
	}
	return fi, nil
}

// fileInfo is the FileInfo of a tree node.
type fileInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
	target  string
}

// info snapshots n; the caller holds the tree lock.
func (n *node) info(name string) *fileInfo {
	fi := &fileInfo{name: name, mode: n.mode, modTime: n.modTime, size: int64(len(n.data))}
	switch {
	case n.isDir():
		fi.size = 512 // what a small directory reports on visorfs and ext
	case n.isSymlink():
		fi.size = int64(len(n.target))
		fi.target = n.target
	}
	return fi
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.modTime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

// renamed reports a mount's FileInfo under the name the caller used.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

type dirEntry struct {
	fi  *fileInfo
	gen func() ([]byte, error)
}

func (d dirEntry) Name() string      { return d.fi.name }
func (d dirEntry) IsDir() bool       { return d.fi.IsDir() }
func (d dirEntry) Type() fs.FileMode { return d.fi.mode.Type() }
func (d dirEntry) Info() (fs.FileInfo, error) {
	if d.gen != nil {
		fi := *d.fi
		if data, err := d.gen(); err == nil {
			fi.size = int64(len(data))
		}
		return &fi, nil
	}
	return d.fi, nil
}

// mountEntry is a mount point in its parent's listing. Its Info asks the
// mount lazily, so a plain `ls` of the parent does not block on a dead
// server while `ls -l` does, as on a real host.
type mountEntry struct {
	name string
	m    Mount
	ctx  context.Context
}

func (e mountEntry) Name() string      { return e.name }
func (e mountEntry) IsDir() bool       { return true }
func (e mountEntry) Type() fs.FileMode { return fs.ModeDir }
func (e mountEntry) Info() (fs.FileInfo, error) {
	fi, err := e.m.Stat(e.ctx, ".")
	if err != nil {
		return nil, pathErr("stat", e.name, unwrapPath(err))
	}
	return renamed{fi, e.name}, nil
}
