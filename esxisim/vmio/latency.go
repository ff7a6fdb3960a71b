package vmio

import (
	"math"
	"math/bits"
	"time"
)

// Latency summarises the latency of operations.
type Latency struct {
	// P50 and P99 are within 12.5 % (the histogram's resolution, rounded
	// up); Max is exact.
	P50, P99, Max time.Duration
}

// histogram is a log-linear histogram of nanoseconds: 8 buckets per power
// of two. Constant memory and no allocation per sample, where keeping
// every sample would grow by 50 values a second for the life of a lab.
type histogram struct {
	n   uint64
	max time.Duration
	b   [496]uint64 // bucketOf(MaxInt64) == 487
}

func bucketOf(v uint64) int {
	if v < 16 {
		return int(v)
	}
	shift := bits.Len64(v) - 4 // v>>shift is in [8, 15]
	return shift*8 + int(v>>shift)
}

// bucketTop is the largest value of bucket i.
func bucketTop(i int) uint64 {
	if i < 16 {
		return uint64(i)
	}
	shift := i/8 - 1
	m := uint64(i%8 + 8)
	return (m+1)<<shift - 1
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.n++
	h.b[bucketOf(uint64(d))]++
	h.max = max(h.max, d)
}

// quantile returns the top of the bucket holding the q-quantile, capped by
// the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.b {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketTop(i)), h.max)
		}
	}
	return h.max
}

func (h *histogram) summary() Latency {
	return Latency{P50: h.quantile(0.50), P99: h.quantile(0.99), Max: h.max}
}
