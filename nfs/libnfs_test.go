package nfs

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// libnfsTool returns the path of a libnfs utility (Debian libnfs-utils).
// In CI a missing tool fails the test; elsewhere it skips, loudly.
func libnfsTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must install Debian package libnfs-utils", name)
		}
		t.Skipf("SKIPPED: %s not found (install Debian package libnfs-utils)", name)
	}
	return p
}

// nfsURL is a libnfs URL that needs no portmapper: MOUNT and NFS both on
// the server's port.
func nfsURL(ap netip.AddrPort, p string) string {
	return fmt.Sprintf("nfs://%s%s?version=3&nfsport=%d&mountport=%d", ap.Addr(), p, ap.Port(), ap.Port())
}

func runTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(libnfsTool(t, name), args...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	return string(out)
}

func TestLibnfsCopyRoundTrip(t *testing.T) {
	libnfsTool(t, "nfs-cp")
	srv := NewServer(newTestStore(t), Config{Exports: []Export{{Path: "/ctr1", Whitelist: everyone}}})
	defer srv.Close()
	ap := serveTCP(t, srv)

	size := 64 << 20
	if testing.Short() {
		size = 4 << 20
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	data := make([]byte, size)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(src, data, 0o644))

	runTool(t, "nfs-cp", src, nfsURL(ap, "/ctr1/disk.bin"))
	back := filepath.Join(dir, "back.bin")
	runTool(t, "nfs-cp", nfsURL(ap, "/ctr1/disk.bin"), back)
	got, err := os.ReadFile(back)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "bytes differ after a round trip")

	out := runTool(t, "nfs-ls", nfsURL(ap, "/ctr1"))
	require.Contains(t, out, "disk.bin")
	require.Contains(t, out, fmt.Sprint(size))
}
