package esxcli

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// formatter renders a result. The default ("" here) is esxcli's table /
// structure layout; the others are selected with the global --formatter.
type formatter func(w io.Writer, r *result) error

// formatters lists the --formatter values esxcli accepts. json is not in
// esxcli's help but works on 6.5+ (§2.8), so it is accepted too.
func formatterFor(name string) (formatter, bool) {
	switch name {
	case "":
		return formatDefault, true
	case "xml":
		return formatXML, true
	case "csv":
		return formatCSV, true
	case "keyvalue":
		return formatKeyValue, true
	case "json":
		return formatJSON, true
	}
	return nil, false
}

// formatDefault picks the human layout for the result's shape.
func formatDefault(w io.Writer, r *result) error {
	switch r.shape {
	case shapeObjects:
		return formatObjects(w, r)
	case shapeStruct:
		return formatStruct(w, r)
	default:
		return formatTable(w, r)
	}
}

// text renders a value for the human layouts: lists joined with ", " (§0.2
// rule 7), booleans as true/false.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		return strings.Join(x, ", ")
	case nil:
		return ""
	}
	// A command built a row with a type the formatters do not know: a
	// programming error, made visible rather than silently printed.
	return fmt.Sprintf("%v", v)
}

// sortedColumns returns column indexes in ASCII order of their internal
// names: the field order of the machine formatters (VERIFIED for csv,
// alphabetical in the xml sample).
func sortedColumns(cols []column) []int {
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(cols[a].key(), cols[b].key()) })
	return idx
}
