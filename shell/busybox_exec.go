package shell

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

// envCmd prints the environment or runs a command in a changed one.
func envCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "iu:0", true)
	if !ok {
		return 1
	}
	vars := map[string]string{}
	if !o.has('i') {
		for _, kv := range inv.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
	}
	args := o.args
	if len(args) > 0 && args[0] == "-" {
		vars = map[string]string{}
		args = args[1:]
	}
	for _, u := range o.vals['u'] {
		delete(vars, u)
	}
	for len(args) > 0 && strings.Contains(args[0], "=") && !strings.HasPrefix(args[0], "=") {
		k, v, _ := strings.Cut(args[0], "=")
		vars[k] = v
		args = args[1:]
	}
	pairs := make([]string, 0, len(vars))
	for k, v := range vars {
		pairs = append(pairs, k+"="+v)
	}
	env := expand.ListEnviron(pairs...)
	if len(args) == 0 {
		end := "\n"
		if o.has('0') {
			end = "\x00"
		}
		for _, kv := range exportedEnv(env) {
			fmt.Fprint(inv.Stdout, kv+end)
		}
		return 0
	}
	sub := *inv
	sub.Args = args
	sub.env = env
	sub.Getenv = func(name string) string { return env.Get(name).String() }
	return sub.Exec(ctx)
}

// testCmd is /bin/test and /bin/[: the shell's own test builtin, so both
// agree, run through the interpreter that started this command.
func testCmd(ctx context.Context, inv *Invocation) (status int) {
	defer func() {
		if recover() != nil {
			errorf(inv, "not available outside the shell")
			status = 2
		}
	}()
	hc := interp.HandlerCtx(ctx) // panics outside an exec handler
	args := append([]string{appName(inv)}, inv.Args[1:]...)
	err := hc.Builtin(ctx, args)
	if err == nil {
		return 0
	}
	if _, err := fmt.Sscanf(err.Error(), "builtin exit status %d", &status); err != nil {
		return 2
	}
	return status
}

// shCmd runs a script in a new shell: sh -c SCRIPT [ARG0 ARGS], sh FILE
// [ARGS], or sh reading the script from standard input.
func shCmd(ctx context.Context, inv *Invocation) int {
	if inv.sess == nil {
		errorf(inv, "not available outside a session")
		return 2
	}
	args := inv.Args[1:]
	script, hasScript := "", false
	for len(args) > 0 && len(args[0]) > 1 && (args[0][0] == '-' || args[0][0] == '+') {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if strings.Contains(a, "c") {
			if len(args) == 0 {
				errorf(inv, "-c requires an argument")
				return 2
			}
			script, hasScript = args[0], true
			args = args[1:]
		}
	}
	argv0 := appName(inv)
	switch {
	case hasScript:
		if len(args) > 0 {
			argv0, args = args[0], args[1:]
		}
	case len(args) > 0:
		argv0 = args[0]
		data, err := inv.FS.ReadFile(inv.Abs(args[0]))
		if err != nil {
			errorf(inv, "can't open '%s': %s", args[0], ErrorText(err))
			return 127
		}
		script, args = string(data), args[1:]
	default:
		data, err := io.ReadAll(ctxReader{ctx, inv.Stdin})
		if err != nil {
			return 130
		}
		script = string(data)
	}
	return inv.sess.subshell(ctx, inv, argv0, script, args)
}

// xargsCmd builds command lines from standard input.
func xargsCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "n:I:0trs:E:", true)
	if !ok {
		return 1
	}
	cmd := o.args
	if len(cmd) == 0 {
		cmd = []string{"echo"}
	}
	perCall := 0
	if n := o.last('n', ""); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			errorf(inv, "invalid number '%s'", n)
			return 1
		}
		perCall = v
	}
	data, err := io.ReadAll(ctxReader{ctx, inv.Stdin})
	if err != nil {
		return 130
	}
	var items []string
	repl := o.last('I', "")
	switch {
	case o.has('0'):
		items = strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	case repl != "":
		items = splitLines(data)
		perCall = 1
	default:
		items = xargsWords(string(data))
	}
	if len(items) == 0 || len(items) == 1 && items[0] == "" {
		if o.has('r') {
			return 0
		}
		items = nil
	}
	status := 0
	run := func(batch []string) bool {
		args := append([]string{}, cmd...)
		if repl != "" {
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], repl, batch[0])
			}
		} else {
			args = append(args, batch...)
		}
		if o.has('t') {
			fmt.Fprintln(inv.Stderr, strings.Join(args, " "))
		}
		sub := *inv
		sub.Args = args
		sub.Stdin = eofReader{}
		switch st := sub.Exec(ctx); {
		case st == 127 || st == 126:
			status = st
			return false
		case st == 255:
			errorf(inv, "%s: exited with status 255; aborting", args[0])
			status = 124
			return false
		case st != 0:
			status = 123
		}
		return ctx.Err() == nil
	}
	if perCall == 0 {
		run(items)
		return status
	}
	for len(items) > 0 {
		n := min(perCall, len(items))
		if !run(items[:n]) {
			break
		}
		items = items[n:]
	}
	return status
}

// xargsWords splits input at blanks and newlines, honouring quotes and
// backslashes as xargs does.
func xargsWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	sc := bufio.NewReader(strings.NewReader(s))
	for {
		c, err := sc.ReadByte()
		if err != nil {
			break
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\':
			if n, err := sc.ReadByte(); err == nil {
				cur.WriteByte(n)
				inWord = true
			}
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
