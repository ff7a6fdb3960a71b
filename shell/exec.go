package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"
	"time"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// execMiddleware runs every command that is neither a shell builtin nor a
// function. It never calls next: no host binary may ever run.
func (s *Session) execMiddleware(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	_ = next
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		rs := stateOf(ctx)
		inv := &Invocation{
			Args:   args,
			Stdin:  rs.stdin,
			Stdout: hc.Stdout,
			Stderr: hc.Stderr,
			Dir:    hc.Dir,
			FS:     s.fs.WithContext(ctx),
			Clock:  s.clock,
			TTY:    rs.tty,
			env:    hc.Env,
			sess:   s,
		}
		env := hc.Env
		inv.Getenv = func(name string) string {
			if vr := env.Get(name); vr.Exported {
				return vr.String()
			}
			return ""
		}
		if f, ok := hc.Stdin.(*os.File); ok && f != nil {
			inv.Stdin = f
		}
		if hc.Stdout == nil {
			inv.Stdout = io.Discard
		}
		if hc.Stderr == nil {
			inv.Stderr = io.Discard
		}
		if status := uint8(s.dispatch(ctx, inv)); status != 0 {
			return interp.ExitStatus(status)
		}
		return nil
	}
}

// dispatch finds and runs inv.Args[0].
func (s *Session) dispatch(ctx context.Context, inv *Invocation) int {
	if len(inv.Args) == 0 {
		return 0
	}
	name := inv.Args[0]
	if cmd, ok := internalCommand(name); ok {
		return s.guard(ctx, func(ctx context.Context, inv *Invocation) int { return cmd(ctx, s, inv) }, inv)
	}
	p, cmd, err := s.lookPath(inv.FS, inv.Getenv("PATH"), inv.Dir, name)
	switch {
	case errors.Is(err, errAccess):
		fmt.Fprintf(inv.Stderr, "%s: %s: Permission denied\n", s.argv0(ctx), name)
		return 126
	case err != nil:
		fmt.Fprintf(inv.Stderr, "%s: %s: not found\n", s.argv0(ctx), name)
		return 127
	case cmd == nil:
		return s.runScriptFile(ctx, inv, p)
	}
	return s.guard(ctx, cmd, inv)
}

// guard runs cmd, turning a panic into ash's complaint and a failure
// status, and makes a blocked read of a pipe end when ctx is done.
func (s *Session) guard(ctx context.Context, cmd Command, inv *Invocation) (status int) {
	if f, ok := inv.Stdin.(*os.File); ok {
		stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
		defer stop()
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(inv.Stderr, "%s: %s: internal error\n", s.argv0(ctx), inv.Args[0])
			status = 1
		}
	}()
	return cmd(ctx, inv)
}

// lookPath finds name as ash does: a name with a slash is taken relative
// to dir, any other is looked for in each PATH directory. It returns the
// path and the registered command there, or a nil command for a shell
// script. A found but unexecutable file is errAccess.
func (s *Session) lookPath(fsys *FS, pathEnv, dir, name string) (string, Command, error) {
	if name == "" {
		return "", nil, errNotExist
	}
	if strings.Contains(name, "/") {
		p := Abs(dir, name)
		cmd, err := s.executable(fsys, p)
		return p, cmd, err
	}
	for d := range strings.SplitSeq(pathEnv, ":") {
		if d == "" {
			d = "." // an empty PATH entry means the current directory
		}
		p := Abs(dir, d+"/"+name)
		if cmd, err := s.executable(fsys, p); err == nil {
			return p, cmd, nil
		}
	}
	return "", nil, errNotExist
}

func (s *Session) executable(fsys *FS, p string) (Command, error) {
	fi, err := fsys.Stat(p)
	if err != nil {
		return nil, errNotExist
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, errAccess
	}
	if cmd, ok := s.reg.Command(p); ok {
		return cmd, nil
	}
	if real, err := fsys.Realpath(p); err == nil {
		if cmd, ok := s.reg.Command(real); ok {
			return cmd, nil
		}
	}
	return nil, nil
}

// maxScriptDepth bounds scripts running scripts (and #! chains).
const maxScriptDepth = 16

