package shell

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
)

// fieldRange is one element of a cut list; end 0 means "to the end".
type fieldRange struct{ start, end int }

func parseList(s string) ([]fieldRange, bool) {
	var out []fieldRange
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		r := fieldRange{start: 1}
		var err error
		if a != "" {
			if r.start, err = strconv.Atoi(a); err != nil || r.start < 1 {
				return nil, false
			}
		}
		switch {
		case !isRange:
			r.end = r.start
		case b != "":
			if r.end, err = strconv.Atoi(b); err != nil || r.end < r.start {
				return nil, false
			}
		case a == "":
			return nil, false
		}
		out = append(out, r)
	}
	return out, len(out) > 0
}

func inList(list []fieldRange, i int) bool {
	for _, r := range list {
		if i >= r.start && (r.end == 0 || i <= r.end) {
			return true
		}
	}
	return false
}

func cutCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "d:f:c:b:sn", false)
	if !ok {
		return 1
	}
	var spec string
	mode := byte(0)
	for _, m := range []byte("fcb") {
		if o.has(m) {
			if mode != 0 {
				errorf(inv, "only one type of list may be specified")
				return 1
			}
			mode, spec = m, o.last(m, "")
		}
	}
	if mode == 0 {
		errorf(inv, "expected a list of bytes, characters, or fields")
		return 1
	}
	list, ok := parseList(spec)
	if !ok {
		errorf(inv, "invalid range '%s'", spec)
		return 1
	}
	delim := o.last('d', "\t")
	if len(delim) != 1 && mode == 'f' {
		errorf(inv, "the delimiter must be a single character")
		return 1
	}
	status := 0
	var w bytes.Buffer
	for _, name := range operands(o.args) {
		data, err := readInput(inv, name)
		if err != nil {
			errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			status = 1
			continue
		}
		for _, line := range splitLines(data) {
			if mode != 'f' {
				for i := 0; i < len(line); i++ {
					if inList(list, i+1) {
						w.WriteByte(line[i])
					}
				}
				w.WriteByte('\n')
				continue
			}
			if !strings.Contains(line, delim) {
				if !o.has('s') {
					w.WriteString(line + "\n")
				}
				continue
			}
			var kept []string
			for i, f := range strings.Split(line, delim) {
				if inList(list, i+1) {
					kept = append(kept, f)
				}
			}
			w.WriteString(strings.Join(kept, delim) + "\n")
		}
	}
	_, _ = inv.Stdout.Write(w.Bytes())
	return status
}

// trSet expands a tr set: ranges, escapes and [:classes:].
func trSet(s string) []byte {
	var raw []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '[' && i+1 < len(s) && s[i+1] == ':' {
			if end := strings.Index(s[i+2:], ":]"); end >= 0 {
				if class, ok := trClass(s[i+2 : i+2+end]); ok {
					raw = append(raw, class...)
					i += end + 3
					continue
				}
			}
		}
		if c == '\\' && i+1 < len(s) {
			var sb strings.Builder
			j := i + 2
			for j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7' && s[i+1] >= '0' && s[i+1] <= '7' {
				j++
			}
			unescape(&sb, s[i:j], false)
			b := sb.String()
			if i+2 < len(s) && s[i+2] == '-' && i+3 < len(s) && len(b) == 1 {
				raw = append(raw, trRange(b[0], s[i+3])...)
				i = j + 1
				continue
			}
			raw = append(raw, b...)
			i = j - 1
			continue
		}
		if i+2 < len(s) && s[i+1] == '-' {
			raw = append(raw, trRange(c, s[i+2])...)
			i += 2
			continue
		}
		raw = append(raw, c)
	}
	return raw
}

func trRange(a, b byte) []byte {
	var out []byte
	for c := int(a); c <= int(b); c++ {
		out = append(out, byte(c))
	}
	return out
}

func trClass(name string) ([]byte, bool) {
	var test func(c byte) bool
	switch name {
	case "alpha":
		test = func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	case "digit":
		test = func(c byte) bool { return c >= '0' && c <= '9' }
	case "alnum":
		test = func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	case "upper":
		test = func(c byte) bool { return c >= 'A' && c <= 'Z' }
	case "lower":
		test = func(c byte) bool { return c >= 'a' && c <= 'z' }
	case "space":
		test = func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }
	case "blank":
		test = func(c byte) bool { return c == ' ' || c == '\t' }
	case "punct":
		test = func(c byte) bool {
			return c > ' ' && c < 0x7f && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
		}
	case "print":
		test = func(c byte) bool { return c >= ' ' && c < 0x7f }
	case "graph":
		test = func(c byte) bool { return c > ' ' && c < 0x7f }
	case "cntrl":
		test = func(c byte) bool { return c < ' ' || c == 0x7f }
	case "xdigit":
		test = isHex
	default:
		return nil, false
	}
	var out []byte
	for c := 0; c < 256; c++ {
		if test(byte(c)) {
			out = append(out, byte(c))
		}
	}
	return out, true
}

func trCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "cdsCt", false)
	if !ok {
		return 1
	}
	del, squeeze, complement := o.has('d'), o.has('s'), o.has('c') || o.has('C')
	need := 2
	if del || squeeze && len(o.args) == 1 {
		need = 1
	}
	if len(o.args) < need {
		return usageError(inv, "missing operand")
	}
	set1 := trSet(o.args[0])
	var set2 []byte
	if len(o.args) > 1 {
		set2 = trSet(o.args[1])
	}
	var in1 [256]bool
	for _, c := range set1 {
		in1[c] = true
	}
	if complement {
		for i := range in1 {
			in1[i] = !in1[i]
		}
	}
	var mapping [256]int
	for i := range mapping {
		mapping[i] = i
	}
	translate := !del && len(set2) > 0
	if translate {
		src := set1
		if complement {
			src = nil
			for c := 0; c < 256; c++ {
				if in1[c] {
					src = append(src, byte(c))
				}
			}
		}
		for i, c := range src {
			mapping[c] = int(set2[min(i, len(set2)-1)])
		}
	}
	var squeezeSet [256]bool
	switch {
	case squeeze && (translate || del) && len(set2) > 0:
		for _, c := range set2 {
			squeezeSet[c] = true
		}
	case squeeze:
		squeezeSet = in1
	}
	data, err := io.ReadAll(ctxReader{ctx, inv.Stdin})
	if err != nil {
		return 130
	}
	out := make([]byte, 0, len(data))
	last := -1
	for _, c := range data {
		if del && in1[c] {
			continue
		}
		m := mapping[c]
		if squeeze && squeezeSet[m] && m == last {
			continue
		}
		out = append(out, byte(m))
		last = m
	}
	_, _ = inv.Stdout.Write(out)
	return 0
}
