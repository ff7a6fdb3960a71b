package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/harness/conform"
)

// TestConformGenesisExternal grades the standalone reference autopath
// (cmd/genesis) as an external implementation: built as it is for the
// docker-compose lab's FROM-scratch image (CGO_ENABLED=0), launched by
// `lab conform` with the environment contract, on real time while the
// emulator runs at 0.05. Its pace comes from the kit's hints
// (AUTOPATHLAB_LOOP_PERIOD and AUTOPATHLAB_STABLE_PERIOD, 1.5 s at that
// scale), so it answers like the built-in Genesis; every scenario must
// pass.
func TestConformGenesisExternal(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "genesis")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/genesis")
	build.Dir = ".." // the module root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/genesis: %v\n%s", err, out)
	}

	jsonFile, genesisOut := filepath.Join(dir, "conform.json"), filepath.Join(dir, "genesis.out")
	started := time.Now()
	cmd := exec.CommandContext(ctx, labBin, "conform",
		"--autopath", shellQuoted(bin)+" --log "+shellQuoted(genesisOut),
		"--time-scale", "0.05",
		"--json", jsonFile, "-v")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	wall := time.Since(started)
	if err != nil {
		t.Errorf("lab conform: %v\n%s", err, out)
	}

	// -v passes the implementation's stderr through: the start line says
	// the pace it took from the kit's hints.
	if pace := "every 1.5s (stable period 1.5s, probe timeout 1.5s)"; !strings.Contains(string(out), pace) {
		t.Errorf("genesis did not pace itself from AUTOPATHLAB_LOOP_PERIOD and AUTOPATHLAB_STABLE_PERIOD: no %q in the output", pace)
	}

	data, rerr := os.ReadFile(jsonFile)
	if rerr != nil {
		t.Fatalf("no JSON report: %v\n%s", rerr, out)
	}
	var r conform.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, data)
	}
	if len(r.Scenarios) == 0 {
		t.Fatalf("the report has no scenarios:\n%s", out)
	}
	t.Logf("lab conform --autopath genesis --time-scale 0.05: %d scenarios in %v (report: %.1fs); detection limit %.1fs, outage limit %.1fs",
		len(r.Scenarios), wall.Round(100*time.Millisecond), r.DurationMS/1000, r.Thresholds.MaxDetectionMS/1000, r.Thresholds.MaxOutageMS/1000)
	for _, s := range r.Scenarios {
		verdict := "PASS"
		switch {
		case s.Skipped:
			verdict = "SKIP"
		case !s.Passed || s.Error != "":
			verdict = "FAIL"
		}
		t.Logf("  %s %-32s detection %8s  outage %8s  (%.1fs)", verdict, s.Name, reportMS(s.DetectionMS), reportMS(s.OutageMS), s.DurationMS/1000)
		if s.Skipped {
			t.Errorf("scenario %s skipped: %s", s.Name, s.Error)
			continue
		}
		if s.Passed && s.Error == "" {
			continue
		}
		var why []string
		for _, c := range s.FailedChecks() {
			why = append(why, c.Name+": "+c.Reason)
		}
		t.Errorf("scenario %s failed: %s %s", s.Name, s.Error, strings.Join(why, "; "))
	}
	if !r.Passed {
		t.Errorf("the report's verdict is FAIL")
	}
	if t.Failed() {
		t.Logf("lab conform output:\n%s", out)
		if log, err := os.ReadFile(genesisOut); err == nil {
			t.Logf("genesis.out (last 200 lines):\n%s", lastLines(string(log), 200))
		}
	}
}

// reportMS prints a report's milliseconds ("-" for -1: nothing measured).
func reportMS(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fms", v)
}

// shellQuoted quotes s for /bin/sh, which runs the kit's --autopath.
func shellQuoted(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
