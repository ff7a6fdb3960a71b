package vmio

import (
	"context"
	"io"
	"io/fs"
	"path"
	"sync"
	"syscall"
)

// writeMode says what the fake volume does with a write.
type writeMode int

const (
	writeNormal   writeMode = iota
	writeAckDrop            // acknowledge, store nothing: a lost acknowledged write
	writeFailDrop           // fail, store nothing: an uncertain write that did not land
	writeFailLand           // store, then fail: an uncertain write that landed
)

// fakeVolume is an in-memory Volume with switches for the failures a
// datastore can have. IO blocks while the volume is blocked (APD), until
// unblocked or the operation's context ends.
type fakeVolume struct {
	mu      sync.Mutex
	files   map[string][]byte
	dirs    map[string]bool
	gate    chan struct{}
	failErr error
	mode    writeMode
	opens   int
	// onIO, when set, runs as an operation reaches the volume.
	onIO func()
}

func newFakeVolume() *fakeVolume {
	return &fakeVolume{files: map[string][]byte{}, dirs: map[string]bool{}}
}

func (v *fakeVolume) block() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gate == nil {
		v.gate = make(chan struct{})
	}
}

func (v *fakeVolume) unblock() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gate != nil {
		close(v.gate)
		v.gate = nil
	}
}

func (v *fakeVolume) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.failErr = err
}

func (v *fakeVolume) setWriteMode(m writeMode) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.mode = m
}

// wait is where every operation meets the switches.
func (v *fakeVolume) wait(ctx context.Context) error {
	v.mu.Lock()
	gate, err, onIO := v.gate, v.failErr, v.onIO
	v.mu.Unlock()
	if onIO != nil {
		onIO()
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (v *fakeVolume) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if err := v.wait(ctx); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d := path.Dir(name); d != "." && !v.dirs[d] {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrNotExist}
	}
	if v.dirs[name] {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	}
	v.dirs[name] = true
	return nil
}

func (v *fakeVolume) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error) {
	if err := v.wait(ctx); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d := path.Dir(name); d != "." && !v.dirs[d] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if _, ok := v.files[name]; !ok {
		v.files[name] = nil
	}
	v.opens++
	return &fakeFile{v: v, name: name}, nil
}

// snapshot and restore roll a file back, losing what was written since.
func (v *fakeVolume) snapshot(name string) []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]byte(nil), v.files[name]...)
}

func (v *fakeVolume) restore(name string, data []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.files[name] = append([]byte(nil), data...)
}

// edit changes a file's bytes in place.
func (v *fakeVolume) edit(name string, f func(data []byte)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(v.files[name])
}

type fakeFile struct {
	v      *fakeVolume
	name   string
	closed bool
}

func (f *fakeFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.v.wait(ctx); err != nil {
		return 0, err
	}
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	if f.closed {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrClosed}
	}
	data := f.v.files[f.name]
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *fakeFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.v.wait(ctx); err != nil {
		return 0, err
	}
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	if f.closed {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: fs.ErrClosed}
	}
	mode := f.v.mode
	if mode == writeAckDrop || mode == writeFailDrop {
		if mode == writeFailDrop {
			return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EIO}
		}
		return len(p), nil
	}
	data := f.v.files[f.name]
	if end := off + int64(len(p)); end > int64(len(data)) {
		data = append(data, make([]byte, end-int64(len(data)))...)
	}
	copy(data[off:], p)
	f.v.files[f.name] = data
	if mode == writeFailLand {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EIO}
	}
	return len(p), nil
}

func (f *fakeFile) Close() error {
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	f.closed = true
	return nil
}
