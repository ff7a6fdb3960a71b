// Package capture keeps captured frames: a Ring is a packet capture's
// buffer, bounded in packets and bytes (the oldest frames make room), that
// exports what it holds as a pcap file for Wireshark.
//
// A Ring is what a capture callback of fabric's feeds: the callback runs
// on the network's capture goroutine, off the data path (fabric's
// pipeline.go), so Add copies each frame straight into the ring's memory.
package capture

import (
	"io"
	"slices"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Options bound what a Ring keeps.
type Options struct {
	// Snaplen is how many bytes of each frame are kept (default
	// DefaultSnaplen).
	Snaplen int
	// MaxPackets and MaxBytes bound the ring: beyond either, the oldest
	// frames are dropped (defaults: no packet limit, DefaultMaxBytes).
	MaxPackets int
	MaxBytes   int64
	// Memory, when set, is where the ring takes its chunks from and
	// gives them back to on Release.
	Memory *Memory
}

// Defaults.
const (
	DefaultSnaplen  = 262144 // tcpdump's
	DefaultMaxBytes = 64 << 20
)

// Stats are what a Ring holds and has seen.
type Stats struct {
	// Packets and Bytes are what the ring holds now (Bytes as kept, after
	// the snaplen).
	Packets int
	Bytes   int64
	// Seen counts every frame added; Dropped those the ring let go to
	// stay within its bounds.
	Seen    uint64
	Dropped uint64
}

// chunkSize is the ring's unit of memory (less for a ring bounded to
// less).
const chunkSize = 1 << 20

// Ring is a bounded buffer of frames. Its methods are safe for concurrent
// use.
type Ring struct {
	opts Options

	mu       sync.Mutex
	closed   bool
	released bool
	ring     []frame // ring[head:] are kept, oldest first
	head     int
	// chunks hold the kept frames' bytes one after the other
	// (chunkSize each; a bigger frame gets a chunk of its own):
	// chunks[0] is chunk number base, the last is being filled. A chunk
	// is let go once the ring has dropped its frames, and reused (spare)
	// unless a WritePcap, which reads frames without the lock, is under
	// way (readers). Neither the ring nor the chunks hold pointers for
	// the GC to scan, and a frame costs no allocation of its own.
	chunks  [][]byte
	base    int
	size    int // of a chunk
	spare   [][]byte
	readers int
	bytes   int64
	seen    uint64
	dropped uint64
}

// frame is a kept frame: its time, its length on the wire, and where its
// (snaplen-cut) bytes are: chunk number, offset, length.
type frame struct {
	sec   int64
	nsec  int32
	n     int32
	off   int32
	chunk int
	wire  int
}

// NewRing makes a ring.
func NewRing(o Options) *Ring {
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultSnaplen
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return &Ring{opts: o, size: int(min(chunkSize, max(o.MaxBytes, 4<<10)))}
}

// Add keeps a copy of a frame seen at t whose length on the wire was wire
// (len(data) when 0). data is not retained. After Close it does nothing.
func (r *Ring) Add(t time.Time, data []byte, wire int) {
	if wire == 0 {
		wire = len(data)
	}
	if len(data) > r.opts.Snaplen {
		data = data[:r.opts.Snaplen]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.put(t, data, wire)
	}
}

// Close stops taking frames; what the ring holds stays readable. It is
// idempotent.
func (r *Ring) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

// Release closes the ring and forgets its frames: its memory goes back to
// Options.Memory (once a WritePcap under way is done with it).
func (r *Ring) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed, r.released = true, true
	r.ring, r.head, r.bytes = nil, 0, 0
	r.giveBackLocked()
}

// giveBackLocked hands the ring's chunks to its Memory once it is released
// and nobody reads them; it needs r.mu.
func (r *Ring) giveBackLocked() {
	if !r.released || r.readers > 0 {
		return
	}
	m := r.opts.Memory
	for _, c := range append(r.chunks, r.spare...) {
		if m != nil && cap(c) == chunkSize {
			m.put(c[:0])
		}
	}
	r.chunks, r.spare = nil, nil
}

