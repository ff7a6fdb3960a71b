package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)

// frameOf is frame number i, n bytes: its number in the first 4 bytes and
// a pattern after, so that a frame read back proves where it came from.
func frameOf(i, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(i + k)
	}
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

type readFrame struct {
	t    time.Time
	data []byte
	wire int
}

func readPcap(t *testing.T, b []byte) (snaplen uint32, out []readFrame) {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, layers.LinkTypeEthernet, r.LinkType())
	assert.Equal(t, -9, r.Resolution().Exponent, "nanosecond timestamps")
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return r.Snaplen(), out
		}
		require.NoError(t, err)
		out = append(out, readFrame{ci.Timestamp.UTC(), data, ci.Length})
	}
}

func pcapOf(t *testing.T, r *Ring) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, r.WritePcap(&b))
	return b.Bytes()
}

func TestRingBounds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         Options
		frames    int // of 100 bytes each, numbered from 0
		wantFirst int // the oldest kept
		wantKept  int
		wantCap   int // bytes kept of each
		snaplen   uint32
	}{
		{"defaults keep everything", Options{}, 50, 0, 50, 100, DefaultSnaplen},
		{"packet bound", Options{MaxPackets: 7}, 50, 43, 7, 100, DefaultSnaplen},
		{"byte bound", Options{MaxBytes: 1000}, 50, 40, 10, 100, DefaultSnaplen},
		{"byte bound on what is kept after the snaplen", Options{Snaplen: 60, MaxBytes: 600}, 50, 40, 10, 60, 60},
		{"both bounds, the tighter wins", Options{MaxPackets: 20, MaxBytes: 500}, 50, 45, 5, 100, DefaultSnaplen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRing(tc.o)
			for i := range tc.frames {
				r.Add(t0.Add(time.Duration(i)*time.Microsecond), frameOf(i, 100), 0)
			}
			st := r.Stats()
			assert.Equal(t, Stats{Packets: tc.wantKept, Bytes: int64(tc.wantKept * tc.wantCap), Seen: uint64(tc.frames),
				Dropped: uint64(tc.frames - tc.wantKept)}, st)
			snap, got := readPcap(t, pcapOf(t, r))
			assert.Equal(t, tc.snaplen, snap)
			require.Len(t, got, tc.wantKept)
			for k, f := range got {
				i := tc.wantFirst + k
				assert.Equal(t, frameOf(i, 100)[:tc.wantCap], f.data, "frame %d", i)
				assert.Equal(t, 100, f.wire, "the length on the wire survives the snaplen")
				assert.Equal(t, t0.Add(time.Duration(i)*time.Microsecond), f.t)
			}
		})
	}
}

func TestRingWireLength(t *testing.T) {
	r := NewRing(Options{})
	r.Add(t0, frameOf(1, 60), 1514) // a frame the sender cut
	_, got := readPcap(t, pcapOf(t, r))
	require.Len(t, got, 1)
	assert.Equal(t, 1514, got[0].wire)
	assert.Len(t, got[0].data, 60)
}

// The ring's memory stays within its bound however long it runs: the
// chunks its oldest frames leave are reused.
func TestRingMemoryBounded(t *testing.T) {
	r := NewRing(Options{MaxBytes: 4 << 20})
	f := frameOf(0, 1514)
	for range 40 << 20 / 1514 { // ten times the bound
		r.Add(t0, f, 0)
	}
	st := r.Stats()
	assert.LessOrEqual(t, st.Bytes, int64(4<<20))
	assert.Greater(t, st.Bytes, int64(4<<20-1514))
	r.mu.Lock()
	held := len(r.chunks) + len(r.spare)
	r.mu.Unlock()
	assert.LessOrEqual(t, held, 4+2, "chunks held (1 MiB each)")
}

