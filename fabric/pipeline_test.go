package fabric

import (
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pipeState is the capture queue's state.
func pipeState(nw *Network) (queued, jobs int, running bool) {
	p := &nw.capture.pipe
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queued, len(p.q), p.running
}

// A capture whose callback is held up fills the queue; then the writers
// wait (their Write does not return) rather than the queue growing or
// frames being lost, and once the callback goes on every byte shows, in
// order.
func TestCapturePipelineBackpressure(t *testing.T) {
	l := newTestLab(t)
	gate := make(chan struct{})
	var payload atomic.Int64
	var nextSeq atomic.Uint32
	var disorder atomic.Int32
	first := true
	stop := l.host.Interface("vmk1").Capture(func(p Packet) {
		if first {
			first = false
			<-gate
		}
		pk := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || !p.Out || len(tcp.Payload) == 0 {
			return
		}
		if s := nextSeq.Load(); s != 0 && tcp.Seq != s {
			disorder.Add(1)
		}
		nextSeq.Store(tcp.Seq + uint32(len(tcp.Payload)))
		payload.Add(int64(len(tcp.Payload)))
	})
	t.Cleanup(stop)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	go io.Copy(io.Discard, s) //nolint:errcheck // ends when the test closes s

	const total = 3 * maxQueuedBytes
	written := make(chan int64, 1)
	go func() {
		buf := make([]byte, 64<<10)
		var n int64
		for n < total {
			k, err := c.Write(buf)
			if err != nil {
				break
			}
			n += int64(k)
		}
		written <- n
	}()
	// Wait for the queue to fill (the writer is then stuck in Write).
	require.Eventually(t, func() bool {
		q, _, _ := pipeState(l.nw)
		return q+64<<10 > maxQueuedBytes
	}, 20*time.Second, time.Millisecond)
	select {
	case n := <-written:
		t.Fatalf("the writer finished (%d bytes) while the capture was held up", n)
	default:
	}
	q, jobs, _ := pipeState(l.nw)
	assert.LessOrEqual(t, q, maxQueuedBytes, "the queue stays within its bound")
	assert.LessOrEqual(t, jobs, maxQueuedJobs)

	close(gate)
	require.Equal(t, int64(total), <-written)
	l.nw.SyncCaptures()
	assert.Equal(t, int64(total), payload.Load(), "every byte written shows in the capture")
	assert.Zero(t, disorder.Load(), "segments in sequence order")
}

// The pipeline's goroutine exists only while there are frames to deliver:
// a network nobody captures on has none, and one whose captures are done
// has none left.
func TestCapturePipelineGoroutine(t *testing.T) {
	l := newTestLab(t)
	l.nw.SyncCaptures() // nothing queued: returns at once, starts nothing
	_, _, running := pipeState(l.nw)
	require.False(t, running)

	r := &recorder{nw: l.nw}
	stop := l.host.Interface("vmk1").Capture(r.add)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	roundTrip(t, c, s, "hello")
	require.NotEmpty(t, r.take())
	stop()
	require.Eventually(t, func() bool {
		_, _, running := pipeState(l.nw)
		return !running
	}, 20*time.Second, time.Millisecond, "the goroutine exits once the queue is empty")

	// Nobody captures: the data path queues nothing at all.
	before := enqueued(l.nw)
	roundTrip(t, c, s, "unseen")
	_, err := l.host.Echo(EchoRequest{Dst: cvmPriv})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, before, enqueued(l.nw))
	_, _, running = pipeState(l.nw)
	assert.False(t, running)
}

func enqueued(nw *Network) uint64 {
	p := &nw.capture.pipe
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.enqueued
}
