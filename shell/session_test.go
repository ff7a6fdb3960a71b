package shell

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunShellLanguage(t *testing.T) {
	tests := []struct {
		name, script, stdout, stderr string
		status                       int
	}{
		{"pipe", "echo hello | tr a-z A-Z", "HELLO\n", "", 0},
		{"three stage pipe", "printf 'b\\na\\nb\\n' | sort | uniq -c", "      1 a\n      2 b\n", "", 0},
		{"and", "true && echo yes", "yes\n", "", 0},
		{"or", "false || echo no", "no\n", "", 0},
		{"and short-circuits", "false && echo yes", "", "", 1},
		{"status", "false; echo $?; true; echo $?", "1\n0\n", "", 0},
		{"variables", "x=world; echo \"hello $x\"", "hello world\n", "", 0},
		{"command substitution", "echo \"[$(echo inner)]\"", "[inner]\n", "", 0},
		{"arithmetic", "x=5; echo $((x*2+1))", "11\n", "", 0},
		{"if", "if [ 1 -lt 2 ]; then echo lt; else echo ge; fi", "lt\n", "", 0},
		{"for", "for i in a b c; do echo $i; done", "a\nb\nc\n", "", 0},
		{"while read", "printf '1\\n2\\n' | while read n; do echo n=$n; done", "n=1\nn=2\n", "", 0},
		{"function", "greet() { echo hi $1; return 3; }; greet bob; echo $?", "hi bob\n3\n", "", 0},
		{"redirect out", "echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f", "one\ntwo\n", "", 0},
		{"redirect in", "echo data > /tmp/f; tr a-z A-Z < /tmp/f", "DATA\n", "", 0},
		{"stderr to stdout", "cat /nope 2>&1 | tr a-z A-Z", "CAT: CAN'T OPEN '/NOPE': NO SUCH FILE OR DIRECTORY\n", "", 0},
		{"dev null", "cat /nope 2>/dev/null; echo $?; echo x > /dev/null", "1\n", "", 0},
		{"glob", "touch /tmp/a1 /tmp/a2 /tmp/b1; echo /tmp/a*", "/tmp/a1 /tmp/a2\n", "", 0},
		{"test -f and -d", "[ -f /etc/hosts ] && test -d /etc && [ ! -e /nope ] && echo ok", "ok\n", "", 0},
		{"test -x", "[ -x /bin/ls ] && [ ! -x /etc/hosts ] && echo ok", "ok\n", "", 0},
		{"not found", "nosuchcmd arg", "", "sh: nosuchcmd: not found\n", 127},
		{"not found with path", "./nosuch", "", "sh: ./nosuch: not found\n", 127},
		{"not executable", "/etc/hosts", "", "sh: /etc/hosts: Permission denied\n", 126},
		{"directory", "/etc", "", "sh: /etc: Permission denied\n", 126},
		{"syntax error", "if true; then", "", "sh: syntax error: unexpected end of file\n", 2},
		{"syntax error keyword", "fi", "", "sh: syntax error: unexpected \"fi\"\n", 2},
		{"process substitution rejected", "cat <(echo x)", "", "sh: syntax error: unexpected \"(\"\n", 2},
		{"exit", "echo a; exit 7; echo b", "a\n", "", 7},
		{"cd error", "cd /nope", "", "sh: cd: can't cd to /nope: No such file or directory\n", 2},
		{"cd to file", "cd /etc/hosts", "", "sh: cd: can't cd to /etc/hosts: Not a directory\n", 2},
		{"cd and pwd", "cd /etc/vmware && pwd && cd .. && pwd && cd && pwd", "/etc/vmware\n/etc\n/\n", "", 0},
		{"cd -", "cd /etc; cd /tmp; cd -", "/etc\n", "", 0},
		{"redirect error", "cat < /nope", "", "sh: can't open /nope: no such file\n", 1},
		{"create error", "echo x > /nope/f", "", "sh: can't create /nope/f: nonexistent directory\n", 1},
		{"command -v", "command -v ls; command -v cd; command -v if; command -v nope; echo $?", "/bin/ls\ncd\nif\n1\n", "", 0},
		{"command -V", "command -V ls", "ls is /bin/ls\n", "", 0},
		{"type", "f() { :; }; type ls echo f nope", "ls is /bin/ls\necho is a shell builtin\nf is a function\nnope: not found\n", "", 127},
		{"which", "which ls sh; which nope; echo $?", "/bin/ls\n/bin/sh\n1\n", "", 0},
		{"pwd -P follows symlinks", "ln -s /etc /tmp/e; cd /tmp/e; pwd; pwd -P", "/tmp/e\n/etc\n", "", 0},
		{"sh -c", "/bin/sh -c 'echo $0 $1; exit 4' zero one; echo $?", "zero one\n4\n", "", 0},
		{"sh -c inherits exports", "export A=1; B=2; sh -c 'echo ${A}${B}'", "1\n", "", 0},
		{"sh -c does not change cwd", "sh -c 'cd /etc'; pwd", "/\n", "", 0},
		{"script file", "printf 'echo args: $@\\nexit 3\\n' > /tmp/s.sh; sh /tmp/s.sh a b; echo $?", "args: a b\n3\n", "", 0},
		{"executable script", "echo 'echo run' > /tmp/x.sh; /tmp/x.sh", "", "sh: /tmp/x.sh: Permission denied\n", 126},
		{"source", "echo 'SOURCED=yes' > /tmp/lib.sh; . /tmp/lib.sh; echo $SOURCED", "yes\n", "", 0},
		{"source missing", ". /tmp/nolib.sh", "", "sh: .: can't open '/tmp/nolib.sh'\n", 2},
		{"tilde", "echo ~ ~/x ~root ~nobody", "/ //x / ~nobody\n", "", 0},
		{"tilde in eval", "eval 'echo ~nobody ~root/x'", "~nobody //x\n", "", 0},
		{"no host variables", "echo \"[$UID$EUID$TMPDIR]\"", "[]\n", "", 0},
		{"env prefix", "FOO=bar env | grep FOO", "FOO=bar\n", "", 0},
		{"xargs", "printf 'a b\\nc\\n' | xargs echo X", "X a b c\n", "", 0},
		{"recursion bounded", "f() { f; }; f", "", "sh: function nesting too deep\n", 2},
		{"printf builtin floats", "printf '%.2f %s\\n' 3.14159 x", "3.14 x\n", "", 0},
		{"exec", "exec echo replaced; echo never", "replaced\n", "", 0},
		{"background and wait", "echo bg & wait; echo done", "bg\ndone\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			stdout, stderr, status := e.run(t, tt.script)
			assert.Equal(t, tt.stdout, stdout, "stdout")
			assert.Equal(t, tt.stderr, stderr, "stderr")
			assert.Equal(t, tt.status, status, "status")
		})
	}
}

