package nfs

import (
	"context"
	"fmt"
	"net"
	"path"
	"sync"

	billy "github.com/go-git/go-billy/v5"
	gonfs "github.com/willscott/go-nfs"
)

// connHandler is go-nfs's Handler for one connection. Handles are the
// Store's (see handles.go); the export views are per connection.
type connHandler struct {
	sess *session

	mu    sync.Mutex
	views map[uint64]*exportFS // by container id
}

var _ gonfs.Handler = (*connHandler)(nil)

// Mount is never reached: the front end answers MOUNT itself. It still
// returns a non-nil filesystem, since go-nfs dereferences it.
func (h *connHandler) Mount(context.Context, net.Conn, gonfs.MountRequest) (gonfs.MountStatus, billy.Filesystem, []gonfs.AuthFlavor) {
	return gonfs.MountStatusErrAcces, &exportFS{store: h.sess.srv.store, ctr: "\x00denied"}, nil
}

func (h *connHandler) Change(fs billy.Filesystem) billy.Change {
	if e, ok := fs.(*exportFS); ok {
		return e
	}
	return nil
}

func (h *connHandler) FSStat(_ context.Context, _ billy.Filesystem, st *gonfs.FSStat) error {
	total, free := h.sess.srv.store.capacity()
	st.TotalSize, st.FreeSize, st.AvailableSize = total, free, free
	st.TotalFiles, st.FreeFiles, st.AvailableFiles = 1<<32, 1<<31, 1<<31
	return nil
}

func (h *connHandler) ToHandle(fs billy.Filesystem, p []string) (fh []byte) {
	e, ok := fs.(*exportFS)
	if !ok {
		return nil
	}
	defer func() {
		if v := recover(); v != nil {
			fh = nil
			h.sess.panicked("tohandle", v)
		}
	}()
	id, err := h.sess.srv.store.id(e.ctr, path.Join(p...))
	if err != nil {
		return nil
	}
	return fileHandle{epoch: h.sess.srv.store.epoch, ctr: e.ctrID, fileID: id}.encode()
}

func (h *connHandler) FromHandle(fh []byte) (fs billy.Filesystem, p []string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("nfs: panic in fromhandle: %v", v)
			h.sess.panicked("fromhandle", v)
		}
	}()
	d, ok := decodeHandle(fh)
	st := h.sess.srv.store
	if !ok || d.epoch != st.epoch {
		return nil, nil, errStale
	}
	ctr, rel, err := st.resolve(d.ctr, d.fileID)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := h.sess.srv.export(ctr); !ok {
		return nil, nil, errStale // not exported by this server
	}
	return h.view(ctr, d.ctr), rel, nil
}

func (h *connHandler) view(ctr string, id uint64) *exportFS {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.views[id]
	if !ok || v.ctr != ctr {
		v = &exportFS{store: h.sess.srv.store, ctr: ctr, ctrID: id, sess: h.sess}
		h.views[id] = v
	}
	return v
}

// InvalidateHandle has nothing to do: the Store's table follows renames
// and removals itself.
func (h *connHandler) InvalidateHandle(billy.Filesystem, []byte) error { return nil }

// HandleLimit bounds go-nfs's READDIR replies (it sends half as many
// entries); handles themselves cost nothing to keep.
func (h *connHandler) HandleLimit() int { return 4096 }
