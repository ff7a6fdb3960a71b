package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFSBasics(t *testing.T) {
	f := NewFS(WithClock(clockwork.NewFakeClockAt(epoch)))
	require.NoError(t, f.MkdirAll("/a/b/c"))
	require.NoError(t, f.MkdirAll("a/b/c")) // relative means from /, and existing is fine
	require.NoError(t, f.WriteFile("/a/b/file", []byte("hello"), 0o600))
	data, err := f.ReadFile("/a/../a/./b/file")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))
	data, err = f.ReadFile("/../../a/b/file") // .. never escapes /
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))

	fi, err := f.Stat("/a/b/file")
	require.NoError(t, err)
	assert.Equal(t, "file", fi.Name())
	assert.Equal(t, int64(5), fi.Size())
	assert.Equal(t, fs.FileMode(0o600), fi.Mode())
	assert.Equal(t, epoch, fi.ModTime())

	require.NoError(t, f.AppendFile("/a/b/file", []byte(" world")))
	require.NoError(t, f.AppendFile("/a/b/new", []byte("x")))
	data, _ = f.ReadFile("/a/b/file")
	assert.Equal(t, "hello world", string(data))

	ents, err := f.ReadDir("/a/b")
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"c", "file", "new"}, names)
	assert.True(t, ents[0].IsDir())

	// Files opened for writing and reading see each other.
	w, err := f.OpenFile("/a/log", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	require.NoError(t, err)
	r, err := f.Open("/a/log")
	require.NoError(t, err)
	_, _ = w.Write([]byte("one\n"))
	buf := make([]byte, 10)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "one\n", string(buf[:n]))
	_, err = r.Write([]byte("x"))
	assert.ErrorIs(t, err, syscall.EBADF)
	require.NoError(t, w.Close())
	assert.Error(t, w.Close())

	// /dev/null swallows and is empty.
	require.NoError(t, f.WriteFile("/dev/null", []byte("gone"), 0o644))
	data, err = f.ReadFile("/dev/null")
	require.NoError(t, err)
	assert.Empty(t, data)
}

func TestFSErrors(t *testing.T) {
	f := NewFS()
	require.NoError(t, f.MkdirAll("/d/sub"))
	require.NoError(t, f.WriteFile("/d/file", nil, 0o644))
	tests := []struct {
		name string
		err  error
		want syscall.Errno
		text string
	}{
		{"read missing", second(f.ReadFile("/nope")), syscall.ENOENT, "No such file or directory"},
		{"missing parent", f.WriteFile("/nope/x", nil, 0o644), syscall.ENOENT, "No such file or directory"},
		{"file as dir", second(f.Stat("/d/file/x")), syscall.ENOTDIR, "Not a directory"},
		{"write dir", f.WriteFile("/d", nil, 0o644), syscall.EISDIR, "Is a directory"},
		{"mkdir exists", f.Mkdir("/d", 0o755), syscall.EEXIST, "File exists"},
		{"mkdirall over file", f.MkdirAll("/d/file/x"), syscall.ENOTDIR, "Not a directory"},
		{"remove non-empty", f.Remove("/d"), syscall.ENOTEMPTY, "Directory not empty"},
		{"remove missing", f.Remove("/nope"), syscall.ENOENT, "No such file or directory"},
		{"readdir file", second(f.ReadDir("/d/file")), syscall.ENOTDIR, "Not a directory"},
		{"remove root", f.Remove("/"), syscall.EBUSY, "Device or resource busy"},
		{"rename missing", f.Rename("/nope", "/x"), syscall.ENOENT, "No such file or directory"},
		{"rename into self", f.Rename("/d", "/d/sub/x"), syscall.EINVAL, "Invalid argument"},
		{"rename dir over file", f.Rename("/d/sub", "/d/file"), syscall.ENOTDIR, "Not a directory"},
		{"exclusive create", second(f.OpenFile("/d/file", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)), syscall.EEXIST, "File exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.err)
			assert.ErrorIs(t, tt.err, tt.want)
			assert.Equal(t, tt.text, ErrorText(tt.err))
		})
	}
	var pe *fs.PathError
	require.ErrorAs(t, second(f.ReadFile("/nope")), &pe)
	assert.Equal(t, "/nope", pe.Path)
	assert.ErrorIs(t, pe, fs.ErrNotExist)
}

