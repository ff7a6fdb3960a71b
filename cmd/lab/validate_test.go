package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/topology"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	bad := write("bad.yaml", "name: lab\nhosts:\n  - name: esxi01\n    vmknic: []\n    gateway: 10.0.0.256\n")
	syntax := write("syntax.yaml", "hosts: [\n")
	missing := filepath.Join(dir, "missing.yaml")
	const examples = "../../examples/topologies/"

	cases := []struct {
		name           string
		args           []string
		stdin          string
		code           int
		stdout, stderr string
	}{
		{
			name: "examples",
			args: []string{examples + "default.yaml", examples + "wrong-vmk.yaml", examples + "full.yaml"},
			code: 0,
			stdout: examples + "default.yaml: ok (3 hosts, 3 CVMs, 1 gateway, 0 filers)\n" +
				examples + "wrong-vmk.yaml: ok (1 host, 0 CVMs, 1 gateway, 1 filer)\n" +
				examples + "full.yaml: ok (3 hosts, 3 CVMs, 1 gateway, 0 filers)\n",
		},
		{
			name: "every error, one per line",
			args: []string{bad},
			code: 1,
			stderr: bad + `:4:5: hosts[0]: unknown field "vmknic" (did you mean "vmknics"?)` + "\n" +
				bad + `:5:14: hosts[0].gateway: "10.0.0.256" is not an IPv4 address (want e.g. 192.168.1.1)` + "\n",
		},
		{
			name:   "syntax error",
			args:   []string{syntax},
			code:   1,
			stderr: syntax + ":1:8: invalid YAML: sequence end token ']' not found\n",
		},
		{
			name:   "good and bad: 1, and the good one is still reported",
			args:   []string{missing, examples + "wrong-vmk.yaml"},
			code:   1,
			stdout: examples + "wrong-vmk.yaml: ok (1 host, 0 CVMs, 1 gateway, 1 filer)\n",
			stderr: "lab validate: open " + missing + ": no such file or directory\n",
		},
		{
			name:   "stdin",
			args:   []string{"-"},
			stdin:  string(topology.DefaultYAML()),
			code:   0,
			stdout: "<stdin>: ok (3 hosts, 3 CVMs, 1 gateway, 0 filers)\n",
		},
		{
			name:   "bad stdin",
			args:   []string{"-"},
			stdin:  "name: lab\nhostz: []\n",
			code:   1,
			stderr: `<stdin>:2:1: unknown field "hostz" (did you mean "hosts"?)` + "\n",
		},
		{
			name:   "no file",
			args:   nil,
			code:   2,
			stderr: "lab validate: no topology file given\n" + validateUsage,
		},
		{
			name:   "unknown flag",
			args:   []string{"--strict", bad},
			code:   2,
			stderr: "flag provided but not defined: -strict\n" + validateUsage,
		},
		{
			name:   "help",
			args:   []string{"-h"},
			code:   0,
			stderr: validateUsage,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := validateFiles(c.args, strings.NewReader(c.stdin), &stdout, &stderr)
			assert.Equal(t, c.code, code)
			assert.Equal(t, c.stdout, stdout.String())
			assert.Equal(t, c.stderr, stderr.String())
		})
	}
}

// runValidate is what `lab validate` runs; it reads os.Stdin for "-".
func TestRunValidate(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, runValidate([]string{"../../examples/topologies/default.yaml"}, &stdout, &stderr))
	assert.Equal(t, "../../examples/topologies/default.yaml: ok (3 hosts, 3 CVMs, 1 gateway, 0 filers)\n", stdout.String())
	assert.Empty(t, stderr.String())

	stdout.Reset()
	assert.Equal(t, 2, runValidate(nil, &stdout, &stderr))
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "usage: lab validate FILE [FILE...]")

	// Through run, as main calls it.
	stderr.Reset()
	assert.Equal(t, 1, run([]string{"validate", "../../topology/testdata/bad/faults.yaml"}, &stdout, &stderr))
	want, err := os.ReadFile("../../topology/testdata/bad/faults.err")
	require.NoError(t, err)
	assert.Equal(t, strings.ReplaceAll(string(want), "faults.yaml:", "../../topology/testdata/bad/faults.yaml:"), stderr.String())
}
