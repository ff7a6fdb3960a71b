package vmio

import (
	"context"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/shell"
)

// shellMount serves the fake volume as a shell.Mount, the way the datastore
// is mounted under /vmfs/volumes.
type shellMount struct {
	v          *fakeVolume
	positional bool
}

type shellFile struct{ *fakeFile }

func (shellFile) Read([]byte) (int, error)   { return 0, nil }
func (shellFile) Write([]byte) (int, error)  { return 0, nil }
func (shellFile) Stat() (fs.FileInfo, error) { return nil, nil }

type plainFile struct{ shellFile }

// ReadAt without a context hides the embedded one: not a File.
func (plainFile) ReadAt([]byte, int64) (int, error) { return 0, nil }

func (m shellMount) Stat(context.Context, string) (fs.FileInfo, error)      { return nil, nil }
func (m shellMount) ReadDir(context.Context, string) ([]fs.DirEntry, error) { return nil, nil }
func (m shellMount) Remove(context.Context, string) error                   { return nil }
func (m shellMount) Rename(context.Context, string, string) error           { return nil }
func (m shellMount) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return m.v.Mkdir(ctx, name, perm)
}

func (m shellMount) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (shell.File, error) {
	f, err := m.v.OpenFile(ctx, name, flag, perm)
	if err != nil {
		return nil, err
	}
	if m.positional {
		return shellFile{f.(*fakeFile)}, nil
	}
	return plainFile{shellFile{f.(*fakeFile)}}, nil
}

func TestFromMount(t *testing.T) {
	ctx := context.Background()
	w, err := New(FromMount(shellMount{v: newFakeVolume(), positional: true}), Config{})
	require.NoError(t, err)
	integ, err := w.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, integ.OK)

	vol := FromMount(shellMount{v: newFakeVolume()})
	_, err = vol.OpenFile(ctx, "x", 0, 0)
	assert.ErrorIs(t, err, ErrNoPositionalIO)
}
