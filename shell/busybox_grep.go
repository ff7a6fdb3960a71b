package shell

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// grepper is one grep run.
type grepper struct {
	inv     *Invocation
	o       *opts
	re      *regexp.Regexp
	matchFn func(string) bool
	names   bool // prefix lines with the file name
	before  int
	after   int
	maxHits int
}

func grepCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "vcEFiwqnlLsxohHrRe:f:A:B:C:m:z", false)
	if !ok {
		return 2
	}
	switch appName(inv) {
	case "egrep":
		o.count['E']++
	case "fgrep":
		o.count['F']++
	}
	patterns := o.vals['e']
	for _, f := range o.vals['f'] {
		data, err := readInput(inv, f)
		if err != nil {
			errorf(inv, "%s: %s", f, ErrorText(err))
			return 2
		}
		patterns = append(patterns, splitLines(data)...)
	}
	args := o.args
	if !o.has('e') && !o.has('f') {
		if len(args) == 0 {
			return usageError(inv, "missing pattern") + 1
		}
		patterns, args = []string{args[0]}, args[1:]
	}
	g := &grepper{inv: inv, o: o}
	if !g.compile(patterns) {
		return 2
	}
	var err error
	num := func(c byte) int {
		v := o.last(c, "-1")
		n, perr := strconv.Atoi(v)
		if perr != nil {
			err = perr
			errorf(inv, "invalid number '%s'", v)
		}
		return n
	}
	ctxN := max(num('C'), 0)
	g.before, g.after = max(num('B'), ctxN), max(num('A'), ctxN)
	g.maxHits = num('m')
	if err != nil {
		return 2
	}
	recursive := o.has('r') || o.has('R')
	if recursive && len(args) == 0 {
		args = []string{"."}
	}
	files := operands(args)
	g.names = (len(files) > 1 || recursive) && !o.has('h') || o.has('H')
	matched, failed := false, false
	for _, name := range files {
		if ctx.Err() != nil {
			return 130
		}
		m, f := g.path(ctx, name, recursive)
		matched, failed = matched || m, failed || f
		if matched && o.has('q') {
			return 0
		}
	}
	switch {
	case failed && !(o.has('q') && matched):
		return 2
	case matched:
		return 0
	}
	return 1
}

// compile builds one regexp from all patterns.
func (g *grepper) compile(patterns []string) bool {
	var parts []string
	for _, p := range patterns {
		if g.o.has('F') {
			parts = append(parts, regexp.QuoteMeta(p))
			continue
		}
		t, err := translateRE(p, g.o.has('E'))
		if err != nil {
			errorf(g.inv, "bad regex '%s': %s", p, err)
			return false
		}
		parts = append(parts, "(?:"+t+")")
	}
	expr := strings.Join(parts, "|")
	if g.o.has('x') {
		expr = "^(?:" + expr + ")$"
	}
	if g.o.has('i') {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		errorf(g.inv, "bad regex '%s': %s", strings.Join(patterns, "\n"), err)
		return false
	}
	re.Longest()
	g.re = re
	g.matchFn = func(line string) bool { return len(g.matches(line)) > 0 }
	return true
}

// matches returns the spans that count as matches (whole words with -w).
func (g *grepper) matches(line string) [][]int {
	all := g.re.FindAllStringIndex(line, -1)
	if !g.o.has('w') {
		return all
	}
	var out [][]int
	for _, m := range all {
		if (m[0] == 0 || !isWordByte(line[m[0]-1])) && (m[1] == len(line) || !isWordByte(line[m[1]])) && m[1] > m[0] {
			out = append(out, m)
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// path greps a file, or with -r a directory tree.
func (g *grepper) path(ctx context.Context, name string, recursive bool) (matched, failed bool) {
	if name != "-" {
		fi, err := g.inv.FS.Stat(g.inv.Abs(name))
		if err != nil {
			if !g.o.has('s') {
				errorf(g.inv, "%s: %s", name, ErrorText(err))
			}
			return false, true
		}
		if fi.IsDir() {
			if !recursive {
				errorf(g.inv, "%s: Is a directory", name)
				return false, false
			}
			ents, err := g.inv.FS.ReadDir(g.inv.Abs(name))
			if err != nil {
				errorf(g.inv, "%s: %s", name, ErrorText(err))
				return false, true
			}
			for _, e := range ents {
				if ctx.Err() != nil {
					return matched, failed
				}
				m, f := g.path(ctx, strings.TrimSuffix(name, "/")+"/"+e.Name(), true)
				matched, failed = matched || m, failed || f
			}
			return matched, failed
		}
	}
	rc, err := openInput(g.inv, name)
	if err != nil {
		if !g.o.has('s') {
			errorf(g.inv, "%s: %s", name, ErrorText(err))
		}
		return false, true
	}
	defer rc.Close()
	return g.stream(ctxReader{ctx, rc}, displayName(name)), false
}

// stream greps one input line by line, so that `vmkping | grep` shows
// replies as they come.
func (g *grepper) stream(r io.Reader, name string) bool {
	o, w := g.o, g.inv.Stdout
	if g.maxHits == 0 {
		return false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var before []string // context lines kept for -B
	lineNo, hits, afterLeft, lastPrinted := 0, 0, 0, 0
	prefix := func(n int, sep string) string {
		p := ""
		if g.names {
			p = name + sep
		}
		if o.has('n') {
			p += strconv.Itoa(n) + sep
		}
		return p
	}
	quietOut := o.has('q') || o.has('l') || o.has('L') || o.has('c')
	for sc.Scan() {
		line := sc.Text()
		lineNo++
		selected := g.matchFn(line) != o.has('v')
		if !selected {
			if afterLeft > 0 && !quietOut {
				fmt.Fprintf(w, "%s%s\n", prefix(lineNo, "-"), line)
				lastPrinted = lineNo
				afterLeft--
			} else if g.before > 0 {
				before = append(before, line)
				if len(before) > g.before {
					before = before[1:]
				}
			}
			continue
		}
		hits++
		if o.has('q') {
			return true
		}
		if !quietOut {
			first := lineNo - len(before)
			if (g.before > 0 || g.after > 0) && lastPrinted > 0 && first > lastPrinted+1 {
				fmt.Fprintln(w, "--")
			}
			for i, b := range before {
				fmt.Fprintf(w, "%s%s\n", prefix(first+i, "-"), b)
			}
			before = before[:0]
			if o.has('o') && !o.has('v') {
				for _, m := range g.matches(line) {
					fmt.Fprintf(w, "%s%s\n", prefix(lineNo, ":"), line[m[0]:m[1]])
				}
			} else {
				fmt.Fprintf(w, "%s%s\n", prefix(lineNo, ":"), line)
			}
			lastPrinted = lineNo
			afterLeft = g.after
		}
		if g.maxHits >= 0 && hits >= g.maxHits {
			break
		}
	}
	switch {
	case o.has('c'):
		if g.names {
			fmt.Fprintf(w, "%s:", name)
		}
		fmt.Fprintln(w, hits)
	case o.has('l') && hits > 0:
		fmt.Fprintln(w, name)
	case o.has('L') && hits == 0:
		fmt.Fprintln(w, name)
	}
	return hits > 0
}
