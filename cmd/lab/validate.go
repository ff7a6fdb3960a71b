package main

import (
	"fmt"
	"io"
)

// runValidate is `lab validate FILE...`.
func runValidate(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "lab validate: not built yet")
	return 2
}
