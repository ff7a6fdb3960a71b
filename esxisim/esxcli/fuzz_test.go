package esxcli

import (
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
)

// FuzzEsxcli feeds argument vectors (NUL-separated) to esxcli on a fresh
// host A: it must never panic, every failure must print an "Error:" line
// and exit non-zero, and a failing command must leave the model as it was.
func FuzzEsxcli(f *testing.F) {
	for _, tc := range goldenCases() {
		f.Add(strings.Join(tc.args, "\x00"))
	}
	f.Add("network\x00ip\x00route\x00ipv4\x00add\x00-n\x00default\x00-g")
	f.Add("--formatter=xml\x00network\x00ip\x00interface\x00ipv4\x00set\x00-i\x00vmk0\x00-t\x00none")
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\x00")
		}
		if len(args) > 32 {
			t.Skip()
		}
		l := vmkerneltest.New(t)
		before := snapshot(l.Host)
		out, code := esxcli(t, l.Host, args...)
		if code == 0 {
			return
		}
		if code != 1 {
			t.Errorf("exit %d, want 0 or 1", code)
		}
		if !strings.HasPrefix(out, "Error: ") {
			t.Errorf("failure without an Error: line: %q", out)
		}
		if after := snapshot(l.Host); after != before {
			t.Errorf("failing %q changed the model:\n--- before\n%s--- after\n%s", args, before, after)
		}
	})
}
