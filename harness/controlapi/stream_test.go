package controlapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
)

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func next(t *testing.T, s *EventStream) StreamEvent {
	t.Helper()
	ev, err := s.Next()
	require.NoError(t, err)
	return ev
}

func TestStream(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)

	power, err := a.c.OpenStream(ctx, EventQuery{Kind: "power"})
	require.NoError(t, err)
	defer power.Close()
	onB, err := a.c.OpenStream(ctx, EventQuery{Kind: "power", Node: "b"})
	require.NoError(t, err)
	defer onB.Close()

	require.NoError(t, a.lab.PowerOff("a"))
	off := next(t, power)
	assert.Positive(t, off.ID)
	assert.Equal(t, "power.off", off.Event.Kind)
	assert.Equal(t, cvmA, off.Event.Node)

	require.NoError(t, a.lab.PowerOff("b"))
	offB := next(t, onB)
	assert.Equal(t, "power.off", offB.Event.Kind)
	assert.Equal(t, cvmB, offB.Event.Node, "the node filter skipped CVM A")
	assert.Greater(t, offB.ID, off.ID)
	assert.Equal(t, offB.ID, next(t, power).ID, "both streams number events alike")

	// A client that reconnects with Last-Event-ID gets what it missed.
	again, err := a.c.OpenStream(ctx, EventQuery{Kind: "power", LastEventID: off.ID - 1})
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, off.ID, next(t, again).ID)
	assert.Equal(t, offB.ID, next(t, again).ID)

	// Stream's callback sees the same; its error ends the stream.
	stop := fmt.Errorf("seen")
	var seen []string
	done := make(chan error, 1)
	go func() {
		done <- a.c.Stream(ctx, EventQuery{Kind: "power.on", LastEventID: offB.ID}, func(ev StreamEvent) error {
			seen = append(seen, ev.Event.Kind+" "+ev.Event.Node)
			return stop
		})
	}()
	// Replaying from offB's ID brings the power-on below whether it
	// happens before the stream opens or after.
	require.NoError(t, a.lab.PowerOn("a"))
	require.ErrorIs(t, <-done, stop)
	assert.Equal(t, []string{"power.on " + cvmA}, seen)

	// Closing the server ends the streams.
	a.srv.Close()
	for {
		ev, err := power.Next()
		if err != nil {
			assert.ErrorIs(t, err, io.EOF)
			break
		}
		assert.Equal(t, "power.on "+cvmA, ev.Event.Kind+" "+ev.Event.Node, "only the power-on was still to come")
	}
	code, body := a.call("GET", "/v1/events/stream", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, errorOf(t, body), "shutting down")
}

func TestStreamBadLastEventID(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	code, body := a.call("GET", "/v1/events/stream?last_event_id=x", "")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, errorOf(t, body), "Last-Event-ID")
}

// The hub keeps the last StreamHistory events for reconnecting clients and
// says how many it no longer has.
func TestHubHistory(t *testing.T) {
	log := harness.NewEventLog(nil)
	var counted int
	h := newHub(log, 4, 2, func(harness.Event) { counted++ })
	defer h.close()
	for i := range 5 {
		log.Add(harness.Event{Kind: "test", Detail: fmt.Sprint(i + 1)})
	}
	assert.Equal(t, 5, counted)
	all := func(harness.Event) bool { return true }
	for _, tc := range []struct {
		last       int64
		replay     bool
		want       []int64
		wantLost   int64
		wantDetail []string
	}{
		{last: 1, replay: true, want: []int64{4, 5}, wantLost: 2},
		{last: 3, replay: true, want: []int64{4, 5}},
		{last: 4, replay: true, want: []int64{5}},
		{last: 5, replay: true},
		{last: 0, replay: false},
	} {
		s, backlog, lost, ok := h.subscribe(all, tc.replay, tc.last)
		require.True(t, ok)
		var ids []int64
		for _, se := range backlog {
			ids = append(ids, se.id)
			assert.Equal(t, fmt.Sprint(se.id), se.e.Detail)
		}
		assert.Equal(t, tc.want, ids, "after %d", tc.last)
		assert.Equal(t, tc.wantLost, lost, "after %d", tc.last)
		h.unsubscribe(s)
	}
}

// blockingWriter is a ResponseWriter whose writes wait for release: a
// client that does not read.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newBlockingWriter() *blockingWriter {
	return &blockingWriter{entered: make(chan struct{}, 1), release: make(chan struct{}), changed: make(chan struct{}, 1)}
}

func (w *blockingWriter) Header() http.Header { return http.Header{} }
func (w *blockingWriter) WriteHeader(int)     {}
func (w *blockingWriter) Flush()              {}

func (w *blockingWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *blockingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// A client that reads too slowly never blocks the lab: its buffer fills,
// later events are dropped for it, and it is told how many.
func TestStreamSlowClient(t *testing.T) {
	a := startAPI(t, Options{StreamBuffer: 2}, harness.WithoutWorkload())
	ctx, cancel := context.WithCancel(testCtx(t))
	w := newBlockingWriter()
	req := httptest.NewRequestWithContext(ctx, "GET", "/v1/events/stream?kind=test", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.srv.ServeHTTP(w, req)
	}()
	<-w.entered // subscribed, and stuck writing its first line
	for i := range 5 {
		a.lab.Events.Add(harness.Event{Kind: "test.slow", Detail: fmt.Sprintf("n%d", i)})
	}
	close(w.release)
	for !strings.Contains(w.String(), ": dropped 3 events") {
		select {
		case <-w.changed:
		case <-ctx.Done():
			t.Fatalf("no drop notice; the stream so far:\n%s", w.String())
		}
	}
	cancel()
	<-done
	out := w.String()
	assert.Contains(t, out, `"detail":"n0"`)
	assert.Contains(t, out, `"detail":"n1"`)
	for _, n := range []string{"n2", "n3", "n4"} {
		assert.NotContains(t, out, `"detail":"`+n+`"`)
	}
	assert.Equal(t, 1, strings.Count(out, ": dropped"), out)

	// The client's reader reports the drop as such.
	s := &EventStream{ctx: context.Background(), body: io.NopCloser(nil), r: bufioReader(out)}
	var got []string
	for {
		ev, err := s.Next()
		if err != nil {
			break
		}
		if ev.Dropped > 0 {
			got = append(got, fmt.Sprintf("dropped %d", ev.Dropped))
		} else {
			got = append(got, ev.Event.Detail)
		}
	}
	assert.Equal(t, []string{"n0", "n1", "dropped 3"}, got)
}
