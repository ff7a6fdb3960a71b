package esxcli

import (
	"bufio"
	"io"
)

// formatKeyValue prints `<Type>.<Field>.<type>=<value>` lines (VERIFIED
// shape, §2.8), fields in ASCII order. A list result repeats the keys, one
// block per structure with no separator between blocks, and list-valued
// fields use the `string[]` type with comma-joined values (both INFERRED).
func formatKeyValue(w io.Writer, r *result) error {
	bw := bufio.NewWriter(w)
	order := sortedColumns(r.cols)
	for _, row := range r.rows {
		for _, c := range order {
			col := r.cols[c]
			t := col.kind.xmlName()
			if col.kind == kindStringList {
				t = "string[]"
			}
			bw.WriteString(r.typeName + "." + col.key() + "." + t + "=" + machine(row[c]) + "\n")
		}
	}
	return bw.Flush()
}
