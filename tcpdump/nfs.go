package tcpdump

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// NFS over RPC, as print-nfs.c summarises it: the call's procedure and
// its main arguments (file handle, offset, count), the reply's status and,
// for a reply whose call was seen, the procedure's results. tcpdump keys
// on port 2049 alone, so other RPC programs served there (MOUNT, which
// go-nfs serves on the NFS port) are decoded as if they were NFS too.

const (
	rpcCall  = 0
	rpcReply = 1
)

// NFSv3 procedure numbers, plus tcpdump's NOOP for NFSv2's unused ones.
const (
	nfsNull = iota
	nfsGetattr
	nfsSetattr
	nfsLookup
	nfsAccess
	nfsReadlink
	nfsRead
	nfsWrite
	nfsCreate
	nfsMkdir
	nfsSymlink
	nfsMknod
	nfsRemove
	nfsRmdir
	nfsRename
	nfsLink
	nfsReaddir
	nfsReaddirplus
	nfsFsstat
	nfsFsinfo
	nfsPathconf
	nfsCommit
	nfsNoop = 25
)

var nfsProcNames = map[uint32]string{
	nfsNoop: "nop", nfsNull: "null", nfsGetattr: "getattr", nfsSetattr: "setattr", nfsLookup: "lookup",
	nfsAccess: "access", nfsReadlink: "readlink", nfsRead: "read", nfsWrite: "write", nfsCreate: "create",
	nfsMkdir: "mkdir", nfsSymlink: "symlink", nfsMknod: "mknod", nfsRemove: "remove", nfsRmdir: "rmdir",
	nfsRename: "rename", nfsLink: "link", nfsReaddir: "readdir", nfsReaddirplus: "readdirplus",
	nfsFsstat: "fsstat", nfsFsinfo: "fsinfo", nfsPathconf: "pathconf", nfsCommit: "commit",
}

func nfsProcName(proc uint32) string {
	if n, ok := nfsProcNames[proc]; ok {
		return n
	}
	return fmt.Sprintf("proc-%d", proc)
}

// nfsv2Procs maps NFSv2 procedure numbers to the v3 ones.
var nfsv2Procs = []uint32{nfsNull, nfsGetattr, nfsSetattr, nfsNoop, nfsLookup, nfsReadlink, nfsRead,
	nfsNoop, nfsWrite, nfsCreate, nfsRemove, nfsRename, nfsLink, nfsSymlink, nfsMkdir, nfsRmdir,
	nfsReaddir, nfsFsstat}

var nfsStatus = map[uint32]string{1: "Operation not permitted", 2: "No such file or directory",
	5: "Input/output error", 6: "Device not configured", 11: "Resource deadlock avoided",
	12: "Cannot allocate memory", 13: "Permission denied", 17: "File exists", 18: "Cross-device link",
	19: "Operation not supported by device", 20: "Not a directory", 21: "Is a directory",
	22: "Invalid argument", 26: "Text file busy", 27: "File too large", 28: "No space left on device",
	30: "Read-only file system", 31: "Too many links", 45: "Operation not supported",
	62: "Too many levels of symbolic links", 63: "File name too long", 66: "Directory not empty",
	69: "Disc quota exceeded", 70: "Stale NFS file handle", 71: "Too many levels of remote in path",
	99: "Write cache flushed to disk", 10001: "Illegal NFS file handle",
	10002: "Update synchronization mismatch", 10003: "READDIR/READDIRPLUS cookie is stale",
	10004: "Operation not supported", 10005: "Buffer or request is too small",
	10006: "Unspecified error on server", 10007: "Object of that type not supported",
	10008: "Request couldn't be completed in time"}

var nfsTypes = map[uint32]string{0: "NON", 1: "REG", 2: "DIR", 3: "BLK", 4: "CHR", 5: "LNK", 6: "FIFO"}

var writeModes = map[uint32]string{0: "unstable", 1: "datasync", 2: "filesync"}

var rpcAcceptStat = map[uint32]string{1: "PROG_UNAVAIL", 2: "PROG_MISMATCH", 3: "PROC_UNAVAIL",
	4: "GARBAGE_ARGS", 5: "SYSTEM_ERR"}

