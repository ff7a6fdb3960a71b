// Package nfs is the emulator's NFSv3 server: a stand-in for Nutanix
// Stargate. It knows nothing about ESXi; cvmsim runs one Server per CVM and
// every Server of a lab shares one Store (the cluster's DSF).
//
// Layering. github.com/willscott/go-nfs implements the NFSv3 procedures; a
// thin RPC front end of our own (rpc.go, session.go) owns every connection:
//
//   - it reads RPC records (fragments reassembled, lengths bounded), parses
//     the call header itself and answers everything go-nfs gets wrong or
//     lacks: the portmapper (portmap.go), the whole MOUNT program
//     (mount.go: MNT, DUMP, UMNT, UMNTALL, EXPORT), NFS NULL and FSINFO,
//     and the RPC error replies (RPC_MISMATCH, PROG_UNAVAIL,
//     PROG_MISMATCH with the version range, PROC_UNAVAIL, GARBAGE_ARGS);
//   - it validates every NFSv3 call's arguments (nfsargs.go) before go-nfs
//     sees them, because go-nfs allocates whatever length an XDR opaque
//     claims (up to 4 GiB) and has no recover; and it checks the export
//     whitelist against the connection's RemoteAddr, which on a fabric
//     listener is the modelled client address;
//   - the valid NFS calls go to go-nfs over in-memory connections
//     (bridge.go), several per client connection, because go-nfs serves
//     one connection strictly one request at a time.
//
// Why not go-nfs's RegisterMessageHandler: its registry is a package-level
// map that go-nfs reads without a lock on every request (registering
// concurrently with a serving server is a fatal map race, not a panic),
// registration is global to the process (two Servers could not differ),
// and its HandleFunc takes an unexported *response type whose arguments
// reader and error writer are unexported too. Answering in front of go-nfs
// needs none of that and keeps go-nfs's code uncopied.
//
// File handles (handles.go) are the Store's: store epoch + container id +
// file id, 24 bytes, so a handle issued by one CVM's Server is valid on
// every other Server of the lab and after a Server restart.
package nfs
