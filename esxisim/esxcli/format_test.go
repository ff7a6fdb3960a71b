package esxcli

import (
	"strings"
	"testing"
)

// TestFormatterEscaping covers values the model's names can hold but the
// goldens do not: separators and markup in a string field.
func TestFormatterEscaping(t *testing.T) {
	r := &result{typeName: "T", cols: []column{{name: "Name"}, {name: "Count", kind: kindInteger}, {name: "Tags", kind: kindStringList}},
		rows: [][]any{{`a,"b" <c&d>`, 7, []string{"x", "y"}}}}
	cases := map[string]string{
		"":         "Name         Count  Tags\n-----------  -----  ----\na,\"b\" <c&d>      7  x, y\n",
		"csv":      "Count,Name,Tags,\n7,\"a,\"\"b\"\" <c&d>\",\"x,y\",\n",
		"keyvalue": "T.Count.integer=7\nT.Name.string=a,\"b\" <c&d>\nT.Tags.string[]=x,y\n",
		"json":     `[{"Count": 7, "Name": "a,\"b\" <c&d>", "Tags": ["x", "y"]}]` + "\n",
	}
	for name, want := range cases {
		f, _ := formatterFor(name)
		var b strings.Builder
		if err := f(&b, r); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%q: got\n%q\nwant\n%q", name, b.String(), want)
		}
	}
	var b strings.Builder
	formatXML(&b, r)
	if !strings.Contains(b.String(), `<field name="Name"><string>a,&#34;b&#34; &lt;c&amp;d&gt;</string></field>`) {
		t.Errorf("xml:\n%s", b.String())
	}
}

func TestWriteItemWrap(t *testing.T) {
	// §0.3: a spec of up to 20 characters keeps its description on the
	// line at column 24; a longer one moves it to the next line.
	for _, tc := range []struct{ name, want string }{
		{strings.Repeat("x", 20), "  " + strings.Repeat("x", 20) + "  d\n"},
		{strings.Repeat("x", 21), "  " + strings.Repeat("x", 21) + "\n" + strings.Repeat(" ", 24) + "d\n"},
	} {
		var b strings.Builder
		writeItem(&b, tc.name, "d")
		if b.String() != tc.want {
			t.Errorf("%q: got %q want %q", tc.name, b.String(), tc.want)
		}
	}
}
