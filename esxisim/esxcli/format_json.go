package esxcli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
)

// formatJSON prints a list result as a list of objects and one structure as
// an object, keyed by the display names with spaces kept (INFERRED layout,
// §2.8), keys in ASCII order, integers and booleans native, lists as
// arrays. The separators are Python's json.dumps defaults (", " and ": "),
// which is what esxcli's Python front end would emit (INFERRED).
func formatJSON(w io.Writer, r *result) error {
	bw := bufio.NewWriter(w)
	order := make([]int, len(r.cols))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(r.cols[a].name, r.cols[b].name) })
	object := func(row []any) {
		bw.WriteByte('{')
		for i, c := range order {
			if i > 0 {
				bw.WriteString(", ")
			}
			bw.Write(jsonValue(r.cols[c].name))
			bw.WriteString(": ")
			v := row[c]
			if l, ok := v.([]string); ok && l == nil {
				v = []string{} // an empty list is [], not null
			}
			bw.Write(jsonValue(v))
		}
		bw.WriteByte('}')
	}
	if r.shape == shapeStruct && len(r.rows) == 1 {
		object(r.rows[0])
	} else {
		bw.WriteByte('[')
		for i, row := range r.rows {
			if i > 0 {
				bw.WriteString(", ")
			}
			object(row)
		}
		bw.WriteByte(']')
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

// jsonValue encodes one scalar or list; lists get Python's ", " separator.
func jsonValue(v any) []byte {
	if l, ok := v.([]string); ok {
		var b strings.Builder
		b.WriteByte('[')
		for i, s := range l {
			if i > 0 {
				b.WriteString(", ")
			}
			b.Write(jsonValue(s))
		}
		b.WriteByte(']')
		return []byte(b.String())
	}
	// An Encoder without HTML escaping: Python writes "<" as is, where
	// json.Marshal would write \u003c.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only string, int and bool reach here; none fails to encode.
		return []byte("null")
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
