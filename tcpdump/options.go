package tcpdump

import (
	"fmt"
	"strconv"
	"strings"
)

// options is one tcpdump command line.
type options struct {
	help, version, listDevices bool
	iface                      string
	count                      int
	link                       bool // -e
	numeric                    int  // -n, -nn
	verbose                    int
	snaplen                    int
	absSeq                     bool // -S
	noChecksum                 bool // -K
	noPromisc                  bool // -p
	tflag                      int
	number                     bool // -# / --number
	direction                  string
	readFile, writeFile        string
	expr                       []string
}

// maxSnaplen is tcpdump 4.9's MAXIMUM_SNAPLEN, the default.
const maxSnaplen = 262144

// usageError is a command line getopt or tcpdump refuses: the message,
// then (if usage is set) the usage text, exit 1.
type usageError struct {
	msg   string
	usage bool
}

func (e *usageError) Error() string { return e.msg }

// Short options: tcpdump 4.9's SHORTOPTS with the libpcap features both
// builds have. Letters followed by ':' take an argument.
const shortOpts = "aAbB:c:C:dDeE:fF:G:hHi:IjJKlLm:M:nNOpqQ:r:s:StT:uUvV:w:W:xXy:Yz:Z:#"

var longOpts = []struct {
	name string
	arg  bool
	opt  string // the short letter, or the long name itself
}{
	{"buffer-size", true, "B"}, {"list-interfaces", false, "D"}, {"help", false, "h"},
	{"interface", true, "i"}, {"monitor-mode", false, "I"}, {"time-stamp-type", true, "j"},
	{"list-time-stamp-types", false, "J"}, {"time-stamp-precision", true, "time-stamp-precision"},
	{"dont-verify-checksums", false, "K"}, {"list-data-link-types", false, "L"},
	{"no-optimize", false, "O"}, {"no-promiscuous-mode", false, "p"}, {"direction", true, "Q"},
	{"snapshot-length", true, "s"}, {"absolute-tcp-sequence-numbers", false, "S"},
	{"packet-buffered", false, "U"}, {"linktype", true, "y"}, {"immediate-mode", false, "immediate-mode"},
	{"debug-filter-parser", false, "Y"}, {"relinquish-privileges", true, "Z"}, {"number", false, "#"},
	{"version", false, "version"},
}

// parseOptions reads argv (without argv[0]) as glibc's getopt_long does:
// options may follow the expression's words (they are permuted to the
// front), clusters and attached arguments work, "--" ends the options.
func parseOptions(argv0, prog string, argv []string) (options, error) {
	o := options{snaplen: maxSnaplen}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			o.expr = append(o.expr, argv[i+1:]...)
			return o, nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			var match []int
			for k, l := range longOpts {
				if l.name == name {
					match = []int{k}
					break
				}
				if strings.HasPrefix(l.name, name) {
					match = append(match, k)
				}
			}
			switch {
			case len(match) == 0:
				return o, &usageError{fmt.Sprintf("%s: unrecognized option '%s'", argv0, a), true}
			case len(match) > 1:
				return o, &usageError{fmt.Sprintf("%s: option '%s' is ambiguous", argv0, a), true}
			}
			l := longOpts[match[0]]
			switch {
			case l.arg && !hasVal:
				if i+1 >= len(argv) {
					return o, &usageError{fmt.Sprintf("%s: option '--%s' requires an argument", argv0, l.name), true}
				}
				i++
				val = argv[i]
			case !l.arg && hasVal:
				return o, &usageError{fmt.Sprintf("%s: option '--%s' doesn't allow an argument", argv0, l.name), true}
			}
			if err := o.set(prog, l.opt, val); err != nil {
				return o, err
			}
		case len(a) > 1 && a[0] == '-':
			for k := 1; k < len(a); k++ {
				c := a[k]
				pos := strings.IndexByte(shortOpts, c)
				if pos < 0 || c == ':' {
					return o, &usageError{fmt.Sprintf("%s: invalid option -- '%s'", argv0, printable(string(c))), true}
				}
				var val string
				if pos+1 < len(shortOpts) && shortOpts[pos+1] == ':' {
					val = a[k+1:]
					if val == "" {
						if i+1 >= len(argv) {
							return o, &usageError{fmt.Sprintf("%s: option requires an argument -- '%c'", argv0, c), true}
						}
						i++
						val = argv[i]
					}
					k = len(a)
				}
				if err := o.set(prog, string(c), val); err != nil {
					return o, err
				}
			}
		default:
			o.expr = append(o.expr, a)
		}
	}
	return o, nil
}

// set applies one option; the messages are tcpdump's error() texts.
func (o *options) set(prog, opt, val string) error {
	fail := func(format string, args ...any) error {
		return &usageError{msg: prog + ": " + fmt.Sprintf(format, args...)}
	}
	switch opt {
	case "h":
		o.help = true
	case "version":
		o.version = true
	case "D":
		o.listDevices = true
	case "i":
		o.iface = val
	case "c":
		n := atoi(val)
		if n <= 0 {
			return fail("invalid packet count %s", val)
		}
		o.count = n
	case "e":
		o.link = true
	case "n":
		o.numeric++
	case "v":
		o.verbose++
	case "s":
		n, err := strconv.ParseInt(val, 0, 64)
		if err != nil || n < 0 || n > maxSnaplen {
			return fail("invalid snaplen %s", val)
		}
		if n == 0 {
			n = maxSnaplen
		}
		o.snaplen = int(n)
	case "S":
		o.absSeq = true
	case "K":
		o.noChecksum = true
	case "p":
		o.noPromisc = true
	case "t":
		o.tflag++
	case "#":
		o.number = true
	case "Q":
		switch strings.ToLower(val) {
		case "in", "out", "inout":
			o.direction = strings.ToLower(val)
		default:
			return fail("unknown capture direction `%s'", val)
		}
	case "r":
		o.readFile = val
	case "w":
		o.writeFile = val
	case "l", "U", "immediate-mode", "O":
		// Output is written as it comes, always: line buffering,
		// packet-buffered files and immediate mode change nothing here;
		// the filter is not compiled to BPF, so not optimised either.
	default:
		name := "-" + opt
		if len(opt) > 1 {
			name = "--" + opt
		}
		return fail("option %s is not supported by this emulator", name)
	}
	return nil
}

// atoi is C's: leading blanks, a sign, digits; the rest is ignored.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && isDigit(s[i]); i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			n = 1 << 31
		}
	}
	if neg {
		return -n
	}
	return n
}

// printable keeps a diagnostic on one line whatever bytes were typed.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// usageText is tcpdump 4.9's print_usage after the version lines.
func usageText(prog string) string {
	return "Usage: " + prog + " [-aAbdDefhHIJKlLnNOpqStuUvxX#] [ -B size ] [ -c count ]\n" +
		"\t\t[ -C file_size ] [ -E algo:secret ] [ -F file ] [ -G seconds ]\n" +
		"\t\t[ -i interface ] [ -j tstamptype ] [ -M secret ] [ --number ]\n" +
		"\t\t[ -Q in|out|inout ]\n" +
		"\t\t[ -r file ] [ -s snaplen ] [ --time-stamp-precision precision ]\n" +
		"\t\t[ --immediate-mode ] [ -T type ] [ --version ] [ -V file ]\n" +
		"\t\t[ -w file ] [ -W filecount ] [ -y datalinktype ] [ -z postrotate-command ]\n" +
		"\t\t[ -Z user ] [ expression ]\n"
}
