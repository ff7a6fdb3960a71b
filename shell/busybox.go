package shell

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// busyboxBanner starts every usage message, as in busybox.
const busyboxBanner = "BusyBox v1.36.1 (2023-11-07 18:53:09 UTC) multi-call binary."

// utility is one busybox applet.
type utility struct {
	name  string
	usage string // after "Usage: name "
	run   func(ctx context.Context, inv *Invocation) int
}

// utilities lists the applets. It is a function, not a variable, because
// some applets (xargs, env, which) dispatch back through the session.
func utilities() []utility {
	return []utility{
		{"[", "EXPRESSION ]", testCmd},
		{"ash", "[-c 'SCRIPT' [ARG0 ARGS] | FILE [ARGS]]", shCmd},
		{"awk", "[OPTIONS] [AWK_PROGRAM] [FILE]...", awkCmd},
		{"basename", "FILE [SUFFIX]", basenameCmd},
		{"cat", "[-nb] [FILE]...", catCmd},
		{"cp", "[-rRfp] SOURCE... DEST", cpCmd},
		{"cut", "[OPTIONS] [FILE]...", cutCmd},
		{"date", "[OPTIONS] [+FMT]", dateCmd},
		{"dirname", "FILENAME", dirnameCmd},
		{"echo", "[-neE] [ARG]...", echoCmd},
		{"egrep", "[-1vcEFiwqnlsxoHh] [-e PTRN]... [FILE]...", grepCmd},
		{"env", "[-i] [-u NAME] [NAME=VALUE]... [PROG ARGS]", envCmd},
		{"false", "", func(context.Context, *Invocation) int { return 1 }},
		{"fgrep", "[-1vcEFiwqnlsxoHh] [-e PTRN]... [FILE]...", grepCmd},
		{"grep", "[-1vcEFiwqnlsxoHh] [-e PTRN]... [-f FILE] [FILE]...", grepCmd},
		{"head", "[OPTIONS] [FILE]...", headCmd},
		{"hostname", "[-s] [HOSTNAME]", hostnameCmd},
		{"ln", "[-sf] TARGET LINK", lnCmd},
		{"ls", "[-1aAdl] [FILE]...", lsCmd},
		{"mkdir", "[-m MODE] [-p] DIRECTORY...", mkdirCmd},
		{"mv", "[-f] SOURCE... DEST", mvCmd},
		{"printf", "FORMAT [ARG]...", printfCmd},
		{"pwd", "[-P]", pwdApplet},
		{"readlink", "[-f] FILE", readlinkCmd},
		{"rm", "[-irf] FILE...", rmCmd},
		{"rmdir", "[-p] DIRECTORY...", rmdirCmd},
		{"sed", "[-i[SFX]] [-nrE] [-f FILE]... [-e CMD]... [FILE]...", sedCmd},
		{"sh", "[-c 'SCRIPT' [ARG0 ARGS] | FILE [ARGS]]", shCmd},
		{"sleep", "[N]...", sleepCmd},
		{"sort", "[-nrugMcszbdfiokt] [-o FILE] [-k START[.OFS][OPTS][,END[.OFS][OPTS]] [-t CHAR] [FILE]...", sortCmd},
		{"tail", "[OPTIONS] [FILE]...", tailCmd},
		{"tee", "[-a] [FILE]...", teeCmd},
		{"test", "EXPRESSION", testCmd},
		{"touch", "[-c] FILE...", touchCmd},
		{"tr", "[-cds] STRING1 [STRING2]", trCmd},
		{"true", "", func(context.Context, *Invocation) int { return 0 }},
		{"uname", "[-amnrspvio]", unameCmd},
		{"uniq", "[-cdu][-f,s,w N] [INPUT [OUTPUT]]", uniqCmd},
		{"wc", "[-cmlwL] [FILE]...", wcCmd},
		{"which", "[COMMAND]...", whichCmd},
		{"xargs", "[OPTIONS] [PROG ARGS]", xargsCmd},
	}
}

// RegisterBusybox registers the busybox applets at /bin/<name>.
func RegisterBusybox(r *Registry) {
	for _, u := range utilities() {
		r.Register("/bin/"+u.name, u.run)
	}
}