func TestStatePersistsAcrossRuns(t *testing.T) {
	e := newEnv(t)
	_, _, st := e.run(t, "cd /etc/vmware; X=42; export Y=7; f() { echo func; }")
	require.Equal(t, 0, st)
	out, _, _ := e.run(t, "pwd; echo $X $Y; f")
	assert.Equal(t, "/etc/vmware\n42 7\nfunc\n", out)
	assert.Equal(t, "/etc/vmware", e.s.Dir())
	assert.Equal(t, "42", e.s.Getenv("X"))
	p, ok := e.s.LookPath("grep")
	assert.True(t, ok)
	assert.Equal(t, "/bin/grep", p)
	// A syntax error leaves the session as it was.
	_, errOut, st := e.run(t, "echo (")
	assert.Equal(t, 2, st)
	assert.Contains(t, errOut, "syntax error")
	out, _, st = e.run(t, "echo $X; pwd")
	assert.Equal(t, 0, st)
	assert.Equal(t, "42\n/etc/vmware\n", out)
}

func TestRunReadsStdin(t *testing.T) {
	e := newEnv(t)
	out, _, st := e.runIn(t, "read a b; echo \"$b-$a\"; cat", "one two\nrest\n")
	assert.Equal(t, 0, st)
	assert.Equal(t, "two-one\nrest\n", out)
	out, _, _ = e.runIn(t, "cat > /tmp/up; wc -l /tmp/up", "1\n2\n3\n")
	assert.Equal(t, "3 /tmp/up\n", out)
}

func TestNoHostBinaryOrFile(t *testing.T) {
	e := newEnv(t)
	// /etc/passwd exists on any host; the node has none.
	_, errOut, st := e.run(t, "ls /etc/passwd")
	assert.Equal(t, 1, st)
	assert.Equal(t, "ls: /etc/passwd: No such file or directory\n", errOut)
	_, _, st = e.run(t, "cat /etc/passwd")
	assert.Equal(t, 1, st)

	// A host shell would print the host's uname; ours has no uname left.
	require.NoError(t, e.fs.Remove("/bin/uname"))
	out, errOut, st := e.run(t, "/bin/sh -c 'uname -a'")
	assert.Equal(t, 127, st)
	assert.Empty(t, out)
	assert.Equal(t, "sh: uname: not found\n", errOut)

	// Host binaries are not in the node's PATH.
	for _, cmd := range []string{"go version", "/usr/bin/env", "bash -c 'echo hi'", "id", "python3 -c 1"} {
		out, _, st := e.run(t, cmd)
		assert.Equal(t, 127, st, cmd)
		assert.Empty(t, out, cmd)
	}
	out, _, _ = e.run(t, "command -v go bash id")
	assert.Empty(t, out)

	// Nothing was written to the host.
	_, _, _ = e.run(t, "echo leak > /tmp/autopathlab-leak-test; mkdir -p /tmp/autopathlab-leak-dir")
	_, err := os.Stat("/tmp/autopathlab-leak-test")
	assert.True(t, os.IsNotExist(err))
	_, err = os.Stat("/tmp/autopathlab-leak-dir")
	assert.True(t, os.IsNotExist(err))
}

