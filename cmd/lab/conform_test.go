package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/harness/conform"
)

func TestConformUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{nil, "no autopath to grade"},
		{[]string{"--attach", "--autopath", "x"}, "either an autopath command or attach"},
		{[]string{"--autopath", conform.Builtin, "--scenario", "zz"}, `no scenario "zz"`},
		{[]string{"--autopath", conform.Builtin, "--time-scale", "0"}, "--time-scale must be positive"},
		{[]string{"--autopath", "python3", "autopath.py"}, "quote the whole command"},
		{[]string{"--autopath", conform.Builtin, "--topology", "/nonexistent.yaml"}, "nonexistent"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"conform"}, tc.args...), &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr %s", tc.args, code, errb.String())
		}
		if !strings.Contains(errb.String(), tc.says) {
			t.Errorf("%q: stderr does not say %q:\n%s", tc.args, tc.says, errb.String())
		}
	}
}

func TestConformList(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"conform", "--list"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(conform.All()) || !strings.HasPrefix(lines[0], "a-injected-route-to-cvm ") {
		t.Errorf("--list:\n%s", out.String())
	}
}

// One scenario with the reference Genesis, every report written.
func TestConformBuiltin(t *testing.T) {
	dir := t.TempDir()
	jsonFile, junit, html := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml"), filepath.Join(dir, "r.html")
	var out, errb bytes.Buffer
	code := run([]string{"conform", "--autopath", conform.Builtin, "--time-scale", "0.05", "--scenario", "c",
		"--max-detection", "4500ms", "--max-outage", "6s", "--json", jsonFile, "--junit", junit, "--html", html, "-v"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "PASS c-cvm-power-off") || !strings.Contains(out.String(), "1/1 scenarios passed") {
		t.Errorf("summary:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "conform: PASS c-cvm-power-off") {
		t.Errorf("-v progress:\n%s", errb.String())
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var r conform.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if !r.Passed || len(r.Scenarios) != 1 || r.Scenarios[0].Name != "c-cvm-power-off" || r.TimeScale != 0.05 || r.Thresholds.MaxDetectionMS != 4500 {
		t.Errorf("report: %+v", r)
	}
	for _, f := range []string{junit, html} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("report not written: %v", err)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	var b bytes.Buffer
	p := &prefixWriter{w: &b, prefix: "> "}
	p.Write([]byte("one\ntw"))
	p.Write([]byte("o\nthree\n"))
	if got := b.String(); got != "> one\n> two\n> three\n" {
		t.Errorf("got %q", got)
	}
}
