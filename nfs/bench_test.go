package nfs

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchSize is the file nfs-cp moves, the DESIGN anchor's 64 MiB.
const benchSize = 64 << 20

// BenchmarkLibnfs moves a 64 MiB file with libnfs's nfs-cp in and out of
// our Server (memory and directory stores) and, when bench/ganesha.sh has
// started one (NFS_BENCH_GANESHA=host:nfsport:mountport:/export), of
// nfs-ganesha, side by side in one run, and prints throughput ratios.
// Mount is nfs-ls of the export: a process, MNT, READDIRPLUS, UMNT.
func BenchmarkLibnfs(b *testing.B) {
	if _, err := exec.LookPath("nfs-cp"); err != nil {
		b.Skip("SKIPPED: nfs-cp not found (Debian package libnfs-utils)")
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	data := make([]byte, benchSize)
	_, _ = rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}

	// base: URL with %s for the file name; rm removes a file (nfs-cp
	// creates exclusively, on both ends).
	type target struct {
		name, base string
		rm         func(string)
	}
	var targets []target
	serve := func(name string, st *Store) {
		if err := st.CreateContainer("ctr1"); err != nil {
			b.Fatal(err)
		}
		srv := NewServer(st, Config{Exports: []Export{{Path: "/ctr1", Whitelist: everyone}}})
		b.Cleanup(func() { srv.Close() })
		ap := serveTCP(b, srv)
		targets = append(targets, target{name, fmt.Sprintf("nfs://%s/ctr1/%%s?version=3&nfsport=%d&mountport=%d", ap.Addr(), ap.Port(), ap.Port()),
			func(f string) { _ = st.FS().Remove("ctr1/" + f) }})
	}
	serve("autopathlab-mem", NewMemStore())
	ds, err := NewDirStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	serve("autopathlab-dir", ds)
	if g := os.Getenv("NFS_BENCH_GANESHA"); g != "" {
		parts := strings.SplitN(g, ":", 4)
		if len(parts) != 4 {
			b.Fatalf("NFS_BENCH_GANESHA=%q: want host:nfsport:mountport:/export", g)
		}
		targets = append(targets, target{"ganesha", fmt.Sprintf("nfs://%s%s/%%s?version=3&nfsport=%s&mountport=%s", parts[0], parts[3], parts[1], parts[2]),
			func(f string) { _ = os.Remove(filepath.Join(parts[3], f)) }})
	} else {
		b.Log("ganesha not measured: run nfs/bench/ganesha.sh for the side-by-side comparison")
	}

	perOp := map[string]time.Duration{}
	// run times one command per iteration; prepare (untimed) returns it.
	run := func(b *testing.B, key string, prepare func() []string) {
		for b.Loop() {
			b.StopTimer()
			args := prepare()
			b.StartTimer()
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				b.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
		perOp[key] = b.Elapsed() / time.Duration(b.N)
	}
	for _, tg := range targets {
		url := func(f string) string { return strings.Replace(tg.base, "%s", f, 1) }
		// A new name per write (nfs-cp creates exclusively, and ganesha
		// caches directory entries, so a file removed behind its back
		// still exists for CREATE); bench-1.bin stays for the reads.
		n := 0
		b.Run(tg.name+"/write", func(b *testing.B) {
			b.SetBytes(benchSize)
			run(b, tg.name+"/write", func() []string {
				n++
				if n > 2 {
					tg.rm(fmt.Sprintf("bench-%d.bin", n-1))
				}
				return []string{"nfs-cp", src, url(fmt.Sprintf("bench-%d.bin", n))}
			})
		})
		back := filepath.Join(dir, "back-"+tg.name)
		b.Run(tg.name+"/read", func(b *testing.B) {
			b.SetBytes(benchSize)
			run(b, tg.name+"/read", func() []string {
				_ = os.Remove(back)
				return []string{"nfs-cp", url("bench-1.bin"), back}
			})
		})
		b.Run(tg.name+"/mount", func(b *testing.B) {
			run(b, tg.name+"/mount", func() []string { return []string{"nfs-ls", url("")} })
		})
	}
	mbps := func(d time.Duration) float64 { return float64(benchSize) / 1e6 / d.Seconds() }
	for _, tg := range targets {
		w, r, m := perOp[tg.name+"/write"], perOp[tg.name+"/read"], perOp[tg.name+"/mount"]
		if w == 0 || r == 0 {
			continue
		}
		line := fmt.Sprintf("%-16s write %7.1f MB/s  read %7.1f MB/s  mount %6.1f ms", tg.name, mbps(w), mbps(r), float64(m)/1e6)
		if gw, gr := perOp["ganesha/write"], perOp["ganesha/read"]; gw > 0 && tg.name != "ganesha" {
			line += fmt.Sprintf("  ratio vs ganesha: write %.2f read %.2f mount %.2f", float64(gw)/float64(w), float64(gr)/float64(r), float64(perOp["ganesha/mount"])/float64(m))
		}
		fmt.Println(line)
	}
}
