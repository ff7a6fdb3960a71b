package fabric

import (
	"sync"
	"time"
)

// The capture pipeline takes frame building off the data path. A write a
// capture sees costs its writer only a copy of the bytes into a queue
// (the sequence numbers, flags and time are fixed there, under the flow's
// lock, so the order is the model's); one goroutine per network builds the
// frames, sums them and hands them to the captures, on another core than
// the traffic's. Building a 64 KiB write's 45 frames in the writer's own
// time put ~13 µs on every NFS round trip; queueing it costs the copy.
//
// The queue is bounded (maxQueuedBytes of payload, maxQueuedJobs jobs):
// a writer that finds it full waits, so a capture loses nothing and a
// slow capture callback slows the traffic it watches rather than the
// process's memory growing. The goroutine exits when the queue is empty
// and the next frame starts another, so a network that nobody watches has
// none. SyncCaptures waits until the frames of everything sent before it
// have been delivered.

// Bounds of the capture queue.
const (
	maxQueuedBytes = 4 << 20
	maxQueuedJobs  = 1024
)

// capJob is frames to deliver: built already (ds), a write's to build
// (w), or a SyncCaptures marker (done).
type capJob struct {
	t  time.Time
	ds []delivery
	// A write: end from's bytes (data, a copy) at seq, the other end's
	// ack at ack and whether it ACKs (acks), the ways there and back.
	w        *tcpWire
	from     int
	seq, ack uint32
	acks     bool
	fwd, rev []hop
	data     []byte
	done     chan struct{}
}

// pipeline is a network's capture queue and the state of its goroutine.
type pipeline struct {
	mu      sync.Mutex
	room    sync.Cond // signalled as the goroutine takes jobs
	q       []*capJob
	queued  int  // payload bytes in q and being built
	running bool // a goroutine is delivering (q may be empty)
	free    []*capJob
	// enqueued counts the jobs ever queued (tests: a network nobody
	// watches queues none).
	enqueued uint64

	// The goroutine's scratch, reused from one write to the next: a
	// capture sees a frame only while its callback runs (Packet.Data).
	buf   []byte
	ds    []delivery
	plans []segPlan
	batch []*capJob
}

// maxFreeJobs is how many write jobs (and their buffers) are kept for
// reuse, and maxWireScratch the biggest buffer kept.
const (
	maxFreeJobs    = 64
	maxWireScratch = 4 << 20
)

// enqueue queues j, stamped with the network's time; it waits while the
// queue is full.
func (nw *Network) enqueue(j *capJob) {
	p := &nw.capture.pipe
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.room.L == nil {
		p.room.L = &p.mu
	}
	for p.queued > 0 && p.queued+len(j.data) > maxQueuedBytes || len(p.q) >= maxQueuedJobs {
		p.room.Wait()
	}
	// Stamped under the queue's lock: times never go back in the order
	// the captures see the frames.
	j.t = nw.clock.Now()
	p.q = append(p.q, j)
	p.queued += len(j.data)
	p.enqueued++
	if !p.running {
		p.running = true
		go nw.pump()
	}
}

// writeJob returns a job for a write of n bytes, its buffer reused.
func (p *pipeline) writeJob(n int) *capJob {
	p.mu.Lock()
	var j *capJob
	if k := len(p.free) - 1; k >= 0 {
		j, p.free[k], p.free = p.free[k], nil, p.free[:k]
	}
	p.mu.Unlock()
	if j == nil {
		j = &capJob{}
	}
	if cap(j.data) < n {
		j.data = make([]byte, 0, n)
	}
	j.data = j.data[:0]
	return j
}

// pump delivers the queued jobs in order until the queue is empty.
func (nw *Network) pump() {
	p := &nw.capture.pipe
	for {
		p.mu.Lock()
		if len(p.q) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		batch := append(p.batch[:0], p.q...)
		clear(p.q)
		p.q = p.q[:0]
		p.mu.Unlock()
		for _, j := range batch {
			switch {
			case j.done != nil:
				close(j.done)
			case j.w != nil:
				nw.deliverNow(j.t, p.build(j))
			default:
				nw.deliverNow(j.t, j.ds)
			}
		}
		p.mu.Lock()
		for _, j := range batch {
			p.queued -= len(j.data)
			if j.w != nil && len(p.free) < maxFreeJobs && cap(j.data) <= maxWireScratch {
				*j = capJob{data: j.data[:0]}
				p.free = append(p.free, j)
			}
		}
		p.room.Broadcast()
		p.mu.Unlock()
		clear(batch)
		p.batch = batch[:0]
	}
}

// segPlan is a segment a write sends: by end from along hs, its frames
// size bytes for all the hops.
type segPlan struct {
	from     int
	hs       []hop
	seq, ack uint32
	flags    int
	payload  []byte
	size     int
}

// build makes a write's frames: segments of at most the MSS, PSH on the
// last, and the receiver's ACKs, into the pipeline's scratch.
func (p *pipeline) build(j *capJob) []delivery {
	w, b, from := j.w, j.data, j.from
	to := 1 - from
	plans := p.plans[:0]
	for off, n := 0, 1; off < len(b); off, n = off+w.mss, n+1 {
		end := min(off+w.mss, len(b))
		flags := flagACK
		if end == len(b) {
			flags |= flagPSH
		}
		pl := segPlan{from, j.fwd, j.seq + uint32(off), j.ack, flags, b[off:end], 0}
		pl.size = tcpFrameLen(pl.flags, len(pl.payload)) * len(pl.hs)
		plans = append(plans, pl)
		if j.acks && (n%ackEvery == 0 || end == len(b)) {
			pl := segPlan{to, j.rev, j.ack, j.seq + uint32(end), flagACK, nil, 0}
			pl.size = tcpFrameLen(pl.flags, 0) * len(pl.hs)
			plans = append(plans, pl)
		}
	}
	size := 0
	for _, pl := range plans {
		size += pl.size
	}
	if cap(p.buf) < size {
		p.buf = make([]byte, size)
	}
	buf := p.buf[:size]
	ds := p.ds[:0]
	for _, pl := range plans {
		ds = w.segment(ds, buf[:pl.size:pl.size], pl.from, pl.hs, w.node[pl.from], pl.seq, pl.ack, pl.flags, pl.payload)
		buf = buf[pl.size:]
	}
	clear(plans)
	p.plans = plans[:0]
	p.ds = ds[:0] // the next build's, once these are delivered
	if cap(p.buf) > maxWireScratch {
		p.buf = nil // a huge write's: not kept
	}
	return ds
}

// SyncCaptures returns once every frame of what was sent before the call
// has reached the captures that saw it: a test, or a pcap download, that
// wants everything up to now calls it first. It must not be called from a
// capture's callback, which runs on the goroutine it waits for.
func (nw *Network) SyncCaptures() {
	p := &nw.capture.pipe
	p.mu.Lock()
	idle := !p.running && len(p.q) == 0
	p.mu.Unlock()
	if idle {
		return
	}
	j := &capJob{done: make(chan struct{})}
	nw.enqueue(j)
	<-j.done
}