func second[T any](_ T, err error) error { return err }

func TestFSRenameRemoveAll(t *testing.T) {
	f := NewFS()
	require.NoError(t, f.MkdirAll("/a/b"))
	require.NoError(t, f.WriteFile("/a/b/f", []byte("1"), 0o644))
	require.NoError(t, f.WriteFile("/g", []byte("2"), 0o644))
	require.NoError(t, f.Rename("/a", "/z"))
	data, err := f.ReadFile("/z/b/f")
	require.NoError(t, err)
	assert.Equal(t, "1", string(data))
	require.NoError(t, f.Rename("/g", "/z/b/f")) // replaces a file
	data, _ = f.ReadFile("/z/b/f")
	assert.Equal(t, "2", string(data))
	require.NoError(t, f.RemoveAll("/z"))
	require.NoError(t, f.RemoveAll("/z"))
	_, err = f.Stat("/z")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestFSSymlinks(t *testing.T) {
	f := NewFS()
	require.NoError(t, f.MkdirAll("/vmfs/volumes/5f1e-uuid"))
	require.NoError(t, f.WriteFile("/vmfs/volumes/5f1e-uuid/vm.vmx", []byte("vmx"), 0o644))
	require.NoError(t, f.Symlink("5f1e-uuid", "/vmfs/volumes/datastore1"))
	require.NoError(t, f.Symlink("/loop2", "/loop1"))
	require.NoError(t, f.Symlink("/loop1", "/loop2"))

	data, err := f.ReadFile("/vmfs/volumes/datastore1/vm.vmx")
	require.NoError(t, err)
	assert.Equal(t, "vmx", string(data))
	fi, err := f.Lstat("/vmfs/volumes/datastore1")
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, fi.Mode().Type())
	fi, err = f.Stat("/vmfs/volumes/datastore1")
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	target, err := f.Readlink("/vmfs/volumes/datastore1")
	require.NoError(t, err)
	assert.Equal(t, "5f1e-uuid", target)
	real, err := f.Realpath("/vmfs/volumes/datastore1/vm.vmx")
	require.NoError(t, err)
	assert.Equal(t, "/vmfs/volumes/5f1e-uuid/vm.vmx", real)
	_, err = f.Stat("/loop1")
	assert.ErrorIs(t, err, syscall.ELOOP)
	// Removing a link leaves its target.
	require.NoError(t, f.Remove("/vmfs/volumes/datastore1"))
	_, err = f.Stat("/vmfs/volumes/5f1e-uuid/vm.vmx")
	assert.NoError(t, err)
}

func TestFSDynamic(t *testing.T) {
	f := NewFS()
	n := 0
	require.NoError(t, f.MkdirAll("/var/log"))
	require.NoError(t, f.SetDynamic("/var/log/gen.log", func() ([]byte, error) {
		n++
		return []byte(fmt.Sprintf("read %d\n", n)), nil
	}))
	data, err := f.ReadFile("/var/log/gen.log")
	require.NoError(t, err)
	assert.Equal(t, "read 1\n", string(data))
	data, _ = f.ReadFile("/var/log/gen.log")
	assert.Equal(t, "read 2\n", string(data))
	fi, err := f.Stat("/var/log/gen.log")
	require.NoError(t, err)
	assert.Equal(t, int64(7), fi.Size())
	err = f.WriteFile("/var/log/gen.log", nil, 0o644)
	assert.ErrorIs(t, err, fs.ErrPermission)
	require.NoError(t, f.SetDynamic("/var/log/bad.log", func() ([]byte, error) { return nil, syscall.EIO }))
	_, err = f.ReadFile("/var/log/bad.log")
	assert.Equal(t, "I/O error", ErrorText(err))
}

// memMount is a Mount over a map, for tests; block makes every call wait
// for ctx, like a dead NFS server.
type memMount struct {
	mu    sync.Mutex
	files map[string][]byte
	dirs  map[string]bool
	block bool
}

func newMemMount() *memMount {
	return &memMount{files: map[string][]byte{}, dirs: map[string]bool{".": true}}
}

func (m *memMount) wait(ctx context.Context) error {
	if m.block {
		<-ctx.Done()
		return syscall.ETIMEDOUT
	}
	return nil
}

