package vmio

import (
	"context"
	"errors"
	"io/fs"

	"github.com/autopathlab/autopathlab/shell"
)

// Volume is what a Workload needs of a datastore. Names are relative to
// the datastore's root in io/fs form ("vm-a1/vm-a1-flat.vmdk").
//
// Every method may block (a datastore in APD) and must return once ctx is
// done: that is how a Workload bounds an operation (Config.OpTimeout) and
// how Stop interrupts one.
type Volume interface {
	// Mkdir fails with an error wrapping fs.ErrExist when name exists.
	Mkdir(ctx context.Context, name string, perm fs.FileMode) error
	// OpenFile takes os.O_* flags; the Workload opens O_RDWR|O_CREATE.
	OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error)
}

// File is an open file with positional IO. A Workload uses one File from
// one goroutine at a time.
//
// A write is acknowledged when WriteAt returns len(p) and no error, so
// WriteAt must not return before the data is stable on the server (NFSv3
// WRITE with FILE_SYNC, or UNSTABLE followed by a COMMIT that succeeded):
// the Workload holds the datastore to exactly that promise.
//
// ReadAt follows io.ReaderAt: at end of file it returns the bytes read and
// io.EOF (a hole: the Workload reads it as zeros).
//
// An error wrapping fs.ErrClosed, syscall.ESTALE or syscall.EBADF tells the
// Workload the File is dead: it closes it and opens the file again on its
// next operation. Any other error keeps the File, as the datastore is
// expected to reconnect underneath it (NFS file handles outlive
// connections).
type File interface {
	ReadAt(ctx context.Context, p []byte, off int64) (n int, err error)
	WriteAt(ctx context.Context, p []byte, off int64) (n int, err error)
	Close() error
}

// ErrNoPositionalIO is returned by a FromMount volume whose mount opened a
// file that does not implement File.
var ErrNoPositionalIO = errors.New("file does not support positional IO")

// FromMount adapts a shell.Mount (a datastore mounted under /vmfs/volumes)
// whose open files also implement File's ReadAt and WriteAt. The datastore
// then serves the shell and the Workload through one implementation.
func FromMount(m shell.Mount) Volume { return mountVolume{m} }

type mountVolume struct{ m shell.Mount }

func (v mountVolume) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return v.m.Mkdir(ctx, name, perm)
}

func (v mountVolume) OpenFile(ctx context.Context, name string, flag int, perm fs.FileMode) (File, error) {
	f, err := v.m.OpenFile(ctx, name, flag, perm)
	if err != nil {
		return nil, err
	}
	switch pf := f.(type) {
	case File:
		return pf, nil
	case contextIO:
		return contextFile{pf}, nil
	}
	_ = f.Close()
	return nil, &fs.PathError{Op: "open", Path: name, Err: ErrNoPositionalIO}
}

// contextIO is the other common shape of positional IO with a context
// (os.File-like ReadAt/WriteAt plus ...Context variants), which the ESXi
// datastore's files have.
type contextIO interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	WriteAtContext(ctx context.Context, p []byte, off int64) (int, error)
	Close() error
}

type contextFile struct{ f contextIO }

func (c contextFile) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	return c.f.ReadAtContext(ctx, p, off)
}

func (c contextFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	return c.f.WriteAtContext(ctx, p, off)
}

func (c contextFile) Close() error { return c.f.Close() }
