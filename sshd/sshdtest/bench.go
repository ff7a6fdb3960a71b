// Package sshdtest has what tests and benchmarks of SSH servers share: the
// test clients (client.go), the exec round-trip benchmarks an autopath
// implementation's cost is made of, and a private OpenSSH sshd to run them
// against as the anchor.
package sshdtest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Target is an SSH server to benchmark: where, as whom, and the command
// each iteration runs.
type Target struct {
	Addr    string
	User    string
	Auth    func() gossh.AuthMethod
	Command string
}

// Dial logs in to t, ignoring its host key.
func (t Target) Dial(tb testing.TB) *gossh.Client {
	tb.Helper()
	c, err := gossh.Dial("tcp", t.Addr, &gossh.ClientConfig{
		User: t.User, Auth: []gossh.AuthMethod{t.Auth()},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
	if err != nil {
		tb.Fatalf("dial %s: %v", t.Addr, err)
	}
	return c
}

// Persistent measures one exec on one connection (a new session per exec,
// as autopath implementations do), reporting p50-ms and p90-ms.
func Persistent(b *testing.B, t Target) {
	c := t.Dial(b)
	defer c.Close()
	execOnce(b, c, t.Command) // warm up
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		execOnce(b, c, t.Command)
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	reportQuantiles(b, d)
}

// NewConnection measures connect, authenticate, exec, close.
func NewConnection(b *testing.B, t Target) {
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c := t.Dial(b)
		execOnce(b, c, t.Command)
		c.Close()
		d = append(d, time.Since(t0))
	}
	b.StopTimer()
	reportQuantiles(b, d)
}

func execOnce(b *testing.B, c *gossh.Client, command string) {
	s, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	s.Stdout = &out
	if err := s.Run(command); err != nil {
		b.Fatalf("%q: %v", command, err)
	}
	s.Close()
}

// reportQuantiles reports the median and 90th percentile in milliseconds:
// the mean hides the tail a failover budget cares about.
func reportQuantiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))]) / 1e6 }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.9), "p90-ms")
}
