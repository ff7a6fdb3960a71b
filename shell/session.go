package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sort"
	"strings"
	"sync"

	"golang.org/x/term"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/autopathlab/autopathlab/clock"
)

// Uname is what `uname` prints. Each node kind fills its own; empty fields
// are left out of `uname -a`.
type Uname struct {
	Sysname   string // -s, e.g. "VMkernel" or "Linux"
	Nodename  string // -n; empty means Config.Hostname()
	Release   string // -r
	Version   string // -v
	Machine   string // -m
	Processor string // -p
	Platform  string // -i
	OS        string // -o
}

// Config describes a session. Only FS and Commands are really needed; the
// rest has neutral defaults.
type Config struct {
	FS       *FS
	Commands *Registry
	Clock    clock.Clock
	// Env holds the initial, exported variables: PATH, HOME, USER, SHELL...
	// PATH defaults to /bin:/sbin:/usr/bin:/usr/sbin and HOME to /.
	Env map[string]string
	// Dir is the initial current directory (default /).
	Dir      string
	Hostname func() string
	Uname    func() Uname
	// Prompt renders the interactive prompt for the current directory.
	Prompt func(cwd string) string
	// OnCommand is called once per top-level command line (an SSH exec
	// request or a line typed at the prompt) with its exit status.
	OnCommand func(line string, status int)
	// Name prefixes the shell's own messages ("sh: foo: not found").
	// Default "sh"; an interactive session prefixes it with "-" the way a
	// login shell's argv[0] is, so ESXi's "-sh: foo: not found" comes out.
	Name string
}

// Session is one shell: its variables and current directory persist across
// Run calls. A Session runs one command line at a time; Run and Interactive
// may be called from any goroutine but are serialised.
type Session struct {
	cfg    Config
	fs     *FS
	reg    *Registry
	clock  clock.Clock
	name   string
	runner *interp.Runner

	mu sync.Mutex // serialises Run and Interactive

	funcsMu sync.Mutex
	funcs   map[string]bool // names of shell functions seen in parsed input

	termMu sync.Mutex
	term   *term.Terminal // set while Interactive runs, for Resize
}

// runState is what one Run hands to the commands it starts. It travels in
// the context, not in the Session, because background jobs of one Run may
// still be running while the next Run starts.
type runState struct {
	name  string    // $0, which prefixes the shell's messages
	stdin io.Reader // read by commands when the interpreter has no stdin
	tty   bool
	depth int // nesting of scripts run by scripts, to stop runaway recursion
}

type runStateKey struct{}

func stateOf(ctx context.Context) *runState {
	if rs, ok := ctx.Value(runStateKey{}).(*runState); ok {
		return rs
	}
	return &runState{stdin: eofReader{}}
}

