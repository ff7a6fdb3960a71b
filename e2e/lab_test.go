// Package e2e drives the emulator with real clients: OpenSSH's ssh
// (through sshpass), python3-paramiko, libnfs's nfs-cp and nfs-ls. Most
// tests run the built lab binary and see only what a client sees. Where
// the assertion is about what no client can see yet — which CVM serves a
// host's NFS, from which source address — the test runs the lab in
// process through harness and still drives it with the real clients.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// labBin is the lab binary TestMain builds.
var labBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "autopathlab-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	labBin = filepath.Join(dir, "lab")
	build := exec.Command("go", "build", "-o", labBin, "./cmd/lab")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/lab: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// endpoints is the lab's --endpoints-json file.
type endpoints struct {
	Nodes []struct {
		Name      string            `json:"name"`
		Role      string            `json:"role"`
		IPs       []string          `json:"ips"`
		Listeners map[string]string `json:"listeners"`
	} `json:"nodes"`
}

// lab is one running lab process.
type lab struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	eps    endpoints
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startLab runs the lab binary on free ports and waits for its endpoints
// file, which it writes once every listener accepts. The lab is stopped
// with SIGTERM at the end of the test, and must exit 0. extra are more
// flags, such as --topology.
func startLab(t *testing.T, extra ...string) *lab {
	t.Helper()
	epFile := filepath.Join(t.TempDir(), "endpoints.json")
	l := &lab{out: &syncBuffer{}, exited: make(chan struct{})}
	l.cmd = exec.Command(labBin, append([]string{"--ssh-port-base", "0", "--cvm-ssh-port-base", "0", "--nfs-port-base", "0", "--status-port-base", "0", "--api", "127.0.0.1:0", "--endpoints-json", epFile}, extra...)...)
	l.cmd.Stdout, l.cmd.Stderr = l.out, l.out
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("start lab: %v", err)
	}
	go func() {
		l.err = l.cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() { l.stop(t) })

	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		data, err := os.ReadFile(epFile)
		if err == nil {
			if err := json.Unmarshal(data, &l.eps); err != nil {
				t.Fatalf("endpoints file: %v\n%s", err, data)
			}
			return l
		}
		select {
		case <-l.exited:
			t.Fatalf("lab exited before writing its endpoints: %v\n%s", l.err, l.out)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab wrote no endpoints file within 30s; output:\n%s", l.out)
		}
	}
}

// stop sends SIGTERM and checks the lab exits 0 in time.
func (l *lab) stop(t *testing.T) {
	select {
	case <-l.exited:
		t.Errorf("lab exited before the test stopped it: %v\n%s", l.err, l.out)
		return
	default:
	}
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.exited:
		if l.err != nil {
			t.Errorf("lab did not exit 0 on SIGTERM: %v\n%s", l.err, l.out)
		}
	case <-time.After(15 * time.Second):
		_ = l.cmd.Process.Kill()
		<-l.exited
		t.Errorf("lab did not exit within 15s of SIGTERM\n%s", l.out)
	}
}

// sshAddr returns a host's SSH listener, "127.0.0.1:PORT".
func (l *lab) sshAddr(t *testing.T, host string) (ip, port string) {
	t.Helper()
	for _, n := range l.eps.Nodes {
		if n.Name == host {
			a := n.Listeners["ssh"]
			i := strings.LastIndexByte(a, ':')
			if i < 0 {
				t.Fatalf("%s: bad ssh listener %q", host, a)
			}
			return a[:i], a[i+1:]
		}
	}
	t.Fatalf("no node %s in the endpoints: %+v", host, l.eps)
	return "", ""
}

// requireTool skips the test when a client program is missing, loudly,
// except in CI where a missing client is a failure.
func requireTool(t *testing.T, path string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("required client %q is not installed (CI=true: failing, not skipping): %v", path, err)
	}
	t.Skipf("!!!!! SKIPPED: required client %q is not installed (%v). Install it; in CI this test fails. !!!!!", path, err)
	return ""
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines, that signals each write.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output from offset `from` satisfies cond, and
// returns the output from `from` on. It fails the test at the deadline.
func (s *syncBuffer) waitFor(t *testing.T, from int, what string, cond func(string) bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		out := s.b.String()
		ch := s.changed
		if ch == nil {
			ch = make(chan struct{})
			s.changed = ch
		}
		s.mu.Unlock()
		if from > len(out) {
			from = len(out)
		}
		if cond(out[from:]) {
			return out[from:]
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; output so far:\n%q", what, out[from:])
			return ""
		}
	}
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}
