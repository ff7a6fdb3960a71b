package esxcli

import (
	"context"
	"io"
	"slices"
	"strings"
)

// namespace is a node of esxcli's command tree ("network", "ip", "route").
type namespace struct {
	name, desc string
	namespaces []*namespace
	commands   []*command
}

// command is a leaf of the tree ("list", "add"). Its options drive parsing,
// type checking, the required check and the usage block, so no command
// writes any of those by hand.
type command struct {
	name, desc string
	opts       []option
	run        func(c *call) (*result, error)
}

// call is one invocation of a command: its parsed option values.
type call struct {
	ctx  context.Context
	path []string
	vals map[string]string // by long option name; present only when given
}

// ns builds a namespace from children: *namespace and *command values.
func ns(name, desc string, children ...any) *namespace {
	n := &namespace{name: name, desc: desc}
	for _, c := range children {
		switch x := c.(type) {
		case *namespace:
			n.namespaces = append(n.namespaces, x)
		case *command:
			n.commands = append(n.commands, x)
		default:
			panic("esxcli: namespace child must be *namespace or *command")
		}
	}
	return n
}

func (n *namespace) child(name string) (*namespace, *command) {
	for _, s := range n.namespaces {
		if s.name == name {
			return s, nil
		}
	}
	for _, c := range n.commands {
		if c.name == name {
			return nil, c
		}
	}
	return nil, nil
}

// helpPos is the column descriptions start at in every esxcli listing and
// usage block (VERIFIED in §0.3's usage block: optparse's help position).
const helpPos = 24

// writeItem writes "  <name><pad><desc>": the description at column 24, or
// on the next line at column 24 when the name is longer than 20 characters
// (VERIFIED rule, §0.3).
func writeItem(w *strings.Builder, name, desc string) {
	w.WriteString("  " + name)
	if len(name) > helpPos-4 {
		w.WriteString("\n" + strings.Repeat(" ", helpPos))
	} else {
		w.WriteString(strings.Repeat(" ", helpPos-2-len(name)))
	}
	w.WriteString(desc + "\n")
}

// globalHelp is esxcli's own usage (esxcli 8.x --help, §2.8: usage line,
// option names and the formatter sentence VERIFIED, layout optparse's).
const globalHelp = `Usage: esxcli [options] {namespace}+ {cmd} [cmd options]

Options:
  --formatter=FORMATTER
                        Override the formatter to use for a given command. Available formatters: xml, csv, keyvalue.
  --screen-width=SCREENWIDTH
                        Override the screen width for formatting output.
  --debug               Enable debug or internal use options.
  --log-verbose         Enable verbose logging for debugging.
  -?, --help            Display usage information.
`

// namespaceHelp is the listing `esxcli <ns>` and `esxcli <ns> --help` print:
// a usage line, then the sub-namespaces and the commands, each sorted by
// name. The top level adds esxcli's global options. Layout INFERRED from the
// 8.x help (§2.8) and 5.5-era listings: "Available Namespaces:" before
// "Available Commands:", a blank line between sections, names sorted.
func namespaceHelp(n *namespace, path []string) string {
	var b strings.Builder
	if len(path) == 0 {
		b.WriteString(globalHelp)
	} else {
		b.WriteString("Usage: esxcli " + strings.Join(path, " ") + " {cmd} [cmd options]\n")
	}
	if len(n.namespaces) > 0 {
		b.WriteString("\nAvailable Namespaces:\n")
		subs := slices.Clone(n.namespaces)
		slices.SortFunc(subs, func(a, b *namespace) int { return strings.Compare(a.name, b.name) })
		for _, s := range subs {
			writeItem(&b, s.name, s.desc)
		}
	}
	if len(n.commands) > 0 {
		b.WriteString("\nAvailable Commands:\n")
		cmds := slices.Clone(n.commands)
		slices.SortFunc(cmds, func(a, b *command) int { return strings.Compare(a.name, b.name) })
		for _, c := range cmds {
			writeItem(&b, c.name, c.desc)
		}
	}
	return b.String()
}

// usage is a command's usage block (VERIFIED shape, §0.3). "Description: "
// and "Cmd options: " keep their trailing space, as the reference's copy of
// the 8.x capture has it.
func (c *command) usage(path []string) string {
	var b strings.Builder
	b.WriteString("Usage: esxcli " + strings.Join(path, " ") + " [cmd options]\n\n")
	b.WriteString("Description: \n")
	writeItem(&b, c.name, c.desc)
	b.WriteString("\nCmd options: \n")
	for _, o := range c.sortedOpts() {
		help := o.help
		if o.required {
			help += " (required)"
		}
		writeItem(&b, o.spec(), help)
	}
	return b.String()
}

// sortedOpts returns the options in ASCII order of their long names, the
// order of the VERIFIED usage block (§0.3: --portgroup-name before
// --vlan-id) and of the vSphere CLI reference (INFERRED beyond that
// sample). The required check reports in the same order.
func (c *command) sortedOpts() []option {
	opts := slices.Clone(c.opts)
	slices.SortStableFunc(opts, func(a, b option) int { return strings.Compare(a.long, b.long) })
	return opts
}

// write sends s to w; output errors (a closed SSH channel) are not the
// command's business, as for any shell utility.
func write(w io.Writer, s string) { io.WriteString(w, s) }