// BusyboxNames lists the applets RegisterBusybox registers.
func BusyboxNames() []string {
	var names []string
	for _, u := range utilities() {
		names = append(names, u.name)
	}
	sort.Strings(names)
	return names
}

func usageOf(name string) string {
	for _, u := range utilities() {
		if u.name == name {
			return u.usage
		}
	}
	return ""
}

// appName is the applet name busybox uses in messages: the base of argv[0].
func appName(inv *Invocation) string {
	name := inv.Args[0]
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// errorf prints "applet: message" on stderr.
func errorf(inv *Invocation, format string, args ...any) {
	fmt.Fprintf(inv.Stderr, "%s: %s\n", appName(inv), fmt.Sprintf(format, args...))
}

// usageError prints busybox's complaint about a bad option and the usage.
func usageError(inv *Invocation, msg string) int {
	name := appName(inv)
	fmt.Fprintf(inv.Stderr, "%s: %s\n%s\n\nUsage: %s %s\n", name, msg, busyboxBanner, name, usageOf(name))
	return 1
}

// opts is the result of parseOpts.
type opts struct {
	count map[byte]int      // how often each flag was given
	vals  map[byte][]string // arguments of flags that take one
	args  []string          // operands
}

func (o *opts) has(c byte) bool { return o.count[c] > 0 }

// last returns the last argument given to flag c, or def.
func (o *opts) last(c byte, def string) string {
	if v := o.vals[c]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

// parseOpts parses getopt-style options: spec lists the flags, a ':' after
// a flag means it takes an argument ("n:" for -n 5, -n5). Options and
// operands may be mixed as with GNU getopt unless stopAtOperand is set;
// "--" ends the options. On a bad option it prints busybox's usage and
// returns false.
func parseOpts(inv *Invocation, args []string, spec string, stopAtOperand bool) (*opts, bool) {
	o := &opts{count: map[byte]int{}, vals: map[byte][]string{}}
	takesArg := func(c byte) (known, arg bool) {
		i := strings.IndexByte(spec, c)
		if i < 0 || c == ':' {
			return false, false
		}
		return true, i+1 < len(spec) && spec[i+1] == ':'
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.args = append(o.args, args[i+1:]...)
			return o, true
		case strings.HasPrefix(a, "--"):
			usageError(inv, fmt.Sprintf("unrecognized option '%s'", a))
			return nil, false
		case len(a) < 2 || a[0] != '-':
			if stopAtOperand {
				o.args = append(o.args, args[i:]...)
				return o, true
			}
			o.args = append(o.args, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			known, arg := takesArg(c)
			if !known {
				r, _ := utf8.DecodeRuneInString(a[j:])
				usageError(inv, fmt.Sprintf("invalid option -- '%c'", r))
				return nil, false
			}
			o.count[c]++
			if !arg {
				continue
			}
			val := a[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					usageError(inv, fmt.Sprintf("option requires an argument -- '%c'", c))
					return nil, false
				}
				i++
				val = args[i]
			}
			o.vals[c] = append(o.vals[c], val)
			break
		}
	}
	return o, true
}

// nopCloser wraps standard input, which a command must not close.
type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

// openInput opens an operand for reading: "-" is standard input.
func openInput(inv *Invocation, name string) (io.ReadCloser, error) {
	if name == "-" {
		return nopCloser{inv.Stdin}, nil
	}
	p := inv.Abs(name)
	fi, err := inv.FS.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, pathErr("read", name, errIsDir)
	}
	return inv.FS.Open(p)
}

// readInput returns the whole of an operand.
func readInput(inv *Invocation, name string) ([]byte, error) {
	rc, err := openInput(inv, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// operands returns args, or "-" (standard input) when there are none.
func operands(args []string) []string {
	if len(args) == 0 {
		return []string{"-"}
	}
	return args
}

// splitLines splits data into lines without their newlines; a last line
// without a newline still counts.
func splitLines(data []byte) []string {
	s := string(data)
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

// ctxReader makes reads fail once ctx is done, so that a command reading a
// slow or endless stream stops on Ctrl-C between chunks.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
