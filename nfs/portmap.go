package nfs

// Portmapper v2 (RFC 1833) procedures.
const (
	pmapNull    = 0
	pmapSet     = 1
	pmapUnset   = 2
	pmapGetport = 3
	pmapDump    = 4

	ipprotoTCP = 6
	pmapPort   = 111
)

type pmapEntry struct{ prog, vers, prot, port uint32 }

// mappings is what this listener's portmapper knows: itself, MOUNT v3 and
// NFS v3, all TCP (Stargate has no UDP).
func (ss *session) mappings() []pmapEntry {
	nfsPort, mountPort := uint32(ss.srv.cfg.NFSPort), uint32(ss.srv.cfg.MountPort)
	if p := ss.opts.advertise; p != 0 {
		nfsPort, mountPort = uint32(p), uint32(p)
	}
	return []pmapEntry{
		{progPortmap, 2, ipprotoTCP, pmapPort},
		{progMount, 3, ipprotoTCP, mountPort},
		{progNFS, 3, ipprotoTCP, nfsPort},
	}
}

// portmap answers the portmapper program. Registrations are refused: the
// map is fixed.
func (ss *session) portmap(h callHeader, args []byte) []byte {
	e := xdrEnc{}
	switch h.proc {
	case pmapNull:
		return acceptedReply(h.xid, acceptSuccess, nil)
	case pmapSet, pmapUnset:
		e.bool(false)
		return acceptedReply(h.xid, acceptSuccess, e.b)
	case pmapGetport:
		d := xdrDec{b: args}
		prog, vers, prot := d.u32(), d.u32(), d.u32()
		d.u32()
		if d.err != nil {
			return acceptedReply(h.xid, acceptGarbageArgs, nil)
		}
		port := uint32(0)
		for _, m := range ss.mappings() {
			if m.prog == prog && m.vers == vers && m.prot == prot {
				port = m.port
			}
		}
		e.u32(port)
		return acceptedReply(h.xid, acceptSuccess, e.b)
	case pmapDump:
		for _, m := range ss.mappings() {
			e.bool(true)
			e.u32(m.prog)
			e.u32(m.vers)
			e.u32(m.prot)
			e.u32(m.port)
		}
		e.bool(false)
		return acceptedReply(h.xid, acceptSuccess, e.b)
	}
	return acceptedReply(h.xid, acceptProcUnavail, nil)
}