func (m *memMount) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dirs[name] {
		return &fileInfo{name: name, mode: fs.ModeDir | 0o755}, nil
	}
	if data, ok := m.files[name]; ok {
		return &fileInfo{name: name, mode: 0o644, size: int64(len(data))}, nil
	}
	return nil, syscall.ENOENT
}

func (m *memMount) ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []fs.DirEntry
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	for p, data := range m.files {
		if rest, ok := strings.CutPrefix(p, prefix); ok && !strings.Contains(rest, "/") {
			out = append(out, fs.FileInfoToDirEntry(&fileInfo{name: rest, mode: 0o644, size: int64(len(data))}))
		}
	}
	for p := range m.dirs {
		if rest, ok := strings.CutPrefix(p, prefix); ok && p != "." && !strings.Contains(rest, "/") {
			out = append(out, fs.FileInfoToDirEntry(&fileInfo{name: rest, mode: fs.ModeDir | 0o755}))
		}
	}
	return out, nil
}

type memMountFile struct {
	m    *memMount
	name string
	r    *strings.Reader
}

func (f *memMountFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memMountFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.files[f.name] = append(f.m.files[f.name], p...)
	return len(p), nil
}
func (f *memMountFile) Close() error               { return nil }
func (f *memMountFile) Stat() (fs.FileInfo, error) { return f.m.Stat(context.Background(), f.name) }

func (m *memMount) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error) {
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.files[name]
	if !ok && flag&os.O_CREATE == 0 {
		return nil, syscall.ENOENT
	}
	if flag&os.O_TRUNC != 0 || !ok {
		data = nil
		m.files[name] = nil
	}
	return &memMountFile{m: m, name: name, r: strings.NewReader(string(data))}, nil
}

func (m *memMount) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if err := m.wait(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirs[name] = true
	return nil
}

