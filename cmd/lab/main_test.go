package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A bad topology is refused with every problem at its line, and nothing
// starts (no listener: the ports given are not even tried).
func TestBadTopologyRefusedBeforeStart(t *testing.T) {
	f := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(f, []byte("name: x\nhosts:\n  - name: a\n    vmknic: []\n  - name: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"--topology", f, "--api", "off"}, &out, &errb)
	assert.Equal(t, 1, code)
	assert.Empty(t, out.String(), "nothing started, nothing printed")
	assert.Equal(t, "lab: "+f+": 2 problem(s), nothing started:\n"+
		f+":4:5: hosts[0]: unknown field \"vmknic\" (did you mean \"vmknics\"?)\n"+
		f+":5:11: hosts[1].name: \"a\" is already the name of hosts[0] (want a unique node name)\n", errb.String())

	code = run([]string{"--topology", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errb)
	assert.Equal(t, 1, code)
	assert.Contains(t, errb.String(), "no such file or directory")
}
