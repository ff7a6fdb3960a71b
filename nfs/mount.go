package nfs

import (
	"os"
	"path"
	"slices"
	"strings"
)

// MOUNT v3 (RFC 1813 appendix I) procedures and status codes.
const (
	mountNull = iota
	mountMnt
	mountDump
	mountUmnt
	mountUmntAll
	mountExport
)

const (
	mnt3OK     = 0
	mnt3NoEnt  = 2
	mnt3Acces  = 13
	mnt3NotDir = 20
	mnt3Inval  = 22

	authUnix = 1
	mntPath  = 1024 // MNTPATHLEN
)

// mount answers the MOUNT program. go-nfs has only NULL, MNT and a UMNT
// and answers the rest (EXPORT above all, which libnfs and showmount ask
// for) with a malformed PROG_MISMATCH.
func (ss *session) mount(h callHeader, args []byte) []byte {
	d := &xdrDec{b: args}
	switch h.proc {
	case mountNull:
		return acceptedReply(h.xid, acceptSuccess, nil)
	case mountMnt:
		dir := d.opaque(mntPath)
		if d.err != nil {
			return acceptedReply(h.xid, acceptGarbageArgs, nil)
		}
		return acceptedReply(h.xid, acceptSuccess, ss.mnt(string(dir)))
	case mountDump:
		e := xdrEnc{}
		ss.srv.mu.Lock()
		for _, m := range ss.srv.mounts {
			e.bool(true)
			e.string(m.host)
			e.string(m.dir)
		}
		ss.srv.mu.Unlock()
		e.bool(false)
		return acceptedReply(h.xid, acceptSuccess, e.b)
	case mountUmnt:
		dir := d.opaque(mntPath)
		if d.err != nil {
			return acceptedReply(h.xid, acceptGarbageArgs, nil)
		}
		ss.unmount(func(m mountEntry) bool { return m.dir == string(dir) })
		return acceptedReply(h.xid, acceptSuccess, nil)
	case mountUmntAll:
		ss.unmount(func(mountEntry) bool { return true })
		return acceptedReply(h.xid, acceptSuccess, nil)
	case mountExport:
		e := xdrEnc{}
		for _, x := range ss.srv.Exports() {
			e.bool(true)
			e.string(x.Path)
			for _, p := range x.Whitelist {
				e.bool(true)
				e.string(p.String())
			}
			e.bool(false)
		}
		e.bool(false)
		return acceptedReply(h.xid, acceptSuccess, e.b)
	}
	return acceptedReply(h.xid, acceptProcUnavail, nil)
}

// mnt resolves a mount path: an export ("/ctr1") or a directory inside one
// ("/ctr1/vm1"), checked against the export's whitelist.
func (ss *session) mnt(dir string) []byte {
	e := xdrEnc{}
	fail := func(st uint32, detail string) []byte {
		if st == mnt3Acces {
			ss.srv.emit(Event{Type: EventMountDenied, Client: ss.remote, Local: ss.local, Export: dir, Detail: detail})
		}
		e.u32(st)
		return e.b
	}
	if dir == "" || !strings.HasPrefix(dir, "/") {
		return fail(mnt3NoEnt, "not an absolute path")
	}
	clean := path.Clean(dir)
	ctr, rel, _ := strings.Cut(strings.TrimPrefix(clean, "/"), "/")
	x, ok := ss.srv.export(ctr)
	if !ok || ctr == "" {
		return fail(mnt3NoEnt, "not exported")
	}
	if !ss.allowed(x) {
		return fail(mnt3Acces, "client not in whitelist")
	}
	st := ss.srv.store
	fi, err := st.be.Stat(path.Join(ctr, rel))
	switch {
	case os.IsNotExist(err):
		return fail(mnt3NoEnt, err.Error())
	case err != nil:
		return fail(mnt3Inval, err.Error())
	case !fi.IsDir():
		return fail(mnt3NotDir, "not a directory")
	}
	fh, err := st.Handle(ctr, rel)
	if err != nil {
		return fail(mnt3NoEnt, err.Error())
	}
	host := ss.remote.Addr().String()
	ss.srv.mu.Lock()
	if !slices.Contains(ss.srv.mounts, mountEntry{host, clean}) {
		ss.srv.mounts = append(ss.srv.mounts, mountEntry{host, clean})
	}
	ss.srv.mu.Unlock()
	ss.setExport(x.Path)
	ss.srv.emit(Event{Type: EventMount, Client: ss.remote, Local: ss.local, Export: x.Path, Detail: clean})
	e.u32(mnt3OK)
	e.opaque(fh)
	e.u32(1) // auth flavors: AUTH_UNIX
	e.u32(authUnix)
	return e.b
}

func (ss *session) unmount(match func(mountEntry) bool) {
	host := ss.remote.Addr().String()
	var gone []mountEntry
	ss.srv.mu.Lock()
	ss.srv.mounts = slices.DeleteFunc(ss.srv.mounts, func(m mountEntry) bool {
		if m.host == host && match(m) {
			gone = append(gone, m)
			return true
		}
		return false
	})
	ss.srv.mu.Unlock()
	for _, m := range gone {
		ss.srv.emit(Event{Type: EventUnmount, Client: ss.remote, Local: ss.local, Export: m.dir})
	}
}
