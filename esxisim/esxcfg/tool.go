package esxcfg

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/shell"
)

// Register installs the esxcfg-* tools of host h, at the paths ESXi keeps
// them in.
func Register(r *shell.Registry, h *vmkernel.Host) {
	r.Register("/sbin/esxcfg-route", command(h, runRoute))
	r.Register("/sbin/esxcfg-vmknic", command(h, runVmknic))
	r.Register("/sbin/esxcfg-vswitch", command(h, runVswitch))
	r.Register("/sbin/esxcfg-nics", command(h, runNics))
	r.Register("/sbin/esxcfg-nas", command(h, runNas))
}

// tool is one run of an esxcfg command: the host it views and the session
// it prints to. It lives for one invocation; nothing is kept between runs,
// the model is the only state.
type tool struct {
	h    *vmkernel.Host
	inv  *shell.Invocation
	prog string
}

func command(h *vmkernel.Host, run func(ctx context.Context, t *tool) int) shell.Command {
	return func(ctx context.Context, inv *shell.Invocation) int {
		prog := "esxcfg"
		if len(inv.Args) > 0 {
			prog = path.Base(inv.Args[0])
		}
		return run(ctx, &tool{h: h, inv: inv, prog: prog})
	}
}

// args returns the arguments after the command name.
func (t *tool) args() []string {
	if len(t.inv.Args) == 0 {
		return nil
	}
	return t.inv.Args[1:]
}

func (t *tool) printf(format string, a ...any) { fmt.Fprintf(t.inv.Stdout, format, a...) }

// fail prints one error line on stderr and returns the failure status.
func (t *tool) fail(err error) int {
	fmt.Fprintln(t.inv.Stderr, err)
	return exitFailure
}

// failMsg prints a pre-rendered error line (a sysinfo refusal).
func (t *tool) failMsg(msg string) int {
	fmt.Fprintln(t.inv.Stderr, msg)
	return exitFailure
}

// help prints a tool's help text; asked for with -h it is not an error.
func (t *tool) help(text string) int {
	fmt.Fprint(t.inv.Stdout, text)
	return 0
}

// usage answers a command line that asks for nothing: the help text, on
// stderr because it is a misuse, and the failure status (INFERRED).
func (t *tool) usage(text string) int {
	fmt.Fprint(t.inv.Stderr, text)
	return exitFailure
}

// oneAction returns the single action flag given among names, "" for none,
// or an error when several are combined.
func oneAction(p parsed, names ...string) (string, error) {
	var got []string
	for _, n := range names {
		if p.has(n) {
			got = append(got, n)
		}
	}
	switch len(got) {
	case 0:
		return "", nil
	case 1:
		return got[0], nil
	}
	return "", errorf("Conflicting options --%s", strings.Join(got, " and --"))
}

// pad left-justifies s in a field of width w that always ends with at
// least one space: printf("%-15s ") in the C tools, so an overlong value
// pushes the rest of the row right by one separator, as the VERIFIED
// esxcfg-vswitch sample with a 17-character switch name shows.
func pad(s string, w int) string {
	if len(s) >= w {
		return s + " "
	}
	return s + strings.Repeat(" ", w-len(s))
}

// unsupported answers a real option that this emulator does not model.
func unsupported(flag string) error {
	return errorf("%s is not supported by this emulator", flag)
}
