package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/harness/conform"
)

// pythonDir is the example Python autopath, from this package's directory.
const pythonDir = "../examples/autopath-python"

// requireParamiko skips without python3-paramiko under /usr/bin/python3
// (the system Python, not the first python3 on PATH), except in CI.
func requireParamiko(t *testing.T) {
	t.Helper()
	requireTool(t, "/usr/bin/python3")
	if out, err := exec.Command("/usr/bin/python3", "-c", "import paramiko").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-paramiko is not installed under /usr/bin/python3: %v\n%s", err, out)
		}
		t.Skipf("!!!!! SKIPPED: python3-paramiko is not installed under /usr/bin/python3 (%v). In CI this fails. !!!!!", err)
	}
}

// TestPythonAutopathUnit runs the example's own unit tests (route parsing
// and the decision function; no lab, no SSH).
func TestPythonAutopathUnit(t *testing.T) {
	requireTool(t, "/usr/bin/python3")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-m", "unittest", "-v", "test_autopath")
	cmd.Dir = pythonDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("\nOK")) {
		t.Fatalf("unittest did not report OK:\n%s", out)
	}
}

// TestConformPython grades the example Python autopath with `lab conform`
// and wants every scenario passed, and every report written.
func TestConformPython(t *testing.T) {
	requireParamiko(t)
	script, err := filepath.Abs(filepath.Join(pythonDir, "autopath.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	junit, jsonFile, html := filepath.Join(dir, "conform.xml"), filepath.Join(dir, "conform.json"), filepath.Join(dir, "conform.html")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, labBin, "conform",
		"--autopath", "/usr/bin/python3 "+script,
		"--time-scale", "0.05",
		"--junit", junit, "--json", jsonFile, "--html", html)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lab conform: %v\n%s", err, out)
	}

	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, out)
	}
	var r conform.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, data)
	}
	if len(r.Scenarios) == 0 {
		t.Fatalf("the report has no scenarios:\n%s", data)
	}
	for _, s := range r.Scenarios {
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
	}

	x, err := os.ReadFile(junit)
	if err != nil {
		t.Fatalf("no JUnit report: %v", err)
	}
	var suites struct {
		Suites []struct {
			Tests int `xml:"tests,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(x, &suites); err != nil || len(suites.Suites) != 1 || suites.Suites[0].Tests != len(r.Scenarios) {
		t.Errorf("JUnit report: %v, %+v", err, suites)
	}
	h, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(h, []byte("<!DOCTYPE html>")) || bytes.Count(h, []byte("<svg")) == 0 {
		t.Errorf("HTML report: %v (%d bytes)", err, len(h))
	}
}
