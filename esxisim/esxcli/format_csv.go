package esxcli

import (
	"bufio"
	"io"
	"strings"
)

// formatCSV prints esxcli's csv (VERIFIED shape, §2.8): a header of the
// internal field names in ASCII order, one line per structure, and every
// line, header included, ends with a comma. Values holding a comma, quote
// or newline are quoted with doubled quotes, and list values are joined with
// commas inside one quoted value (both INFERRED: Python csv's minimal
// quoting). An empty list still prints its header (INFERRED).
func formatCSV(w io.Writer, r *result) error {
	bw := bufio.NewWriter(w)
	order := sortedColumns(r.cols)
	for _, c := range order {
		bw.WriteString(r.cols[c].key() + ",")
	}
	bw.WriteByte('\n')
	for _, row := range r.rows {
		for _, c := range order {
			bw.WriteString(csvQuote(machine(row[c])) + ",")
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func csvQuote(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
