package shell

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/benhoyt/goawk/interp"
	"github.com/benhoyt/goawk/parser"
)

// awkCmd is a real awk (GoAWK) held inside the node: system(), pipes and
// file redirections are disabled, ENVIRON is the session's, and file
// operands are read from the virtual filesystem.
//
// File operands are read by us and fed to GoAWK as one stream, because
// GoAWK would open them on the host; FILENAME is the first operand and FNR
// counts across files.
func awkCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "F:v:f:", true)
	if !ok {
		return 1
	}
	args := o.args
	var src []byte
	if fs := o.vals['f']; len(fs) > 0 {
		for _, f := range fs {
			data, err := readInput(inv, f)
			if err != nil {
				errorf(inv, "can't open '%s': %s", f, ErrorText(err))
				return 1
			}
			src = append(append(src, data...), '\n')
		}
	} else {
		if len(args) == 0 {
			return usageError(inv, "missing program")
		}
		src, args = []byte(args[0]), args[1:]
	}
	prog, err := parser.ParseProgram(src, nil)
	if err != nil {
		errorf(inv, "%s", oneLine(err))
		return 2
	}
	var vars []string
	if fs := o.last('F', ""); fs != "" {
		if fs == "t" {
			fs = "\t"
		}
		vars = append(vars, "FS", fs)
	}
	for _, v := range o.vals['v'] {
		name, val, ok := strings.Cut(v, "=")
		if !ok {
			errorf(inv, "-v: invalid assignment '%s'", v)
			return 2
		}
		vars = append(vars, name, val)
	}
	// Operands: var=value assignments apply before the files, as awk
	// applies them when it reaches them; the rest are files.
	var files []string
	for _, a := range args {
		if name, val, ok := strings.Cut(a, "="); ok && isAwkName(name) {
			vars = append(vars, name, val)
			continue
		}
		files = append(files, a)
	}
	var stdin io.Reader = ctxReader{ctx, inv.Stdin}
	if len(files) > 0 {
		var readers []io.Reader
		for _, f := range files {
			rc, err := openInput(inv, f)
			if err != nil {
				errorf(inv, "can't open '%s': %s", f, ErrorText(err))
				return 2
			}
			defer rc.Close()
			readers = append(readers, &endWithNewline{r: ctxReader{ctx, rc}})
		}
		stdin = io.MultiReader(readers...)
		if files[0] != "-" {
			vars = append(vars, "FILENAME", files[0])
		}
	}
	environ := []string{}
	for _, kv := range inv.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		environ = append(environ, k, v)
	}
	it, err := interp.New(prog)
	if err != nil {
		errorf(inv, "%s", oneLine(err))
		return 2
	}
	status, err := it.ExecuteContext(ctx, &interp.Config{
		Stdin:        stdin,
		Output:       inv.Stdout,
		Error:        inv.Stderr,
		Argv0:        "awk",
		Vars:         vars,
		Environ:      environ,
		NoArgVars:    true,
		NoExec:       true,
		NoFileWrites: true,
		NoFileReads:  true,
		ShellCommand: []string{"/bin/false"},
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return 130
		}
		errorf(inv, "%s", oneLine(err))
		return 2
	}
	return status
}

func isAwkName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !isWordByte(c) {
			return false
		}
	}
	return true
}

func oneLine(err error) string {
	return strings.TrimSpace(strings.ReplaceAll(err.Error(), "\n", " "))
}

// endWithNewline adds a newline to a file that lacks a final one, so that
// concatenated files do not run their last and first records together.
type endWithNewline struct {
	r    io.Reader
	last byte
	eof  bool
}

func (e *endWithNewline) Read(p []byte) (int, error) {
	if e.eof {
		if e.last != 0 && e.last != '\n' && len(p) > 0 {
			e.last = '\n'
			p[0] = '\n'
			return 1, nil
		}
		return 0, io.EOF
	}
	n, err := e.r.Read(p)
	if n > 0 {
		e.last = p[n-1]
	}
	if err == io.EOF {
		e.eof = true
		if n > 0 {
			return n, nil
		}
		return e.Read(p)
	}
	return n, err
}
