package sshdtest

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// KbdInt is a keyboard-interactive client that answers every question with
// Password and records the questions asked and their echo flags.
type KbdInt struct {
	Password string

	mu        sync.Mutex
	questions []string
	echos     []bool
}

// Auth is k as a client's auth method.
func (k *KbdInt) Auth() gossh.AuthMethod {
	return gossh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.questions = append(k.questions, questions...)
		k.echos = append(k.echos, echos...)
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = k.Password
		}
		return answers, nil
	})
}

// Questions returns the questions asked so far.
func (k *KbdInt) Questions() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.questions...)
}

// Echos returns the echo flags of the questions asked so far.
func (k *KbdInt) Echos() []bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]bool(nil), k.echos...)
}

// KeyboardInteractive answers every question with password, as a client
// given a password does with PAM's "Password: ".
func KeyboardInteractive(password string) gossh.AuthMethod {
	return (&KbdInt{Password: password}).Auth()
}

// Run execs command in a new session of c and returns its output and exit
// status; an error other than a non-zero exit fails tb.
func Run(tb testing.TB, c *gossh.Client, command string) (stdout, stderr string, status int) {
	tb.Helper()
	s, err := c.NewSession()
	if err != nil {
		tb.Fatalf("%q: new session: %v", command, err)
	}
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	err = s.Run(command)
	var ee *gossh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitStatus()
	default:
		tb.Fatalf("%q: %v", command, err)
	}
	return o.String(), e.String(), status
}

// ReadUntil reads r into buf until what it read ends with suffix, and
// returns what it read; it fails tb on an error or after 10 s.
func ReadUntil(tb testing.TB, r io.Reader, buf *bytes.Buffer, suffix string) string {
	tb.Helper()
	start := buf.Len()
	done := make(chan error, 1)
	go func() {
		p := make([]byte, 4096)
		for !strings.HasSuffix(buf.String()[start:], suffix) {
			n, err := r.Read(p)
			buf.Write(p[:n])
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("reading until %q: %v; got %q", suffix, err, buf.String()[start:])
		}
	case <-time.After(10 * time.Second):
		tb.Fatalf("timed out reading until %q", suffix)
	}
	return buf.String()[start:]
}

// WaitGoroutines polls until the goroutine count is back to at most n, and
// fails tb with every goroutine's stack if it is not within 10 s: what a
// server started must not outlive its Close.
func WaitGoroutines(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			tb.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close calls closeFn, failing tb on its error or if it has not returned
// within 10 s: a server's Close must end what it serves, not wait on it.
func Close(tb testing.TB, closeFn func() error) {
	tb.Helper()
	closed := make(chan error, 1)
	go func() { closed <- closeFn() }()
	select {
	case err := <-closed:
		if err != nil {
			tb.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		tb.Fatal("Close did not return")
	}
}
