package shell

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// sedAddr is a line number, $ or a regexp (nil re with isRE: the last one
// used).
type sedAddr struct {
	line int
	last bool
	isRE bool
	re   *regexp.Regexp
}

type sedInstr struct {
	a1, a2 *sedAddr
	negate bool
	cmd    byte
	active bool // inside an a1,a2 range

	re     *regexp.Regexp // s (nil: the last regexp)
	repl   string
	global bool
	nth    int
	print  bool
	wfile  string
	ymap   map[byte]byte
	text   string // a i c, labels, file names
	target int    // { → index after the matching }; b t T → index to jump to
	code   int    // q Q exit code
}

type sedProg struct {
	cmds     []*sedInstr
	extended bool
	lastRE   *regexp.Regexp
}

type sedError string

func (e sedError) Error() string { return string(e) }

// parseSed compiles a sed script.
func parseSed(script string, extended bool) (*sedProg, error) {
	p := &sedProg{extended: extended}
	labels := map[string]int{}
	var blocks []int
	s := script
	i := 0
	skip := func(chars string) {
		for i < len(s) && strings.IndexByte(chars, s[i]) >= 0 {
			i++
		}
	}
	for {
		skip(" \t\n;")
		if i >= len(s) {
			break
		}
		if s[i] == '#' {
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		}
		in := &sedInstr{}
		var err error
		if in.a1, err = p.parseAddr(s, &i); err != nil {
			return nil, err
		}
		if in.a1 != nil && i < len(s) && s[i] == ',' {
			i++
			skip(" \t")
			if in.a2, err = p.parseAddr(s, &i); err != nil {
				return nil, err
			}
			if in.a2 == nil {
				return nil, sedError("unexpected ','")
			}
		}
		skip(" \t")
		for i < len(s) && s[i] == '!' {
			in.negate = true
			i++
			skip(" \t")
		}
		if i >= len(s) {
			return nil, sedError("missing command")
		}
		in.cmd = s[i]
		i++
		switch in.cmd {
		case '{':
			blocks = append(blocks, len(p.cmds))
		case '}':
			if len(blocks) == 0 {
				return nil, sedError("unexpected '}'")
			}
			p.cmds[blocks[len(blocks)-1]].target = len(p.cmds) + 1
			blocks = blocks[:len(blocks)-1]
		case 's':
			if err := p.parseSubst(in, s, &i); err != nil {
				return nil, err
			}
		case 'y':
			if err := parseY(in, s, &i); err != nil {
				return nil, err
			}
		case 'a', 'i', 'c':
			in.text = parseText(s, &i)
		case ':':
			skip(" \t")
			in.text = parseWord(s, &i)
			if in.text == "" {
				return nil, sedError("\":\" lacks a label")
			}
			labels[in.text] = len(p.cmds)
		case 'b', 't', 'T':
			skip(" \t")
			in.text = parseWord(s, &i)
		case 'r', 'w':
			skip(" \t")
			in.text = parseLine(s, &i)
		case 'q', 'Q':
			skip(" \t")
			j := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			in.code, _ = strconv.Atoi(s[j:i])
		case 'd', 'D', 'p', 'P', 'n', 'N', 'g', 'G', 'h', 'H', 'x', '=', 'l', 'z':
		default:
			return nil, sedError(fmt.Sprintf("unsupported command %c", in.cmd))
		}
		p.cmds = append(p.cmds, in)
	}
	if len(blocks) > 0 {
		return nil, sedError("missing }")
	}
	for _, in := range p.cmds {
		switch in.cmd {
		case 'b', 't', 'T':
			in.target = len(p.cmds)
			if in.text != "" {
				t, ok := labels[in.text]
				if !ok {
					return nil, sedError(fmt.Sprintf("can't find label for jump to '%s'", in.text))
				}
				in.target = t
			}
		}
	}
	return p, nil
}

func (p *sedProg) parseAddr(s string, i *int) (*sedAddr, error) {
	if *i >= len(s) {
		return nil, nil
	}
	switch c := s[*i]; {
	case c == '$':
		*i++
		return &sedAddr{last: true}, nil
	case c >= '0' && c <= '9':
		j := *i
		for *i < len(s) && s[*i] >= '0' && s[*i] <= '9' {
			*i++
		}
		n, err := strconv.Atoi(s[j:*i])
		if err != nil {
			return nil, sedError("invalid line number")
		}
		return &sedAddr{line: n}, nil
	case c == '/' || c == '\\':
		if c == '\\' {
			*i++
			if *i >= len(s) {
				return nil, sedError("unexpected end of address")
			}
		}
		delim := s[*i]
		*i++
		pat, err := delimited(s, i, delim)
		if err != nil {
			return nil, err
		}
		icase := false
		if *i < len(s) && (s[*i] == 'I') {
			icase = true
			*i++
		}
		a := &sedAddr{isRE: true}
		if pat != "" {
			if a.re, err = compileRE(pat, p.extended, icase); err != nil {
				return nil, sedError(fmt.Sprintf("bad regex '%s': %v", pat, err))
			}
		}
		return a, nil
	}
	return nil, nil
}

