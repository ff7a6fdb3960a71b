package shell

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"strings"
)

// sortKey is one -k POS1[,POS2] with its own ordering flags.
type sortKey struct {
	f1, c1, f2, c2 int // fields 1-based; c2 == 0 means end of field
	flags          string
}

type sorter struct {
	keys   []sortKey
	global string // n r f b g u from the command line
	sep    string // -t, or "" for blank-separated fields
}

func sortCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "nrufbgsMhck:t:o:", false)
	if !ok {
		return 1
	}
	s := &sorter{sep: o.last('t', "")}
	if len(s.sep) > 1 {
		errorf(inv, "bad -t parameter")
		return 1
	}
	for _, f := range "nrfbgMh" {
		if o.has(byte(f)) {
			s.global += string(f)
		}
	}
	for _, k := range o.vals['k'] {
		key, ok := parseSortKey(k)
		if !ok {
			errorf(inv, "invalid key '%s'", k)
			return 1
		}
		s.keys = append(s.keys, key)
	}
	var lines []string
	status := 0
	for _, name := range operands(o.args) {
		data, err := readInput(inv, name)
		if err != nil {
			errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			return 2
		}
		lines = append(lines, splitLines(data)...)
	}
	less := func(i, j int) bool { return s.compare(lines[i], lines[j]) < 0 }
	if o.has('c') {
		for i := 1; i < len(lines); i++ {
			if s.compare(lines[i-1], lines[i]) > 0 {
				errorf(inv, "-:%d: disorder: %s", i+1, lines[i])
				return 1
			}
		}
		return 0
	}
	if o.has('s') || len(s.keys) > 0 && o.has('u') {
		sort.SliceStable(lines, less)
	} else {
		sort.SliceStable(lines, func(i, j int) bool {
			c := s.compare(lines[i], lines[j])
			if c == 0 && !o.has('u') {
				c = strings.Compare(lines[i], lines[j]) * s.sign("")
			}
			return c < 0
		})
	}
	var w bytes.Buffer
	for i, l := range lines {
		if o.has('u') && i > 0 && s.compare(lines[i-1], l) == 0 {
			continue
		}
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if out := o.last('o', ""); out != "" {
		if err := inv.FS.WriteFile(inv.Abs(out), w.Bytes(), 0o644); err != nil {
			errorf(inv, "can't open '%s': %s", out, ErrorText(err))
			return 2
		}
		return status
	}
	_, _ = inv.Stdout.Write(w.Bytes())
	return status
}

// parseSortKey parses POS1[,POS2] where POS is F[.C][flags].
func parseSortKey(k string) (sortKey, bool) {
	var key sortKey
	pos := func(p string) (f, c int, flags string, ok bool) {
		i := 0
		for i < len(p) && (p[i] >= '0' && p[i] <= '9' || p[i] == '.') {
			i++
		}
		num, flags := p[:i], p[i:]
		fs, cs, hasC := strings.Cut(num, ".")
		var err error
		if f, err = strconv.Atoi(fs); err != nil || f < 1 {
			return 0, 0, "", false
		}
		if hasC {
			if c, err = strconv.Atoi(cs); err != nil || c < 0 {
				return 0, 0, "", false
			}
		}
		return f, c, flags, strings.Trim(flags, "nrfbgMh") == ""
	}
	a, b, hasEnd := strings.Cut(k, ",")
	var ok bool
	var flags string
	if key.f1, key.c1, flags, ok = pos(a); !ok {
		return key, false
	}
	key.flags = flags
	if hasEnd {
		if key.f2, key.c2, flags, ok = pos(b); !ok {
			return key, false
		}
		key.flags += flags
	}
	return key, true
}

// fields splits a line as sort does: at -t, or before each run of blanks
// (so that leading blanks belong to the field, as POSIX says).
func (s *sorter) fields(line string) []string {
	if s.sep != "" {
		return strings.SplitAfter(line, s.sep)
	}
	var out []string
	start := 0
	for i := 1; i < len(line); i++ {
		if (line[i] == ' ' || line[i] == '\t') && line[i-1] != ' ' && line[i-1] != '\t' {
			out = append(out, line[start:i])
			start = i
		}
	}
	return append(out, line[start:])
}

func (s *sorter) extract(line string, k sortKey) string {
	fs := s.fields(line)
	if k.f1 > len(fs) {
		return ""
	}
	var sb strings.Builder
	last := len(fs)
	if k.f2 > 0 {
		last = min(k.f2, len(fs))
	}
	for i := k.f1; i <= last; i++ {
		f := fs[i-1]
		if s.sep != "" && i < len(fs) && (i == last) {
			f = strings.TrimSuffix(f, s.sep)
		}
		if i == k.f1 && k.c1 > 0 {
			if strings.Contains(k.flags+s.global, "b") {
				f = strings.TrimLeft(f, " \t")
			}
			f = f[min(k.c1-1, len(f)):]
		}
		if i == k.f2 && k.c2 > 0 {
			f = f[:min(k.c2, len(f))]
		}
		sb.WriteString(f)
	}
	return sb.String()
}

func (s *sorter) sign(flags string) int {
	if strings.Contains(flags, "r") || flags == "" && strings.Contains(s.global, "r") {
		return -1
	}
	return 1
}

func (s *sorter) compare(a, b string) int {
	if len(s.keys) == 0 {
		return s.compareWith(a, b, s.global)
	}
	for _, k := range s.keys {
		flags := k.flags
		if flags == "" {
			flags = s.global
		}
		if c := s.compareWith(s.extract(a, k), s.extract(b, k), flags); c != 0 {
			return c
		}
	}
	return 0
}

func (s *sorter) compareWith(a, b, flags string) int {
	sign := 1
	if strings.Contains(flags, "r") {
		sign = -1
	}
	if strings.Contains(flags, "b") {
		a, b = strings.TrimLeft(a, " \t"), strings.TrimLeft(b, " \t")
	}
	if strings.ContainsAny(flags, "ngh") {
		na, nb := leadingNumber(a), leadingNumber(b)
		switch {
		case na < nb:
			return -sign
		case na > nb:
			return sign
		}
		return 0
	}
	if strings.Contains(flags, "f") {
		a, b = strings.ToUpper(a), strings.ToUpper(b)
	}
	return strings.Compare(a, b) * sign
}

// leadingNumber reads the number a line starts with, 0 when there is none.
func leadingNumber(s string) float64 {
	s = strings.TrimLeft(s, " \t")
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	for ; i > 0; i-- {
		if f, err := strconv.ParseFloat(s[:i], 64); err == nil {
			return f
		}
	}
	return 0
}