// argv0 is the name the shell's messages start with in this run.
func (s *Session) argv0(ctx context.Context) string {
	if rs := stateOf(ctx); rs.name != "" {
		return rs.name
	}
	return s.name
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// NewSession starts a shell. It installs the registry's commands in the FS.
func NewSession(cfg Config) *Session {
	if cfg.FS == nil {
		cfg.FS = NewFS()
	}
	if cfg.Commands == nil {
		cfg.Commands = NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Hostname == nil {
		cfg.Hostname = func() string { return "localhost" }
	}
	if cfg.Uname == nil {
		cfg.Uname = func() Uname { return Uname{Sysname: "Linux"} }
	}
	if cfg.Prompt == nil {
		cfg.Prompt = func(cwd string) string { return cwd + " # " }
	}
	if cfg.OnCommand == nil {
		cfg.OnCommand = func(string, int) {}
	}
	if cfg.Name == "" {
		cfg.Name = "sh"
	}
	env := map[string]string{"PATH": "/bin:/sbin:/usr/bin:/usr/sbin", "HOME": "/"}
	maps.Copy(env, cfg.Env)
	cfg.Env = env
	cfg.Commands.Install(cfg.FS)
	s := &Session{cfg: cfg, fs: cfg.FS, reg: cfg.Commands, clock: cfg.Clock, name: cfg.Name, funcs: map[string]bool{}}
	dir := Clean(cfg.Dir)
	if fi, err := s.fs.Stat(dir); err != nil || !fi.IsDir() {
		dir = "/"
	}
	s.runner = s.newRunner(env, dir, cfg.Name, nil)
	return s
}

// fifoGuard is the interpreter's temporary directory. The interpreter
// opens paths in its temp dir with os.OpenFile directly (for process
// substitution FIFOs, which we reject anyway); a NUL byte makes any such
// path invalid for the OS, so nothing can reach the host filesystem.
const fifoGuard = "/\x00autopathlab-no-host-tmp"

func (s *Session) newRunner(env map[string]string, dir, argv0 string, params []string) *interp.Runner {
	// UID and friends are passed in so the interpreter does not ask the
	// host; they are unset again below since ash has no such variables.
	// HOME too: unset, the interpreter would take the host user's.
	pairs := []string{"UID=0", "EUID=0", "GID=0", "TMPDIR=" + fifoGuard, "HOME="}
	for k, v := range env {
		if k != "TMPDIR" && !strings.ContainsRune(k, '=') {
			pairs = append(pairs, k+"="+v)
		}
	}
	r, err := interp.New(
		interp.Env(expand.ListEnviron(pairs...)),
		// interp.Dir would stat the host's filesystem.
		func(r *interp.Runner) error { r.Dir = dir; return nil },
		interp.Params(append([]string{"--"}, params...)...),
		interp.Interactive(true), // ash expands aliases in scripts too
		interp.ExecHandlers(s.execMiddleware),
		interp.CallHandler(s.callHandler),
		interp.OpenHandler(s.openHandler),
		interp.ReadDirHandler2(s.readDirHandler),
		interp.StatHandler(s.statHandler),
		interp.AccessHandler(s.accessHandler),
		interp.StdIO(nil, io.Discard, io.Discard),
	)
	if err != nil {
		panic("shell: interp.New: " + err.Error()) // only bad options fail
	}
	r.Reset()
	setup := "unset UID EUID GID TMPDIR"
	if _, ok := env["HOME"]; !ok {
		setup += " HOME"
	}
	if v, ok := env["TMPDIR"]; ok {
		q, _ := syntax.Quote(v, syntax.LangBash)
		setup += "; export TMPDIR=" + q
	}
	f, _ := syntax.NewParser().Parse(strings.NewReader(setup), argv0)
	f.Name = argv0
	_ = r.Run(context.Background(), f)
	return r
}

// Run runs script as `sh -c script` does for an SSH exec request and returns
// its exit status. Variables and the current directory persist to the next
// Run.
func (s *Session) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	stdout, stderr = syncWriters(stdout, stderr)
	rs := &runState{name: s.name, stdin: eofReader{}}
	var in *os.File
	switch f := stdin.(type) {
	case nil:
	case *os.File:
		in = f
	default:
		// The interpreter's `read` builtin wants an *os.File, so stdin is
		// pumped through a pipe (not a file: nothing touches the disk).
		pr, pw, err := os.Pipe()
		if err != nil {
			rs.stdin = stdin
			break
		}
		go func() {
			_, _ = io.Copy(pw, stdin)
			pw.Close()
		}()
		defer pr.Close()
		in = pr
	}
	status := s.runSource(ctx, script, in, rs, stdout, stderr)
	s.cfg.OnCommand(script, status)
	return status
}

// Dir returns the session's current directory.
func (s *Session) Dir() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runner.Dir
}

// LookPath finds a command as the shell would, through its PATH, and
// returns its path.
func (s *Session) LookPath(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, _, err := s.lookPath(s.fs, s.runner.Vars["PATH"].String(), s.runner.Dir, name)
	return p, err == nil
}

// Getenv returns a shell variable.
func (s *Session) Getenv(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runner.Vars[name].String()
}

// runSource parses and runs src; a syntax error prints ash's message and
// yields 2 without touching the session's state.
func (s *Session) runSource(ctx context.Context, src string, in *os.File, rs *runState, stdout, stderr io.Writer) int {
	f, err := s.parse(src, rs.name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: syntax error: %s\n", rs.name, syntaxMessage(err))
		s.setStatus(2)
		return 2
	}
	return s.runFile(ctx, f, in, rs, stdout, stderr)
}

// runFile runs a parsed script. exited reports an `exit` (or exec) that
// ends the shell; a fatal interpreter error or a cancelled context prints
// or not, but does not.
func (s *Session) runFile(ctx context.Context, f *syntax.File, in *os.File, rs *runState, stdout, stderr io.Writer) (status int) {
	status, _ = s.runFileExit(ctx, f, in, rs, stdout, stderr)
	return status
}

func (s *Session) runFileExit(ctx context.Context, f *syntax.File, in *os.File, rs *runState, stdout, stderr io.Writer) (status int, exited bool) {
	var stdin io.Reader
	if in != nil {
		stdin = in
	}
	_ = interp.StdIO(stdin, stdout, stderr)(s.runner)
	ctx = context.WithValue(ctx, runStateKey{}, rs)
	defer func() {
		if p := recover(); p != nil {
			// A bug in the interpreter must not take the node down.
			fmt.Fprintf(stderr, "%s: internal error\n", rs.name)
			status, exited = 2, false
		}
	}()
	err := s.runner.Run(ctx, f)
	var es interp.ExitStatus
	switch {
	case err == nil:
		return 0, s.runner.Exited()
	case errors.As(err, &es):
		return int(es), s.runner.Exited()
	case ctx.Err() != nil:
		return 130, false // cancelled (Ctrl-C): the command was killed
	default:
		fmt.Fprintf(stderr, "%s: %v\n", rs.name, err)
		return 2, false
	}
}

