package shell

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// rewriteCount turns head/tail's old "-N" (and tail's "+N") into "-n N".
func rewriteCount(args []string, plus bool) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if i > 0 && (args[i-1] == "-n" || args[i-1] == "-c" || args[i-1] == "-s") {
			out = append(out, a) // the value of an option, not a count
			continue
		}
		if len(a) > 1 && (a[0] == '-' || plus && a[0] == '+') && isDigits(a[1:]) {
			n := a[1:]
			if a[0] == '+' {
				n = "+" + n
			}
			out = append(out, "-n", n)
			continue
		}
		out = append(out, a)
	}
	return out
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func headCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, rewriteCount(inv.Args[1:], false), "n:c:qv", false)
	if !ok {
		return 1
	}
	byBytes := o.has('c')
	spec := o.last('n', "10")
	if byBytes {
		spec = o.last('c', "")
	}
	n, err := strconv.Atoi(spec)
	if err != nil {
		errorf(inv, "invalid number '%s'", spec)
		return 1
	}
	files := operands(o.args)
	status := 0
	for i, name := range files {
		data, err := readInput(inv, name)
		if err != nil {
			errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			status = 1
			continue
		}
		if o.has('v') || len(files) > 1 && !o.has('q') {
			if i > 0 {
				fmt.Fprintln(inv.Stdout)
			}
			fmt.Fprintf(inv.Stdout, "==> %s <==\n", displayName(name))
		}
		if byBytes {
			end := clampCount(n, len(data))
			_, _ = inv.Stdout.Write(data[:end])
			continue
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		for _, l := range lines[:clampCount(n, len(lines))] {
			_, _ = inv.Stdout.Write(l)
		}
	}
	return status
}

// clampCount is how many of total items head keeps: n, or all but -n.
func clampCount(n, total int) int {
	if n < 0 {
		return max(0, total+n)
	}
	return min(n, total)
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

func tailCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, rewriteCount(inv.Args[1:], true), "n:c:fFqvs:", false)
	if !ok {
		return 1
	}
	byBytes := o.has('c')
	spec := o.last('n', "10")
	if byBytes {
		spec = o.last('c', "")
	}
	fromStart := strings.HasPrefix(spec, "+")
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(spec, "+"), "-"))
	if err != nil {
		errorf(inv, "invalid number '%s'", spec)
		return 1
	}
	interval := 1.0
	if s := o.last('s', ""); s != "" {
		if interval, err = strconv.ParseFloat(s, 64); err != nil || interval <= 0 || interval > 1e6 {
			errorf(inv, "invalid number '%s'", s)
			return 1
		}
	}
	files := operands(o.args)
	headers := o.has('v') || len(files) > 1 && !o.has('q')
	status := 0
	offsets := make([]int, len(files))
	for i, name := range files {
		data, err := readInput(inv, name)
		if err != nil {
			errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			status = 1
			offsets[i] = -1
			continue
		}
		if headers {
			if i > 0 {
				fmt.Fprintln(inv.Stdout)
			}
			fmt.Fprintf(inv.Stdout, "==> %s <==\n", displayName(name))
		}
		_, _ = inv.Stdout.Write(tailOf(data, n, fromStart, byBytes))
		offsets[i] = len(data)
	}
	if !o.has('f') && !o.has('F') {
		return status
	}
	return follow(ctx, inv, files, offsets, headers, interval)
}

// tailOf returns the part of data tail prints.
func tailOf(data []byte, n int, fromStart, byBytes bool) []byte {
	if byBytes {
		if fromStart {
			return data[min(max(n-1, 0), len(data)):]
		}
		return data[len(data)-min(n, len(data)):]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if fromStart {
		lines = lines[min(max(n-1, 0), len(lines)):]
	} else {
		lines = lines[len(lines)-min(n, len(lines)):]
	}
	return bytes.Join(lines, nil)
}

// follow is tail -f: it polls the files on the node's clock and prints what
// was appended until ctx is done. Growth comes from AppendFile or from a
// dynamic file's generator.
func follow(ctx context.Context, inv *Invocation, files []string, offsets []int, headers bool, interval float64) int {
	last := len(files) - 1
	for {
		t := inv.Clock.NewTimer(durationOf(interval))
		select {
		case <-ctx.Done():
			t.Stop()
			return 130
		case <-t.Chan():
		}
		for i, name := range files {
			if name == "-" {
				continue // busybox does not follow a pipe
			}
			data, err := inv.FS.ReadFile(inv.Abs(name))
			if err != nil {
				continue
			}
			off := max(offsets[i], 0)
			if len(data) < off {
				errorf(inv, "%s: file truncated", name)
				off = 0
			}
			if len(data) == off {
				offsets[i] = off
				continue
			}
			if headers && i != last {
				fmt.Fprintf(inv.Stdout, "\n==> %s <==\n", name)
				last = i
			}
			_, _ = inv.Stdout.Write(data[off:])
			offsets[i] = len(data)
		}
	}
}

func durationOf(seconds float64) time.Duration { return time.Duration(seconds * float64(time.Second)) }

func catCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "nbuveAtT", false)
	if !ok {
		return 1
	}
	status := 0
	line := 0
	for _, name := range operands(o.args) {
		rc, err := openInput(inv, name)
		if err != nil {
			if isDirErr(err) {
				errorf(inv, "read error: Is a directory")
			} else {
				errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			}
			status = 1
			continue
		}
		r := ctxReader{ctx, rc}
		if !o.has('n') && !o.has('b') {
			_, err = io.Copy(inv.Stdout, r)
		} else {
			br := bufio.NewReader(r)
			for {
				s, rerr := br.ReadString('\n')
				if s == "" {
					err = rerr
					break
				}
				if o.has('b') && (s == "\n") {
					_, err = io.WriteString(inv.Stdout, s)
				} else {
					line++
					_, err = fmt.Fprintf(inv.Stdout, "%6d\t%s", line, s)
				}
				if err != nil {
					break
				}
			}
			if err == io.EOF {
				err = nil
			}
		}
		rc.Close()
		if err != nil {
			if ctx.Err() != nil {
				return 130
			}
			errorf(inv, "read error: %s", ErrorText(err))
			status = 1
		}
	}
	return status
}
