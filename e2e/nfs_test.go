package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nfsURL is a libnfs URL for a file on a lab NFS server's loopback port,
// which serves the portmapper, MOUNT and NFS on one port.
func (l *lab) nfsURL(t *testing.T, node, path string) string {
	t.Helper()
	for _, n := range l.eps.Nodes {
		if n.Name == node {
			a := n.Listeners["nfs"]
			i := strings.LastIndexByte(a, ':')
			if i < 0 {
				t.Fatalf("%s: no nfs listener in %+v", node, n)
			}
			return fmt.Sprintf("nfs://%s%s?version=3&nfsport=%s&mountport=%s", a[:i], path, a[i+1:], a[i+1:])
		}
	}
	t.Fatalf("no node %s in the endpoints", node)
	return ""
}

// The Stargates of all CVMs serve one cluster-wide store: a 64 MiB file
// copied in through CVM A's port comes out of CVM B's byte for byte.
func TestLibnfsThroughStargates(t *testing.T) {
	cp := requireTool(t, "nfs-cp")
	ls := requireTool(t, "nfs-ls")
	l := startLab(t)

	dir := t.TempDir()
	in := filepath.Join(dir, "in.bin")
	data := make([]byte, 64<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(cp, in, l.nfsURL(t, "NTNX-BLOCK1-A-CVM", "/ctr1/disk.bin"))
	listing := run(ls, l.nfsURL(t, "NTNX-BLOCK1-C-CVM", "/ctr1"))
	if !strings.Contains(listing, "disk.bin") {
		t.Fatalf("nfs-ls through CVM C does not show disk.bin:\n%s", listing)
	}
	out := filepath.Join(dir, "out.bin")
	run(cp, l.nfsURL(t, "NTNX-BLOCK1-B-CVM", "/ctr1/disk.bin"), out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("64 MiB through CVM A then CVM B: %d bytes back, content differs", len(got))
	}
}
