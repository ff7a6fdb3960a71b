package fabric

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
)

func memPair(t testing.TB, tr MemTransport) (a, b Carrier) {
	t.Helper()
	a, b = tr.Carry(FlowInfo{})
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestCloseSendsFIN(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	_, err := c.Write([]byte("last words"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Close(), ErrClosed)
	require.Empty(t, l.host.Flows())

	got, err := io.ReadAll(s)
	require.NoError(t, err, "bytes, then EOF")
	require.Equal(t, "last words", string(got))
	_, err = s.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)

	_, err = s.Write([]byte("anyone?"))
	require.ErrorIs(t, err, ErrConnReset, "the closed peer answers RST")
	require.ErrorIs(t, readErr(s), ErrConnReset)
	require.ErrorIs(t, readErr(c), ErrClosed, "the closed end stays closed")
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, ErrClosed)
}

func TestResetBothEnds(t *testing.T) {
	l := newTestLab(t)
	c, s := l.pair(cvmPriv, l.cvmA, nfsPort)
	_, err := s.Write([]byte("discarded"))
	require.NoError(t, err)
	c.(*Conn).Reset()
	require.Empty(t, l.host.Flows())
	require.ErrorIs(t, readErr(c), ErrConnReset, "RST discards bytes in flight")
	require.ErrorIs(t, readErr(s), ErrConnReset)
	_, err = s.Write([]byte("x"))
	require.ErrorIs(t, err, ErrConnReset)
	require.NoError(t, c.Close())
}

// TestLargeWrite moves 16 MiB, four times the in-flight limit, through one
// Write: the writer is held back until the reader catches up.
func TestLargeWrite(t *testing.T) {
	a, b := memPair(t, MemTransport{})
	data := make([]byte, 16<<20)
	_, _ = rand.Read(data)
	var wg sync.WaitGroup
	wg.Go(func() {
		n, err := a.Write(data)
		assert.NoError(t, err)
		assert.Equal(t, len(data), n)
		assert.NoError(t, a.Close())
	})
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	wg.Wait()
	require.True(t, bytes.Equal(data, got))
}

// TestBackpressure: with nobody reading, a Write stops at the in-flight
// limit and fails at its deadline, on the transport's clock.
func TestBackpressure(t *testing.T) {
	clk := clock.NewFake()
	a, b := memPair(t, MemTransport{Clock: clk})
	require.NoError(t, a.SetWriteDeadline(clk.Now().Add(time.Second)))
	done := make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		n, err = a.Write(make([]byte, memBufLimit+1000))
	}()
	// Wait (polling the link) until the writer has filled the buffer and
	// must be blocked; only then let the deadline pass.
	l := a.(*memEnd).l
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.buf[0].Len() == memBufLimit
	}, 5*time.Second, time.Millisecond)
	clk.Advance(time.Second)
	<-done
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Equal(t, memBufLimit, n)

	// The reader drains what was accepted; the write side can go on once the
	// deadline is cleared.
	require.NoError(t, a.SetWriteDeadline(time.Time{}))
	buf := make([]byte, memBufLimit)
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	_, err = a.Write([]byte("more"))
	require.NoError(t, err)
}

