package nfs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHandleCodecRoundTrip(t *testing.T) {
	for _, h := range []fileHandle{
		{},
		{epoch: 1, ctr: 2, fileID: 3},
		{epoch: ^uint32(0), ctr: ^uint64(0), fileID: ^uint64(0)},
	} {
		b := h.encode()
		require.Len(t, b, handleLen)
		require.LessOrEqual(t, len(b), 64)
		require.Zero(t, len(b)%4, "go-nfs misreads arguments after a handle not 4-aligned")
		got, ok := decodeHandle(b)
		require.True(t, ok)
		require.Equal(t, h, got)
	}
	bad := fileHandle{epoch: 1, ctr: 2, fileID: 3}.encode()
	for name, b := range map[string][]byte{
		"empty":    nil,
		"short":    bad[:10],
		"long":     append(bad, 0),
		"version":  append([]byte{9}, bad[1:]...),
		"reserved": append(append([]byte{}, bad[:22]...), 1, 0),
	} {
		_, ok := decodeHandle(b)
		require.False(t, ok, name)
	}
}

func TestStoreHandlesStableAcrossRenameAndStale(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) *Store{
		"mem": func(t *testing.T) *Store { return NewMemStore() },
		"dir": func(t *testing.T) *Store {
			st, err := NewDirStore(t.TempDir())
			require.NoError(t, err)
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := mk(t)
			require.NoError(t, st.CreateContainer("ctr1"))
			require.NoError(t, st.FS().MkdirAll("ctr1/vm1", 0o755))
			f, err := st.FS().Create("ctr1/vm1/disk.vmdk")
			require.NoError(t, err)
			require.NoError(t, f.Close())

			h, err := st.Handle("ctr1", "vm1/disk.vmdk")
			require.NoError(t, err)
			ctr, rel, err := st.Resolve(h)
			require.NoError(t, err)
			require.Equal(t, "ctr1", ctr)
			require.Equal(t, "vm1/disk.vmdk", rel)

			require.NoError(t, st.FS().Rename("ctr1/vm1", "ctr1/vm2"))
			_, rel, err = st.Resolve(h)
			require.NoError(t, err, "renames keep ids")
			require.Equal(t, "vm2/disk.vmdk", rel)

			require.NoError(t, st.FS().Remove("ctr1/vm2/disk.vmdk"))
			_, _, err = st.Resolve(h)
			require.ErrorIs(t, err, errStale)

			_, _, err = NewMemStore().Resolve(h)
			require.ErrorIs(t, err, errStale, "another store's handle")
		})
	}
}
