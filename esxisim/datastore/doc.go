// Package datastore is the ESXi host's NFSv3 client: the NAS datastores
// of esxcli storage nfs and esxcfg-nas, mounted along the host's VMkernel
// routes, with ESXi's heartbeats and All Paths Down handling, served to the
// shell as /vmfs/volumes/<label> and to the VM IO workload as files.
//
// # The protocol client, and why it is ours
//
// github.com/willscott/go-nfs-client (pinned; go-nfs depends on it) cannot
// carry the emulator's traffic: its rpc.Client dials real TCP itself
// (net.DialTCP, no dialer hook), so a flow could not follow the modelled
// routing table nor carry the egress vmknic's source address; and it
// re-sends every call on a package-global 5 s wall-clock timeout
// (rpc.DefaultReadTimeout), which neither the fake clock of the tests nor
// ESXi's heartbeat and APD timers can drive. A loopback egress proxy per
// mount would fix the first and not the second. So this package has a small
// ONC RPC client of its own (rpc.go: record marking, xids, concurrent calls
// matched by xid, context-driven waits) over fabric flows, and reuses the
// library for what it does well: the wire types (rpc.Header, rpc.Auth,
// AUTH_UNIX, Fattr, Sattr3, WccData, EntryPlus, ...) and its XDR codec
// (rasky/go-xdr underneath).
//
// # The mount sequence
//
// Add dials the portmapper (port 111) for MOUNT v3 over TCP, runs MOUNT3
// MNT for the share, then opens the datastore's NFS connection to port
// 2049 and reads the root's attributes (GETATTR, FSINFO). Every flow leaves
// from a reserved port (< 1024) along the host's routing table: the
// egress vmknic and the source address the server checks its whitelist
// against are the route's, which is seed 004's trap. A server without a
// portmapper (stock go-nfs) gets MOUNT tried on 2049 instead, logged in
// vmkernel.log; ESXi itself would fail the mount.
//
// # Route changes, heartbeats and APD
//
// The NFS connection's path is fixed when it opens. A route change that
// moves it makes the fabric reset it (seed 001's RST); the datastore dials
// again at once along the new path and re-sends the calls in flight, with
// the same file handles, without mounting again. Heartbeats (NFS NULL every
// NFS.HeartbeatFrequency, failed after NFS.HeartbeatTimeout) detect a
// server that went silent; after NFS.HeartbeatMaxFailures failures in a
// row the datastore is inaccessible (APD): IO blocks, and fails with EIO
// after Misc.APDTimeout. Any answer restores it. Every timer reads the
// host's clock. Manager.Reset, a lab's reset, skips those timers: every
// datastore not accessible dials again at once and is probed until it is.
//
// # Texts
//
// vmkernel.log lines: "NFS: 340: Restored connection to the server ..."
// and "NFS: 190: NFS mount <ip>:<share> failed: The mount request was
// denied by the NFS server. ..." are VERIFIED (reference §5.5); "NFS: 317:
// NFS mount succeeded for <ip>:<share> volume <label>" is VERIFIED up to
// "volume", the label after it INFERRED; "WARNING: NFS: 337: Lost
// connection to the server ..." is INFERRED (§5.5); the StorageApdHandler
// lines are VERIFIED in wording (§5.5); the "No portmapper" line is the
// emulator's own. Status strings (ErrDenied, ErrUnreachable, ...) are the
// VMkernel's (§0.3); the commands put them in their templates.
package datastore