func TestCommandPanicIsRecovered(t *testing.T) {
	e := newEnv(t)
	e.reg.Register("/sbin/boom", func(context.Context, *Invocation) int { panic("kaboom") })
	out, errOut, st := e.run(t, "boom; echo after $?")
	assert.Equal(t, 0, st)
	assert.Equal(t, "after 1\n", out)
	assert.Equal(t, "sh: boom: internal error\n", errOut)
	out, _, _ = e.run(t, "boom | echo piped")
	assert.Equal(t, "piped\n", out)
}

func TestRegisteredCommandSeesInvocation(t *testing.T) {
	e := newEnv(t)
	var got *Invocation
	var l, notExported string
	e.reg.Register("/sbin/esxcfg-route", func(ctx context.Context, inv *Invocation) int {
		got = inv
		l, notExported = inv.Getenv("L"), inv.Getenv("NE")
		data, _ := inv.FS.ReadFile(inv.Abs("f"))
		inv.Stdout.Write(data)
		return 5
	})
	out, _, st := e.run(t, "cd /tmp; echo content > f; export E=1; NE=3; L=2 esxcfg-route -l x")
	assert.Equal(t, 5, st)
	assert.Equal(t, "content\n", out)
	require.NotNil(t, got)
	assert.Equal(t, []string{"esxcfg-route", "-l", "x"}, got.Args)
	assert.Equal(t, "/tmp", got.Dir)
	assert.Equal(t, "1", got.Getenv("E"))
	assert.Equal(t, "2", l)
	assert.Empty(t, notExported)
	assert.Contains(t, got.Environ(), "E=1")
	p, ok := got.LookPath("ls")
	assert.True(t, ok)
	assert.Equal(t, "/bin/ls", p)
	assert.False(t, got.TTY)
}

func TestOnCommand(t *testing.T) {
	e := newEnv(t)
	type rec struct {
		line   string
		status int
	}
	var got []rec
	e.s.cfg.OnCommand = func(line string, status int) { got = append(got, rec{line, status}) }
	e.run(t, "true; false")
	e.run(t, "nosuch")
	e.run(t, "if")
	assert.Equal(t, []rec{{"true; false", 1}, {"nosuch", 127}, {"if", 2}}, got)
}

func TestRunHonoursContext(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		var out bytes.Buffer
		done <- e.s.Run(ctx, "sleep 100; echo never", nil, &out, &out)
	}()
	require.NoError(t, e.clock.BlockUntilContext(context.Background(), 1))
	cancel()
	select {
	case st := <-done:
		assert.NotEqual(t, 0, st)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end")
	}
	// Time passing ends sleep normally.
	go func() {
		var out bytes.Buffer
		done <- e.s.Run(context.Background(), "sleep 2; echo slept", nil, &out, &out)
	}()
	require.NoError(t, e.clock.BlockUntilContext(context.Background(), 1))
	e.clock.Advance(2 * time.Second)
	assert.Equal(t, 0, <-done)
}

func TestEndlessLoopEndsWithContext(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	e.s.Run(ctx, "while true; do :; done", nil, &out, &out)
	out.Reset()
	e.s.Run(context.Background(), "echo alive", nil, &out, &out)
	assert.Equal(t, "alive\n", out.String())
}

func TestScriptsAndShebang(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.fs.WriteFile("/tmp/hello.sh", []byte("#!/bin/sh\necho hello $1 from $0\n"), 0o755))
	require.NoError(t, e.fs.WriteFile("/tmp/prog.awk", []byte("#!/bin/awk -f\n{ print \"awk:\" $0 }\n"), 0o755))
	require.NoError(t, e.fs.WriteFile("/tmp/loop.sh", []byte("/tmp/loop.sh\n"), 0o755))
	out, errOut, st := e.run(t, "/tmp/hello.sh world; cd /tmp; ./hello.sh there; echo in | ./prog.awk")
	assert.Equal(t, 0, st, errOut)
	assert.Equal(t, "hello world from /tmp/hello.sh\nhello there from ./hello.sh\nawk:in\n", out)
	_, errOut, st = e.run(t, "/tmp/loop.sh")
	assert.NotEqual(t, 0, st)
	assert.Contains(t, errOut, "too many levels")
	// PATH lookup finds scripts too.
	out, _, _ = e.run(t, "PATH=/tmp:$PATH; hello.sh p")
	assert.Equal(t, "hello p from hello.sh\n", out)
}

func TestSessionDefaults(t *testing.T) {
	s := NewSession(Config{})
	var out bytes.Buffer
	st := s.Run(context.Background(), "pwd; echo $HOME; echo $PATH; hostname", nil, &out, &out)
	assert.Equal(t, 127, st) // no busybox registered
	assert.True(t, strings.HasPrefix(out.String(), "/\n/\n/bin:/sbin:/usr/bin:/usr/sbin\n"), out.String())
}
