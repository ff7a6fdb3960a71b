package shell

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// sedInput yields lines with one line of look-ahead, so that $ is known
// without reading the whole stream first.
type sedInput struct {
	readers  []*bufio.Reader
	next     string
	nextNL   bool
	hasNext  bool
	lastNL   bool // whether the line just returned ended in a newline
	lineNo   int
	readErrs error
}

func newSedInput(rs []io.Reader) *sedInput {
	in := &sedInput{}
	for _, r := range rs {
		in.readers = append(in.readers, bufio.NewReader(r))
	}
	in.advance()
	return in
}

func (in *sedInput) advance() {
	for len(in.readers) > 0 {
		line, err := in.readers[0].ReadString('\n')
		if line != "" {
			in.next, in.nextNL, in.hasNext = strings.TrimSuffix(line, "\n"), strings.HasSuffix(line, "\n"), true
			return
		}
		if err != nil && err != io.EOF {
			in.readErrs = err
		}
		in.readers = in.readers[1:]
	}
	in.hasNext = false
}

func (in *sedInput) read() (string, bool) {
	if !in.hasNext {
		return "", false
	}
	line, nl := in.next, in.nextNL
	in.advance()
	in.lineNo++
	in.lastNL = nl
	return line, true
}

func (in *sedInput) isLast() bool { return !in.hasNext }

// sedRun executes a program over one input stream.
type sedRun struct {
	p      *sedProg
	inv    *Invocation
	in     *sedInput
	out    io.Writer
	quiet  bool
	hold   string
	wfiles map[string]*bytes.Buffer
	exit   int
	quit   bool
}

func (r *sedRun) match(a *sedAddr, ps string) bool {
	switch {
	case a.last:
		return r.in.isLast()
	case a.isRE:
		re := a.re
		if re == nil {
			re = r.p.lastRE
		}
		if re == nil {
			return false
		}
		r.p.lastRE = re
		return re.MatchString(ps)
	}
	return r.in.lineNo == a.line
}

func (r *sedRun) selected(in *sedInstr, ps string) bool {
	var sel bool
	switch {
	case in.a1 == nil:
		sel = true
	case in.a2 == nil:
		sel = r.match(in.a1, ps)
	case in.active:
		sel = true
		if in.a2.isRE || in.a2.last {
			in.active = !r.match(in.a2, ps)
		} else {
			in.active = r.in.lineNo < in.a2.line
		}
	case r.match(in.a1, ps):
		sel = true
		in.active = in.a2.isRE || in.a2.last && !r.in.isLast() || !in.a2.isRE && !in.a2.last && r.in.lineNo < in.a2.line
	}
	return sel != in.negate
}

func (r *sedRun) run(ctx context.Context) {
	ps, ok := r.in.read()
	for ok && !r.quit && ctx.Err() == nil {
		var appendQ []string
		tflag := false
		deleted, restart := false, false
		for pc := 0; pc < len(r.p.cmds) && !deleted && !r.quit; pc++ {
			in := r.p.cmds[pc]
			if in.cmd == '}' || in.cmd == ':' {
				continue
			}
			if !r.selected(in, ps) {
				if in.cmd == '{' {
					pc = in.target - 1
				}
				continue
			}
			switch in.cmd {
			case 's':
				var did bool
				ps, did = r.subst(in, ps)
				tflag = tflag || did
				if did && in.print {
					r.emit(ps)
				}
				if did && in.wfile != "" {
					r.wfile(in.wfile).WriteString(ps + "\n")
				}
			case 'd':
				deleted = true
			case 'D':
				if i := strings.IndexByte(ps, '\n'); i >= 0 {
					ps, deleted, restart = ps[i+1:], true, true
				} else {
					deleted = true
				}
			case 'p':
				r.emit(ps)
			case 'P':
				first, _, _ := strings.Cut(ps, "\n")
				r.emit(first)
			case 'n':
				if !r.quiet {
					r.emit(ps)
				}
				next, more := r.in.read()
				if !more {
					r.quit, deleted = true, true
					break
				}
				ps = next
			case 'N':
				next, more := r.in.read()
				if !more {
					r.quit = true
					pc = len(r.p.cmds)
					break
				}
				ps += "\n" + next
			case 'g':
				ps = r.hold
			case 'G':
				ps += "\n" + r.hold
			case 'h':
				r.hold = ps
			case 'H':
				r.hold += "\n" + ps
			case 'x':
				ps, r.hold = r.hold, ps
			case '=':
				fmt.Fprintf(r.out, "%d\n", r.in.lineNo)
			case 'l':
				r.emit(strconv.Quote(ps)[1:len(strconv.Quote(ps))-1] + "$")
			case 'z':
				ps = ""
			case 'a':
				appendQ = append(appendQ, in.text+"\n")
			case 'i':
				fmt.Fprintln(r.out, in.text)
			case 'c':
				if in.a2 == nil || !in.active {
					fmt.Fprintln(r.out, in.text)
				}
				deleted = true
			case 'r':
				if data, err := r.inv.FS.ReadFile(r.inv.Abs(in.text)); err == nil {
					appendQ = append(appendQ, string(data))
				}
			case 'w':
				r.wfile(in.text).WriteString(ps + "\n")
			case 'y':
				b := []byte(ps)
				for k, c := range b {
					if m, ok := in.ymap[c]; ok {
						b[k] = m
					}
				}
				ps = string(b)
			case 'b':
				pc = in.target - 1
			case 't':
				if tflag {
					tflag = false
					pc = in.target - 1
				}
			case 'T':
				if !tflag {
					pc = in.target - 1
				} else {
					tflag = false
				}
			case 'q':
				r.quit, r.exit = true, in.code
			case 'Q':
				r.quit, r.exit, deleted = true, in.code, true
			}
		}
		if !deleted && !r.quiet {
			r.emitLast(ps)
		}
		for _, a := range appendQ {
			fmt.Fprint(r.out, a)
		}
		if restart && !r.quit {
			continue
		}
		ps, ok = r.in.read()
	}
}

