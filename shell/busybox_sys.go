package shell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// sleepCmd sleeps on the node's clock; Ctrl-C ends it.
func sleepCmd(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return usageError(inv, "missing operand")
	}
	var total time.Duration
	for _, a := range args {
		d, ok := parseSleep(a)
		if !ok {
			errorf(inv, "invalid number '%s'", a)
			return 1
		}
		total += d
	}
	if total <= 0 {
		return 0
	}
	t := inv.Clock.NewTimer(total)
	defer t.Stop()
	select {
	case <-t.Chan():
		return 0
	case <-ctx.Done():
		return 130
	}
}

func parseSleep(a string) (time.Duration, bool) {
	unit := time.Second
	if a != "" {
		switch a[len(a)-1] {
		case 's':
			a = a[:len(a)-1]
		case 'm':
			unit, a = time.Minute, a[:len(a)-1]
		case 'h':
			unit, a = time.Hour, a[:len(a)-1]
		case 'd':
			unit, a = 24*time.Hour, a[:len(a)-1]
		}
	}
	f, err := strconv.ParseFloat(a, 64)
	if err != nil || f < 0 || f != f || f > 1e9 {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}

func hostnameCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "sfdi", false)
	if !ok {
		return 1
	}
	if len(o.args) > 0 {
		errorf(inv, "sethostname: Operation not permitted")
		return 1
	}
	name := "localhost"
	if inv.sess != nil {
		name = inv.sess.cfg.Hostname()
	}
	short, domain, _ := strings.Cut(name, ".")
	switch {
	case o.has('s'):
		name = short
	case o.has('d'):
		name = domain
	}
	fmt.Fprintln(inv.Stdout, name)
	return 0
}

func unameCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "asnrvmpio", false)
	if !ok {
		return 1
	}
	if len(o.args) > 0 {
		return usageError(inv, fmt.Sprintf("extra operand '%s'", o.args[0]))
	}
	u := Uname{Sysname: "Linux"}
	host := "localhost"
	if inv.sess != nil {
		u = inv.sess.cfg.Uname()
		host = inv.sess.cfg.Hostname()
	}
	if u.Nodename == "" {
		u.Nodename = host
	}
	fields := []struct {
		flag byte
		val  string
	}{{'s', u.Sysname}, {'n', u.Nodename}, {'r', u.Release}, {'v', u.Version}, {'m', u.Machine}, {'p', u.Processor}, {'i', u.Platform}, {'o', u.OS}}
	var out []string
	for _, f := range fields {
		switch {
		case o.has('a'):
			if f.val != "" {
				out = append(out, f.val)
			}
		case o.has(f.flag):
			if f.val == "" {
				f.val = "unknown"
			}
			out = append(out, f.val)
		}
	}
	if len(out) == 0 {
		out = []string{u.Sysname}
	}
	fmt.Fprintln(inv.Stdout, strings.Join(out, " "))
	return 0
}

// whichCmd looks only at PATH, like busybox which: it knows no builtins.
func whichCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "a", false)
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return usageError(inv, "missing operand")
	}
	status := 0
	for _, name := range o.args {
		var found []string
		if strings.Contains(name, "/") {
			if _, err := executableFile(inv, inv.Abs(name)); err == nil {
				found = append(found, name)
			}
		} else {
			for d := range strings.SplitSeq(inv.Getenv("PATH"), ":") {
				if d == "" {
					d = "."
				}
				p := Abs(inv.Dir, d+"/"+name)
				if _, err := executableFile(inv, p); err == nil {
					found = append(found, strings.TrimSuffix(d, "/")+"/"+name)
					if !o.has('a') {
						break
					}
				}
			}
		}
		if len(found) == 0 {
			status = 1
		}
		for _, f := range found {
			fmt.Fprintln(inv.Stdout, f)
		}
	}
	return status
}

func executableFile(inv *Invocation, p string) (bool, error) {
	fi, err := inv.FS.Stat(p)
	if err != nil {
		return false, err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return false, errAccess
	}
	return true, nil
}
