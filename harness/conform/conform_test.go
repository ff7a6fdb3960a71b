package conform

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/topology"
)

// The kit proves itself both ways: the reference Genesis passes every
// scenario, and deliberately broken implementations (real programs the
// kit launches, reading the environment contract) fail with the reason
// that names their mistake.

// testScale runs the lab 20x faster than real time: the built-in
// Genesis' 30 s loop is 1.5 s, a CVM's 60 s boot 3 s.
const testScale = 0.05

// Thresholds for testScale: seed 001's 45 s / 60 s scaled by 0.1 rather
// than 0.05, so that the race detector and a loaded machine have room;
// the loop (1.5 s) still has to fit.
const (
	testMaxDetection = 4500 * time.Millisecond
	testMaxOutage    = 6 * time.Second
)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	cfg.TimeScale = testScale
	cfg.MaxDetection, cfg.MaxOutage = testMaxDetection, testMaxOutage
	cfg.Progress = logWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("conform: %v", err)
	}
	return rep
}

func TestReferenceGenesisPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario (about a minute)")
	}
	start := time.Now()
	rep := run(t, Config{Autopath: Builtin})
	t.Logf("the whole set with %s at time scale %g: %v", Builtin, testScale, time.Since(start).Round(100*time.Millisecond))
	if len(rep.Scenarios) != len(All()) {
		t.Fatalf("%d scenarios graded, want %d", len(rep.Scenarios), len(All()))
	}
	for _, s := range rep.Scenarios {
		t.Logf("%s %s: detection %.0f ms, outage %.0f ms, %.0f ms", verdict(s), s.Name, s.DetectionMS, s.OutageMS, s.DurationMS)
		if s.Passed {
			continue
		}
		t.Errorf("%s failed: %s", s.Name, s.Error)
		for _, c := range s.Checks {
			if !c.Passed {
				t.Errorf("  %s: %s", c.Name, c.Reason)
			}
		}
	}
}

// buildBroken builds testdata/broken into a temporary directory and
// returns the command line that runs it broken the way mode says.
func buildBroken(t *testing.T, mode string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "broken")
	out, err := exec.Command("go", "build", "-o", exe, "./testdata/broken").CombinedOutput()
	if err != nil {
		t.Fatalf("go build broken: %v\n%s", err, out)
	}
	return "'" + exe + "' -mode " + mode
}

// failed returns the scenario's failed checks by name.
func failed(t *testing.T, rep *Report, scenario string) map[string]string {
	t.Helper()
	for _, s := range rep.Scenarios {
		if s.Name != scenario {
			continue
		}
		if s.Passed || s.Error != "" {
			t.Fatalf("%s: passed %v, error %q; want it graded and failed", s.Name, s.Passed, s.Error)
		}
		out := map[string]string{}
		for _, c := range s.Checks {
			if !c.Passed {
				out[c.Name] = c.Reason
				t.Logf("%s: %s: %s", s.Name, c.Name, c.Reason)
			}
		}
		return out
	}
	t.Fatalf("no scenario %s in the report", scenario)
	return nil
}

// wantFailed checks that a check failed and its reason says each part.
func wantFailed(t *testing.T, checks map[string]string, name string, says ...string) {
	t.Helper()
	reason, ok := checks[name]
	if !ok {
		t.Errorf("%s did not fail", name)
		return
	}
	for _, s := range says {
		if !strings.Contains(reason, s) {
			t.Errorf("%s: reason %q does not say %q", name, reason, s)
		}
	}
}

// An implementation that never removes a route leaves the operator's
// route in place (a) and never switches host A back (e).
func TestBrokenNeverRemoveFails(t *testing.T) {
	t.Parallel()
	rep := run(t, Config{Autopath: buildBroken(t, "never-remove"), Scenarios: []string{"a", "e"}})
	if rep.Passed {
		t.Fatal("the report passed")
	}
	a := failed(t, rep, "a-injected-route-to-cvm")
	wantFailed(t, a, CheckFinalRoutes, "host NTNX-BLOCK1-A still routes 192.168.5.2/32 via 192.168.1.28 at the end; want no such route")
	wantFailed(t, a, CheckDetection, "had not removed its route", "after the operator's route via 192.168.1.28")
	e := failed(t, rep, "e-cvm-power-on")
	wantFailed(t, e, CheckFinalRoutes, "still routes 192.168.5.2/32 via 192.168.1.28 at the end", "NTNX-BLOCK1-A-CVM is healthy")
}