func (m *memMount) Remove(ctx context.Context, name string) error {
	if err := m.wait(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[name]; !ok {
		return syscall.ENOENT
	}
	delete(m.files, name)
	return nil
}

func (m *memMount) Rename(ctx context.Context, oldname, newname string) error {
	if err := m.wait(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.files[oldname]
	if !ok {
		return syscall.ENOENT
	}
	delete(m.files, oldname)
	m.files[newname] = data
	return nil
}

func TestFSMount(t *testing.T) {
	f := NewFS()
	require.NoError(t, f.MkdirAll("/vmfs/volumes"))
	m := newMemMount()
	require.NoError(t, f.Mount("/vmfs/volumes/nfs1", m))
	assert.ErrorIs(t, f.Mount("/vmfs/volumes/nfs1", m), syscall.EBUSY)
	assert.ErrorIs(t, f.Mount("/nope/x", m), syscall.ENOENT)
	assert.Equal(t, []string{"/vmfs/volumes/nfs1"}, f.MountPoints())

	require.NoError(t, f.MkdirAll("/vmfs/volumes/nfs1/vm1"))
	require.NoError(t, f.WriteFile("/vmfs/volumes/nfs1/vm1/vm.vmx", []byte("x"), 0o644))
	assert.Equal(t, []byte("x"), m.files["vm1/vm.vmx"])
	ents, err := f.ReadDir("/vmfs/volumes")
	require.NoError(t, err)
	require.Len(t, ents, 1)
	assert.Equal(t, "nfs1", ents[0].Name())
	assert.True(t, ents[0].IsDir())
	ents, err = f.ReadDir("/vmfs/volumes/nfs1/vm1")
	require.NoError(t, err)
	require.Len(t, ents, 1)
	require.NoError(t, f.Rename("/vmfs/volumes/nfs1/vm1/vm.vmx", "/vmfs/volumes/nfs1/vm1/b.vmx"))
	var le *os.LinkError
	require.ErrorAs(t, f.Rename("/vmfs/volumes/nfs1/vm1/b.vmx", "/tmp/b"), &le)
	assert.ErrorIs(t, le.Err, syscall.EXDEV)
	assert.ErrorIs(t, f.Remove("/vmfs/volumes/nfs1"), syscall.EBUSY)
	assert.ErrorIs(t, f.RemoveAll("/vmfs"), syscall.EBUSY)
	_, err = f.ReadFile("/vmfs/volumes/nfs1/none")
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/vmfs/volumes/nfs1/none", pe.Path)
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// A symlink into the mount is followed.
	require.NoError(t, f.Symlink("/vmfs/volumes/nfs1", "/ds"))
	data, err := f.ReadFile("/ds/vm1/b.vmx")
	require.NoError(t, err)
	assert.Equal(t, "x", string(data))

	require.NoError(t, f.Unmount("/vmfs/volumes/nfs1"))
	assert.ErrorIs(t, f.Unmount("/vmfs/volumes/nfs1"), syscall.EINVAL)
	_, err = f.Stat("/vmfs/volumes/nfs1/vm1")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestFSMountBlocksUntilContext(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.fs.MkdirAll("/vmfs/volumes"))
	m := newMemMount()
	m.block = true
	require.NoError(t, e.fs.Mount("/vmfs/volumes/dead", m))
	// Listing the parent names the mount without asking it.
	out, _, st := e.run(t, "ls /vmfs/volumes")
	assert.Equal(t, 0, st)
	assert.Equal(t, "dead\n", out)
	// ls -l on the dead mount hangs until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var buf syncBuffer
	st = e.s.Run(ctx, "ls -l /vmfs/volumes/dead", nil, &buf, &buf)
	assert.NotEqual(t, 0, st)
	assert.Contains(t, buf.String(), "Connection timed out")
}

func TestFSConcurrent(t *testing.T) {
	f := NewFS()
	require.NoError(t, f.MkdirAll("/var/log"))
	require.NoError(t, f.MkdirAll("/vmfs/volumes"))
	require.NoError(t, f.Mount("/vmfs/volumes/m", newMemMount()))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p := fmt.Sprintf("/var/log/f%d-%d", g, i%10)
				_ = f.WriteFile(p, []byte("data"), 0o644)
				_ = f.AppendFile("/var/log/shared.log", []byte("line\n"))
				_, _ = f.ReadFile("/var/log/shared.log")
				_, _ = f.ReadDir("/var/log")
				_, _ = f.Stat(p)
				_ = f.Rename(p, p+".old")
				_ = f.Remove(p + ".old")
				_ = f.MkdirAll(fmt.Sprintf("/tmp/d%d/e", g))
				_ = f.RemoveAll(fmt.Sprintf("/tmp/d%d", g))
				_ = f.WriteFile(fmt.Sprintf("/vmfs/volumes/m/f%d", g), []byte("x"), 0o644)
				_, _ = f.ReadDir("/vmfs/volumes/m")
			}
		}()
	}
	// A reader following the shared log while it grows.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			r, err := f.Open("/var/log/shared.log")
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, r)
			r.Close()
		}
	}()
	wg.Wait()
	data, err := f.ReadFile("/var/log/shared.log")
	require.NoError(t, err)
	assert.Equal(t, 8*200*len("line\n"), len(data))
	assert.False(t, errors.Is(err, fs.ErrNotExist))
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	f := NewFS()
	r.Register("/bin/alpha", func(context.Context, *Invocation) int { return 0 })
	s := NewSession(Config{FS: f, Commands: r})
	r.Register("/sbin/esxcfg-route", func(context.Context, *Invocation) int { return 4 })
	r.Register("/usr/bin/alpha", func(context.Context, *Invocation) int { return 0 })
	assert.Equal(t, []string{"alpha", "esxcfg-route"}, r.Names())
	assert.Equal(t, []string{"/bin/alpha", "/sbin/esxcfg-route", "/usr/bin/alpha"}, r.Paths())
	// Registered later, still in the FS: ls and which agree with execution.
	fi, err := f.Stat("/sbin/esxcfg-route")
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o755), fi.Mode())
	var out syncBuffer
	st := s.Run(context.Background(), "esxcfg-route", nil, &out, &out)
	assert.Equal(t, 4, st)
	// Removing the file removes the command, as on a real host.
	require.NoError(t, f.Remove("/sbin/esxcfg-route"))
	st = s.Run(context.Background(), "esxcfg-route", nil, &out, &out)
	assert.Equal(t, 127, st)
	// A symlink to a registered path runs it.
	require.NoError(t, f.Symlink("/bin/alpha", "/bin/beta"))
	st = s.Run(context.Background(), "beta", nil, &out, &out)
	assert.Equal(t, 0, st)
}
