package vmkping

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

// FuzzVmkping runs random argv through vmkping on a fresh host A, stopping
// any run after 10 s of fake time (Ctrl-C). It must never panic; exit 2
// means nothing was sent and says why on stderr; otherwise the PING line
// and the statistics are printed. vmkping never changes the model.
func FuzzVmkping(f *testing.F) {
	for _, s := range []string{
		"192.168.1.1", "-c 1 192.168.5.2", "-I vmk1 -d -s 8972 192.168.5.2", "-c 2 -W 0.5 -i 0.2 10.1.1.1",
		"++netstack=defaultTcpipStack -c1 192.168.1.99", "-I vmk9 192.168.1.1", "-h", "", "-c", "-s 4 -c 1 192.168.1.28",
		"-c 2000000000 -i 0.000001 -W 0 10.1.1.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b := hostA(t)
		before := modelState(b.lab.Host)
		argv := append([]string{"vmkping"}, strings.Split(line, " ")...)
		r := b.runArgs(t, argv, 10*time.Second)
		switch r.code {
		case exitUsage:
			if r.err == "" || r.out != "" {
				t.Fatalf("%q: usage failure with stderr %q stdout %q", line, r.err, r.out)
			}
		case exitReply, exitNoReply:
			if r.err != "" && !strings.HasPrefix(r.err, "ping [args]") {
				t.Fatalf("%q: stderr %q", line, r.err)
			}
			if r.out != helpText && (!strings.HasPrefix(r.out, "PING ") || !strings.Contains(r.out, " ping statistics ---\n")) {
				t.Fatalf("%q: output %q", line, r.out)
			}
		default:
			t.Fatalf("%q: exit %d", line, r.code)
		}
		if after := modelState(b.lab.Host); after != before {
			t.Fatalf("%q changed the model", line)
		}
	})
}

// modelState renders the routes and vmknics vmkping must leave alone.
func modelState(h *vmkernel.Host) string {
	var s strings.Builder
	rs, _ := h.Routes("")
	fmt.Fprintf(&s, "%v\n", rs)
	for _, v := range h.Vmknics() {
		fmt.Fprintf(&s, "%s %s %d %v\n", v.Name, v.Addr(), v.MTU(), v.Enabled())
	}
	return s.String()
}