// emit prints a line of output.
func (r *sedRun) emit(s string) { fmt.Fprintln(r.out, s) }

// emitLast prints the pattern space at the end of a cycle, keeping a
// missing final newline missing, as GNU and busybox sed do.
func (r *sedRun) emitLast(s string) {
	if !r.in.lastNL && r.in.isLast() {
		fmt.Fprint(r.out, s)
		return
	}
	r.emit(s)
}

func (r *sedRun) wfile(name string) *bytes.Buffer {
	if b, ok := r.wfiles[name]; ok {
		return b
	}
	b := &bytes.Buffer{}
	r.wfiles[name] = b
	return b
}

func (r *sedRun) subst(in *sedInstr, ps string) (string, bool) {
	re := in.re
	if re == nil {
		re = r.p.lastRE
	}
	if re == nil {
		return ps, false
	}
	r.p.lastRE = re
	ms := re.FindAllStringSubmatchIndex(ps, -1)
	var sb strings.Builder
	prev, did := 0, false
	for k, m := range ms {
		if k+1 < in.nth || !in.global && k+1 > in.nth {
			continue
		}
		sb.WriteString(ps[prev:m[0]])
		expandRepl(&sb, in.repl, ps, m)
		prev, did = m[1], true
	}
	if !did {
		return ps, false
	}
	sb.WriteString(ps[prev:])
	return sb.String(), true
}

// expandRepl writes a replacement: & is the match, \1..\9 the groups.
func expandRepl(sb *strings.Builder, repl, s string, m []int) {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '&':
			sb.WriteString(s[m[0]:m[1]])
		case c == '\\' && i+1 < len(repl):
			i++
			d := repl[i]
			switch {
			case d >= '0' && d <= '9':
				if g := int(d - '0'); 2*g+1 < len(m) && m[2*g] >= 0 {
					sb.WriteString(s[m[2*g]:m[2*g+1]])
				}
			case d == 'n':
				sb.WriteByte('\n')
			case d == 't':
				sb.WriteByte('\t')
			default:
				sb.WriteByte(d)
			}
		default:
			sb.WriteByte(c)
		}
	}
}

func sedCmd(ctx context.Context, inv *Invocation) int {
	// -i takes an optional suffix glued to it, so it is taken out first.
	var args []string
	inPlace, suffix := false, ""
	for k, a := range inv.Args[1:] {
		if a == "--" {
			args = append(args, inv.Args[1+k:]...)
			break
		}
		if rest, ok := strings.CutPrefix(a, "-i"); ok {
			inPlace, suffix = true, rest
			continue
		}
		if a == "--in-place" {
			inPlace = true
			continue
		}
		args = append(args, a)
	}
	o, ok := parseOpts(inv, args, "nrEse:f:", false)
	if !ok {
		return 1
	}
	var parts []string
	parts = append(parts, o.vals['e']...)
	for _, f := range o.vals['f'] {
		data, err := readInput(inv, f)
		if err != nil {
			errorf(inv, "can't open '%s': %s", f, ErrorText(err))
			return 1
		}
		parts = append(parts, string(data))
	}
	files := o.args
	if len(parts) == 0 {
		if len(files) == 0 {
			return usageError(inv, "no script specified")
		}
		parts, files = files[:1], files[1:]
	}
	prog, err := parseSed(strings.Join(parts, "\n"), o.has('r') || o.has('E'))
	if err != nil {
		errorf(inv, "%s", err)
		return 1
	}
	newRun := func(in *sedInput, out io.Writer) *sedRun {
		return &sedRun{p: prog, inv: inv, in: in, out: out, quiet: o.has('n'), wfiles: map[string]*bytes.Buffer{}}
	}
	status := 0
	finish := func(r *sedRun) {
		for name, b := range r.wfiles {
			if err := inv.FS.WriteFile(inv.Abs(name), b.Bytes(), 0o644); err != nil {
				errorf(inv, "can't open '%s': %s", name, ErrorText(err))
				status = 4
			}
		}
		if r.exit != 0 {
			status = r.exit
		}
	}
	if inPlace {
		if len(files) == 0 {
			errorf(inv, "no input files")
			return 1
		}
		for _, name := range files {
			p := inv.Abs(name)
			data, err := readInput(inv, name)
			if err != nil {
				errorf(inv, "can't open '%s': %s", name, ErrorText(err))
				status = 1
				continue
			}
			var out bytes.Buffer
			r := newRun(newSedInput([]io.Reader{bytes.NewReader(data)}), &out)
			r.run(ctx)
			finish(r)
			if suffix != "" {
				_ = inv.FS.WriteFile(p+suffix, data, 0o644)
			}
			if err := inv.FS.WriteFile(p, out.Bytes(), 0o644); err != nil {
				errorf(inv, "can't create '%s': %s", name, ErrorText(err))
				status = 1
			}
		}
		return status
	}
	var readers []io.Reader
	for _, name := range operands(files) {
		rc, err := openInput(inv, name)
		if err != nil {
			errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			status = 2
			continue
		}
		defer rc.Close()
		readers = append(readers, ctxReader{ctx, rc})
	}
	r := newRun(newSedInput(readers), inv.Stdout)
	r.run(ctx)
	finish(r)
	if ctx.Err() != nil {
		return 130
	}
	return status
}
