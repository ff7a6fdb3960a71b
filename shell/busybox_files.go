package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

func pwdApplet(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "PL", false)
	if !ok {
		return 1
	}
	dir := inv.Dir
	if o.has('P') {
		if real, err := inv.FS.Realpath(dir); err == nil {
			dir = real
		}
	}
	fmt.Fprintln(inv.Stdout, dir)
	return 0
}

func mkdirCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "pm:v", false)
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return usageError(inv, "missing operand")
	}
	perm := fs.FileMode(0o755)
	if m := o.last('m', ""); m != "" {
		n, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			errorf(inv, "invalid mode '%s'", m)
			return 1
		}
		perm = fs.FileMode(n)
	}
	status := 0
	for _, name := range o.args {
		p := inv.Abs(name)
		var err error
		if o.has('p') {
			err = inv.FS.MkdirAll(p)
			if err == nil && perm != 0o755 {
				err = inv.FS.Chmod(p, perm)
			}
		} else {
			err = inv.FS.Mkdir(p, perm)
		}
		if err != nil {
			errorf(inv, "can't create directory '%s': %s", name, ErrorText(err))
			status = 1
		}
	}
	return status
}

func rmCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "rRfiv", false)
	if !ok {
		return 1
	}
	force, recursive := o.has('f'), o.has('r') || o.has('R')
	if len(o.args) == 0 {
		if force {
			return 0
		}
		return usageError(inv, "missing operand")
	}
	status := 0
	for _, name := range o.args {
		if b := path.Base(name); b == "." || b == ".." {
			errorf(inv, "can't remove '.' or '..'")
			status = 1
			continue
		}
		p := inv.Abs(name)
		fi, err := inv.FS.Lstat(p)
		switch {
		case err != nil:
			if !force || !errors.Is(err, fs.ErrNotExist) {
				errorf(inv, "can't remove '%s': %s", name, ErrorText(err))
				status = 1
			}
			continue
		case fi.IsDir() && !recursive:
			errorf(inv, "'%s' is a directory", name)
			status = 1
			continue
		case fi.IsDir():
			err = inv.FS.RemoveAll(p)
		default:
			err = inv.FS.Remove(p)
		}
		if err != nil {
			errorf(inv, "can't remove '%s': %s", name, ErrorText(err))
			status = 1
		}
	}
	return status
}

func rmdirCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "p", false)
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return usageError(inv, "missing operand")
	}
	status := 0
	for _, name := range o.args {
		for p := inv.Abs(name); ; {
			fi, err := inv.FS.Lstat(p)
			if err == nil && !fi.IsDir() {
				err = errNotDir
			}
			if err == nil {
				err = inv.FS.Remove(p)
			}
			if err != nil {
				errorf(inv, "'%s': %s", name, ErrorText(err))
				status = 1
				break
			}
			if !o.has('p') || path.Dir(p) == "/" || !strings.Contains(strings.Trim(name, "/"), "/") {
				break
			}
			p = path.Dir(p)
			name = path.Dir(strings.TrimRight(name, "/"))
		}
	}
	return status
}

func touchCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "cam", false)
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return usageError(inv, "missing operand")
	}
	status := 0
	now := inv.Clock.Now()
	for _, name := range o.args {
		p := inv.Abs(name)
		if _, err := inv.FS.Stat(p); err == nil {
			_ = inv.FS.Chtimes(p, now)
			continue
		} else if o.has('c') && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		f, err := inv.FS.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			errorf(inv, "%s: %s", name, ErrorText(err))
			status = 1
			continue
		}
		f.Close()
		_ = inv.FS.Chtimes(p, now)
	}
	return status
}

// destIn returns where src goes when copied or moved to dst: into dst when
// that is a directory.
func destIn(inv *Invocation, src, dst string, many bool) (string, error) {
	p := inv.Abs(dst)
	fi, err := inv.FS.Stat(p)
	if err == nil && fi.IsDir() {
		return Clean(p + "/" + path.Base(strings.TrimRight(src, "/"))), nil
	}
	if many {
		return "", pathErr("stat", dst, errNotDir)
	}
	return p, nil
}

func cpCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "rRpfadPLHv", false)
	if !ok {
		return 1
	}
	if len(o.args) < 2 {
		return usageError(inv, "missing operand")
	}
	recursive := o.has('r') || o.has('R') || o.has('a')
	srcs, dst := o.args[:len(o.args)-1], o.args[len(o.args)-1]
	status := 0
	for _, src := range srcs {
		to, err := destIn(inv, src, dst, len(srcs) > 1)
		if err != nil {
			errorf(inv, "'%s' is not a directory", dst)
			return 1
		}
		from := inv.Abs(src)
		fi, err := inv.FS.Stat(from)
		switch {
		case err != nil:
			errorf(inv, "can't stat '%s': %s", src, ErrorText(err))
			status = 1
			continue
		case fi.IsDir() && !recursive:
			errorf(inv, "omitting directory '%s'", src)
			status = 1
			continue
		case fi.IsDir() && (to == from || strings.HasPrefix(to, from+"/")):
			errorf(inv, "can't copy a directory into itself")
			status = 1
			continue
		}
		if err := copyTree(ctx, inv, from, to); err != nil {
			errorf(inv, "%s", err)
			status = 1
		}
	}
	return status
}