// An implementation that routes to the first CVM it finds sends hosts A
// and B to each other's dead CVMs when both fail.
func TestBrokenFirstCVMFails(t *testing.T) {
	t.Parallel()
	rep := run(t, Config{Autopath: buildBroken(t, "first-cvm"), Scenarios: []string{"i-two-cvms-down"}})
	i := failed(t, rep, "i-two-cvms-down")
	wantFailed(t, i, CheckNoDeadCVM,
		"host NTNX-BLOCK1-A was routed 192.168.5.2/32 via 192.168.1.28", "while NTNX-BLOCK1-B-CVM was off",
		"host NTNX-BLOCK1-B was routed 192.168.5.2/32 via 192.168.1.27", "while NTNX-BLOCK1-A-CVM was off")
	wantFailed(t, i, CheckFinalRoutes, "routes 192.168.5.2/32 via 192.168.1.28 at the end, but NTNX-BLOCK1-B-CVM is off")
	wantFailed(t, i, CheckDetection, "had not routed 192.168.5.2/32 to a healthy CVM")
}

func TestSelect(t *testing.T) {
	got, err := Select([]string{"c", "a-injected-route-to-cvm", " l "})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
	}
	if strings.Join(names, " ") != "c-cvm-power-off a-injected-route-to-cvm l-route-to-dead-cvm" {
		t.Errorf("Select: %v", names)
	}
	if _, err := Select([]string{"z"}); err == nil || !strings.Contains(err.Error(), `no scenario "z"`) {
		t.Errorf("Select(z): %v", err)
	}
	if all, _ := Select(nil); len(all) != 12 {
		t.Errorf("all: %d scenarios", len(all))
	}
}

func TestRunUsage(t *testing.T) {
	for _, cfg := range []Config{{}, {Autopath: Builtin, Attach: true}, {Autopath: Builtin, Scenarios: []string{"nope"}}} {
		_, err := Run(context.Background(), cfg)
		var ue *UsageError
		if err == nil || !asUsage(err, &ue) {
			t.Errorf("Run(%+v): %v, want a usage error", cfg, err)
		}
	}
}

func asUsage(err error, ue **UsageError) bool {
	u, ok := err.(*UsageError)
	*ue = u
	return ok
}

// An implementation that exits before it logs in is an error, with its
// last words.
func TestImplementationExits(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), Config{Autopath: "echo cannot reach $AUTOPATHLAB_HOST_1_SSH >&2; exit 3", TimeScale: testScale, Scenarios: []string{"a"}})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "cannot reach 127.0.0.1:") {
		t.Fatalf("Run: %v", err)
	}
}

func TestEnv(t *testing.T) {
	lab := harness.Start(t, topology.Default(), harness.Options{NoWorkload: true})
	env := map[string]string{}
	for _, kv := range Env(lab, "/tmp/endpoints.json", 0.05) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"AUTOPATHLAB_ENDPOINTS": "/tmp/endpoints.json", "AUTOPATHLAB_HOSTS": "3", "AUTOPATHLAB_CVMS": "3",
		"AUTOPATHLAB_HOST_1_NAME": "NTNX-BLOCK1-A", "AUTOPATHLAB_HOST_1_IP": "192.168.1.24",
		"AUTOPATHLAB_HOST_1_SSH": lab.Host("NTNX-BLOCK1-A").Addr().String(),
		"AUTOPATHLAB_CVM_2_NAME": "NTNX-BLOCK1-B-CVM", "AUTOPATHLAB_CVM_2_HOST": "NTNX-BLOCK1-B", "AUTOPATHLAB_CVM_2_IP": "192.168.1.28",
		"AUTOPATHLAB_CVM_2_SSH":    lab.CVM("NTNX-BLOCK1-B-CVM").SSHAddr().String(),
		"AUTOPATHLAB_CVM_2_STATUS": "http://" + lab.CVM("NTNX-BLOCK1-B-CVM").StatusAddr().String() + "/h/status",
		"AUTOPATHLAB_SSH_USER":     "root", "AUTOPATHLAB_SSH_PASSWORD": "nutanix/4u",
		"AUTOPATHLAB_TIME_SCALE": "0.05", "AUTOPATHLAB_STABLE_PERIOD": "1.5", "AUTOPATHLAB_LOOP_PERIOD": "1.5",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
}