func TestRingClose(t *testing.T) {
	r := NewRing(Options{})
	r.Add(t0, frameOf(0, 80), 0)
	r.Close()
	r.Close()
	r.Add(t0, frameOf(1, 80), 0)
	assert.Equal(t, Stats{Packets: 1, Bytes: 80, Seen: 1}, r.Stats(), "nothing is taken after Close")
	_, got := readPcap(t, pcapOf(t, r))
	require.Len(t, got, 1, "what it holds stays readable")
}

// Released rings give their memory to the next through Memory, up to its
// bound.
func TestRingReleaseToMemory(t *testing.T) {
	m := &Memory{Max: 3 << 20}
	r := NewRing(Options{Memory: m})
	for i := range 5 << 20 / 1000 {
		r.Add(t0, frameOf(i, 1000), 0)
	}
	assert.Zero(t, m.Kept())
	r.Release()
	assert.Equal(t, int64(3<<20), m.Kept(), "kept up to the bound")
	assert.Equal(t, Stats{Seen: uint64(5 << 20 / 1000)}, r.Stats(), "a released ring holds nothing")
	r.Add(t0, frameOf(0, 1000), 0)
	assert.Zero(t, r.Stats().Packets, "nor takes anything")

	r2 := NewRing(Options{Memory: m})
	r2.Add(t0, frameOf(7, 1000), 0)
	assert.Equal(t, int64(2<<20), m.Kept(), "the next ring took a chunk")
	_, got := readPcap(t, pcapOf(t, r2))
	require.Len(t, got, 1)
	assert.Equal(t, frameOf(7, 1000), got[0].data, "the reused chunk holds the new frame")

	var small Memory // a ring smaller than a chunk does not use it
	r3 := NewRing(Options{MaxBytes: 64 << 10, Memory: &small})
	r3.Add(t0, frameOf(0, 100), 0)
	r3.Release()
	assert.Zero(t, small.Kept())
}

// blockingWriter lets a WritePcap start and holds it until released.
type blockingWriter struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(b []byte) (int, error) {
	w.once.Do(func() {
		close(w.started)
		<-w.release
	})
	return w.buf.Write(b)
}

// A WritePcap under way reads chunks without the ring's lock: neither the
// ring going on (dropping and reusing chunks) nor a Release may hand them
// to anyone else until it is done.
func TestRingReaderKeepsChunks(t *testing.T) {
	m := &Memory{}
	r := NewRing(Options{MaxBytes: 2 << 20, Memory: m})
	for i := range 2 << 20 / 1000 {
		r.Add(t0, frameOf(i, 1000), 0)
	}
	want := r.Stats().Packets
	first := 2<<20/1000 - want
	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- r.WritePcap(w) }()
	<-w.started
	// The ring goes on: its old chunks are let go, not reused.
	for i := range 4 << 20 / 1000 {
		r.Add(t0, frameOf(1e6+i, 1000), 0)
	}
	r.Release()
	assert.Zero(t, m.Kept(), "nothing handed on while a reader reads")
	close(w.release)
	require.NoError(t, <-done)
	_, got := readPcap(t, w.buf.Bytes())
	require.Len(t, got, want)
	for k, f := range got {
		require.Equal(t, frameOf(first+k, 1000), f.data, "frame %d intact", first+k)
	}
	assert.Positive(t, m.Kept(), "handed on once the reader is done")
}

// Adds, snapshots and stats from many goroutines: run with -race.
func TestRingConcurrent(t *testing.T) {
	r := NewRing(Options{MaxBytes: 1 << 20})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				r.Add(t0, frameOf(g<<16|i, 500), 0)
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 20 {
				_, got := readPcap(t, pcapOf(t, r))
				for _, f := range got {
					i := int(binary.BigEndian.Uint32(f.data))
					if !bytes.Equal(frameOf(i, 500), f.data) {
						t.Errorf("frame %#x corrupted", i)
						return
					}
				}
				r.Stats()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(8000), r.Stats().Seen)
}
