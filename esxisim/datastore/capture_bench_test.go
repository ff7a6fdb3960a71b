package datastore

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/fabric"
)

// BenchmarkNFSCapture is the cost of a packet capture on NFS throughput:
// host A's datastore client writes and then reads back 32 MiB (64 KiB
// WRITEs and READs) through CVM A's Stargate over vmk1, with
//
//   - none: nobody captures (the baseline),
//   - unrelated: a capture on an interface the NFS flow does not cross
//     (host A's vmk0),
//   - vmk1-count: a capture on vmk1 whose callback only counts frames,
//   - vmk1-ring: a capture on vmk1 that keeps the frames in a bounded ring,
//     as harness/capture.go does.
//
// Each case after the first also reports x_none, its time per op over the
// baseline's measured in the same run (1.25 is a 25 % capture cost):
//
//	go test -run '^$' -bench BenchmarkNFSCapture -benchtime 5x ./esxisim/datastore
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
	// Warm up: the file at its full size, the flow and the buffers
	// grown, so that the first case is not the one that pays for them.
	for off := int64(0); off < total; off += chunk {
		if _, err := f.WriteAt(wbuf, off); err != nil {
			b.Fatal(err)
		}
	}
	host := l.Host.Node()
	var baseline time.Duration // the none case's time per op

	cases := []struct {
		name  string
		start func() (stop func(), frames func() uint64)
	}{
		{"none", func() (func(), func() uint64) { return func() {}, func() uint64 { return 0 } }},
		{"unrelated", func() (func(), func() uint64) {
			var n atomic.Uint64
			stop := host.Interface("vmk0").Capture(func(fabric.Packet) { n.Add(1) })
			return stop, n.Load
		}},
		{"vmk1-count", func() (func(), func() uint64) {
			var n atomic.Uint64
			stop := host.Interface("vmk1").Capture(func(fabric.Packet) { n.Add(1) })
			return stop, n.Load
		}},
		{"vmk1-ring", func() (func(), func() uint64) {
			r := &benchRing{max: 64 << 20}
			stop := host.Interface("vmk1").Capture(r.add)
			return stop, r.count
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			stop, frames := c.start()
			defer stop()
			b.SetBytes(2 * total)
			b.ReportAllocs()
			for b.Loop() {
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
			per := b.Elapsed() / time.Duration(b.N)
			if c.name == "none" {
				baseline = per
			} else if baseline > 0 {
				b.ReportMetric(float64(per)/float64(baseline), "x_none")
			}
			b.ReportMetric(float64(frames())/float64(b.N), "frames/op")
		})
	}
}

// benchRing keeps frames as harness/capture.go's ring does: each copied
// (Packet.Data is valid only during the callback) into 1 MiB chunks carved
// one after the other, its place appended under a lock, the oldest dropped
// beyond max bytes with the chunks they leave empty.
type benchRing struct {
	mu       sync.Mutex
	ring     []benchFrame
	head     int
	slabs    [][]byte
	slabBase int
	free     [][]byte // dropped chunks, for the next ones
	bytes    int
	max      int
	seen     uint64
}

type benchFrame struct {
	sec       int64
	nsec      int32
	n, off    int32
	slab, len int
}

func (r *benchRing) add(p fabric.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	last := len(r.slabs) - 1
	if last < 0 || cap(r.slabs[last])-len(r.slabs[last]) < len(p.Data) {
		var c []byte
		if n := len(r.free); n > 0 && cap(r.free[n-1]) >= len(p.Data) {
			c, r.free = r.free[n-1][:0], r.free[:n-1]
		} else {
			c = make([]byte, 0, max(1<<20, len(p.Data)))
		}
		r.slabs = append(r.slabs, c)
		last++
	}
	off := len(r.slabs[last])
	r.slabs[last] = append(r.slabs[last], p.Data...)
	r.ring = append(r.ring, benchFrame{sec: p.Time.Unix(), nsec: int32(p.Time.Nanosecond()),
		n: int32(len(p.Data)), off: int32(off), slab: r.slabBase + last, len: p.Len})
	r.bytes += len(p.Data)
	for r.head < len(r.ring) && r.bytes > r.max {
		r.bytes -= int(r.ring[r.head].n)
		r.head++
	}
	keep := r.slabBase + len(r.slabs) - 1
	if r.head < len(r.ring) {
		keep = r.ring[r.head].slab
	}
	for r.slabBase < keep {
		if len(r.free) < 2 {
			r.free = append(r.free, r.slabs[0])
		}
		r.slabs[0] = nil
		r.slabs = r.slabs[1:]
		r.slabBase++
	}
	if r.head > len(r.ring)/2 {
		r.ring = append(r.ring[:0], r.ring[r.head:]...)
		r.head = 0
	}
}

func (r *benchRing) count() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}
