package shell

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"mvdan.cc/sh/v3/expand"
)

var fuzzScripts = []string{
	"echo hello | tr a-z A-Z",
	"cd /etc && ls -l; pwd",
	"for i in 1 2 3; do echo $i; done | sort -rn | head -1",
	"if [ -f /etc/hosts ]; then cat /etc/hosts | grep -c esxi; fi",
	"x=$(echo a b | awk '{print $2}'); echo $x >> /tmp/f; cat /tmp/f",
	"f() { f; }; f",
	"sed -n '/a/,/b/p;s/x/y/g' /etc/hosts",
	"printf '%s %d %5.2f\\n' a 1 2.5",
	"cat <(echo x)",
	"echo ~root ~nobody $((1/0))",
	"while true; do :; done",
	"sleep 1000",
	"tail -f /etc/hosts",
	"nosuch; echo $?",
	"if then fi",
	"echo 'unterminated",
	"exec ls",
	"a=1; export a; env | sort",
	"/bin/sh -c 'sh -c \"echo deep\"'",
	"echo a > /dev/null 2>&1 < /etc/hosts",
	"cd /; rm -rf /etc; mkdir -p /x/y; mv /x /z; cp -r /z /w; ls -a /",
	"printf 'a\\nb\\n' | xargs -n1 echo",
	"echo {1..100000}",
	"trap 'echo bye' EXIT; exit 3",
}

// FuzzRun feeds arbitrary text to a fresh session: it must never panic or
// hang past its context, and the session must answer afterwards.
func FuzzRun(f *testing.F) {
	for _, s := range fuzzScripts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		e := newEnv(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		var out, errb bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- e.s.Run(ctx, script, nil, &out, &errb) }()
		select {
		case st := <-done:
			if st < 0 || st > 255 {
				t.Fatalf("status %d", st)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Run ignored its context on %q", script)
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		var out2 bytes.Buffer
		e.s.Run(ctx2, "\\command -v ls", nil, &out2, &out2)
		if ctx2.Err() != nil {
			t.Fatalf("session unusable after %q", script)
		}
	})
}

// FuzzBusyboxArgs gives each applet arbitrary arguments: no panic, no
// hang past the context.
func FuzzBusyboxArgs(f *testing.F) {
	seeds := []string{
		"-n 2", "-5", "+3", "-c 3 /etc/hosts", "-f /etc/hosts", "-l -a /", "-Z", "--zzz", "-", "--",
		"-e a -e b /etc/hosts", "-k 2,2n -t :", "-d : -f 2-", "a-z A-Z", "-i s/a/b/g /etc/hosts",
		"s/a/b/ /nope", "{print $1}", "-F: -v x=1 {print x}", "+%Y-%m-%d", "-a", "%d %s 1", "-p /a/b/c",
		"-rf /tmp", "1", "-s 0.5", "-I {} echo {}", "-c 'echo hi'", "-n", "-w -x -o -c -q a",
		"'[[:alpha:]]' x", `s/\(a\)/\1/`, "-E (", "5,$d", "-k", "-u Z", "-0",
	}
	names := BusyboxNames()
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, argText string) {
		name := names[int(which)%len(names)]
		e := newEnv(t)
		var args []string
		if strings.Contains(argText, "\x00") {
			args = strings.Split(argText, "\x00")
		} else {
			args = strings.Fields(argText)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		inv := testInvocation(e, append([]string{name}, args...), "a b c\n1 2 3\n")
		done := make(chan struct{})
		go func() {
			defer close(done)
			cmd, _ := e.reg.Command("/bin/" + name)
			cmd(ctx, inv)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %q ignored its context", name, args)
		}
	})
}

// testInvocation builds what the session would pass a command.
func testInvocation(e *testEnv, args []string, stdin string) *Invocation {
	env := expand.ListEnviron("PATH=/bin:/sbin", "HOME=/")
	return &Invocation{
		Args:   args,
		Stdin:  strings.NewReader(stdin),
		Stdout: &syncBuffer{},
		Stderr: &syncBuffer{},
		Dir:    "/",
		Getenv: func(n string) string { return env.Get(n).String() },
		FS:     e.fs,
		Clock:  clockwork.NewFakeClockAt(epoch),
		env:    env,
		sess:   e.s,
	}
}
