package nfs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
)

// mountGoClient mounts dir with go-nfs-client over real loopback TCP
// (it dials by itself); MOUNT and NFS share the connection's port.
func mountGoClient(t testing.TB, ap netip.AddrPort, dir string) (*nfsc.Target, error) {
	t.Helper()
	// go-nfs-client binds a local port it picks at random itself; under
	// concurrent clients two can pick the same one. Try again then.
	var c *rpc.Client
	var err error
	for range 10 {
		if c, err = rpc.DialTCP("tcp", ap.String(), false); !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	require.NoError(t, err)
	m := &nfsc.Mount{Client: c}
	tgt, err := m.Mount(dir, rpc.NewAuthUnix("esx", 0, 0).Auth())
	if err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() {
		_ = m.Unmount()
		tgt.Close()
	})
	return tgt, nil
}

func writeReadBack(t testing.TB, tgt *nfsc.Target, name string, data []byte) {
	f, err := tgt.OpenFile(name, 0o644)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	r, err := tgt.Open(name)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.True(t, bytes.Equal(data, got), "%s: read back differs", name)
}

func TestGoNFSClient(t *testing.T) {
	_, ap, _ := startServer(t, newTestStore(t), everyone)
	tgt, err := mountGoClient(t, ap, "/ctr1")
	require.NoError(t, err)

	_, err = tgt.Mkdir("vm1", 0o755)
	require.NoError(t, err)
	data := make([]byte, 3<<20+123)
	_, _ = rand.Read(data)
	writeReadBack(t, tgt, "vm1/disk-flat.vmdk", data)

	ents, err := tgt.ReadDirPlus("vm1")
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Contains(t, names, "disk-flat.vmdk")
	fi, _, err := tgt.Lookup("vm1/disk-flat.vmdk")
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), fi.Size())
	require.NoError(t, tgt.Remove("vm1/disk-flat.vmdk"))
	_, _, err = tgt.Lookup("vm1/disk-flat.vmdk")
	require.Error(t, err)
}

func TestGoNFSClientDenied(t *testing.T) {
	_, ap, _ := startServer(t, newTestStore(t), []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")})
	_, err := mountGoClient(t, ap, "/ctr1")
	require.ErrorContains(t, err, "MNT3ERR_ACCES")
}

func TestConcurrentClients(t *testing.T) {
	st := newTestStore(t)
	// Two servers over one store, as two CVMs.
	_, apA, _ := startServer(t, st, everyone)
	_, apB, _ := startServer(t, st, everyone)
	const clients = 6
	var wg sync.WaitGroup
	for i := range clients {
		ap := apA
		if i%2 == 1 {
			ap = apB
		}
		tgt, err := mountGoClient(t, ap, "/ctr1")
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([]byte, 1<<20+i*4096)
			_, _ = rand.Read(data)
			for j := range 3 {
				writeReadBack(t, tgt, fmt.Sprintf("f%d-%d", i, j), data)
			}
		}()
	}
	wg.Wait()
	fis, err := st.FS().ReadDir("ctr1")
	require.NoError(t, err)
	require.Len(t, fis, clients*3)
}
