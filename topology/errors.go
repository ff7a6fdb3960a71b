package topology

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a topology: where it is (the file, the line and
// column of the offending YAML, 1-based; 0 when unknown, as for a
// Topology built in Go), the path of the value in the document
// ("hosts[0].vmknics[1].ip"; empty for the document itself) and what is
// wrong with it, followed by what was expected in parentheses.
type Error struct {
	File      string
	Line, Col int
	Path      string
	Msg       string
}

// Error formats the error as FILE:LINE:COL: PATH: MSG, leaving out the
// parts that are unknown.
func (e Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		if loc != "" {
			loc += ":"
		}
		loc += strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col)
	}
	var b strings.Builder
	if loc != "" {
		b.WriteString(loc + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are every problem found in a topology, sorted by position. Parse,
// Load and Validate return them.
type Errors []Error

// Error writes one error per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a single Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors orders errors by position, keeping the order they were found
// in among errors at one position (an anchor's error seen through several
// aliases).
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}
