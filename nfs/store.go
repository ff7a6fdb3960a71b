package nfs

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"path"
	"slices"
	"strings"

	billy "github.com/go-git/go-billy/v5"

	"github.com/autopathlab/autopathlab/clock"
)

// DefaultMaxFileSize bounds a file's size in a Store (a WRITE past it gets
// NFS3ERR_FBIG): 4 TiB, a large VM disk. Files are sparse in memory.
const DefaultMaxFileSize = 4 << 40

// Store is the cluster-wide storage behind every Server of a lab (the
// Nutanix DSF): one per lab, shared by all CVMs' Servers, safe for
// concurrent use. Containers are its top-level directories. It owns the
// file-id table that file handles are built from, which is why a handle
// is valid on every Server sharing the Store.
type Store struct {
	epoch uint32 // distinguishes handles of another Store
	be    backend
}

// backend is a Store's filesystem plus its id table: ids are stable over
// renames and never name another file while the Store lives.
type backend interface {
	billy.Filesystem
	billy.Change
	idOf(p string) (uint64, error)
	lookupID(id uint64) (string, bool)
}

// StoreOption configures a memory Store.
type StoreOption func(*storeConfig)

type storeConfig struct {
	clk     clock.Clock
	maxSize int64
}

// WithStoreClock sets the clock that stamps file times.
func WithStoreClock(c clock.Clock) StoreOption { return func(s *storeConfig) { s.clk = c } }

// WithMaxFileSize bounds file sizes.
func WithMaxFileSize(n int64) StoreOption { return func(s *storeConfig) { s.maxSize = n } }

// NewMemStore returns an empty in-memory Store. Its file ids are node
// numbers; its epoch is random, so handles of a previous lab are stale.
func NewMemStore(opts ...StoreOption) *Store {
	cfg := storeConfig{clk: clock.Real(), maxSize: DefaultMaxFileSize}
	for _, o := range opts {
		o(&cfg)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Store{epoch: binary.BigEndian.Uint32(b[:]), be: newMemFS(cfg.clk, cfg.maxSize)}
}

// NewDirStore returns a Store over a directory on disk (go-billy's osfs,
// bound to the directory so that symlinks cannot lead out of it). File ids
// are inode numbers and the epoch derives from the directory's identity,
// so Servers in separate processes sharing the directory (one container
// per CVM) agree on handles.
func NewDirStore(dir string) (*Store, error) {
	be, err := newDirBackend(dir)
	if err != nil {
		return nil, err
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%d", be.rootDev, be.rootIno)
	return &Store{epoch: h.Sum32(), be: be}, nil
}

// FS returns the whole Store as a filesystem (containers are its top-level
// directories), for seeding and inspection. It is safe for concurrent use.
func (s *Store) FS() billy.Filesystem { return s.be }

// CreateContainer creates the container (a top-level directory) if it does
// not exist.
func (s *Store) CreateContainer(name string) error {
	if !validContainer(name) {
		return fmt.Errorf("nfs: invalid container name %q", name)
	}
	return s.be.MkdirAll(name, 0o755)
}

// Containers lists the containers.
func (s *Store) Containers() []string {
	fis, err := s.be.ReadDir("")
	if err != nil {
		return nil
	}
	var out []string
	for _, fi := range fis {
		if fi.IsDir() {
			out = append(out, fi.Name())
		}
	}
	slices.Sort(out)
	return out
}

func validContainer(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// errStale is FromHandle's answer for a handle that names nothing (any
// more): go-nfs turns it into NFS3ERR_STALE.
var errStale = errors.New("nfs: stale file handle")

// resolve returns the container and path (relative to the container) of a
// file id, checking that it still lives in container ctrID.
func (s *Store) resolve(ctrID, fileID uint64) (ctr string, rel []string, err error) {
	ctrPath, ok := s.be.lookupID(ctrID)
	if !ok || strings.Contains(ctrPath, "/") || ctrPath == "" {
		return "", nil, errStale
	}
	p, ok := s.be.lookupID(fileID)
	if !ok {
		return "", nil, errStale
	}
	if p == ctrPath {
		return ctrPath, []string{}, nil
	}
	rest, ok := strings.CutPrefix(p, ctrPath+"/")
	if !ok {
		return "", nil, errStale
	}
	return ctrPath, slices.Clip(strings.Split(rest, "/")), nil
}

// id returns the file id of a path inside a container.
func (s *Store) id(ctr string, rel string) (uint64, error) {
	return s.be.idOf(path.Join(ctr, rel))
}

// capacity reports sizes for FSSTAT: a cluster's worth.
func (s *Store) capacity() (total, free uint64) {
	return 20 << 40, 16 << 40
}

var (
	_ backend = (*memFS)(nil)
	_ backend = (*dirBackend)(nil)
)
