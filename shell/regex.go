package shell

import (
	"errors"
	"regexp"
	"strings"
)

var errBackref = errors.New("back-references are not supported")

// compileRE compiles a POSIX regular expression (basic unless extended)
// into a Go regexp with POSIX leftmost-longest matching.
func compileRE(pat string, extended, icase bool) (*regexp.Regexp, error) {
	goPat, err := translateRE(pat, extended)
	if err != nil {
		return nil, err
	}
	if icase {
		goPat = "(?i)" + goPat
	}
	re, err := regexp.Compile(goPat)
	if err != nil {
		return nil, err
	}
	re.Longest()
	return re, nil
}

// translateRE rewrites a POSIX BRE or ERE in RE2 syntax. In a BRE, \( \)
// \{ \} \| \+ \? are the operators and ( ) { } | + ? are literal; '*' at the
// start of an expression is literal; ^ and $ anchor only at the ends.
// Bracket expressions keep their classes but lose backslash escapes, which
// POSIX does not have inside brackets.
func translateRE(p string, ere bool) (string, error) {
	var sb strings.Builder
	atStart := true // a '*' here is a literal
	for i := 0; i < len(p); i++ {
		c := p[i]
		start := false
		switch {
		case c == '[':
			j := bracketEnd(p, i)
			if j < 0 {
				sb.WriteString(`\[`)
				break
			}
			sb.WriteString(strings.ReplaceAll(p[i:j+1], `\`, `\\`))
			i = j
		case c == '\\' && i+1 < len(p):
			i++
			d := p[i]
			switch {
			case !ere && strings.IndexByte("(){}|+?", d) >= 0:
				sb.WriteByte(d)
				start = d == '(' || d == '|'
			case d == '<' || d == '>':
				sb.WriteString(`\b`)
			case strings.IndexByte("wWsSbB", d) >= 0:
				sb.WriteByte('\\')
				sb.WriteByte(d)
			case d == 'n':
				sb.WriteString(`\n`)
			case d == 't':
				sb.WriteString(`\t`)
			case d >= '1' && d <= '9':
				return "", errBackref
			default:
				sb.WriteString(regexp.QuoteMeta(string(d)))
			}
		case c == '\\':
			sb.WriteString(`\\`)
		case !ere && strings.IndexByte("(){}|+?", c) >= 0:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case ere && (c == '(' || c == '|'):
			sb.WriteByte(c)
			start = true
		case ere && c == '{' && !validInterval(p[i:]):
			sb.WriteString(`\{`)
		case c == '*' && atStart, ere && (c == '+' || c == '?') && atStart:
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '^':
			if !ere && !atStart {
				sb.WriteString(`\^`)
			} else {
				sb.WriteByte('^')
				start = true
			}
		case c == '$' && !ere && !atEnd(p, i):
			sb.WriteString(`\$`)
		default:
			sb.WriteByte(c)
		}
		atStart = start
	}
	return sb.String(), nil
}

// atEnd reports whether p[i] ends a BRE (or a group or alternative in it).
func atEnd(p string, i int) bool {
	rest := p[i+1:]
	return rest == "" || strings.HasPrefix(rest, `\)`) || strings.HasPrefix(rest, `\|`)
}

// validInterval reports whether s starts with an ERE interval like {2,3}.
func validInterval(s string) bool {
	end := strings.IndexByte(s, '}')
	if end < 2 {
		return false
	}
	body := s[1:end]
	lo, hi, _ := strings.Cut(body, ",")
	return isDigits(lo) && (hi == "" || isDigits(hi))
}

// bracketEnd returns the index of the ']' closing the bracket expression
// that starts at p[i], or -1.
func bracketEnd(p string, i int) int {
	j := i + 1
	if j < len(p) && p[j] == '^' {
		j++
	}
	if j < len(p) && p[j] == ']' {
		j++
	}
	for j < len(p) {
		if p[j] == '[' && j+1 < len(p) && strings.IndexByte(":=.", p[j+1]) >= 0 {
			close := strings.Index(p[j+2:], string(p[j+1])+"]")
			if close < 0 {
				return -1
			}
			j += close + 4
			continue
		}
		if p[j] == ']' {
			return j
		}
		j++
	}
	return -1
}