// put keeps one frame; it needs r.mu.
func (r *Ring) put(t time.Time, data []byte, wire int) {
	r.seen++
	k, off := r.carve(len(data))
	copy(r.chunks[k-r.base][off:], data)
	r.ring = append(r.ring, frame{sec: t.Unix(), nsec: int32(t.Nanosecond()),
		n: int32(len(data)), off: int32(off), chunk: k, wire: wire})
	r.bytes += int64(len(data))
	for r.head < len(r.ring) && (r.bytes > r.opts.MaxBytes || r.opts.MaxPackets > 0 && len(r.ring)-r.head > r.opts.MaxPackets) {
		r.bytes -= int64(r.ring[r.head].n)
		r.head++
		r.dropped++
	}
	// Let go of the chunks before the oldest kept frame's (all but the
	// last when none is kept): frames are carved in ring order.
	keep := r.base + len(r.chunks) - 1
	if r.head < len(r.ring) {
		keep = r.ring[r.head].chunk
	}
	for r.base < keep {
		// Every chunk of the usual size is reused, unless a reader
		// may still be reading it: at full the ring then writes into
		// memory it already has rather than into new memory the
		// runtime must clear and the GC must account for.
		if r.readers == 0 && cap(r.chunks[0]) == r.size {
			r.spare = append(r.spare, r.chunks[0][:0])
		}
		r.chunks[0] = nil
		r.chunks = r.chunks[1:]
		r.base++
	}
	if r.head > len(r.ring)/2 {
		// Compact now and then: appends stay amortised O(1).
		r.ring = append(r.ring[:0], r.ring[r.head:]...)
		r.head = 0
	}
}

// carve makes room for n bytes at the end of the last chunk, or in a new
// one, and returns the chunk's number and the offset; it needs r.mu.
func (r *Ring) carve(n int) (chunk, off int) {
	last := len(r.chunks) - 1
	if last < 0 || cap(r.chunks[last])-len(r.chunks[last]) < n {
		var c []byte
		if k := len(r.spare) - 1; k >= 0 && n <= r.size {
			c, r.spare[k], r.spare = r.spare[k], nil, r.spare[:k]
		} else if r.size == chunkSize && n <= r.size {
			c = r.opts.Memory.get()
		} else {
			c = make([]byte, 0, max(r.size, n))
		}
		r.chunks = append(r.chunks, c)
		last++
	}
	off = len(r.chunks[last])
	r.chunks[last] = r.chunks[last][:off+n]
	return r.base + last, off
}

// Stats reports what the ring holds.
func (r *Ring) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{Packets: len(r.ring) - r.head, Bytes: r.bytes, Seen: r.seen, Dropped: r.dropped}
}

// WritePcap writes what the ring holds as a pcap file: nanosecond
// timestamps, Ethernet. The ring goes on taking frames: this is a snapshot
// of every frame added before the call.
func (r *Ring) WritePcap(w io.Writer) error {
	r.mu.Lock()
	frames := slices.Clone(r.ring[r.head:])
	chunks, base := slices.Clone(r.chunks), r.base
	r.readers++ // the chunks it reads are not reused until it is done
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.readers--
		r.giveBackLocked()
		r.mu.Unlock()
	}()
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(uint32(r.opts.Snaplen), layers.LinkTypeEthernet); err != nil {
		return err
	}
	for _, f := range frames {
		data := chunks[f.chunk-base][f.off : f.off+f.n]
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(f.sec, int64(f.nsec)), CaptureLength: len(data), Length: f.wire}
		if err := pw.WritePacket(ci, data); err != nil {
			return err
		}
	}
	return nil
}

// Memory keeps the chunks of released rings for the next ones, up to a
// bound: a capture's ring fills memory that the process already has
// rather than memory the kernel must fault in and zero page by page,
// which, for a 64 MiB ring filled as fast as the model's NFS goes, costs
// the traffic more than building and keeping the frames does. (Huge pages
// would make that first fill cheaper, but asking for them lets the kernel
// stall the fill for a compaction: 150 ms seen here, with the traffic
// waiting on the capture queue.) The zero value keeps up to
// DefaultMaxBytes; a nil *Memory keeps nothing.
type Memory struct {
	mu   sync.Mutex
	free [][]byte
	// Max bounds what is kept, in bytes (0: DefaultMaxBytes).
	Max int64
}

func (m *Memory) get() []byte {
	if m == nil {
		return make([]byte, 0, chunkSize)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := len(m.free) - 1
	if k < 0 {
		return make([]byte, 0, chunkSize)
	}
	c := m.free[k]
	m.free[k], m.free = nil, m.free[:k]
	return c
}

func (m *Memory) put(c []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.Max
	if limit == 0 {
		limit = DefaultMaxBytes
	}
	if int64(len(m.free)+1)*chunkSize <= limit {
		m.free = append(m.free, c)
	}
}

// Kept is how many bytes of chunks m keeps for the next rings.
func (m *Memory) Kept() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.free)) * chunkSize
}
