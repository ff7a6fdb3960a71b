package esxcli

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/shell"
)

// Register installs esxcli at the paths ESXi has it: /bin/esxcli (what
// `which esxcli` prints) and /sbin/esxcli.
func Register(r *shell.Registry, h *vmkernel.Host) {
	cmd := New(h)
	r.Register("/bin/esxcli", cmd)
	r.Register("/sbin/esxcli", cmd)
}

// New returns esxcli over the host's model. Every output is read from h at
// the moment the command runs, and every change goes through h, so other
// views (esxcfg-*, the control API, traffic) see it at once.
func New(h *vmkernel.Host) shell.Command {
	cli := &cli{root: tree(h)}
	return func(ctx context.Context, inv *shell.Invocation) int {
		var args []string
		if len(inv.Args) > 0 {
			args = inv.Args[1:]
		}
		return cli.run(ctx, args, inv.Stdout)
	}
}

// cli is one host's esxcli: the command tree bound to the host.
type cli struct {
	root *namespace
}

// run executes esxcli with its arguments (without argv[0]) and returns the
// exit status. Every error goes to stdout with exit status 1 (INFERRED,
// §0.3: where esxcli writes errors was not verified, and scripts read both
// streams; stdout is the reference's safest choice).
func (c *cli) run(ctx context.Context, args []string, out io.Writer) int {
	g, rest, err := parseGlobal(args)
	if err != nil {
		return fail(out, err, globalUsage(c.root))
	}
	// The namespace path is every leading word up to the first option.
	n, path := c.root, []string{}
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		word := rest[0]
		sub, cmd := n.child(word)
		path = append(path, word)
		rest = rest[1:]
		switch {
		case sub != nil:
			n = sub
			continue
		case cmd != nil:
			if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
				// A word after the command extends the path, which names
				// nothing: esxcli resolves the whole word sequence.
				path = append(path, rest[0])
				break
			}
			return c.runCommand(ctx, out, g, cmd, path, rest)
		}
		return fail(out, plainErr("Unknown command or namespace "+strings.Join(path, " ")), "")
	}
	// A namespace: its listing, with or without --help (`esxcli --help
	// network` and `esxcli network --help` alike). Options other than help
	// after a namespace name nothing esxcli could run.
	for _, a := range rest {
		if a != "--help" && a != "-?" {
			return fail(out, plainErr("Unknown command or namespace "+strings.Join(append(path, a), " ")), "")
		}
	}
	write(out, namespaceHelp(n, path))
	return 0
}

func (c *cli) runCommand(ctx context.Context, out io.Writer, g global, cmd *command, path, args []string) int {
	if g.help { // `esxcli --help network ip route ipv4 add`
		write(out, cmd.usage(path))
		return 0
	}
	vals, err := parseOptions(cmd, args)
	if errors.Is(err, errHelp{}) {
		write(out, cmd.usage(path))
		return 0
	}
	if err != nil {
		return fail(out, err, cmd.usage(path))
	}
	res, err := cmd.run(&call{ctx: ctx, path: path, vals: vals})
	if err != nil {
		return fail(out, err, cmd.usage(path))
	}
	if res == nil {
		return 0 // success is silent (VERIFIED, §0.1)
	}
	f, _ := formatterFor(g.formatter)
	if err := f(out, res); err != nil {
		return 1
	}
	return 0
}

// fail prints an error: "Error: <msg>", then for usage errors a blank line
// and the usage block.
func fail(out io.Writer, err error, usage string) int {
	var ce *cliError
	if !errors.As(err, &ce) {
		ce = &cliError{msg: err.Error()}
	}
	if ce.raw {
		write(out, ce.msg+"\n")
		return 1
	}
	s := "Error: " + ce.msg + "\n"
	if ce.usage && usage != "" {
		s += "\n" + usage
	}
	write(out, s)
	return 1
}

// global holds esxcli's own options, given before the namespace.
type global struct {
	formatter string
	help      bool
}

// parseGlobal reads the options before the first namespace word:
// --formatter=F or --formatter F, --screen-width=N (accepted, checked to be
// an integer, and otherwise ignored: no table is ever wrapped), --debug and
// --log-verbose (accepted, no effect), --help and -?.
func parseGlobal(args []string) (global, []string, error) {
	var g global
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "--help", "-?":
			if hasValue {
				return g, nil, usageErr("Invalid option " + a)
			}
			g.help = true
			continue
		case "--debug", "--log-verbose":
			if hasValue {
				return g, nil, usageErr("Invalid option " + a)
			}
			continue
		case "--formatter", "--screen-width":
		default:
			return g, nil, usageErr("Invalid option " + name)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return g, nil, usageErr("Missing value for option " + name)
			}
			i++
			value = args[i]
		}
		if name == "--screen-width" {
			if _, err := strconv.Atoi(value); err != nil {
				return g, nil, usageErr("While processing '--screen-width'. Argument type mismatch. Expecting integer value. Got '" + value + "'")
			}
			continue
		}
		if _, ok := formatterFor(value); !ok || value == "" {
			// INFERRED wording; json is accepted though esxcli's help omits it.
			return g, nil, plainErr("Unknown formatter '" + value + "'. Available formatters: xml, csv, keyvalue, json")
		}
		g.formatter = value
	}
	return g, args[i:], nil
}

func globalUsage(root *namespace) string { return namespaceHelp(root, nil) }