func TestDeadlines(t *testing.T) {
	clk := clock.NewFake()
	tests := []struct {
		name string
		run  func(t *testing.T, a, b Carrier)
	}{
		{"read deadline wakes a blocked reader", func(t *testing.T, a, _ Carrier) {
			require.NoError(t, a.SetReadDeadline(clk.Now().Add(5*time.Second)))
			done := make(chan error, 1)
			go func() { _, err := a.Read(make([]byte, 1)); done <- err }()
			clk.Advance(5 * time.Second)
			require.ErrorIs(t, <-done, os.ErrDeadlineExceeded)
		}},
		{"past deadline fails at once", func(t *testing.T, a, b Carrier) {
			_, err := b.Write([]byte("ready"))
			require.NoError(t, err)
			require.NoError(t, a.SetDeadline(clk.Now().Add(-time.Second)))
			_, err = a.Read(make([]byte, 8))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			_, err = a.Write([]byte("x"))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.NoError(t, a.SetDeadline(time.Time{}))
			_, err = a.Read(make([]byte, 8))
			require.NoError(t, err, "cleared: the data is still there")
		}},
		{"extended deadline does not fire early", func(t *testing.T, a, b Carrier) {
			require.NoError(t, a.SetReadDeadline(clk.Now().Add(time.Second)))
			require.NoError(t, a.SetReadDeadline(clk.Now().Add(time.Hour)))
			clk.Advance(time.Minute)
			_, err := b.Write([]byte("x"))
			require.NoError(t, err)
			_, err = a.Read(make([]byte, 1))
			require.NoError(t, err)
		}},
		{"write deadline later than read deadline still fires", func(t *testing.T, a, b Carrier) {
			require.NoError(t, a.SetReadDeadline(clk.Now().Add(time.Second)))
			require.NoError(t, a.SetWriteDeadline(clk.Now().Add(time.Minute)))
			done := make(chan error, 1)
			go func() { _, err := a.Write(make([]byte, memBufLimit+1)); done <- err }()
			clk.Advance(time.Second)
			clk.Advance(time.Minute)
			require.ErrorIs(t, <-done, os.ErrDeadlineExceeded)
		}},
		{"deadline runs while paused", func(t *testing.T, a, b Carrier) {
			_, err := b.Write([]byte("held"))
			require.NoError(t, err)
			a.Pause(true)
			require.NoError(t, a.SetReadDeadline(clk.Now().Add(time.Second)))
			clk.Advance(time.Second)
			_, err = a.Read(make([]byte, 8))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.NoError(t, a.SetReadDeadline(time.Time{}))
			a.Pause(false)
			buf := make([]byte, 4)
			_, err = io.ReadFull(a, buf)
			require.NoError(t, err)
			require.Equal(t, "held", string(buf))
		}},
		{"a paused peer's FIN is held back", func(t *testing.T, a, b Carrier) {
			a.Pause(true)
			require.NoError(t, b.Close())
			require.NoError(t, a.SetReadDeadline(clk.Now().Add(time.Second)))
			clk.Advance(time.Second)
			_, err := a.Read(make([]byte, 8))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			a.Pause(false)
			require.NoError(t, a.SetReadDeadline(time.Time{}))
			_, err = a.Read(make([]byte, 8))
			require.ErrorIs(t, err, io.EOF)
		}},
		{"close and reset release the timers", func(t *testing.T, a, b Carrier) {
			require.NoError(t, a.SetDeadline(clk.Now().Add(time.Hour)))
			require.NoError(t, b.SetDeadline(clk.Now().Add(time.Hour)))
			require.NoError(t, clk.BlockUntilContext(testCtx(t), 4))
			require.NoError(t, a.Close())
			b.Reset()
			require.NoError(t, clk.BlockUntilContext(testCtx(t), 0))
			require.NoError(t, b.SetDeadline(clk.Now().Add(time.Hour)))
			require.NoError(t, clk.BlockUntilContext(testCtx(t), 0), "a dead end arms nothing")
		}},
		{"zero-length read and write", func(t *testing.T, a, b Carrier) {
			n, err := a.Read(nil)
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = a.Write(nil)
			require.NoError(t, err)
			require.Zero(t, n)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := memPair(t, MemTransport{Clock: clk})
			tt.run(t, a, b)
		})
	}
}

// TestWallClockDeadline: without a clock, deadlines are wall-clock times,
// as net.Conn documents.
func TestWallClockDeadline(t *testing.T) {
	a, _ := memPair(t, MemTransport{})
	start := time.Now() // before the deadline is set: a preemption in between must not shorten what is measured
	require.NoError(t, a.SetReadDeadline(start.Add(20*time.Millisecond)))
	_, err := a.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	var ne interface{ Timeout() bool }
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
}

// TestNoGoroutineLeak runs flows of every fate and checks that closing
// everything returns the goroutine count to where it was.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		l := newTestLab(t)
		ln := echoServer(t, l.cvmA, nfsPort)
		var conns []*Conn
		for range 20 {
			c, err := l.host.Dial(testCtx(t), netipPort(cvmPriv, nfsPort), DialOptions{})
			require.NoError(t, err)
			roundTrip(t, c, c, "ping") // through the echo server
			conns = append(conns, c.(*Conn))
		}
		// Some flows stall with a deadline armed, some with bytes in flight.
		l.cvmA.Interface("eth1").SetUp(false)
		for _, c := range conns[:5] {
			require.NoError(t, c.SetReadDeadline(l.clk.Now().Add(time.Hour)))
			_, err := c.Write([]byte("stuck"))
			require.NoError(t, err)
		}
		l.cvmA.Interface("eth1").SetUp(true)
		require.NoError(t, l.rt.Add(host32, cvmBPub)) // resets them all
		for _, c := range conns {
			require.NoError(t, c.SetReadDeadline(l.clk.Now().Add(time.Hour)))
			require.NoError(t, c.Close())
		}
		require.NoError(t, ln.Close())
		require.Empty(t, l.host.Flows())
		require.NoError(t, l.clk.BlockUntilContext(testCtx(t), 0))
	}()
	// A hand-made poll: testify's Eventually runs its condition on a
	// goroutine of its own, which the count would include.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
