package controlapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/autopathlab/autopathlab/harness"
)

// The event stream (GET /v1/events/stream) is Server-Sent Events:
//
//	id: 42
//	event: power.off
//	data: {"time":"...","kind":"power.off","node":"NTNX-BLOCK1-A-CVM"}
//
// IDs count the events the server has seen since it started. The lab's
// event log calls its subscribers synchronously, so the hub never blocks
// it: each client has a bounded buffer, and a client that falls behind
// loses events and is told so by a comment (": dropped N events ...").

// seqEvent is an event with its stream ID.
type seqEvent struct {
	id int64
	e  harness.Event
}

type subscriber struct {
	ch      chan seqEvent
	match   func(harness.Event) bool
	dropped atomic.Int64
}

// hub numbers the lab's events, keeps the last few for clients that
// reconnect with Last-Event-ID, and fans them out to the streams.
type hub struct {
	buffer, history int
	onEvent         func(harness.Event)
	cancel          func()

	mu     sync.Mutex
	next   int64
	hist   []seqEvent // a ring of history events; hist[start] is the oldest
	start  int
	subs   map[*subscriber]struct{}
	closed bool
}

func newHub(log *harness.EventLog, buffer, history int, onEvent func(harness.Event)) *hub {
	h := &hub{buffer: buffer, history: history, onEvent: onEvent, subs: map[*subscriber]struct{}{}}
	h.cancel = log.Subscribe(h.publish)
	return h
}

func (h *hub) publish(e harness.Event) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.next++
	se := seqEvent{id: h.next, e: e}
	if len(h.hist) < h.history {
		h.hist = append(h.hist, se)
	} else {
		h.hist[h.start] = se
		h.start = (h.start + 1) % h.history
	}
	for s := range h.subs {
		if !s.match(e) {
			continue
		}
		select {
		case s.ch <- se:
		default:
			s.dropped.Add(1)
		}
	}
	h.mu.Unlock()
	if h.onEvent != nil {
		h.onEvent(e)
	}
}

// subscribe registers a stream. With replay, backlog holds the kept events
// after lastID and lost counts the events after lastID no longer kept.
func (h *hub) subscribe(match func(harness.Event) bool, replay bool, lastID int64) (s *subscriber, backlog []seqEvent, lost int64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, 0, false
	}
	s = &subscriber{ch: make(chan seqEvent, h.buffer), match: match}
	h.subs[s] = struct{}{}
	if replay {
		ordered := append(append([]seqEvent(nil), h.hist[h.start:]...), h.hist[:h.start]...)
		if len(ordered) > 0 && ordered[0].id > lastID+1 {
			lost = ordered[0].id - lastID - 1
		}
		for _, se := range ordered {
			if se.id > lastID && match(se.e) {
				backlog = append(backlog, se)
			}
		}
	}
	return s, backlog, lost, true
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
}

// close ends every stream (their channels close) and the subscription.
func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for s := range h.subs {
		close(s.ch)
	}
	h.subs = nil
	h.mu.Unlock()
	h.cancel()
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	q, err := s.query(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	serveStream(w, r, s.hub, s.matcher(q), "autopathlab event stream", "the control API is shutting down")
}

// serveStream is GET /v1/events/stream over a hub, for the server and the
// gateway alike: the backlog from Last-Event-ID (header, or last_event_id
// for EventSource's first request), then every matching event as it
// comes, flushed one by one.
func serveStream(w http.ResponseWriter, r *http.Request, h *hub, match func(harness.Event) bool, banner, shuttingDown string) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		// EventSource cannot set headers on its first request.
		last = r.URL.Query().Get("last_event_id")
	}
	var lastID int64
	if last != "" {
		var err error
		if lastID, err = strconv.ParseInt(last, 10, 64); err != nil || lastID < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Last-Event-ID %q: want an event ID", last))
			return
		}
	}
	sub, backlog, lost, ok := h.subscribe(match, last != "", lastID)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, shuttingDown)
		return
	}
	defer h.unsubscribe(sub)

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The response's headers reach the client once the subscription is
	// in place: a client that has them misses no later event.
	fmt.Fprintf(w, ": %s\n\n", banner)
	if lost > 0 {
		fmt.Fprintf(w, ": %d events after id %d are no longer kept\n\n", lost, lastID)
	}
	for _, se := range backlog {
		writeEvent(w, se)
	}
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case se, ok := <-sub.ch:
			if !ok {
				return
			}
			writeEvent(w, se)
			// The drops came after whatever is still buffered: say so
			// once the buffer is drained, where they belong.
			if len(sub.ch) == 0 {
				if n := sub.dropped.Swap(0); n > 0 {
					fmt.Fprintf(w, ": dropped %d events: this client reads too slowly\n\n", n)
				}
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}

func writeEvent(w io.Writer, se seqEvent) {
	data, _ := json.Marshal(se.e) // an Event always marshals, on one line
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", se.id, se.e.Kind, data)
}
