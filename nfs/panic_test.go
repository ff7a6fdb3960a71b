package nfs

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// boomFS panics on any path naming "boom", standing in for a bug in the
// Store.
type boomFS struct{ *memFS }

func (b boomFS) Lstat(p string) (os.FileInfo, error) {
	if strings.Contains(p, "boom") {
		panic("store bug")
	}
	return b.memFS.Lstat(p)
}

func TestPanicDropsConnectionNotProcess(t *testing.T) {
	st := newTestStore(t)
	st.be = boomFS{st.be.(*memFS)}
	srv, ap, ev := startServer(t, st, everyone)
	c := dialRaw(t, ap.String())
	_, root := c.mnt("/ctr1")
	e := xdrEnc{}
	e.opaque(root)
	e.string("boom")
	c.send(progNFS, 3, nfsLookup, e.b)
	// The connection is dropped (whatever go-nfs managed to answer first).
	for {
		if _, err := c.recv(); err != nil {
			break
		}
	}
	require.Eventually(t, func() bool { return ev.has(EventPanic) }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return len(srv.Sessions()) == 0 }, 5*time.Second, time.Millisecond)
	// The server is still up.
	c2 := dialRaw(t, ap.String())
	stat, _ := c2.mnt("/ctr1")
	require.Equal(t, uint32(mnt3OK), stat)
}
