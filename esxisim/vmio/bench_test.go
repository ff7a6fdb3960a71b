package vmio

import (
	"context"
	"testing"

	"github.com/autopathlab/autopathlab/clock"
)

// BenchmarkOps measures the workload's own cost per operation (encode or
// verify a 4 KiB block, the watchdog, the accounts) against the in-memory
// volume on the real clock: at the default 50 IOPS a host spends
// 50 × ns/op of CPU per second on it.
func BenchmarkOps(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ratio float64
	}{{"mix", 0}, {"reads", 1}, {"writes", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			w, err := New(newFakeVolume(), Config{Name: "vm-bench", Clock: clock.Real(), ReadRatio: bc.ratio})
			if err != nil {
				b.Fatal(err)
			}
			sc := opScope{parent: context.Background()}
			defer sc.close()
			w.step(&sc) // open the file
			b.ReportAllocs()
			b.SetBytes(int64(w.cfg.BlockSize))
			n := 0
			for b.Loop() {
				w.step(&sc)
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ops/s")
			if rep := w.Report(); rep.Errors != 0 || !rep.Integrity.OK {
				b.Fatal(rep)
			}
		})
	}
}