// runScriptFile runs an executable file that is not a registered command:
// a shell script, or a #! script whose interpreter is a registered command.
func (s *Session) runScriptFile(ctx context.Context, inv *Invocation, p string) int {
	rs := stateOf(ctx)
	if rs.depth >= maxScriptDepth {
		fmt.Fprintf(inv.Stderr, "%s: %s: too many levels of nesting\n", s.argv0(ctx), inv.Args[0])
		return 126
	}
	data, err := inv.FS.ReadFile(p)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "%s: %s: %s\n", s.argv0(ctx), inv.Args[0], ErrorText(err))
		return 126
	}
	src := string(data)
	if line, ok := strings.CutPrefix(src, "#!"); ok {
		line, _, _ = strings.Cut(line, "\n")
		fields := strings.Fields(line)
		if len(fields) > 0 && !isShell(path.Base(fields[0])) {
			args := append(fields[:min(len(fields), 2):min(len(fields), 2)], p)
			sub := *inv
			sub.Args = append(args, inv.Args[1:]...)
			deeper := *rs
			deeper.depth++
			return s.dispatch(context.WithValue(ctx, runStateKey{}, &deeper), &sub)
		}
	}
	return s.subshell(ctx, inv, inv.Args[0], src, inv.Args[1:])
}

func isShell(name string) bool {
	switch name {
	case "sh", "ash", "bash", "busybox":
		return true
	}
	return false
}

// subshell runs src in a new shell that inherits the exported variables
// and directory of inv, as `sh -c` or a script does.
func (s *Session) subshell(ctx context.Context, inv *Invocation, argv0, src string, params []string) int {
	rs := stateOf(ctx)
	if rs.depth >= maxScriptDepth {
		fmt.Fprintf(inv.Stderr, "%s: %s: too many levels of nesting\n", s.argv0(ctx), argv0)
		return 126
	}
	env := map[string]string{}
	for _, kv := range inv.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if inv.env == nil {
		env = s.cfg.Env
	}
	child := &Session{cfg: s.cfg, fs: s.fs, reg: s.reg, clock: s.clock, name: argv0, funcs: map[string]bool{}}
	child.cfg.Env = env
	child.runner = child.newRunner(env, inv.Dir, argv0, params)
	child.runner.Dir = inv.Dir
	f, err := child.parse(src, argv0)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "%s: syntax error: %s\n", argv0, syntaxMessage(err))
		return 2
	}
	// A pipe is handed to the interpreter as is; any other reader (the
	// terminal) is read by the commands directly, so that nothing reads
	// ahead of them.
	var in *os.File
	crs := &runState{name: argv0, stdin: inv.Stdin, tty: rs.tty, depth: rs.depth + 1}
	if inv.Stdin == nil {
		crs.stdin = eofReader{}
	}
	if fh, ok := inv.Stdin.(*os.File); ok {
		in = fh
	}
	return child.runFile(ctx, f, in, crs, inv.Stdout, inv.Stderr)
}

// The handlers below keep the interpreter on the virtual filesystem:
// redirections, globs, cd, test -f and friends all come through here.

func (s *Session) openHandler(ctx context.Context, name string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	f, err := s.fs.WithContext(ctx).OpenFile(Abs(hc.Dir, name), flag, perm)
	if err == nil {
		return f, nil
	}
	// The interpreter prints an *fs.PathError as is; word it like ash.
	op, text := "can't open", "no such file"
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		op, text = "can't create", "nonexistent directory"
	}
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
		text = ErrorText(err)
	}
	return nil, &fs.PathError{Op: s.argv0(ctx) + ": " + op, Path: name, Err: errors.New(text)}
}

func (s *Session) readDirHandler(ctx context.Context, name string) ([]fs.DirEntry, error) {
	hc := interp.HandlerCtx(ctx)
	return s.fs.WithContext(ctx).ReadDir(Abs(hc.Dir, name))
}

func (s *Session) statHandler(ctx context.Context, name string, follow bool) (fs.FileInfo, error) {
	hc := interp.HandlerCtx(ctx)
	fsys := s.fs.WithContext(ctx)
	if follow {
		return fsys.Stat(Abs(hc.Dir, name))
	}
	return fsys.Lstat(Abs(hc.Dir, name))
}

// accessHandler answers for root: everything that exists is readable and
// writable, and executable when it is a directory or has an x bit.
func (s *Session) accessHandler(ctx context.Context, name string, mode interp.AccessMode) error {
	fi, err := s.fs.WithContext(ctx).Stat(name)
	if err != nil {
		return err
	}
	if mode&interp.AccessExec != 0 && !fi.IsDir() && fi.Mode()&0o111 == 0 {
		return pathErr("access", name, errAccess)
	}
	return nil
}

// maxFrames bounds the Go stack: `f() { f; }; f` recurses in the
// interpreter, and a Go stack overflow cannot be recovered. A shell
// function level takes about 8 frames, so this allows some 700 levels; the
// check walks the stack, which is cheap until a script recurses deeply.
const maxFrames = 6000

