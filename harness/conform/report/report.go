// Package report renders a conformance run (a *conform.Report) for CI
// systems (JUnit XML), for programs (JSON) and for people (one
// self-contained HTML page with a timeline picture per scenario).
package report

import (
	"encoding/json"
	"io"
	"maps"
	"slices"

	"github.com/autopathlab/autopathlab/harness/conform"
)

// JSON writes r as indented JSON, the Report's own encoding.
func JSON(w io.Writer, r *conform.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
