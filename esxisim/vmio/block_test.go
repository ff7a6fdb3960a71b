package vmio

import (
	"hash/crc32"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBlockRoundTrip(t *testing.T) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	const epoch = 0xfeed
	buf := make([]byte, 4096)

	st, _, _ := decodeBlock(buf, tab, epoch, 3)
	assert.Equal(t, blockZero, st)

	encodeBlock(buf, tab, epoch, 3, 42, 1)
	st, blk, gen := decodeBlock(buf, tab, epoch, 3)
	assert.Equal(t, blockValid, st)
	assert.EqualValues(t, 3, blk)
	assert.EqualValues(t, 42, gen)

	st, blk, _ = decodeBlock(buf, tab, epoch, 4)
	assert.Equal(t, blockMisplaced, st)
	assert.EqualValues(t, 3, blk)

	st, _, _ = decodeBlock(buf, tab, epoch+1, 3)
	assert.Equal(t, blockForeign, st)

	// Every byte is covered: flip each and the block is corrupt.
	for i := range buf {
		c := append([]byte(nil), buf...)
		c[i] ^= 1
		st, _, _ := decodeBlock(c, tab, epoch, 3)
		assert.Equal(t, blockCorrupt, st, "byte %d", i)
	}

	// A torn write: the first half of generation 43, the rest of 42.
	next := make([]byte, 4096)
	encodeBlock(next, tab, epoch, 3, 43, 2)
	torn := append(append([]byte(nil), next[:2048]...), buf[2048:]...)
	st, _, _ = decodeBlock(torn, tab, epoch, 3)
	assert.Equal(t, blockCorrupt, st)
}

func TestBlockStateObserve(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     blockState
		st    blockStatus
		gen   uint64
		want  string
		after blockState
	}{
		{"never written, zeros", blockState{}, blockZero, 0, "", blockState{}},
		{"never written, foreign", blockState{}, blockForeign, 9, "", blockState{}},
		{"acked", blockState{ack: 5}, blockValid, 5, "", blockState{ack: 5}},
		{"older", blockState{ack: 5}, blockValid, 4, ViolationLostWrite, blockState{ack: 4}},
		{"zeros after ack", blockState{ack: 5}, blockZero, 0, ViolationLostWrite, blockState{}},
		{"newer, never written", blockState{ack: 5}, blockValid, 6, ViolationUnexpected, blockState{ack: 6}},
		{"uncertain not landed", blockState{ack: 5, lo: 7, hi: 9}, blockValid, 5, "", blockState{ack: 5, lo: 7, hi: 9}},
		{"uncertain landed", blockState{ack: 5, lo: 7, hi: 9}, blockValid, 8, "", blockState{ack: 8, lo: 9, hi: 9}},
		{"last uncertain landed", blockState{ack: 5, lo: 7, hi: 9}, blockValid, 9, "", blockState{ack: 9}},
		{"between ack and uncertain", blockState{ack: 5, lo: 7, hi: 9}, blockValid, 6, ViolationUnexpected, blockState{ack: 6}},
		{"corrupt", blockState{ack: 5}, blockCorrupt, 0, ViolationCorrupt, blockState{ack: 5, suspect: true}},
		{"corrupt again", blockState{ack: 5, suspect: true}, blockCorrupt, 0, "", blockState{ack: 5, suspect: true}},
		{"misplaced", blockState{ack: 5}, blockMisplaced, 3, ViolationMisplaced, blockState{ack: 5, suspect: true}},
		{"healed", blockState{ack: 5, suspect: true}, blockValid, 3, "", blockState{ack: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			assert.Equal(t, tc.want, s.observe(tc.st, tc.gen))
			assert.Equal(t, tc.after, s)
		})
	}
}

func TestViolationString(t *testing.T) {
	v := Violation{Block: 7, Kind: ViolationLostWrite, Want: 12, UncertainFrom: 14, UncertainTo: 20, Got: 3}
	assert.Equal(t, "block 7: lost-write: want gen 12 (or uncertain 14..20), got gen 3", v.String())
	v = Violation{Block: 1, Kind: ViolationMisplaced, Want: 2, Got: 9, GotBlock: 4}
	assert.Equal(t, "block 1: holds block 4 gen 9: want gen 2", v.String())
}

func TestHistogram(t *testing.T) {
	// Buckets tile the values: every bucket's top maps back to it and the
	// next value to the next bucket.
	for i := range bucketOf(1<<63 - 1) {
		top := bucketTop(i)
		assert.Equal(t, i, bucketOf(top), "bucket %d", i)
		assert.Equal(t, i+1, bucketOf(top+1), "bucket %d", i)
	}
	var h histogram
	assert.Equal(t, Latency{}, h.summary())
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	s := h.summary()
	assert.Equal(t, time.Second, s.Max)
	assert.InEpsilon(t, float64(500*time.Millisecond), float64(s.P50), 0.125)
	assert.GreaterOrEqual(t, s.P50, 500*time.Millisecond)
	assert.InEpsilon(t, float64(990*time.Millisecond), float64(s.P99), 0.125)
	assert.LessOrEqual(t, s.P99, time.Second)
	h.add(-1)
	assert.Equal(t, time.Second, h.summary().Max)
}