var rpcAuthStat = map[uint32]string{0: "OK", 1: "Bogus Credentials (seal broken)",
	2: "Rejected Credentials (client should begin new session)", 3: "Bogus Verifier (seal broken)",
	4: "Verifier expired or was replayed", 5: "Credentials are too weak", 6: "Bogus response verifier",
	7: "Unknown failure"}

// xidMapSize is tcpdump's XIDMAPSIZE: the calls it remembers.
const xidMapSize = 64

type xidEntry struct {
	used           bool
	xid            uint32
	client, server string
	proc, vers     uint32
}

// words reads XDR words; reading past the end reports it.
type words struct {
	b     []byte
	short bool
}

func (w *words) u32(i int) uint32 {
	if 4*i+4 > len(w.b) {
		w.short = true
		return 0
	}
	return binary.BigEndian.Uint32(w.b[4*i:])
}

func (w *words) u64(i int) uint64 { return uint64(w.u32(i))<<32 | uint64(w.u32(i+1)) }

// at returns the words from word i on.
func (w *words) at(i int) *words {
	if 4*i > len(w.b) {
		return &words{short: true}
	}
	return &words{b: w.b[4*i:]}
}

// nfsPrint prints an RPC message on the NFS port. rpc starts at the xid.
func (p *Printer) nfsPrint(b *out, rpc []byte, length int, sport, dport uint16, ip ipEnds, tcp bool) {
	if len(rpc) < 8 {
		return
	}
	xid := binary.BigEndian.Uint32(rpc)
	dir := binary.BigEndian.Uint32(rpc[4:])
	sep := ""
	if tcp {
		sep = ": "
	}
	switch {
	case dport == 2049 && dir == rpcCall:
		fmt.Fprintf(b, "%sNFS request xid %d ", sep, xid)
		p.nfsRequest(b, rpc, length, ip)
	case sport == 2049 && dir == rpcReply:
		fmt.Fprintf(b, "%sNFS reply xid %d ", sep, xid)
		p.nfsReply(b, rpc, length, ip)
	}
}

// nfsRequest is nfsreq_print_noaddr.
func (p *Printer) nfsRequest(b *out, rpc []byte, length int, ip ipEnds) {
	fmt.Fprintf(b, "%d", length)
	w := &words{b: rpc}
	// xid, direction, rpcvers, prog, vers, proc
	if len(rpc) < 24 {
		b.WriteString(" [|nfs]")
		return
	}
	vers, proc := w.u32(4), w.u32(5)
	p.xids[p.xidN%xidMapSize] = xidEntry{used: true, xid: w.u32(0), client: ip.src, server: ip.dst, proc: proc, vers: vers}
	p.xidN++
	v3 := vers == 3
	if !v3 && proc < uint32(len(nfsv2Procs)) {
		proc = nfsv2Procs[proc]
	}
	b.WriteString(" " + nfsProcName(proc))
	nerr := false
	ok := func() bool {
		dp := parseReq(w, length)
		if dp == nil {
			return false
		}
		switch proc {
		case nfsGetattr, nfsSetattr, nfsReadlink, nfsFsstat, nfsFsinfo, nfsPathconf:
			return p.parseFH(b, dp, v3) != nil
		case nfsLookup, nfsCreate, nfsMkdir, nfsRemove, nfsRmdir:
			return p.parseFHN(b, dp, v3) != nil
		case nfsAccess:
			dp = p.parseFH(b, dp, v3)
			if dp == nil {
				return false
			}
			flags := dp.u32(0)
			if dp.short {
				return false
			}
			b.WriteString(accessFlags(flags))
			return true
		case nfsRead, nfsCommit:
			dp = p.parseFH(b, dp, v3)
			if dp == nil {
				return false
			}
			if v3 {
				n, off := dp.u32(2), dp.u64(0)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d bytes @ %d", n, off)
			} else {
				n, off := dp.u32(1), dp.u32(0)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d bytes @ %d", n, off)
			}
			return true
		case nfsWrite:
			dp = p.parseFH(b, dp, v3)
			if dp == nil {
				return false
			}
			if v3 {
				data, count, off, stable := dp.u32(4), dp.u32(2), dp.u64(0), dp.u32(3)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d (%d) bytes @ %d", data, count, off)
				if p.o.Verbose > 0 {
					fmt.Fprintf(b, " <%s>", writeModes[stable])
				}
			} else {
				a, c, d, e := dp.u32(3), dp.u32(2), dp.u32(1), dp.u32(0)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d (%d) bytes @ %d (%d)", a, c, d, e)
			}
			return true
		case nfsRename:
			dp = p.parseFHN(b, dp, v3)
			if dp == nil {
				return false
			}
			b.WriteString(" ->")
			return p.parseFHN(b, dp, v3) != nil
		case nfsLink:
			dp = p.parseFH(b, dp, v3)
			if dp == nil {
				return false
			}
			b.WriteString(" ->")
			return p.parseFHN(b, dp, v3) != nil
		case nfsReaddir, nfsReaddirplus:
			dp = p.parseFH(b, dp, v3)
			if dp == nil {
				return false
			}
			if v3 || proc == nfsReaddirplus {
				n, cookie := dp.u32(4), int64(dp.u64(0))
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d bytes @ %d", n, cookie)
				if p.o.Verbose > 0 {
					if proc == nfsReaddirplus {
						fmt.Fprintf(b, " max %d", dp.u32(5))
					}
					fmt.Fprintf(b, " verf %08x%08x", dp.u32(2), dp.u32(3))
				}
			} else {
				n, cookie := dp.u32(1), int32(dp.u32(0))
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d bytes @ %d", n, cookie)
			}
			return !dp.short
		case nfsSymlink, nfsMknod:
			// Their arguments need sattr3 parsing; tcpdump prints more.
			return p.parseFHN(b, dp, v3) != nil
		}
		return true
	}()
	if !ok && !nerr {
		b.WriteString(" [|nfs]")
	}
}