// delimited reads up to an unescaped delim; "\delim" stands for delim and
// "\n" for a newline.
func delimited(s string, i *int, delim byte) (string, error) {
	var sb strings.Builder
	for *i < len(s) {
		c := s[*i]
		switch {
		case c == delim:
			*i++
			return sb.String(), nil
		case c == '\\' && *i+1 < len(s):
			next := s[*i+1]
			switch {
			case next == delim:
				sb.WriteByte(delim)
			case next == 'n':
				sb.WriteByte('\n')
			default:
				sb.WriteByte('\\')
				sb.WriteByte(next)
			}
			*i += 2
		case c == '\n':
			return "", sedError(fmt.Sprintf("unmatched '%c'", delim))
		default:
			sb.WriteByte(c)
			*i++
		}
	}
	return "", sedError(fmt.Sprintf("unmatched '%c'", delim))
}

func (p *sedProg) parseSubst(in *sedInstr, s string, i *int) error {
	if *i >= len(s) || s[*i] == '\n' || s[*i] == '\\' {
		return sedError("unterminated `s' command")
	}
	delim := s[*i]
	*i++
	pat, err := delimited(s, i, delim)
	if err != nil {
		return err
	}
	repl, err := delimited(s, i, delim)
	if err != nil {
		return err
	}
	in.repl, in.nth = repl, 1
	icase := false
	for *i < len(s) {
		c := s[*i]
		switch {
		case c == 'g':
			in.global = true
		case c == 'p':
			in.print = true
		case c == 'i' || c == 'I':
			icase = true
		case c >= '0' && c <= '9':
			j := *i
			for *i < len(s) && s[*i] >= '0' && s[*i] <= '9' {
				*i++
			}
			in.nth, _ = strconv.Atoi(s[j:*i])
			if in.nth == 0 {
				return sedError("number option to `s' command may not be zero")
			}
			continue
		case c == 'w':
			*i++
			for *i < len(s) && s[*i] == ' ' {
				*i++
			}
			in.wfile = parseLine(s, i)
			continue
		case c == 'e' || c == 'm' || c == 'M':
		default:
			goto compile
		}
		*i++
	}
compile:
	if pat != "" {
		if in.re, err = compileRE(pat, p.extended, icase); err != nil {
			return sedError(fmt.Sprintf("bad regex '%s': %v", pat, err))
		}
	}
	return nil
}

func parseY(in *sedInstr, s string, i *int) error {
	if *i >= len(s) {
		return sedError("unterminated `y' command")
	}
	delim := s[*i]
	*i++
	src, err := delimited(s, i, delim)
	if err != nil {
		return err
	}
	dst, err := delimited(s, i, delim)
	if err != nil {
		return err
	}
	src, dst = strings.ReplaceAll(src, `\\`, `\`), strings.ReplaceAll(dst, `\\`, `\`)
	if len(src) != len(dst) {
		return sedError("strings for `y' command are different lengths")
	}
	in.ymap = map[byte]byte{}
	for k := range len(src) {
		in.ymap[src[k]] = dst[k]
	}
	return nil
}

// parseText reads the text of a, i and c: GNU's one-line "a text" or the
// POSIX "a\" followed by lines, each but the last ending in a backslash.
func parseText(s string, i *int) string {
	for *i < len(s) && (s[*i] == ' ' || s[*i] == '\t') {
		*i++
	}
	if *i < len(s) && s[*i] == '\\' {
		*i++
		if *i < len(s) && s[*i] == '\n' {
			*i++
		}
	}
	var sb strings.Builder
	for *i < len(s) {
		c := s[*i]
		if c == '\\' && *i+1 < len(s) {
			sb.WriteByte(s[*i+1])
			*i += 2
			continue
		}
		if c == '\n' {
			break
		}
		sb.WriteByte(c)
		*i++
	}
	return sb.String()
}

// parseWord reads a label, which ends at a newline or ';'.
func parseWord(s string, i *int) string {
	j := *i
	for *i < len(s) && s[*i] != '\n' && s[*i] != ';' {
		*i++
	}
	return strings.TrimSpace(s[j:*i])
}

func parseLine(s string, i *int) string {
	j := *i
	for *i < len(s) && s[*i] != '\n' {
		*i++
	}
	return s[j:*i]
}
