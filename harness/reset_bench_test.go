package harness

import (
	"context"
	"testing"
	"time"
)

// BenchmarkReset: the control API's reset (goal ≤ 10 ms), for a lab nothing
// happened to and for one a scenario left in a mess (CVM A off, host A
// routed via CVM B, CVM C's Stargate hung, a latency fault), with VM IO
// running. The mess is made outside the timer; reset includes waiting for
// every datastore to be accessible again.
func BenchmarkReset(b *testing.B) {
	lab, err := New(Default(), Options{CVMTimers: fastBoot})
	if err != nil {
		b.Fatal(err)
	}
	defer lab.Close()
	ctx := context.Background()
	b.Run("untouched", func(b *testing.B) {
		for b.Loop() {
			if _, err := lab.Reset(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("after-scenario", func(b *testing.B) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			must(b, lab.PowerOff("a"))
			must(b, lab.AddRoute("a", "", "192.168.5.2/32", "192.168.1.28"))
			must(b, lab.SetStargate("c", "hung"))
			_, err := lab.AddFault(FaultSpec{Kind: FaultLatency, Node: "b", Interface: "vmnic0", Latency: Duration(time.Millisecond)})
			must(b, err)
			b.StartTimer()
			d, err := lab.Reset(ctx)
			must(b, err)
			total += d
		}
		b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/reset")
	})
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