func accessFlags(f uint32) string {
	const full = 0x3f
	if f&^full != 0 {
		return fmt.Sprintf(" %04x", f)
	}
	if f&full == full {
		return " NFS_ACCESS_FULL"
	}
	var b strings.Builder
	sep := " "
	for _, x := range []struct {
		bit  uint32
		name string
	}{{0x01, "READ"}, {0x02, "LOOKUP"}, {0x04, "MODIFY"}, {0x08, "EXTEND"}, {0x10, "DELETE"}, {0x20, "EXECUTE"}} {
		if f&x.bit != 0 {
			b.WriteString(sep + "NFS_ACCESS_" + x.name)
			sep = "|"
		}
	}
	return b.String()
}

// parseReq is parsereq: the call's arguments, after the credentials and
// the verifier.
func parseReq(w *words, length int) *words {
	// xid dir rpcvers prog vers proc | cred flavor, len, body | verf...
	dp := w.at(6)
	n := dp.u32(1)
	if dp.short || int(n) >= length {
		return nil
	}
	dp = dp.at(int((n + 8 + 3) / 4))
	n = dp.u32(1)
	if dp.short || int(n) >= length {
		return nil
	}
	dp = dp.at(int((n + 8 + 3) / 4))
	if dp.short {
		return nil
	}
	return dp
}

// parseFH prints a file handle and returns the words after it.
func (p *Printer) parseFH(b *out, dp *words, v3 bool) *words {
	n := 32 / 4
	if v3 {
		n = int(dp.u32(0) / 4)
		if dp.short {
			return nil
		}
		dp = dp.at(1)
	}
	if dp.short || 4*n > len(dp.b) {
		return nil
	}
	b.WriteString(fhString(dp.b[:4*n]))
	return dp.at(n)
}

// parseFHN prints a file handle and a name.
func (p *Printer) parseFHN(b *out, dp *words, v3 bool) *words {
	dp = p.parseFH(b, dp, v3)
	if dp == nil {
		return nil
	}
	b.WriteString(" ")
	n := dp.u32(0)
	if dp.short {
		return nil
	}
	padded := int((n + 3) &^ 3)
	body := dp.at(1)
	if body.short || padded > len(body.b) {
		return nil
	}
	b.WriteString(`"` + quoteName(body.b[:n]) + `"`)
	return body.at(padded / 4)
}

