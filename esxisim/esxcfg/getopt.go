package esxcfg

import (
	"fmt"
	"strings"
)

// The esxcfg-* tools are C programs parsing their argv with glibc's
// getopt_long: options and operands may be mixed (GNU permutation), short
// options cluster (-lN vmotion), long options take "=value" or the next
// word and may be abbreviated to any unique prefix, and "--" ends the
// options. Their diagnostics below are glibc's own wording, which is what a
// real host prints for a bad flag.

// option is one entry of a tool's option table.
type option struct {
	short byte   // 0 if the option has no short form
	long  string // canonical name; also the key in the parsed result
	arg   bool   // takes a required argument
}

// optval is one option occurrence, in command-line order.
type optval struct {
	name string // the option's long name
	val  string
}

// parsed is a command line split into options and operands.
type parsed struct {
	opts     []optval
	operands []string
}

// has reports whether the option was given.
func (p parsed) has(name string) bool {
	for _, o := range p.opts {
		if o.name == name {
			return true
		}
	}
	return false
}

// value returns the last value given for an option, as getopt loops leave
// it when an option is repeated.
func (p parsed) value(name string) (string, bool) {
	v, ok := "", false
	for _, o := range p.opts {
		if o.name == name {
			v, ok = o.val, true
		}
	}
	return v, ok
}

// getopt parses argv (without the program name) against spec.
func getopt(prog string, spec []option, argv []string) (parsed, error) {
	var p parsed
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			p.operands = append(p.operands, argv[i+1:]...)
			return p, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			o, err := lookupLong(prog, spec, name)
			if err != nil {
				return p, err
			}
			switch {
			case !o.arg && hasVal:
				return p, fmt.Errorf("%s: option '--%s' doesn't allow an argument", prog, o.long)
			case o.arg && !hasVal:
				if i+1 >= len(argv) {
					return p, fmt.Errorf("%s: option '--%s' requires an argument", prog, o.long)
				}
				i++
				val = argv[i]
			}
			p.opts = append(p.opts, optval{name: o.long, val: val})
		case len(a) > 1 && a[0] == '-':
			// A cluster of short options; an option taking an argument
			// consumes the rest of the word or the next word.
			for k := 1; k < len(a); k++ {
				o, ok := lookupShort(spec, a[k])
				if !ok {
					return p, fmt.Errorf("%s: invalid option -- '%s'", prog, printable(a[k]))
				}
				if !o.arg {
					p.opts = append(p.opts, optval{name: o.long})
					continue
				}
				val := a[k+1:]
				if val == "" {
					if i+1 >= len(argv) {
						return p, fmt.Errorf("%s: option requires an argument -- '%c'", prog, o.short)
					}
					i++
					val = argv[i]
				}
				p.opts = append(p.opts, optval{name: o.long, val: val})
				break
			}
		default:
			p.operands = append(p.operands, a)
		}
	}
	return p, nil
}

func lookupShort(spec []option, c byte) (option, bool) {
	for _, o := range spec {
		if o.short != 0 && o.short == c {
			return o, true
		}
	}
	return option{}, false
}

// lookupLong finds a long option by exact name or unique prefix.
func lookupLong(prog string, spec []option, name string) (option, error) {
	var cands []option
	for _, o := range spec {
		if o.long == name {
			return o, nil
		}
		if name != "" && strings.HasPrefix(o.long, name) {
			cands = append(cands, o)
		}
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		return option{}, fmt.Errorf("%s: unrecognized option '--%s'", prog, printableString(name))
	}
	var names []string
	for _, c := range cands {
		names = append(names, "'--"+c.long+"'")
	}
	return option{}, fmt.Errorf("%s: option '--%s' is ambiguous; possibilities: %s", prog, name, strings.Join(names, " "))
}

// printable keeps diagnostics on one line whatever bytes the user typed.
func printable(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("\\x%02x", c)
	}
	return string(c)
}

func printableString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString(printable(s[i]))
	}
	return b.String()
}
