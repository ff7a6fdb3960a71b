package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/conform"
)

// TestMain doubles as the command: with GENESIS_TEST_MAIN=1 the test
// binary is genesis, so that a test can signal a real process.
func TestMain(m *testing.M) {
	if os.Getenv("GENESIS_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// syncBuffer collects output written from other goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The command against a lab on real time, given the environment lab
// conform gives: CVM A off, host A forwarded to CVM B; CVM A back, host
// A's route removed after NfsTerminateConnection to CVM B.
func TestRunFailoverAndBack(t *testing.T) {
	t.Parallel()
	lab := harness.Start(t, harness.Default(), harness.WithoutWorkload(),
		harness.WithCVMTimers(cvmsim.Timers{PingAfter: 10 * time.Millisecond, StargateAfter: 20 * time.Millisecond, InitAfter: 30 * time.Millisecond}))
	ep := filepath.Join(t.TempDir(), "lab.json")
	logFile := filepath.Join(t.TempDir(), "genesis.out")
	env := envOf(conform.Env(lab, ep, 1)...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--interval", "100ms", "--stable-period", "300ms", "--log", logFile}, env, &stderr)
	}()

	wait := func(cond string) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		defer wcancel()
		if err := lab.Wait(wctx, cond); err != nil {
			t.Fatalf("%s: %v\nstderr:\n%s", cond, err, stderr.String())
		}
	}
	// Logged in to every host: the first round ran.
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err := lab.WaitUntil(wctx, func() bool {
		in := map[string]bool{}
		for _, ev := range lab.Events.Events() {
			if ev.Kind == "ssh.login" {
				in[ev.Node] = true
			}
		}
		return len(in) == 3
	})
	wcancel()
	require.NoError(t, err, "logins to every host\nstderr:\n%s", stderr.String())
	require.NoError(t, lab.PowerOff("NTNX-BLOCK1-A-CVM"))
	wait("host NTNX-BLOCK1-A route 192.168.5.2/32 via 192.168.1.28")
	require.NoError(t, lab.PowerOn("NTNX-BLOCK1-A-CVM"))
	wait("host NTNX-BLOCK1-A no route 192.168.5.2/32")

	cancel()
	select {
	case c := <-code:
		assert.Equal(t, 0, c)
	case <-time.After(30 * time.Second):
		t.Fatal("genesis did not stop")
	}

	terminated, deleted := -1, -1
	for i, ev := range lab.Events.Events() {
		switch {
		case ev.Kind == "nfs.terminate" && ev.Node == "NTNX-BLOCK1-B-CVM" && strings.HasPrefix(ev.Client, "192.168.1.24") && terminated < 0:
			terminated = i
		case ev.Kind == "route.delete" && ev.Node == "NTNX-BLOCK1-A":
			deleted = i
		case strings.HasPrefix(ev.Kind, "route.") && ev.Node != "NTNX-BLOCK1-A":
			t.Errorf("%s changed a route of %s: %+v", ev.Kind, ev.Node, ev)
		}
	}
	if terminated < 0 || terminated > deleted {
		t.Errorf("nfs.terminate on CVM B at %d, route.delete at %d: want the termination first", terminated, deleted)
	}

	out := stderr.String()
	assert.Contains(t, out, "genesis: watching 3 host(s) and 3 CVM(s) from the environment, every 100ms (stable period 300ms, probe timeout 100ms)\n")
	assert.Contains(t, out, "genesis:   cvm NTNX-BLOCK1-A-CVM 192.168.1.27 on NTNX-BLOCK1-A: http://127.0.0.1:")
	assert.Contains(t, out, "genesis: stopping: context canceled\n")
	assert.Contains(t, out, "genesis: NTNX-BLOCK1-A-CVM: Stargate down: status page: 503 Service Unavailable\n")
	assert.Contains(t, out, "genesis: NTNX-BLOCK1-A-CVM: Stargate up\n")
	log, err := os.ReadFile(logFile)
	require.NoError(t, err)
	for _, s := range []string{
		"Stargate on CVM 192.168.1.27 is down: status page: 503 Service Unavailable",
		"Adding route to 192.168.5.2 via 192.168.1.28 on hypervisor 192.168.1.24",
		"Sending NfsTerminateConnection for client 192.168.1.24 to Stargate on CVM 192.168.1.28",
		"Removing route to 192.168.5.2 via 192.168.1.28 on hypervisor 192.168.1.24",
	} {
		assert.Contains(t, string(log), s)
	}
	assert.NotContains(t, out, "ha_service.py", "genesis.out lines go to --log")
}

// SIGTERM and SIGINT stop the process cleanly: exit 0, connections
// closed. The lab need not be reachable.
func TestSignalsExitZero(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "--interval", "50ms")
			// Nothing listens on port 1: every round fails fast.
			cmd.Env = append(os.Environ(), "GENESIS_TEST_MAIN=1",
				"AUTOPATHLAB_HOSTS=1", "AUTOPATHLAB_CVMS=1",
				"AUTOPATHLAB_HOST_1_NAME=esxi-a", "AUTOPATHLAB_HOST_1_SSH=127.0.0.1:1", "AUTOPATHLAB_HOST_1_IP=192.168.1.24",
				"AUTOPATHLAB_CVM_1_NAME=cvm-a", "AUTOPATHLAB_CVM_1_HOST=esxi-a", "AUTOPATHLAB_CVM_1_IP=192.168.1.27",
				"AUTOPATHLAB_CVM_1_STATUS=http://127.0.0.1:1/h/status")
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			sc := bufio.NewScanner(stderr)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
				// A round has run: Genesis logged that no CVM can lead.
				if strings.Contains(sc.Text(), "No CVM with a functioning Stargate can lead") {
					break
				}
			}
			require.NoError(t, cmd.Process.Signal(sig))
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			err = cmd.Wait()
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Fatalf("exit %d, want 0:\n%s", exit.ExitCode(), strings.Join(lines, "\n"))
			}
			require.NoError(t, err)
			assert.Contains(t, lines, "genesis: cvm-a: Stargate down: dial tcp 127.0.0.1:1: connect: connection refused",
				"why no CVM can lead")
			assert.Contains(t, lines[len(lines)-1], "genesis: stopping: ")
			assert.Contains(t, lines[len(lines)-1], "signal received")
		})
	}
}