// nfsReply is nfsreply_print_noaddr.
func (p *Printer) nfsReply(b *out, rpc []byte, length int, ip ipEnds) {
	w := &words{b: rpc}
	stat := w.u32(2)
	if w.short {
		b.WriteString(" [|nfs]")
		return
	}
	switch stat {
	case 0: // MSG_ACCEPTED
		fmt.Fprintf(b, "reply ok %d", length)
		if proc, vers, ok := p.xidFind(w.u32(0), ip); ok {
			p.interpReply(b, w, proc, vers, length)
		}
	case 1: // MSG_DENIED
		fmt.Fprintf(b, "reply ERR %d: ", length)
		switch w.u32(3) {
		case 0:
			fmt.Fprintf(b, "RPC Version mismatch (%d-%d)", w.u32(4), w.u32(5))
		case 1:
			why := w.u32(4)
			s, ok := rpcAuthStat[why]
			if !ok {
				s = fmt.Sprintf("Invalid failure code %d", why)
			}
			b.WriteString("Auth " + s)
		default:
			fmt.Fprintf(b, "Unknown reason for rejecting rpc message %d", w.u32(3))
		}
	default:
		fmt.Fprintf(b, "reply Unknown rpc response code=%d %d", stat, length)
	}
}

func (p *Printer) xidFind(xid uint32, ip ipEnds) (proc, vers uint32, ok bool) {
	for k := 0; k < xidMapSize; k++ {
		e := p.xids[(p.xidN-1-k+2*xidMapSize)%xidMapSize]
		if e.used && e.xid == xid && e.client == ip.dst && e.server == ip.src {
			return e.proc, e.vers, true
		}
	}
	return 0, 0, false
}

