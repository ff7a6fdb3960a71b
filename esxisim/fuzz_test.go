package esxisim

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel/vmkerneltest"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// FuzzIdentityCommands feeds random argument vectors to the commands this
// package implements (vmware, hostname): no panic, a rejected input prints
// an error and exits non-zero and leaves the host's name alone.
func FuzzIdentityCommands(f *testing.F) {
	for _, s := range []string{"vmware -vl", "vmware -v", "vmware --zzz", "hostname", "hostname -s", "hostname -f", "hostname x", "vmware", "hostname -"} {
		f.Add(s)
	}
	h, err := New(fabric.New(fabric.WithClock(clock.NewFake())), Config{VMkernel: vmkerneltest.HostAConfig(), ECDSAOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	cmds := map[string]shell.Command{"vmware": h.cmdVmware, "hostname": h.cmdHostname}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		if len(args) == 0 {
			return
		}
		cmd, ok := cmds[args[0]]
		if !ok {
			args = append([]string{"vmware"}, args...)
			cmd = h.cmdVmware
		}
		var out, errb bytes.Buffer
		code := cmd(context.Background(), &shell.Invocation{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
		if code != 0 && out.Len()+errb.Len() == 0 {
			t.Fatalf("%q: exit %d with no message", line, code)
		}
		// `hostname NAME` renames the host, as busybox does for root; a
		// rejected input must not.
		if got := h.VMkernel().Hostname(); got != "NTNX-BLOCK1-A" {
			if code != 0 {
				t.Fatalf("%q failed but renamed the host to %q", line, got)
			}
			h.VMkernel().SetHostname("NTNX-BLOCK1-A")
		}
	})
}
