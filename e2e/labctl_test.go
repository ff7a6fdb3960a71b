package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildLabctl builds cmd/labctl for one test.
func buildLabctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "labctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/labctl")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/labctl: %v\n%s", err, out)
	}
	return bin
}

// apiURL reads the control API's URL from the lab's endpoints JSON (its
// top-level "api").
func (l *lab) apiURL(t *testing.T) string {
	t.Helper()
	i := slices.Index(l.cmd.Args, "--endpoints-json")
	if i < 0 || i+1 >= len(l.cmd.Args) {
		t.Fatalf("the lab runs without --endpoints-json: %q", l.cmd.Args)
	}
	data, err := os.ReadFile(l.cmd.Args[i+1])
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		API string `json:"api"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("endpoints JSON: %v\n%s", err, data)
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(doc.API) {
		t.Fatalf("endpoints JSON: api %q, want http://127.0.0.1:PORT\n%s", doc.API, data)
	}
	return doc.API
}

// labctl runs the labctl binary against api and returns its exit code and
// output.
func labctl(t *testing.T, bin, api string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "AUTOPATHLAB_API="+api, "AUTOPATHLAB_TOKEN=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("labctl %s: %v", strings.Join(args, " "), err)
	}
	return code, o.String(), e.String()
}

// The real labctl against the real lab binary: CVM A powered off through
// the API is down for an operator on CVM B's OpenSSH session, the event
// stream shows it, and a reset brings it back.
func TestLabctl(t *testing.T) {
	requireTool(t, "ssh")
	requireTool(t, "sshpass")
	bin := buildLabctl(t)
	l := startLab(t, "--api", "127.0.0.1:0")
	api := l.apiURL(t)
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := labctl(t, bin, api, args...)
		if code != 0 {
			t.Fatalf("labctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	power := func(cvm string) string {
		t.Helper()
		var v struct {
			Power string `json:"power"`
		}
		out := ok("-o", "json", "cvm", cvm)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("labctl -o json cvm %s: %v\n%s", cvm, err, out)
		}
		return v.Power
	}

	if out := ok("cvms"); !regexp.MustCompile(`(?m)^NTNX-BLOCK1-A-CVM\s+NTNX-BLOCK1-A\s+192\.168\.1\.27\s+up\s+up\s`).MatchString(out) {
		t.Fatalf("labctl cvms:\n%s", out)
	}

	// Follow the events from before the power-off.
	followCtx, stopFollow := context.WithTimeout(context.Background(), 60*time.Second)
	defer stopFollow()
	follow := exec.CommandContext(followCtx, bin, "--api", api, "events", "-f")
	follow.Cancel = func() error { return follow.Process.Signal(os.Interrupt) }
	followOut, followErr := &syncBuffer{}, &syncBuffer{}
	follow.Stdout, follow.Stderr = followOut, followErr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	// labctl prints the header once the lab follows the log for it.
	followOut.waitFor(t, 0, "the events -f header", func(s string) bool { return strings.HasPrefix(s, "TIME") })

	out := ok("cvm", "a", "power", "off")
	if !regexp.MustCompile(`(?m)^NTNX-BLOCK1-A-CVM\s+\S+\s+192\.168\.1\.27\s+off\s`).MatchString(out) {
		t.Errorf("labctl cvm a power off:\n%s", out)
	}
	if out := ok("wait", "--timeout", "30s", "cvm a power off"); !strings.HasPrefix(out, "condition met after ") {
		t.Errorf("labctl wait: %q", out)
	}
	followOut.waitFor(t, 0, "power.off of CVM A on the stream", regexp.MustCompile(`(?m)^\S+\s+power\.off\s+NTNX-BLOCK1-A-CVM\b`).MatchString)

	// An operator on CVM B sees CVM A down.
	if st := cvmSSH(t, l, cvmB, "cluster status"); !strings.Contains(st, "CVM: 192.168.1.27 Down") {
		t.Errorf("cluster status on CVM B after powering CVM A off:\n%s", st)
	}
	if p := power("a"); p != "off" {
		t.Errorf("CVM A: power %q after power off", p)
	}

	// Exit codes of a real process.
	if code, _, errOut := labctl(t, bin, api, "wait", "--timeout", "200ms", "cvm a power on"); code != 4 || !strings.Contains(errOut, "timed out") {
		t.Errorf("wait that times out: exit %d, stderr %q; want 4", code, errOut)
	}
	if code, _, errOut := labctl(t, bin, api, "cvm", "z"); code != 1 || !strings.Contains(errOut, `labctl: no cvm "z"`) {
		t.Errorf("unknown CVM: exit %d, stderr %q; want 1", code, errOut)
	}
	if code, _, _ := labctl(t, bin, api, "frobnicate"); code != 2 {
		t.Errorf("unknown verb: exit %d, want 2", code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if code, _, errOut := labctl(t, bin, dead, "lab"); code != 3 || !strings.Contains(errOut, "cannot reach the lab") {
		t.Errorf("no lab: exit %d, stderr %q; want 3", code, errOut)
	}

	// Reset brings CVM A back, for the model and for the operator.
	if out := ok("reset"); !strings.HasPrefix(out, "lab reset in ") {
		t.Errorf("labctl reset: %q", out)
	}
	if p := power("a"); p != "up" {
		t.Errorf("CVM A: power %q after reset, want up", p)
	}
	if st := cvmSSH(t, l, cvmB, "cluster status"); !strings.Contains(st, "CVM: 192.168.1.27 Up") {
		t.Errorf("cluster status on CVM B after reset:\n%s", st)
	}

	// Ctrl-C ends events -f with exit 0.
	if err := follow.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := follow.Wait(); err != nil {
		t.Errorf("labctl events -f after SIGINT: %v\nstderr: %s", err, followErr)
	}
}

// Off loopback the lab refuses to serve its API without a token.
func TestLabctlAPINeedsToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, labBin, "--ssh-port-base", "0", "--cvm-ssh-port-base", "0", "--nfs-port-base", "0",
		"--status-port-base", "0", "--api", "0.0.0.0:0", "--api-token", "")
	cmd.Env = append(os.Environ(), "AUTOPATHLAB_TOKEN=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("lab --api 0.0.0.0:0 without a token: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "lab: the control API on 0.0.0.0:0 needs a bearer token: set --api-token or AUTOPATHLAB_TOKEN") {
		t.Errorf("output:\n%s", out)
	}
}
