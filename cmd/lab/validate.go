package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/autopathlab/autopathlab/topology"
)

const validateUsage = `usage: lab validate FILE [FILE...]

Checks topology files without starting anything. For each file it prints
"FILE: ok (N hosts, N CVMs, N gateways, N filers)" on stdout, or every
problem found on stderr, one per line as FILE:LINE:COL: PATH: problem.
FILE - reads standard input (reported as <stdin>).

Exit status: 0 when every file is valid, 1 when any is not, 2 on a usage
error.
`

// runValidate is `lab validate FILE...`.
func runValidate(args []string, stdout, stderr io.Writer) int {
	return validateFiles(args, os.Stdin, stdout, stderr)
}

// validateFiles is runValidate with its standard input given.
func validateFiles(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lab validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, validateUsage) }
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "lab validate: no topology file given")
		fmt.Fprint(stderr, validateUsage)
		return 2
	}
	status := 0
	for _, file := range fs.Args() {
		name, b, err := readTopology(file, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "lab validate: %v\n", err)
			status = 1
			continue
		}
		t, err := topology.Parse(name, b)
		if err != nil {
			var errs topology.Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					fmt.Fprintln(stderr, e)
				}
			} else {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
			}
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s, %s, %s, %s)\n", name,
			count(len(t.Hosts), "host", "hosts"), count(len(t.CVMs), "CVM", "CVMs"),
			count(len(t.Gateways), "gateway", "gateways"), count(len(t.Filers), "filer", "filers"))
	}
	return status
}

func readTopology(file string, stdin io.Reader) (name string, b []byte, err error) {
	if file == "-" {
		b, err = io.ReadAll(stdin)
		return "<stdin>", b, err
	}
	b, err = os.ReadFile(file)
	return file, b, err
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
