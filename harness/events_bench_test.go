package harness

import (
	"io"
	"strconv"
	"testing"
	"time"
)

// BenchmarkEventThroughput: events recorded per second by the lab's log,
// as the control API's SSE streams and labctl events -f see them: with
// the JSON-lines file (lab --events) and N followers subscribed.
func BenchmarkEventThroughput(b *testing.B) {
	for _, subs := range []int{0, 1, 8} {
		b.Run("subscribers="+strconv.Itoa(subs), func(b *testing.B) {
			log := NewEventLog(io.Discard)
			got := make([]int, subs)
			for i := range subs {
				log.Subscribe(func(Event) { got[i]++ })
			}
			exit := 0
			e := Event{Time: time.Unix(1700000000, 0), Kind: "ssh.command", Node: "NTNX-BLOCK1-A", User: "root", Command: "esxcfg-route -l", Exit: &exit}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				log.Add(e)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			for i := range subs {
				if got[i] != b.N {
					b.Fatalf("subscriber %d saw %d of %d events", i, got[i], b.N)
				}
			}
		})
	}
}
