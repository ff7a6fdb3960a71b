package nfs

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"

	gonfs "github.com/willscott/go-nfs"
)

// worker is one in-memory connection to go-nfs. go-nfs serves a
// connection one request at a time, so a session runs several workers and
// hands each validated NFS call to an idle one; replies go back to the
// client as they complete (RPC over TCP matches them by xid).
type worker struct {
	ss   *session
	in   chan []byte // records, mark included
	cur  []byte      // unread rest of the current record
	out  []byte      // reply bytes not yet forming a whole record
	quit chan struct{}
	once sync.Once
}

func (ss *session) startWorkers() {
	n := ss.srv.cfg.Workers
	ss.idle = make(chan *worker, n)
	ws := make([]*worker, 0, n)
	for range n {
		w := &worker{ss: ss, in: make(chan []byte, 1), quit: make(chan struct{})}
		ws = append(ws, w)
		ss.idle <- w
		srv := &gonfs.Server{Handler: ss.handler, ID: ss.srv.verf, Context: context.Background()}
		go func() { _ = srv.Serve(&oneConnListener{c: w, done: w.quit}) }()
	}
	ss.mu.Lock()
	ss.workers = ws
	ss.mu.Unlock()
	// close may have run before the workers existed.
	select {
	case <-ss.done:
		for _, w := range ws {
			w.stop()
		}
	default:
	}
}

// forward hands a record (with recordHeadroom in front) to an idle worker,
// waiting for one: that wait is the connection's back-pressure.
func (ss *session) forward(rec []byte) error {
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-recordHeadroom)|lastFragment)
	select {
	case w := <-ss.idle:
		select {
		case w.in <- rec:
		case <-w.quit:
		}
		return nil
	case <-ss.done:
		return net.ErrClosed
	}
}

func (w *worker) stop() { w.once.Do(func() { close(w.quit) }) }

// Read feeds go-nfs the current record.
func (w *worker) Read(b []byte) (int, error) {
	if len(w.cur) == 0 {
		select {
		case r := <-w.in:
			w.cur = r
		case <-w.quit:
			return 0, io.EOF
		}
	}
	n := copy(b, w.cur)
	w.cur = w.cur[n:]
	return n, nil
}

// Write collects go-nfs's reply (it arrives in pieces through a bufio
// writer) and sends each whole record in one write, so that replies of
// concurrent workers never interleave; then the worker is idle again.
func (w *worker) Write(b []byte) (int, error) {
	w.out = append(w.out, b...)
	for len(w.out) >= 4 {
		m := binary.BigEndian.Uint32(w.out)
		n := 4 + int(m&^lastFragment)
		if len(w.out) < n {
			break
		}
		if err := w.ss.write(w.out[:n]); err != nil {
			return 0, err
		}
		rest := copy(w.out, w.out[n:])
		w.out = w.out[:rest]
		if m&lastFragment != 0 {
			select {
			case w.ss.idle <- w:
			default: // cannot happen: idle holds every worker
			}
		}
	}
	if cap(w.out) > 4*maxRecord && len(w.out) == 0 {
		w.out = nil
	}
	return len(b), nil
}

func (w *worker) Close() error                       { w.stop(); return nil }
func (w *worker) LocalAddr() net.Addr                { return w.ss.conn.LocalAddr() }
func (w *worker) RemoteAddr() net.Addr               { return w.ss.conn.RemoteAddr() }
func (w *worker) SetDeadline(t time.Time) error      { return nil }
func (w *worker) SetReadDeadline(t time.Time) error  { return nil }
func (w *worker) SetWriteDeadline(t time.Time) error { return nil }

// oneConnListener hands go-nfs's Serve one connection, then blocks until
// the worker stops, so that Serve returns with it.
type oneConnListener struct {
	c    net.Conn
	done chan struct{}
	mu   sync.Mutex
	used bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	used := l.used
	l.used = true
	l.mu.Unlock()
	if !used {
		return l.c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.c.LocalAddr() }
