package datastore

import (
	"errors"
	"fmt"
	"syscall"

	nfsc "github.com/willscott/go-nfs-client/nfs"
)

// Status is a VMkernel status string (the DEFINE_VMK_ERR table, reference
// §0.3): what the sysinfo layer hands esxcfg-nas and esxcli, which print
// it inside their own templates.
type Status string

func (s Status) Error() string { return string(s) }

// Mount and volume management failures, in the VMkernel's words.
var (
	// ErrDenied: MOUNT answered MNT3ERR_ACCES (or PERM, NOENT): the export
	// does not exist or does not let this client address in.
	ErrDenied = Status("The NFS server denied the mount request")
	// ErrUnreachable: no answer from the portmapper, mountd or nfsd.
	ErrUnreachable = Status("Unable to connect to NFS server")
	// ErrNoMountV3: the portmapper knows no MOUNT v3 over TCP.
	ErrNoMountV3 = Status("The NFS server does not support MOUNT version 3 over TCP")
	// ErrNotDir: the export's root is not a directory.
	ErrNotDir = Status("The specified mount path was not a directory")
	// ErrNoAttrs: the root's attributes could not be read after MOUNT.
	ErrNoAttrs = Status("Unable to query remote mount point's attributes")
	// ErrMaxVolumes: NFS.MaxVolumes datastores are mounted already.
	ErrMaxVolumes = Status("NFS has reached the maximum number of supported volumes")
	// ErrNotFound: no datastore has that name.
	ErrNotFound = Status("Not found")
	// ErrExists: the name or the export is taken.
	ErrExists = Status("Already exists")
	// ErrBadParameter: an empty or malformed name, host or share.
	ErrBadParameter = Status("Bad parameter")
)

// DuplicateError is an Add of an export another datastore already mounts.
// Its text is the VERIFIED half of esxcli's message (reference §2.5).
type DuplicateError struct {
	Host, Share, Name string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s:%s is already exported by a volume with the name %s", e.Host, e.Share, e.Name)
}

func (e *DuplicateError) Unwrap() error { return ErrExists }

// NameError is an Add under a name another datastore has.
type NameError struct{ Name string }

func (e *NameError) Error() string {
	return fmt.Sprintf("A volume with the name %s already exists", e.Name)
}

func (e *NameError) Unwrap() error { return ErrExists }

// NFSError is an NFSv3 status other than NFS3_OK. It unwraps to the errno
// a POSIX client reports, so the shell prints the usual text ("No such file
// or directory") and errors.Is works with the io/fs sentinels.
type NFSError struct {
	Status uint32
}

func (e *NFSError) Error() string {
	if err := nfsc.NFS3Error(e.Status); err != nil {
		var ne *nfsc.Error
		if errors.As(err, &ne) {
			return ne.ErrorString
		}
	}
	return fmt.Sprintf("NFS3 status %d", e.Status)
}

func (e *NFSError) Unwrap() error { return nfsErrno(e.Status) }

// nfsErrno maps an nfsstat3 to the errno the Linux client would return.
func nfsErrno(s uint32) syscall.Errno {
	switch s {
	case nfsc.NFS3ErrPerm:
		return syscall.EPERM
	case nfsc.NFS3ErrNoEnt:
		return syscall.ENOENT
	case nfsc.NFS3ErrNXIO:
		return syscall.ENXIO
	case nfsc.NFS3ErrAcces:
		return syscall.EACCES
	case nfsc.NFS3ErrExist:
		return syscall.EEXIST
	case nfsc.NFS3ErrXDev:
		return syscall.EXDEV
	case nfsc.NFS3ErrNoDev:
		return syscall.ENODEV
	case nfsc.NFS3ErrNotDir:
		return syscall.ENOTDIR
	case nfsc.NFS3ErrIsDir:
		return syscall.EISDIR
	case nfsc.NFS3ErrInval:
		return syscall.EINVAL
	case nfsc.NFS3ErrFBig:
		return syscall.EFBIG
	case nfsc.NFS3ErrNoSpc:
		return syscall.ENOSPC
	case nfsc.NFS3ErrROFS:
		return syscall.EROFS
	case nfsc.NFS3ErrMLink:
		return syscall.EMLINK
	case nfsc.NFS3ErrNameTooLong:
		return syscall.ENAMETOOLONG
	case nfsc.NFS3ErrNotEmpty:
		return syscall.ENOTEMPTY
	case nfsc.NFS3ErrDQuot:
		return syscall.EDQUOT
	case nfsc.NFS3ErrStale, nfsc.NFS3ErrBadHandle:
		return syscall.ESTALE
	case nfsc.NFS3ErrNotSupp:
		return syscall.EOPNOTSUPP
	}
	return syscall.EIO
}

// isStatus reports whether err is the NFS status s.
func isStatus(err error, s uint32) bool {
	var ne *NFSError
	return errors.As(err, &ne) && ne.Status == s
}

// errAPDTimedOut fails IO once the datastore has been in APD for
// Misc.APDTimeout: the caller sees an I/O error, as a VM does.
var errAPDTimedOut = fmt.Errorf("datastore in All Paths Down state for longer than the APD timeout: %w", syscall.EIO)

// errUnmounted fails IO on a datastore that was removed.
var errUnmounted = fmt.Errorf("datastore unmounted: %w", syscall.EIO)

// errReadOnly refuses changes on a read-only datastore.
var errReadOnly = fmt.Errorf("datastore mounted read-only: %w", syscall.EROFS)
