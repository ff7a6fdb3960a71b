package esxcli

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// formatTable prints esxcli's default table (§0.2): a header, a dashes row
// as wide as each column, two spaces between columns, integer and boolean
// columns right-aligned (header included), and every column padded to its
// width, the last one too, so lines carry trailing spaces as the VERIFIED
// 5.5 neighbor capture shows. An empty table prints nothing (INFERRED, §0.2
// rule 8).
func formatTable(w io.Writer, r *result) error {
	if len(r.rows) == 0 {
		return nil
	}
	cells := make([][]string, len(r.rows))
	width := make([]int, len(r.cols))
	for c, col := range r.cols {
		width[c] = len(col.name)
	}
	for i, row := range r.rows {
		cells[i] = make([]string, len(r.cols))
		for c, col := range r.cols {
			s := text(row[c])
			if col.unit != "" {
				// The number is padded to four digits: the 6.x neighbor
				// header (VERIFIED, §2.4) has an 8-wide Expiry column over
				// a "873 sec" value, and the 5.5 capture's "   0 sec"
				// agrees (DERIVED).
				s = fmt.Sprintf("%4s %s", s, col.unit)
			}
			cells[i][c] = s
			width[c] = max(width[c], len(s))
		}
	}
	bw := bufio.NewWriter(w)
	line := func(vals []string) {
		for c, col := range r.cols {
			if c > 0 {
				bw.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[c]-len(vals[c]))
			if col.kind == kindInteger || col.kind == kindBoolean {
				bw.WriteString(pad + vals[c])
			} else {
				bw.WriteString(vals[c] + pad)
			}
		}
		bw.WriteByte('\n')
	}
	header := make([]string, len(r.cols))
	dashes := make([]string, len(r.cols))
	for c, col := range r.cols {
		header[c] = col.name
		dashes[c] = strings.Repeat("-", width[c])
	}
	line(header)
	line(dashes)
	for _, row := range cells {
		line(row)
	}
	return bw.Flush()
}

// formatObjects prints a list of structures that has no table form (§0.2
// rule 7): the object's name (its first field) at column 0, its fields
// indented three spaces, a blank line between objects. An empty field still
// prints "Key: " with the trailing space (VERIFIED: "   Beacon Required By: ").
func formatObjects(w io.Writer, r *result) error {
	bw := bufio.NewWriter(w)
	for i, row := range r.rows {
		if i > 0 {
			bw.WriteByte('\n')
		}
		bw.WriteString(text(row[0]))
		bw.WriteByte('\n')
		writeFields(bw, r.cols, row)
	}
	return bw.Flush()
}

// formatStruct prints one structure as indented "Key: Value" lines (§0.2
// rule 6).
func formatStruct(w io.Writer, r *result) error {
	bw := bufio.NewWriter(w)
	for _, row := range r.rows {
		writeFields(bw, r.cols, row)
	}
	return bw.Flush()
}

func writeFields(bw *bufio.Writer, cols []column, row []any) {
	for c, col := range cols {
		bw.WriteString("   " + col.name + ": " + text(row[c]) + "\n")
	}
}
