package main

import (
	"fmt"
	"io"
)

// runConform is `lab conform --autopath CMD`.
func runConform(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "lab conform: not built yet")
	return 2
}
