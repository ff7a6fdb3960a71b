package shell

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// echoCmd is busybox echo: -n, -e and -E are options only when a word
// consists of those letters alone.
func echoCmd(_ context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	newline, escapes := true, false
	for len(args) > 0 {
		a := args[0]
		if len(a) < 2 || a[0] != '-' || strings.Trim(a[1:], "neE") != "" {
			break
		}
		for _, c := range a[1:] {
			switch c {
			case 'n':
				newline = false
			case 'e':
				escapes = true
			case 'E':
				escapes = false
			}
		}
		args = args[1:]
	}
	var sb strings.Builder
	for i, a := range args {
		if i > 0 {
			sb.WriteByte(' ')
		}
		if !escapes {
			sb.WriteString(a)
			continue
		}
		if unescape(&sb, a, true) {
			newline = false
			break
		}
	}
	if newline {
		sb.WriteByte('\n')
	}
	_, _ = io.WriteString(inv.Stdout, sb.String())
	return 0
}

// unescape writes s with backslash escapes interpreted and reports whether
// \c asked to stop all output. In echo mode octal escapes are \0NNN, in
// printf mode \NNN.
func unescape(sb *strings.Builder, s string, echoMode bool) (stop bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 'c':
			return true
		case 'e':
			sb.WriteByte(0x1b)
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'v':
			sb.WriteByte('\v')
		case '\\':
			sb.WriteByte('\\')
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				sb.WriteString(`\x`)
				continue
			}
			n, _ := strconv.ParseUint(s[i+1:j], 16, 8)
			sb.WriteByte(byte(n))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			start := i
			if echoMode {
				if c != '0' {
					sb.WriteByte('\\')
					sb.WriteByte(c)
					continue
				}
				start = i + 1
			}
			j := start
			for j < len(s) && j < start+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint("0"+s[start:j], 8, 16)
			sb.WriteByte(byte(n))
			i = j - 1
		default:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// printfCmd is busybox printf; the format is reused while arguments remain.
func printfCmd(_ context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return usageError(inv, "missing format")
	}
	p := &printer{inv: inv, format: args[0], args: args[1:]}
	for {
		used, stop := p.once()
		if stop || used == 0 || len(p.args) == 0 {
			break
		}
	}
	_, _ = io.WriteString(inv.Stdout, p.out.String())
	return p.status
}

type printer struct {
	inv    *Invocation
	format string
	args   []string
	out    strings.Builder
	status int
}

// maxWidth bounds field widths so that %999999999d cannot eat memory.
const maxWidth = 1 << 12

func (p *printer) next() (string, bool) {
	if len(p.args) == 0 {
		return "", false
	}
	a := p.args[0]
	p.args = p.args[1:]
	return a, true
}

// once formats the whole format string once and returns how many
// arguments it used and whether \c or an error ended output.
func (p *printer) once() (used int, stop bool) {
	before := len(p.args)
	f := p.format
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case c == '\\':
			j := i + 1
			for j < len(f) && j < i+4 && (f[j] >= '0' && f[j] <= '7') {
				j++
			}
			if j == i+1 {
				j = min(i+2, len(f))
				if j < len(f) && f[i+1] == 'x' {
					for j < len(f) && j < i+4 && isHex(f[j]) {
						j++
					}
				}
			}
			if unescape(&p.out, f[i:j], false) {
				return before - len(p.args), true
			}
			i = j - 1
		case c != '%':
			p.out.WriteByte(c)
		default:
			j, ok := p.directive(f, i)
			if !ok {
				return before - len(p.args), true
			}
			i = j
		}
	}
	return before - len(p.args), false
}

// directive formats the conversion starting at f[i] == '%' and returns the
// index of its last byte.
func (p *printer) directive(f string, i int) (int, bool) {
	j := i + 1
	spec := []byte{'%'}
	for j < len(f) && strings.IndexByte("-+ #0'", f[j]) >= 0 {
		if f[j] != '\'' {
			spec = append(spec, f[j])
		}
		j++
	}
	num := func() {
		if j < len(f) && f[j] == '*' {
			a, _ := p.next()
			n, _ := strconv.Atoi(a)
			spec = strconv.AppendInt(spec, int64(max(-maxWidth, min(n, maxWidth))), 10)
			j++
			return
		}
		k := j
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		if k < j {
			n, _ := strconv.Atoi(f[k:j])
			spec = strconv.AppendInt(spec, int64(min(n, maxWidth)), 10)
		}
	}
	num()
	if j < len(f) && f[j] == '.' {
		spec = append(spec, '.')
		j++
		num()
	}
	for j < len(f) && strings.IndexByte("hlLqjzt", f[j]) >= 0 {
		j++
	}
	if j >= len(f) {
		errorf(p.inv, "%s: invalid format", f[i:])
		p.status = 1
		return j, false
	}
	conv := f[j]
	switch conv {
	case '%':
		p.out.WriteByte('%')
	case 'b':
		a, _ := p.next()
		if unescape(&p.out, a, true) {
			return j, false
		}
	case 's':
		a, _ := p.next()
		fmt.Fprintf(&p.out, string(append(spec, 's')), a)
	case 'c':
		if a, _ := p.next(); a != "" {
			p.out.WriteByte(a[0])
		}
	case 'd', 'i':
		a, _ := p.next()
		fmt.Fprintf(&p.out, string(append(spec, 'd')), p.integer(a))
	case 'o', 'u', 'x', 'X':
		a, _ := p.next()
		if conv == 'u' {
			conv = 'd'
		}
		fmt.Fprintf(&p.out, string(append(spec, conv)), uint64(p.integer(a)))
	case 'f', 'F', 'e', 'E', 'g', 'G', 'a', 'A':
		a, _ := p.next()
		if conv == 'a' || conv == 'A' {
			conv = 'x' + conv - 'a'
		}
		if conv == 'F' {
			conv = 'f'
		}
		fmt.Fprintf(&p.out, string(append(spec, conv)), p.float(a))
	default:
		errorf(p.inv, "%s: invalid format", f[i:j+1])
		p.status = 1
		return j, false
	}
	return j, true
}

func (p *printer) integer(a string) int64 {
	a = strings.TrimSpace(a)
	if a == "" {
		return 0
	}
	if a[0] == '\'' || a[0] == '"' {
		if len(a) > 1 {
			return int64(a[1])
		}
		return 0
	}
	if n, err := strconv.ParseInt(a, 0, 64); err == nil {
		return n
	}
	if n, err := strconv.ParseUint(a, 0, 64); err == nil {
		return int64(n)
	}
	errorf(p.inv, "invalid number '%s'", a)
	p.status = 1
	return 0
}

func (p *printer) float(a string) float64 {
	a = strings.TrimSpace(a)
	if a == "" {
		return 0
	}
	if a[0] == '\'' || a[0] == '"' {
		if len(a) > 1 {
			return float64(a[1])
		}
		return 0
	}
	n, err := strconv.ParseFloat(a, 64)
	if err != nil {
		errorf(p.inv, "invalid number '%s'", a)
		p.status = 1
	}
	return n
}
