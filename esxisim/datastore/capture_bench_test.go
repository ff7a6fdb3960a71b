package datastore

import (
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/capture"
	"github.com/autopathlab/autopathlab/fabric"
)

// BenchmarkNFSCapture is the cost of a packet capture on NFS throughput:
// host A's datastore client writes and then reads back 32 MiB (64 KiB
// WRITEs and READs) through CVM A's Stargate over vmk1, with
//
//   - none: nobody captures (the baseline),
//   - unrelated: a capture on an interface the NFS flow does not cross
//     (host A's vmk0),
//   - count: a capture on vmk1 whose callback only counts frames,
//   - ring: a capture on vmk1 that keeps every full frame in a ring as the
//     control API does (capture.Ring, 64 MiB, a new one for each
//     transfer, released after it into the Memory the next one takes).
//
// The cases take turns within each iteration, each after a collection of
// the heap and each iteration starting with another, so that a noisy
// machine's drift falls on all of them alike. The metrics are each case's
// median time per transfer (<case>-ms) and its ratio to none's (<case>-x;
// 1.25 is a 25 % capture cost), and ring-first-x, the first ring's ratio:
// its memory was new to the process.
//
//	go test -run '^$' -bench BenchmarkNFSCapture -benchtime 10x ./esxisim/datastore
func BenchmarkNFSCapture(b *testing.B) {
	const (
		total = 32 << 20
		chunk = 64 << 10
	)
	l := newBenchLab(b)
	d, err := l.m.Add(ctxT(b), "ctr1", "192.168.5.2", "/ctr1", false)
	if err != nil {
		b.Fatal(err)
	}
	f, err := d.Open(ctxT(b), "disk.vmdk", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	wbuf := make([]byte, chunk)
	for i := range wbuf {
		wbuf[i] = byte(i * 7)
	}
	rbuf := make([]byte, chunk)
	transfer := func() {
		for off := int64(0); off < total; off += chunk {
			if _, err := f.WriteAt(wbuf, off); err != nil {
				b.Fatal(err)
			}
		}
		for off := int64(0); off < total; off += chunk {
			if _, err := f.ReadAt(rbuf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Warm up: the file at its full size, the flow and the buffers
	// grown, so that the first case is not the one that pays for them.
	transfer()
	host := l.Host.Node()
	var mem capture.Memory // as the lab's captures share theirs
	cases := []struct {
		name  string
		start func() (stop func() uint64)
	}{
		{"none", func() func() uint64 { return func() uint64 { return 0 } }},
		{"unrelated", countFrames(host.Interface("vmk0"))},
		{"count", countFrames(host.Interface("vmk1"))},
		{"ring", func() func() uint64 {
			r := capture.NewRing(capture.Options{Memory: &mem})
			stop := host.Interface("vmk1").Capture(func(p fabric.Packet) { r.Add(p.Time, p.Data, p.Len) })
			return func() uint64 {
				host.Network().SyncCaptures()
				stop()
				r.Close()
				n := r.Stats().Seen
				r.Release()
				return n
			}
		}},
	}
	times := make([][]time.Duration, len(cases))
	frames := make([]uint64, len(cases))
	b.SetBytes(int64(len(cases)) * 2 * total)
	for k := 0; b.Loop(); k++ {
		for x := range cases {
			// Each iteration starts with another case: none is not
			// always the one that follows the ring's release.
			i := (x + k) % len(cases)
			c := cases[i]
			b.StopTimer()
			runtime.GC()
			b.StartTimer()
			stop := c.start()
			t0 := time.Now()
			transfer()
			times[i] = append(times[i], time.Since(t0))
			b.StopTimer()
			frames[i] += stop()
			b.StartTimer()
		}
	}
	base := median(times[0])
	for i, c := range cases {
		m := median(times[i])
		b.ReportMetric(float64(m)/1e6, c.name+"-ms")
		if i > 0 {
			b.ReportMetric(float64(m)/float64(base), c.name+"-x")
		}
	}
	// The first ring's memory was new to the process (Memory had none to
	// give): its transfer paid for the page faults.
	ring := len(cases) - 1
	b.ReportMetric(float64(times[ring][0])/float64(base), "ring-first-x")
	b.ReportMetric(float64(frames[ring])/float64(len(times[0])), "frames/transfer")
	for i := 1; i < len(cases)-1; i++ {
		if c := cases[i]; c.name == "count" && frames[i] != frames[len(cases)-1] {
			b.Fatalf("the counting capture saw %d frames, the ring %d: not the same traffic", frames[i], frames[len(cases)-1])
		}
	}
}

// countFrames is a capture on iface that only counts what it sees.
func countFrames(iface *fabric.Interface) func() func() uint64 {
	return func() func() uint64 {
		var n atomic.Uint64
		stop := iface.Capture(func(fabric.Packet) { n.Add(1) })
		return func() uint64 {
			iface.Node().Network().SyncCaptures()
			stop()
			return n.Load()
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