// copyTree copies a file or directory tree within the FS (mounts included).
func copyTree(ctx context.Context, inv *Invocation, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := inv.FS.Stat(from)
	if err != nil {
		return fmt.Errorf("can't stat '%s': %s", from, ErrorText(err))
	}
	if !fi.IsDir() {
		return copyFile(inv, from, to, fi.Mode().Perm())
	}
	if err := inv.FS.Mkdir(to, fi.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("can't create directory '%s': %s", to, ErrorText(err))
	}
	ents, err := inv.FS.ReadDir(from)
	if err != nil {
		return fmt.Errorf("can't open '%s': %s", from, ErrorText(err))
	}
	for _, e := range ents {
		if err := copyTree(ctx, inv, from+"/"+e.Name(), to+"/"+e.Name()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(inv *Invocation, from, to string, perm fs.FileMode) error {
	in, err := inv.FS.Open(from)
	if err != nil {
		return fmt.Errorf("can't open '%s': %s", from, ErrorText(err))
	}
	defer in.Close()
	out, err := inv.FS.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("can't create '%s': %s", to, ErrorText(err))
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("error writing to '%s': %s", to, ErrorText(err))
	}
	return nil
}

func mvCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "finv", false)
	if !ok {
		return 1
	}
	if len(o.args) < 2 {
		return usageError(inv, "missing operand")
	}
	srcs, dst := o.args[:len(o.args)-1], o.args[len(o.args)-1]
	status := 0
	for _, src := range srcs {
		to, err := destIn(inv, src, dst, len(srcs) > 1)
		if err != nil {
			errorf(inv, "'%s' is not a directory", dst)
			return 1
		}
		from := inv.Abs(src)
		if _, err := inv.FS.Lstat(from); err != nil {
			errorf(inv, "can't stat '%s': %s", src, ErrorText(err))
			status = 1
			continue
		}
		err = inv.FS.Rename(from, to)
		var le *os.LinkError
		if errors.As(err, &le) && le.Err == errXDev {
			// Across mounts a move is a copy and a removal, as mv(1) does.
			if err = copyTree(ctx, inv, from, to); err == nil {
				err = inv.FS.RemoveAll(from)
			}
		}
		if err != nil {
			errorf(inv, "can't rename '%s': %s", src, ErrorText(err))
			status = 1
		}
	}
	return status
}

func lnCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "sfnv", false)
	if !ok {
		return 1
	}
	if len(o.args) == 0 {
		return usageError(inv, "missing operand")
	}
	target, link := o.args[0], path.Base(o.args[0])
	if len(o.args) > 1 {
		link = o.args[1]
	}
	p := inv.Abs(link)
	if fi, err := inv.FS.Stat(p); err == nil && fi.IsDir() && !o.has('n') {
		p = Clean(p + "/" + path.Base(target))
	}
	if !o.has('s') {
		errorf(inv, "%s: Operation not permitted", link)
		return 1
	}
	if o.has('f') {
		if fi, err := inv.FS.Lstat(p); err == nil && !fi.IsDir() {
			_ = inv.FS.Remove(p)
		}
	}
	if err := inv.FS.Symlink(target, p); err != nil {
		errorf(inv, "%s: %s", link, ErrorText(err))
		return 1
	}
	return 0
}

func readlinkCmd(_ context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "fnsvqe", false)
	if !ok {
		return 1
	}
	if len(o.args) != 1 {
		return usageError(inv, "missing operand")
	}
	p := inv.Abs(o.args[0])
	var out string
	var err error
	if o.has('f') || o.has('e') {
		out, err = inv.FS.Realpath(p)
	} else {
		out, err = inv.FS.Readlink(p)
	}
	if err != nil {
		return 1
	}
	fmt.Fprint(inv.Stdout, out)
	if !o.has('n') {
		fmt.Fprintln(inv.Stdout)
	}
	return 0
}

func basenameCmd(_ context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 || len(args) > 2 {
		return usageError(inv, "missing operand")
	}
	b := strings.TrimRight(args[0], "/")
	if b == "" {
		b = "/"
		if args[0] == "" {
			b = ""
		}
	} else {
		b = path.Base(b)
	}
	if len(args) == 2 && b != args[1] {
		b = strings.TrimSuffix(b, args[1])
	}
	fmt.Fprintln(inv.Stdout, b)
	return 0
}

func dirnameCmd(_ context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) != 1 {
		return usageError(inv, "missing operand")
	}
	d := strings.TrimRight(args[0], "/")
	switch {
	case d == "" && strings.HasPrefix(args[0], "/"):
		d = "/"
	case !strings.Contains(d, "/"):
		d = "."
	default:
		d = strings.TrimRight(d[:strings.LastIndexByte(d, '/')], "/")
		if d == "" {
			d = "/"
		}
	}
	fmt.Fprintln(inv.Stdout, d)
	return 0
}

func teeCmd(ctx context.Context, inv *Invocation) int {
	o, ok := parseOpts(inv, inv.Args[1:], "ai", false)
	if !ok {
		return 1
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if o.has('a') {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	writers := []io.Writer{inv.Stdout}
	status := 0
	for _, name := range o.args {
		f, err := inv.FS.OpenFile(inv.Abs(name), flag, 0o644)
		if err != nil {
			errorf(inv, "can't open '%s': %s", name, ErrorText(err))
			status = 1
			continue
		}
		defer f.Close()
		writers = append(writers, f)
	}
	if _, err := io.Copy(io.MultiWriter(writers...), ctxReader{ctx, inv.Stdin}); err != nil && ctx.Err() != nil {
		return 130
	}
	return status
}
