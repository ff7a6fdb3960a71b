package esxcli

import (
	"bufio"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
)

// xmlHeader is the VERIFIED preamble (§2.8): the namespace URI says ESX/5.0
// on every release since 5.0.
const xmlHeader = `<?xml version="1.0" encoding="utf-8"?>
<output xmlns="http://www.vmware.com/Products/ESX/5.0/esxcli/">
<root>
`

// formatXML prints esxcli's xml: a list result as <list type="structure">,
// one structure as a bare <structure>, fields in ASCII order of their
// internal names (INFERRED, matching the VERIFIED sample), three-space
// indentation per level. A list-valued field opens on its own lines
// (INFERRED; no verbatim capture of one was found).
func formatXML(w io.Writer, r *result) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(xmlHeader)
	order := sortedColumns(r.cols)
	structure := func(ind string, row []any) {
		bw.WriteString(ind + `<structure typeName="` + esc(r.typeName) + "\">\n")
		for _, c := range order {
			col := r.cols[c]
			open := ind + `   <field name="` + esc(col.key()) + `">`
			if l, ok := row[c].([]string); ok {
				bw.WriteString(open + "\n")
				bw.WriteString(ind + "      <list type=\"string\">\n")
				for _, s := range l {
					bw.WriteString(ind + "         <string>" + esc(s) + "</string>\n")
				}
				bw.WriteString(ind + "      </list>\n")
				bw.WriteString(ind + "   </field>\n")
				continue
			}
			t := col.kind.xmlName()
			bw.WriteString(open + "<" + t + ">" + esc(machine(row[c])) + "</" + t + "></field>\n")
		}
		bw.WriteString(ind + "</structure>\n")
	}
	if r.shape == shapeStruct {
		for _, row := range r.rows {
			structure("   ", row)
		}
	} else {
		bw.WriteString("   <list type=\"structure\">\n")
		for _, row := range r.rows {
			structure("      ", row)
		}
		bw.WriteString("   </list>\n")
	}
	bw.WriteString("</root>\n</output>\n")
	return bw.Flush()
}

// machine renders a scalar for the machine formatters: the bare value,
// without the table's unit.
func machine(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		return strings.Join(x, ",")
	}
	return text(v)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