// interpReply is interp_reply: the results of a call whose procedure
// the printer remembers.
func (p *Printer) interpReply(b *out, w *words, proc, vers uint32, length int) {
	v3 := vers == 3
	if !v3 && proc < uint32(len(nfsv2Procs)) {
		proc = nfsv2Procs[proc]
	}
	b.WriteString(" " + nfsProcName(proc))
	verbose := p.o.Verbose
	nerr := false
	// status is parsestatus: it prints an error status and goes on.
	status := func(dp *words) (*words, bool) {
		st := dp.u32(0)
		if dp.short {
			return nil, false
		}
		if st != 0 {
			s, ok := nfsStatus[st]
			if !ok {
				s = fmt.Sprintf("unk %d", st)
			}
			b.WriteString(" ERROR: " + s)
			nerr = true
		}
		return dp.at(1), st != 0
	}
	wcc := func(dp *words) *words {
		if verbose > 1 {
			b.WriteString(" PRE:")
		}
		follows := dp.u32(0)
		if dp.short {
			return nil
		}
		if follows != 0 {
			if dp.u32(6); dp.short {
				return nil
			}
			if verbose > 1 {
				fmt.Fprintf(b, " sz %d mtime %d.%06d ctime %d.%06d", dp.u64(1), dp.u32(3), dp.u32(4), dp.u32(5), dp.u32(6))
			}
			dp = dp.at(7)
		} else {
			dp = dp.at(1)
		}
		if verbose > 0 {
			b.WriteString(" POST:")
		}
		return p.postOpAttr(b, dp, verbose)
	}
	ok := func() bool {
		if proc > nfsCommit && proc != nfsNoop || proc == nfsNull || proc == nfsNoop {
			return true
		}
		dp, nerrRep := p.parseRep(b, w, length)
		if dp == nil {
			nerr = nerr || nerrRep
			return false
		}
		switch proc {
		case nfsGetattr:
			dp, er := status(dp)
			if dp == nil {
				return false
			}
			return er || p.fattr(b, dp, 1, v3) != nil
		case nfsSetattr, nfsRemove, nfsRmdir, nfsCommit:
			if !v3 {
				dp, er := status(dp)
				return dp != nil && (er || proc != nfsSetattr || p.fattr(b, dp, 1, false) != nil)
			}
			dp, _ := status(dp)
			return dp != nil && wcc(dp) != nil
		case nfsLookup:
			dp, er := status(dp)
			if dp == nil || !v3 {
				return dp != nil
			}
			if er {
				if verbose > 1 {
					b.WriteString(" post dattr:")
					return p.postOpAttr(b, dp, verbose) != nil
				}
				return true
			}
			if dp = p.parseFH(b, dp, true); dp == nil {
				return false
			}
			if dp = p.postOpAttr(b, dp, verbose); dp != nil && verbose > 1 {
				b.WriteString(" post dattr:")
				dp = p.postOpAttr(b, dp, verbose)
			}
			return dp != nil
		case nfsAccess:
			dp, er := status(dp)
			if dp == nil {
				return false
			}
			if verbose > 0 {
				b.WriteString(" attr:")
			}
			if dp = p.postOpAttr(b, dp, verbose); dp == nil {
				return false
			}
			if !er {
				c := dp.u32(0)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " c %04x", c)
			}
			return true
		case nfsRead:
			dp, er := status(dp)
			if dp == nil || !v3 {
				return dp != nil
			}
			if dp = p.postOpAttr(b, dp, verbose); dp == nil {
				return false
			}
			if !er && verbose > 0 {
				n, eof := dp.u32(0), dp.u32(1)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d bytes", n)
				if eof != 0 {
					b.WriteString(" EOF")
				}
			}
			return true
		case nfsWrite:
			dp, er := status(dp)
			if dp == nil || !v3 {
				return dp != nil
			}
			if dp = wcc(dp); dp == nil {
				return false
			}
			if !er && verbose > 0 {
				n, mode := dp.u32(0), dp.u32(1)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " %d bytes", n)
				if verbose > 1 {
					fmt.Fprintf(b, " <%s>", writeModes[mode])
				}
			}
			return true
		case nfsCreate, nfsMkdir, nfsSymlink, nfsMknod:
			dp, er := status(dp)
			if dp == nil || !v3 {
				return dp != nil
			}
			if er {
				return wcc(dp) != nil
			}
			follows := dp.u32(0)
			if dp.short {
				return false
			}
			if follows == 0 {
				return true
			}
			if dp = p.parseFH(b, dp.at(1), true); dp == nil {
				return false
			}
			if verbose > 0 {
				if dp = p.postOpAttr(b, dp, verbose); dp != nil && verbose > 1 {
					b.WriteString(" dir attr:")
					dp = wcc(dp)
				}
			}
			return dp != nil
		case nfsReaddir, nfsReaddirplus:
			dp, er := status(dp)
			if dp == nil || !v3 {
				return dp != nil
			}
			if verbose > 0 {
				b.WriteString(" POST:")
			}
			if dp = p.postOpAttr(b, dp, verbose); dp == nil {
				return false
			}
			if !er && verbose > 0 {
				a, c := dp.u32(0), dp.u32(1)
				if dp.short {
					return false
				}
				fmt.Fprintf(b, " verf %08x%08x", a, c)
			}
			return true
		case nfsFsstat:
			dp, er := status(dp)
			if dp == nil {
				return false
			}
			if !v3 {
				if er {
					return true
				}
				if dp.u32(4); dp.short {
					return false
				}
				fmt.Fprintf(b, " tsize %d bsize %d blocks %d bfree %d bavail %d",
					int32(dp.u32(0)), int32(dp.u32(1)), int32(dp.u32(2)), int32(dp.u32(3)), int32(dp.u32(4)))
				return true
			}
			if verbose > 0 {
				b.WriteString(" POST:")
			}
			if dp = p.postOpAttr(b, dp, verbose); dp == nil {
				return false
			}
			if dp.u32(12); dp.short {
				return false
			}
			fmt.Fprintf(b, " tbytes %d fbytes %d abytes %d", dp.u64(0), dp.u64(2), dp.u64(4))
			if verbose > 0 {
				fmt.Fprintf(b, " tfiles %d ffiles %d afiles %d invar %d", dp.u64(6), dp.u64(8), dp.u64(10), dp.u32(12))
			}
			return true
		case nfsFsinfo:
			dp, er := status(dp)
			if dp == nil {
				return false
			}
			if verbose > 0 {
				b.WriteString(" POST:")
			}
			if dp = p.postOpAttr(b, dp, verbose); dp == nil {
				return false
			}
			if er {
				return true
			}
			if dp.u32(11); dp.short {
				return false
			}
			fmt.Fprintf(b, " rtmax %d rtpref %d wtmax %d wtpref %d dtpref %d", dp.u32(0), dp.u32(1), dp.u32(3), dp.u32(4), dp.u32(6))
			if verbose > 0 {
				fmt.Fprintf(b, " rtmult %d wtmult %d maxfsz %d", dp.u32(2), dp.u32(5), dp.u64(7))
				fmt.Fprintf(b, " delta %d.%06d ", dp.u32(9), dp.u32(10))
			}
			return true
		case nfsPathconf:
			dp, er := status(dp)
			if dp == nil {
				return false
			}
			if verbose > 0 {
				b.WriteString(" POST:")
			}
			if dp = p.postOpAttr(b, dp, verbose); dp == nil {
				return false
			}
			if er {
				return true
			}
			if dp.u32(5); dp.short {
				return false
			}
			flag := func(v uint32, s string) string {
				if v != 0 {
					return s
				}
				return ""
			}
			fmt.Fprintf(b, " linkmax %d namemax %d %s %s %s %s", dp.u32(0), dp.u32(1),
				flag(dp.u32(2), "notrunc"), flag(dp.u32(3), "chownres"), flag(dp.u32(4), "igncase"), flag(dp.u32(5), "keepcase"))
			return true
		}
		return true
	}()
	if !ok && !nerr {
		b.WriteString(" [|nfs]")
	}
}

