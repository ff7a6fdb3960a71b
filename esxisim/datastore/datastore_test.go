package datastore

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMountAndFileIO(t *testing.T) {
	l := newTestLab(t, Config{})
	d := l.add(t)
	ctx := ctxT(t)

	assert.Equal(t, []Info{{Name: "ctr1", Host: "192.168.5.2", Share: "/ctr1", Accessible: true, Mounted: true,
		UUID: volumeUUID("192.168.5.2", "/ctr1"), State: Accessible}}, l.m.List())
	assert.Contains(t, string(l.Host.Log().Bytes()), ")NFS: 317: NFS mount succeeded for 192.168.5.2:/ctr1 volume ctr1\n")

	f, err := d.Open(ctx, "vm1.vmdk", os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	data := []byte(strings.Repeat("autopath", 1000))
	n, err := f.WriteAt(data, 4096)
	require.NoError(t, err)
	assert.Equal(t, len(data), n)
	require.NoError(t, f.Sync())
	got := make([]byte, len(data))
	_, err = f.ReadAt(got, 4096)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	fi, err := f.Stat()
	require.NoError(t, err)
	assert.EqualValues(t, 4096+len(data), fi.Size())

	require.NoError(t, d.Mkdir(ctx, "dir", 0o755))
	require.NoError(t, d.Rename(ctx, "vm1.vmdk", "dir/vm2.vmdk"))
	ents, err := d.ReadDir(ctx, "dir")
	require.NoError(t, err)
	require.Len(t, ents, 1)
	assert.Equal(t, "vm2.vmdk", ents[0].Name())
	require.NoError(t, d.Remove(ctx, "dir/vm2.vmdk"))
	require.NoError(t, d.Remove(ctx, "dir"))
	_, err = d.Stat(ctx, "dir")
	assert.ErrorIs(t, err, os.ErrNotExist)

	// The server saw the private vmk's address from a reserved port.
	for _, c := range l.connects("cvm-a", 2049) {
		assert.Equal(t, "192.168.5.1", c.Addr().String())
		assert.Less(t, c.Port(), uint16(1024))
	}
}
