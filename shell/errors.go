package shell

import (
	"errors"
	"io/fs"
	"syscall"
)

// The filesystem reports errno values, so that errors.Is works with the
// io/fs sentinels (syscall.ENOENT is fs.ErrNotExist) and commands can print
// the exact strerror text busybox prints.
var (
	errNotExist = syscall.ENOENT
	errExist    = syscall.EEXIST
	errNotDir   = syscall.ENOTDIR
	errIsDir    = syscall.EISDIR
	errNotEmpty = syscall.ENOTEMPTY
	errInval    = syscall.EINVAL
	errBusy     = syscall.EBUSY
	errLoop     = syscall.ELOOP
	errXDev     = syscall.EXDEV
	errAccess   = syscall.EACCES
	errBadF     = syscall.EBADF
)

// glibc's strerror texts, which busybox prints; Go's own texts are lower
// case and sometimes worded differently.
var errnoText = map[syscall.Errno]string{
	syscall.ENOENT:    "No such file or directory",
	syscall.EEXIST:    "File exists",
	syscall.ENOTDIR:   "Not a directory",
	syscall.EISDIR:    "Is a directory",
	syscall.ENOTEMPTY: "Directory not empty",
	syscall.EINVAL:    "Invalid argument",
	syscall.EBUSY:     "Device or resource busy",
	syscall.ELOOP:     "Too many levels of symbolic links",
	syscall.EXDEV:     "Invalid cross-device link",
	syscall.EACCES:    "Permission denied",
	syscall.EPERM:     "Operation not permitted",
	syscall.EBADF:     "Bad file descriptor",
	syscall.EIO:       "I/O error",
	syscall.ETIMEDOUT: "Connection timed out",
	syscall.EROFS:     "Read-only file system",
	syscall.ENOSPC:    "No space left on device",
	syscall.ESTALE:    "Stale file handle",
	syscall.EHOSTDOWN: "Host is down",
}

// ErrorText returns the strerror-style text for err as busybox prints it,
// e.g. "No such file or directory" for any error that is fs.ErrNotExist.
// Mount implementations may return their own errors; those wrapping a
// syscall.Errno or an io/fs sentinel get the usual text.
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if s, ok := errnoText[errno]; ok {
			return s
		}
		return errno.Error()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errnoText[syscall.ENOENT]
	case errors.Is(err, fs.ErrExist):
		return errnoText[syscall.EEXIST]
	case errors.Is(err, fs.ErrPermission):
		return errnoText[syscall.EACCES]
	case errors.Is(err, fs.ErrInvalid):
		return errnoText[syscall.EINVAL]
	}
	return err.Error()
}

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}