// parseRep is parserep: the accepted reply's results, after the
// verifier; nil if the call failed (then it printed why, and says so) or
// the reply is cut short.
func (p *Printer) parseRep(b *out, w *words, length int) (*words, bool) {
	// xid dir stat | verf flavor, len, body | accept_stat
	dp := w.at(3)
	n := dp.u32(1)
	if dp.short || int(n) >= length {
		return nil, false
	}
	dp = dp.at(int((n + 8 + 3) / 4))
	astat := dp.u32(0)
	if dp.short {
		return nil, false
	}
	if astat != 0 {
		s, ok := rpcAcceptStat[astat]
		if !ok {
			s = fmt.Sprintf("ar_stat %d", astat)
		}
		b.WriteString(" " + s)
		return nil, true
	}
	return dp.at(1), false
}

// fattr is parsefattr.
func (p *Printer) fattr(b *out, dp *words, verbose int, v3 bool) *words {
	if dp.u32(4); dp.short {
		return nil
	}
	if verbose > 0 {
		t, ok := nfsTypes[dp.u32(0)]
		if !ok {
			t = fmt.Sprintf("unk-ft %d ", dp.u32(0))
		}
		fmt.Fprintf(b, " %s %o ids %d/%d", t, dp.u32(1), int32(dp.u32(3)), int32(dp.u32(4)))
		if v3 {
			fmt.Fprintf(b, " sz %d", dp.u64(5))
		} else {
			fmt.Fprintf(b, " sz %d", int32(dp.u32(5)))
		}
	}
	if verbose > 1 && v3 {
		fmt.Fprintf(b, " nlink %d rdev %d/%d fsid %x fileid %x a/m/ctime %d.%06d %d.%06d %d.%06d",
			dp.u32(2), dp.u32(9), dp.u32(10), dp.u64(11), dp.u64(13),
			dp.u32(15), dp.u32(16), dp.u32(17), dp.u32(18), dp.u32(19), dp.u32(20))
	}
	if v3 {
		return dp.at(21)
	}
	return dp.at(17)
}

// postOpAttr is parse_post_op_attr.
func (p *Printer) postOpAttr(b *out, dp *words, verbose int) *words {
	follows := dp.u32(0)
	if dp.short {
		return nil
	}
	if follows == 0 {
		return dp.at(1)
	}
	if verbose > 0 {
		return p.fattr(b, dp.at(1), verbose, true)
	}
	return dp.at(22)
}

