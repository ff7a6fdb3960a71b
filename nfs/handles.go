package nfs

import (
	"encoding/binary"
)

// A file handle is the Store's, not a Server's: version, store epoch,
// container id, file id. Any Server sharing the Store decodes it to the
// same file, which is what lets an ESXi host keep its handles when
// autopathing moves it to another CVM, and across a Stargate restart.
// go-nfs's helpers.NewCachingHandler hands out random per-process UUIDs
// instead, which the failover cannot survive.
//
// Ids are never reused while a memory Store lives, so no generation field
// is needed there; the epoch is the generation of the id space (a new
// Store, a new epoch, and every old handle is stale). On a directory Store
// ids are inode numbers: an inode reused after a delete makes an old handle
// name the new file, as on any NFS server without generation numbers.
//
// The length is a multiple of 4 on purpose: go-nfs reads handles with
// go-nfs-client's xdr.ReadOpaque, which does not consume XDR padding, so
// with a 22-byte handle every argument after it is read two bytes off.
const (
	handleVersion = 1
	handleLen     = 24 // ≤ 64 (NFS3_FHSIZE); bytes 22-23 reserved, zero
)

type fileHandle struct {
	epoch  uint32
	ctr    uint64 // the container directory's file id
	fileID uint64
}

func (h fileHandle) encode() []byte {
	b := make([]byte, handleLen)
	b[0] = handleVersion
	binary.BigEndian.PutUint32(b[2:], h.epoch)
	binary.BigEndian.PutUint64(b[6:], h.ctr)
	binary.BigEndian.PutUint64(b[14:], h.fileID)
	return b
}

func decodeHandle(b []byte) (fileHandle, bool) {
	if len(b) != handleLen || b[0] != handleVersion || b[1] != 0 || b[22] != 0 || b[23] != 0 {
		return fileHandle{}, false
	}
	return fileHandle{
		epoch:  binary.BigEndian.Uint32(b[2:]),
		ctr:    binary.BigEndian.Uint64(b[6:]),
		fileID: binary.BigEndian.Uint64(b[14:]),
	}, true
}

// Handle returns the file handle of a path inside a container, as any
// Server of this Store would issue it (for tests and the harness).
func (s *Store) Handle(container, rel string) ([]byte, error) {
	ctr, err := s.be.idOf(container)
	if err != nil {
		return nil, err
	}
	id, err := s.id(container, rel)
	if err != nil {
		return nil, err
	}
	return fileHandle{epoch: s.epoch, ctr: ctr, fileID: id}.encode(), nil
}

// Resolve returns the container and container-relative path a handle
// names, or an error if it is stale.
func (s *Store) Resolve(h []byte) (container, rel string, err error) {
	fh, ok := decodeHandle(h)
	if !ok || fh.epoch != s.epoch {
		return "", "", errStale
	}
	ctr, parts, err := s.resolve(fh.ctr, fh.fileID)
	if err != nil {
		return "", "", err
	}
	return ctr, joinRel(parts), nil
}

func joinRel(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += "/"
		}
		out += p
	}
	return out
}
