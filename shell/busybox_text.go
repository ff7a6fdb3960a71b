package shell

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func isDirErr(err error) bool {
	pe, ok := err.(interface{ Unwrap() error })
	return ok && pe.Unwrap() == errIsDir
}

func wcCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "lwcmL", false)
	if !ok {
		return 1
	}
	kinds := []byte{}
	for _, k := range []byte("lwcmL") {
		if o.has(k) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		kinds = []byte("lwc")
	}
	files := o.args
	status := 0
	totals := map[byte]int{}
	print := func(counts map[byte]int, name string) {
		var parts []string
		for _, k := range kinds {
			// One count of one input is printed bare, as busybox does.
			if len(kinds) == 1 && len(files) <= 1 {
				parts = append(parts, strconv.Itoa(counts[k]))
			} else {
				parts = append(parts, fmt.Sprintf("%9d", counts[k]))
			}
		}
		if name != "" {
			parts = append(parts, name)
		}
		fmt.Fprintln(inv.Stdout, strings.Join(parts, " "))
	}
	for _, name := range operands(files) {
		rc, err := openInput(inv, name)
		if err != nil {
			errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			status = 1
			continue
		}
		data, err := io.ReadAll(ctxReader{ctx, rc})
		rc.Close()
		if err != nil {
			return 130
		}
		counts := map[byte]int{
			'l': bytes.Count(data, []byte("\n")),
			'w': len(bytes.Fields(data)),
			'c': len(data),
			'm': len([]rune(string(data))),
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			counts['L'] = max(counts['L'], len(l))
		}
		for k, v := range counts {
			if k == 'L' {
				totals[k] = max(totals[k], v)
			} else {
				totals[k] += v
			}
		}
		if name == "-" && len(files) == 0 {
			name = ""
		}
		print(counts, name)
	}
	if len(files) > 1 {
		print(totals, "total")
	}
	return status
}

func uniqCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "cduif:s:w:", false)
	if !ok {
		return 1
	}
	num := func(c byte) (int, bool) {
		v := o.last(c, "0")
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errorf(inv, "invalid number '%s'", v)
			return 0, false
		}
		return n, true
	}
	skipFields, ok1 := num('f')
	skipChars, ok2 := num('s')
	width, ok3 := num('w')
	if !ok1 || !ok2 || !ok3 {
		return 1
	}
	if len(o.args) > 2 {
		return usageError(inv, "extra operand")
	}
	in := "-"
	if len(o.args) > 0 {
		in = o.args[0]
	}
	data, err := readInput(inv, in)
	if err != nil {
		errorf(inv, "can't open '%s': %s", in, ErrorText(err))
		return 1
	}
	out := inv.Stdout
	if len(o.args) == 2 {
		f, err := inv.FS.OpenFile(inv.Abs(o.args[1]), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			errorf(inv, "can't open '%s': %s", o.args[1], ErrorText(err))
			return 1
		}
		defer f.Close()
		out = f
	}
	key := func(line string) string {
		s := line
		for range skipFields {
			s = strings.TrimLeft(s, " \t")
			if i := strings.IndexAny(s, " \t"); i >= 0 {
				s = s[i:]
			} else {
				s = ""
			}
		}
		s = s[min(skipChars, len(s)):]
		if width > 0 {
			s = s[:min(width, len(s))]
		}
		if o.has('i') {
			s = strings.ToLower(s)
		}
		return s
	}
	lines := splitLines(data)
	var w bytes.Buffer
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && key(lines[j]) == key(lines[i]) {
			j++
		}
		count := j - i
		if (!o.has('d') || count > 1) && (!o.has('u') || count == 1) {
			if o.has('c') {
				fmt.Fprintf(&w, "%7d %s\n", count, lines[i])
			} else {
				fmt.Fprintln(&w, lines[i])
			}
		}
		i = j
	}
	_, _ = out.Write(w.Bytes())
	return 0
}