var errTooDeep = errors.New("function nesting too deep")

// callHandler sees every simple command before it runs, builtins included.
// It bounds recursion and reroutes the builtins that would consult the
// host (command -v, type, pwd -P) or word their errors unlike ash (cd, .).
func (s *Session) callHandler(ctx context.Context, args []string) ([]string, error) {
	var pc [1]uintptr
	if runtime.Callers(maxFrames, pc[:]) > 0 {
		return nil, errTooDeep
	}
	hc := interp.HandlerCtx(ctx)
	switch args[0] {
	case "command":
		if len(args) > 1 && (args[1] == "-v" || args[1] == "-V") {
			return append([]string{cmdCommandV}, args[1:]...), nil
		}
	case "type":
		return append([]string{cmdType}, args[1:]...), nil
	case "pwd":
		return append([]string{cmdPwd}, args[1:]...), nil
	case "printf":
		return append([]string{cmdPrintf}, args[1:]...), nil
	case "cd":
		return s.checkCd(ctx, hc, args), nil
	case ".", "source":
		return s.checkDot(ctx, hc, args), nil
	case "eval":
		return s.vetEval(args), nil
	}
	return args, nil
}

// vetEval applies to eval's text what vet applies to a command line: the
// interpreter parses that text itself, and would otherwise look ~user up
// in the host's user database.
func (s *Session) vetEval(args []string) []string {
	src := strings.Join(args[1:], " ")
	if !strings.Contains(src, "~") {
		return args
	}
	f, err := syntax.NewParser().Parse(strings.NewReader(src), "")
	if err != nil {
		return args // eval reports the syntax error itself
	}
	if err := s.vet(f); err != nil {
		return fail(2, fmt.Sprintf("%s: syntax error: %v", s.argv0(context.Background()), err))
	}
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, f); err != nil {
		return args
	}
	return []string{"eval", b.String()}
}

// fail makes the interpreter run a command that prints msg and exits with
// status: how callHandler reports an error without stopping the script.
func fail(status int, msg string) []string {
	return []string{cmdFail, fmt.Sprint(status), msg}
}

func (s *Session) checkCd(ctx context.Context, hc interp.HandlerContext, args []string) []string {
	rest := args[1:]
	physical := false
	for len(rest) > 0 && (rest[0] == "-P" || rest[0] == "-L") {
		physical = rest[0] == "-P"
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	var dir string
	switch {
	case len(rest) == 0:
		dir = hc.Env.Get("HOME").String()
		if dir == "" {
			return []string{"true"}
		}
	case rest[0] == "-":
		dir = hc.Env.Get("OLDPWD").String()
		if dir == "" {
			return fail(2, s.argv0(ctx)+": cd: OLDPWD not set")
		}
		if fi, err := s.fs.WithContext(ctx).Stat(dir); err != nil || !fi.IsDir() {
			break
		}
		return []string{"cd", "-"}
	default:
		dir = rest[0]
	}
	fsys := s.fs.WithContext(ctx)
	target := Abs(hc.Dir, dir)
	fi, err := fsys.Stat(target)
	if err == nil && !fi.IsDir() {
		err = errNotDir
	}
	if err != nil {
		return fail(2, fmt.Sprintf("%s: cd: can't cd to %s: %s", s.argv0(ctx), dir, ErrorText(err)))
	}
	if physical {
		if real, err := fsys.Realpath(target); err == nil {
			target = real
		}
	}
	return []string{"cd", target}
}

func (s *Session) checkDot(ctx context.Context, hc interp.HandlerContext, args []string) []string {
	if len(args) < 2 {
		return fail(2, fmt.Sprintf("%s: %s: need filename", s.argv0(ctx), args[0]))
	}
	fsys := s.fs.WithContext(ctx)
	name := args[1]
	isFile := func(p string) bool {
		fi, err := fsys.Stat(p)
		return err == nil && !fi.IsDir()
	}
	if strings.Contains(name, "/") {
		if p := Abs(hc.Dir, name); isFile(p) {
			return append([]string{args[0], p}, args[2:]...)
		}
		return fail(2, fmt.Sprintf("%s: %s: can't open '%s'", s.argv0(ctx), args[0], name))
	}
	for d := range strings.SplitSeq(hc.Env.Get("PATH").String()+":.", ":") {
		if p := Abs(hc.Dir, d+"/"+name); d != "" && isFile(p) {
			return append([]string{args[0], p}, args[2:]...)
		}
	}
	return fail(2, fmt.Sprintf("%s: %s: %s: not found", s.argv0(ctx), args[0], name))
}
