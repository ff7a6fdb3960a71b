package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/sshd"
)

// openFDs counts the process's open file descriptors (Linux).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// ourListeningPorts returns the TCP ports this process listens on: the
// sockets among its file descriptors that /proc/net/tcp lists in LISTEN.
func ourListeningPorts(t *testing.T) map[string]bool {
	t.Helper()
	inodes := map[string]bool{}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, e := range ents {
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	out := map[string]bool{}
	for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fs := strings.Fields(line)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(fs) < 10 || fs[3] != "0A" || !inodes[fs[9]] {
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			if n, err := strconv.ParseUint(fs[1][i+1:], 16, 16); err == nil {
				out[strconv.FormatUint(n, 10)] = true
			}
		}
	}
	return out
}

// settle waits until f reports true, re-checking as goroutines finish
// (Close has returned; what remains is the runtime reaping them).
func settle(t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := f()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s", what, state)
		case <-tick.C:
			runtime.GC()
		}
	}
}

// Starting and stopping 100 labs, each with SSH, NFS, status pages, VM IO
// and real connections, leaves no goroutine, listener or file behind.
func TestStartStop100LabsLeaksNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("100 labs")
	}
	kr := sshd.NewKeyring()
	// One lab first, so that lazily started runtime and library
	// goroutines exist before the baseline is taken.
	warm, err := New(Default(), Options{Keyring: kr})
	require.NoError(t, err)
	require.NoError(t, warm.Close())
	settle(t, "warm-up", func() (bool, string) { return true, "" })
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	var ports []string
	for i := range 100 {
		lab, err := New(Default(), Options{Keyring: kr})
		require.NoError(t, err, "lab %d", i)
		// Use it: an SSH connection and an NFS connection stay open
		// across Close, as a client that never hangs up would.
		c1, err := net.Dial("tcp", lab.Hosts[0].Addr().String())
		require.NoError(t, err)
		c2, err := net.Dial("tcp", lab.CVMs[0].NFSAddr().String())
		require.NoError(t, err)
		for _, e := range lab.Endpoints() {
			for _, a := range e.Listeners {
				ports = append(ports, a)
			}
		}
		if i == 0 {
			// The detector sees a live listener (else the check below
			// proves nothing).
			_, p, _ := net.SplitHostPort(lab.Hosts[0].Addr().String())
			require.True(t, ourListeningPorts(t)[p], "port %s not seen listening", p)
		}
		require.NoError(t, lab.Close(), "lab %d", i)
		c1.Close()
		c2.Close()
	}
	settle(t, "goroutines after 100 labs", func() (bool, string) {
		n := runtime.NumGoroutine()
		if n <= baseG+2 {
			return true, ""
		}
		buf := make([]byte, 1<<20)
		return false, fmt.Sprintf("%d goroutines, %d before:\n%s", n, baseG, buf[:runtime.Stack(buf, true)])
	})
	settle(t, "files after 100 labs", func() (bool, string) {
		n := openFDs(t)
		return n <= baseFD, fmt.Sprintf("%d open files, %d before", n, baseFD)
	})
	// No port of theirs is still listening in this process. (Re-binding
	// them would prove nothing: another test process may have taken one.)
	mine := ourListeningPorts(t)
	for _, a := range ports {
		_, p, _ := net.SplitHostPort(a)
		require.False(t, mine[p], "port %s still bound by this process", a)
	}
	require.Len(t, ports, 100*12) // 3 hosts' SSH, 3 CVMs' SSH, NFS and status
}
