package topology

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input makes Parse panic, and its answer is either a
// topology that validates or Errors that each have a position.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.yaml")
	examples, _ := filepath.Glob("../examples/topologies/*.yaml")
	for _, s := range append(seeds, examples...) {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("hosts: [{name: a, vmnics: *x}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		top, err := Parse("fuzz.yaml", b)
		if err == nil {
			if top == nil {
				t.Fatal("no error and no topology")
			}
			if verr := top.Validate(); verr != nil {
				t.Fatalf("Parse accepted what Validate refuses: %v", verr)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %v (%T) is not Errors", err, err)
		}
		for _, e := range errs {
			if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 0 || e.Msg == "" {
				t.Fatalf("error without a position: %#v", e)
			}
		}
	})
}
