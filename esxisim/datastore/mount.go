package datastore

import (
	"context"
	"errors"
	"net/netip"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/autopathlab/autopathlab/fabric"
)

// mountNew runs ESXi's mount sequence for a new datastore. On failure the
// returned Datastore (if any) still needs shutting down.
func (m *Manager) mountNew(ctx context.Context, name, host, share string, readonly bool) (*Datastore, error) {
	log := m.h.Log()
	server, err := netip.ParseAddr(host)
	if err != nil || !server.Is4() {
		// No DNS in the model: a name never resolves.
		log.Warnf("NFS: 157: Unable to resolve hostname %s", host)
		return nil, ErrUnreachable
	}
	ctx, cancel := withTimeout(ctx, m.h.Clock(), m.cfg.MountTimeout)
	defer cancel()

	port, err := m.mountPort(ctx, server)
	if err != nil {
		return nil, err
	}
	root, err := m.mnt(ctx, server, port, share)
	if err != nil {
		return nil, err
	}
	d := newDatastore(m, name, host, share, server, readonly)
	d.root = root
	// The first NFS calls open the datastore's own connection to nfsd.
	var attr nfsc.Fattr
	if err := nfsCall(ctx, d, nfsc.NFSProc3GetAttr, &fhArgs{root}, &attr); err != nil {
		var ne *NFSError
		if errors.As(err, &ne) {
			return d, ErrNoAttrs
		}
		log.Warnf("NFS: 1245: Unable to connect to NFS server %s: %v", server, err)
		return d, ErrUnreachable
	}
	if attr.Type != nfsc.NF3Dir {
		return d, ErrNotDir
	}
	d.maxIO = m.cfg.MaxTransferSize
	var fsi nfsc.FSInfo
	if err := nfsCall(ctx, d, nfsc.NFSProc3FSInfo, &fhArgs{root}, &fsi); err == nil {
		for _, v := range []uint32{fsi.RTMax, fsi.WTMax} {
			if v > 0 && v < d.maxIO {
				d.maxIO = v
			}
		}
	}
	log.Printf("NFS: 317: NFS mount succeeded for %s:%s volume %s", server, share, name)
	return d, nil
}

// mountPort asks the server's portmapper where MOUNT v3 listens. A server
// without a portmapper (stock go-nfs serves MOUNT on 2049 and nothing on
// 111) gets MOUNT tried on 2049, which ESXi would not do; the line in
// vmkernel.log says so.
func (m *Manager) mountPort(ctx context.Context, server netip.Addr) (uint16, error) {
	log := m.h.Log()
	timeoutLine := func() {
		log.Warnf("NFS: 898: RPC error 13 (RPC was aborted due to timeout) trying to get port for Mount Program (%d) Version (%d) Protocol (TCP) on Server (%s)",
			mountProg, mountVers, server)
	}
	c, err := m.dial(ctx, netip.AddrPortFrom(server, portmapPort))
	switch {
	case errors.Is(err, fabric.ErrConnRefused):
		log.Printf("NFS: 898: No portmapper on server %s (Connection refused): trying Mount Program (%d) Version (%d) on port %d",
			server, mountProg, mountVers, nfsPort)
		return nfsPort, nil
	case ctx.Err() != nil:
		timeoutLine()
		return 0, ErrUnreachable
	case err != nil:
		log.Warnf("NFS: 898: RPC error 4 (%v) trying to get port for Mount Program (%d) Version (%d) Protocol (TCP) on Server (%s)",
			err, mountProg, mountVers, server)
		return 0, ErrUnreachable
	}
	rc := newRPCConn(c, rpc.AuthNull, m.xidSeed())
	defer rc.fail(errors.New("done"))
	port, err := getPort(ctx, rc, mountProg, mountVers)
	var re *RPCError
	switch {
	case errors.As(err, &re):
		log.Printf("NFS: 898: No portmapper on server %s (%v): trying Mount Program (%d) Version (%d) on port %d",
			server, err, mountProg, mountVers, nfsPort)
		return nfsPort, nil
	case err != nil:
		timeoutLine()
		return 0, ErrUnreachable
	case port == 0 || port > 65535:
		return 0, ErrNoMountV3
	}
	return uint16(port), nil
}

// mnt runs MOUNT3 MNT for the share on its own short-lived connection, as
// ESXi does, and maps refusals to the VMkernel's status.
func (m *Manager) mnt(ctx context.Context, server netip.Addr, port uint16, share string) ([]byte, error) {
	c, err := m.dial(ctx, netip.AddrPortFrom(server, port))
	if err != nil {
		m.h.Log().Warnf("NFS: 898: RPC error 13 (RPC was aborted due to timeout) trying to mount Server (%s) Path (%s)", server, share)
		return nil, ErrUnreachable
	}
	rc := newRPCConn(c, m.cred(), m.xidSeed())
	defer rc.fail(errors.New("done"))
	fh, st, err := mnt(ctx, rc, share)
	switch {
	case err != nil:
		m.h.Log().Warnf("NFS: 898: RPC error 13 (RPC was aborted due to timeout) trying to mount Server (%s) Path (%s)", server, share)
		return nil, ErrUnreachable
	case st == nfsc.MNT3Ok:
		return fh, nil
	case st == nfsc.MNT3ErrNotDir:
		m.h.Log().Printf("NFS: 190: NFS mount %s:%s failed: The specified mount path was not a directory.", server, share)
		return nil, ErrNotDir
	}
	// ACCES, PERM, NOENT and the rest: the verified wording covers both a
	// missing export and a client the export does not admit.
	m.h.Log().Printf("NFS: 190: NFS mount %s:%s failed: The mount request was denied by the NFS server. Check that the export exists and that the client is permitted to mount it.", server, share)
	return nil, ErrDenied
}