// setStatus makes $? report status, after a line the interpreter did not
// finish: a syntax error or Ctrl-C.
func (s *Session) setStatus(status int) {
	f, err := syntax.NewParser().Parse(strings.NewReader(fmt.Sprintf("(exit %d)", status&0xff)), "")
	if err == nil {
		_ = interp.StdIO(nil, io.Discard, io.Discard)(s.runner)
		_ = s.runner.Run(context.Background(), f)
	}
}

// parse parses src as busybox ash would accept it (bash syntax is the
// closest mvdan.cc/sh offers) and vets the tree.
func (s *Session) parse(src, name string) (f *syntax.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%v", p)
		}
	}()
	f, err = syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, err
	}
	if err := s.vet(f); err != nil {
		return nil, err
	}
	return f, nil
}

// errUnexpectedParen is how ash rejects process substitution.
var errUnexpectedParen = errors.New(`unexpected "("`)

// vet rejects what ash cannot parse and the interpreter would run on the
// host (process substitution needs host FIFOs), rewrites ~user so that the
// interpreter does not look users up on the host, and records function
// names for `type` and `command -v`.
func (s *Session) vet(f *syntax.File) error {
	var err error
	user := s.cfg.Env["USER"]
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.ProcSubst:
			err = errUnexpectedParen
		case *syntax.FuncDecl:
			if n.Name != nil {
				s.addFunc(n.Name.Value)
			}
			for _, name := range n.Names {
				s.addFunc(name.Value)
			}
		case *syntax.Word:
			tildeUser(n, user)
		}
		return err == nil
	})
	return err
}

// tildeUser rewrites ~name: ~<current user> becomes ~ (the session's HOME)
// and any other user's name stays literal, as ash leaves unknown users.
func tildeUser(w *syntax.Word, user string) {
	if len(w.Parts) == 0 {
		return
	}
	lit, ok := w.Parts[0].(*syntax.Lit)
	if !ok || !strings.HasPrefix(lit.Value, "~") {
		return
	}
	name, rest, slash := strings.Cut(lit.Value[1:], "/")
	if name == "" {
		return
	}
	if slash {
		rest = "/" + rest
	}
	if name == user {
		lit.Value = "~" + rest
		return
	}
	parts := []syntax.WordPart{&syntax.SglQuoted{Value: "~" + name}}
	if rest != "" {
		parts = append(parts, &syntax.Lit{Value: rest})
	}
	w.Parts = append(parts, w.Parts[1:]...)
}

func (s *Session) addFunc(name string) {
	s.funcsMu.Lock()
	defer s.funcsMu.Unlock()
	s.funcs[name] = true
}

func (s *Session) isFunc(name string) bool {
	s.funcsMu.Lock()
	defer s.funcsMu.Unlock()
	return s.funcs[name]
}

// syntaxMessage words a parse error the way ash does where it can.
func syntaxMessage(err error) string {
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		if pe.Incomplete {
			return "unexpected end of file"
		}
		if tok, _, ok := strings.Cut(pe.Text, " can only be used"); ok {
			return "unexpected " + strings.ReplaceAll(tok, "`", `"`)
		}
		return pe.Text
	}
	var le syntax.LangError
	if errors.As(err, &le) {
		return "unexpected " + strings.TrimSpace(le.Feature)
	}
	return err.Error()
}

// exportedEnv lists the exported, set variables of env as sorted
// NAME=value pairs; a later occurrence of a name wins, as Each documents.
func exportedEnv(env expand.Environ) []string {
	vars := map[string]expand.Variable{}
	env.Each(func(name string, vr expand.Variable) bool {
		vars[name] = vr
		return true
	})
	var out []string
	for name, vr := range vars {
		if vr.Exported && vr.IsSet() {
			out = append(out, name+"="+vr.String())
		}
	}
	sort.Strings(out)
	return out
}

// syncWriters serialises writes: commands of one pipeline write stderr
// concurrently, and the caller's writer (a bytes.Buffer, an SSH channel)
// need not be safe for that.
func syncWriters(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	mu := &sync.Mutex{}
	so := &lockedWriter{w: stdout, mu: mu}
	if stderr == stdout {
		return so, so
	}
	return so, &lockedWriter{w: stderr, mu: mu}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