// fhString is nfs_printfh: tcpdump guesses the server's operating system
// from the handle's bytes (parsenfsfh.c) to find a device and an inode;
// a handle it cannot place prints as "Unknown/" and its first 32 bytes.
func fhString(fh []byte) string {
	major, minor, ino, fsname, opaque := parseFH(fh)
	var s string
	if fsname != "" {
		if k := strings.IndexAny(fsname, " \x00"); k >= 0 {
			fsname = fsname[:k]
		}
		s = " fh " + fsname + "/"
	} else {
		s = fmt.Sprintf(" fh %d,%d/", int32(major), int32(minor))
	}
	if minor == 257 {
		return s + opaque
	}
	return s + fmt.Sprint(ino)
}

// parseFH is Parse_fh's decision tree.
func parseFH(fh []byte) (major, minor, ino uint32, fsname, opaque string) {
	u32 := func(a, b, c, d byte) uint32 { return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d) }
	at := func(i int) byte {
		if i < len(fh) {
			return fh[i]
		}
		return 0
	}
	const (
		unknown = iota
		auspex
		bsd44
		decosf
		irix4
		sunos4
		sunos5
		ultrix
		vmsucx
		hpux9
	)
	typ := unknown
	if len(fh) >= 16 {
		switch {
		case at(0) == 0 && at(1) == 0:
			switch {
			case at(2) == 0 && at(3) == 0:
				typ = auspex
			case at(4) != 0 && at(5) == 0 && at(8) == 12 && at(9) == 0:
				typ = decosf
			case at(4) == 0 && at(5) == 8 && at(6) == 0 && at(7) == 0:
				typ = irix4
			default:
				typ = sunos4
			}
		case at(2) == 0 && at(3) == 0:
			switch {
			case at(6) == 0 && at(7) == 0:
				typ = bsd44
			case len(fh) >= 24 && at(21) == 0 && at(23) == 0:
				typ = ultrix
			case at(9) == 10:
				typ = sunos5
			}
		default:
			switch {
			case at(8) == 12 && at(9) == 0:
				typ = decosf
			case at(8) == 0 && at(9) == 10:
				if at(7) == 0 && at(6) == 0 && at(5) == 0 && at(4) == 0 {
					typ = hpux9
				} else {
					typ = sunos5
				}
			case isUCX(fh):
				typ = vmsucx
			}
		}
	}
	switch typ {
	case auspex:
		return uint32(at(6)), uint32(at(7)), u32(at(12), at(13), at(14), at(15)), "", ""
	case bsd44:
		return uint32(at(1)), uint32(at(0)), u32(at(15), at(14), at(13), at(12)), "", ""
	case decosf:
		t := u32(at(3), at(2), at(1), at(0))
		return (t >> 20) & 0xfff, t & 0xfffff, u32(at(15), at(14), at(13), at(12)), "", ""
	case irix4:
		return uint32(at(2)), uint32(at(3)), u32(at(8), at(9), at(10), at(11)), "", ""
	case sunos4:
		return uint32(at(2)), uint32(at(3)), u32(at(12), at(13), at(14), at(15)), "", ""
	case sunos5:
		return (uint32(at(0))<<8 | uint32(at(1))) >> 2 & 0x3fff, u32(0, at(1), at(2), at(3)) & 0x3ffff,
			u32(at(12), at(13), at(14), at(15)), "", ""
	case ultrix:
		return uint32(at(1)), uint32(at(0)), u32(at(7), at(6), at(5), at(4)), "", ""
	case hpux9:
		return uint32(at(0)), u32(0, at(1), at(2), at(3)), u32(at(12), at(13), at(14), at(15)), "", ""
	case vmsucx:
		name := fh[1:min(len(fh), 1+32)]
		return 0, 0, u32(at(26), at(27), at(23), at(22)), string(name), ""
	}
	var hex strings.Builder
	for k := 0; k < len(fh) && k < 32; k++ {
		fmt.Fprintf(&hex, "%02X", fh[k])
	}
	return 257, 257, 1, "Unknown", hex.String()
}

// isUCX is is_UCX: a VMS UCX handle starts with a printable device name.
func isUCX(fh []byte) bool {
	if len(fh) < 28 {
		return false
	}
	seenNull := false
	for i := 1; i < 14; i++ {
		c := fh[i]
		switch {
		case c >= 0x20 && c < 0x7f:
			if seenNull {
				return false
			}
		case c == 0:
			seenNull = true
		default:
			return false
		}
	}
	return true
}
