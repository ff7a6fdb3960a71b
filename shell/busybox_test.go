package shell

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const usageLine = "BusyBox v1.36.1 (2023-11-07 18:53:09 UTC) multi-call binary.\n\nUsage: "

func TestBusybox(t *testing.T) {
	// Each script runs in a fresh session holding /etc/hosts and
	// /etc/vmware/esx.conf (see newEnv) and /tmp/n with "3\n1\n20\n2\n".
	tests := []struct {
		name, script, stdout, stderr string
		status                       int
	}{
		// echo and printf
		{"echo", "/bin/echo a  b", "a b\n", "", 0},
		{"echo -n", "/bin/echo -n x; /bin/echo y", "xy\n", "", 0},
		{"echo -e", `/bin/echo -e 'a\tb\n\0101\x42\c'; echo end`, "a\tb\nAB" + "end\n", "", 0},
		{"echo not an option", "/bin/echo -x -n", "-x -n\n", "", 0},
		{"printf", `printf '%s=%d %5.1f|%-3s|%x %o %c %%\n' a 42 2.25 b 255 8 xyz`, "a=42   2.2|b  |ff 10 x %\n", "", 0},
		{"printf reuses format", `printf '<%s>' a b c; echo`, "<a><b><c>\n", "", 0},
		{"printf bad number", `printf '%d\n' abc`, "0\n", "printf: invalid number 'abc'\n", 1},
		{"printf %b", `printf '%b|%s\n' 'a\tb' 'a\tb'`, "a\tb|a\\tb\n", "", 0},
		{"printf huge width", `printf '%999999999d\n' 1 | wc -c`, "4097\n", "", 0},
		// cat
		{"cat", "cat /etc/hosts", "127.0.0.1 localhost\n10.0.0.1 esxi esxi.localdomain\n", "", 0},
		{"cat -n", "cat -n /tmp/n | head -2", "     1\t3\n     2\t1\n", "", 0},
		{"cat stdin", "echo in | cat - /tmp/n | head -2", "in\n3\n", "", 0},
		{"cat missing", "cat /nope /tmp/n | wc -l", "4\n", "cat: can't open '/nope': No such file or directory\n", 0},
		{"cat missing status", "cat /nope", "", "cat: can't open '/nope': No such file or directory\n", 1},
		{"cat directory", "cat /etc", "", "cat: read error: Is a directory\n", 1},
		// grep
		{"grep", "grep esxi /etc/hosts", "10.0.0.1 esxi esxi.localdomain\n", "", 0},
		{"grep no match", "grep nothing /etc/hosts", "", "", 1},
		{"grep missing file", "grep x /nope", "", "grep: /nope: No such file or directory\n", 2},
		{"grep -s", "grep -s x /nope", "", "", 2},
		{"grep -i -c", "grep -ic LOCAL /etc/hosts", "2\n", "", 0},
		{"grep -v -n", "grep -vn esxi /etc/hosts", "1:127.0.0.1 localhost\n", "", 0},
		{"grep -w", "printf 'esx\\nesxi\\n' | grep -w esx", "esx\n", "", 0},
		{"grep -q", "grep -q esxi /etc/hosts && echo found", "found\n", "", 0},
		{"grep -l", "grep -l vmk0 /etc/hosts /etc/vmware/esx.conf", "/etc/vmware/esx.conf\n", "", 0},
		{"grep multiple files", "grep -h localhost /etc/hosts; grep 1 /etc/hosts /tmp/n", "127.0.0.1 localhost\n/etc/hosts:127.0.0.1 localhost\n/etc/hosts:10.0.0.1 esxi esxi.localdomain\n/tmp/n:1\n", "", 0},
		{"grep BRE", `printf 'aaa\nab\na+\n' | grep 'a\{3\}'; printf 'a+\nb\n' | grep 'a+'`, "aaa\na+\n", "", 0},
		{"grep BRE group", `echo 'vmk0 vmk1' | grep -o 'vmk\(0\|1\)'`, "vmk0\nvmk1\n", "", 0},
		{"grep -E", `printf 'vmk0\nvmk12\nvmnic0\n' | grep -E '^vmk[0-9]+$'`, "vmk0\nvmk12\n", "", 0},
		{"egrep", `printf 'a\nb\nc\n' | egrep 'a|c'`, "a\nc\n", "", 0},
		{"grep -F", `printf 'a.b\naxb\n' | grep -F a.b`, "a.b\n", "", 0},
		{"grep -e -e", `printf 'a\nb\nc\n' | grep -e a -e c`, "a\nc\n", "", 0},
		{"grep -x", `printf 'ab\nabc\n' | grep -x ab`, "ab\n", "", 0},
		{"grep -A", `printf '1\nx\n2\n3\n4\nx\n5\n' | grep -A1 x`, "x\n2\n--\nx\n5\n", "", 0},
		{"grep -B", `printf '1\n2\nx\n' | grep -B1 x`, "2\nx\n", "", 0},
		{"grep bad option", "grep -Z x", "", "grep: invalid option -- 'Z'\n" + usageLine + "grep [-1vcEFiwqnlsxoHh] [-e PTRN]... [-f FILE] [FILE]...\n", 2},
		{"grep bad regex", "grep -E '(' /etc/hosts", "", "grep: bad regex '(': error parsing regexp: missing closing ): `(?:()`\n", 2},
		{"grep -r", "grep -r vmk0 /etc", "/etc/vmware/esx.conf:/net/vmkernelnic/child[0000]/name = \"vmk0\"\n", "", 0},
		// head and tail
		{"head", "head -n 2 /tmp/n", "3\n1\n", "", 0},
		{"head -N", "head -1 /tmp/n", "3\n", "", 0},
		{"head default", "seqs() { i=0; while [ $i -lt 12 ]; do echo $i; i=$((i+1)); done; }; seqs | head | wc -l", "10\n", "", 0},
		{"head -c", "head -c 3 /etc/hosts; echo", "127\n", "", 0},
		{"head missing", "head /nope", "", "head: can't open '/nope': No such file or directory\n", 1},
		{"head two files", "head -n1 /tmp/n /etc/hosts", "==> /tmp/n <==\n3\n\n==> /etc/hosts <==\n127.0.0.1 localhost\n", "", 0},
		{"tail", "tail -n 2 /tmp/n", "20\n2\n", "", 0},
		{"tail -N", "tail -1 /tmp/n", "2\n", "", 0},
		{"tail +N", "tail -n +3 /tmp/n", "20\n2\n", "", 0},
		{"tail stdin", "printf 'a\\nb\\n' | tail -n1", "b\n", "", 0},
		{"tail missing", "tail /nope", "", "tail: can't open '/nope': No such file or directory\n", 1},
		{"tail bad number", "tail -n x /tmp/n", "", "tail: invalid number 'x'\n", 1},
		// wc
		{"wc", "wc /etc/hosts", "        2         5        51 /etc/hosts\n", "", 0},
		{"wc -l", "wc -l /tmp/n", "4 /tmp/n\n", "", 0},
		{"wc -l stdin", "wc -l < /tmp/n", "4\n", "", 0},
		{"wc -w -c", "echo one two | wc -w -c", "        2         8\n", "", 0},
		{"wc total", "wc -l /tmp/n /etc/hosts", "        4 /tmp/n\n        2 /etc/hosts\n        6 total\n", "", 0},
		{"wc missing", "wc /nope", "", "wc: can't open '/nope': No such file or directory\n", 1},
		// sort and uniq
		{"sort", "sort /tmp/n", "1\n2\n20\n3\n", "", 0},
		{"sort -n", "sort -n /tmp/n", "1\n2\n3\n20\n", "", 0},
		{"sort -rn", "sort -rn /tmp/n", "20\n3\n2\n1\n", "", 0},
		{"sort -u", "printf 'b\\na\\nb\\n' | sort -u", "a\nb\n", "", 0},
		{"sort -k -t", "printf 'x:3\\ny:1\\nz:2\\n' | sort -t: -k2n", "y:1\nz:2\nx:3\n", "", 0},
		{"sort -k blank fields", "printf 'a 2\\nb 10\\nc 1\\n' | sort -k 2,2n", "c 1\na 2\nb 10\n", "", 0},
		{"sort -k reverse", "printf 'a 2\\nb 10\\nc 1\\n' | sort -k2nr", "b 10\na 2\nc 1\n", "", 0},
		{"sort missing", "sort /nope", "", "sort: can't open '/nope': No such file or directory\n", 2},
		{"uniq", "printf 'a\\na\\nb\\na\\n' | uniq", "a\nb\na\n", "", 0},
		{"uniq -c", "printf 'a\\na\\nb\\n' | uniq -c", "      2 a\n      1 b\n", "", 0},
		{"uniq -d", "printf 'a\\na\\nb\\n' | uniq -d", "a\n", "", 0},
		// cut and tr
		{"cut -d -f", "echo a:b:c:d | cut -d: -f2,4", "b:d\n", "", 0},
		{"cut range", "echo a:b:c:d | cut -d: -f2-", "b:c:d\n", "", 0},
		{"cut -c", "echo abcdef | cut -c2-4", "bcd\n", "", 0},
		{"cut no delimiter", "printf 'x\\ny:z\\n' | cut -d: -f2", "x\nz\n", "", 0},
		{"cut -s", "printf 'x\\ny:z\\n' | cut -s -d: -f2", "z\n", "", 0},
		{"cut no list", "cut -d: /tmp/n", "", "cut: expected a list of bytes, characters, or fields\n", 1},
		{"tr ranges", "echo Hello | tr a-z A-Z", "HELLO\n", "", 0},
		{"tr classes", "echo Hello | tr '[:upper:]' '[:lower:]'", "hello\n", "", 0},
		{"tr -d", "echo a-b-c | tr -d -", "abc\n", "", 0},
		{"tr -s", "echo 'a   b' | tr -s ' '", "a b\n", "", 0},
		{"tr -d newline", "printf 'a\\nb\\n' | tr -d '\\n'; echo", "ab\n", "", 0},
		{"tr short set2", "echo abc | tr abc x", "xxx\n", "", 0},
		{"tr -c", "echo 'ab12' | tr -cd '0-9\\n'", "12\n", "", 0},
		// awk
		{"awk print field", "echo 'a b c' | awk '{print $2}'", "b\n", "", 0},
		{"awk -F", "echo a:b:c | awk -F: '{print $3, NF}'", "c 3\n", "", 0},
		{"awk -v", "awk -v x=5 'BEGIN{print x*2}'", "10\n", "", 0},
		{"awk file", "awk '$1 > 2 {s+=$1} END {print s}' /tmp/n", "23\n", "", 0},
		{"awk two files", "awk '{print FILENAME\": \"$0}' /tmp/n /etc/hosts | wc -l", "6\n", "", 0},
		{"awk printf", `awk 'BEGIN{printf "%05.1f\n", 3.14159}'`, "003.1\n", "", 0},
		{"awk no system", `awk 'BEGIN{system("echo pwned")}'`, "", "awk: can't call system() due to NoExec\n", 2},
		{"awk no file write", `awk 'BEGIN{print "x" > "/tmp/out"}'; cat /tmp/out`, "", "awk: can't write to file due to NoFileWrites\ncat: can't open '/tmp/out': No such file or directory\n", 1},
		{"awk ENVIRON is the session's", `export VMK=vmk0; awk 'BEGIN{print ENVIRON["VMK"], ENVIRON["GOPATH"]=="" }'`, "vmk0 1\n", "", 0},
		{"awk syntax error", "awk '{print'", "", "", 2},
		{"awk missing file", "awk 1 /nope", "", "awk: can't open '/nope': No such file or directory\n", 2},
		// sed
		{"sed s", "echo hello world | sed 's/o/0/'", "hell0 world\n", "", 0},
		{"sed s g", "echo hello world | sed 's/o/0/g'", "hell0 w0rld\n", "", 0},
		{"sed s nth", "echo aaaa | sed 's/a/b/3'", "aaba\n", "", 0},
		{"sed s i", "echo HeLLo | sed 's/l/x/gi'", "Hexxo\n", "", 0},
		{"sed -n p", "sed -n '2p' /tmp/n", "1\n", "", 0},
		{"sed s p", "printf 'a\\nb\\n' | sed -n 's/a/A/p'", "A\n", "", 0},
		{"sed d", "sed '1d;3d' /tmp/n", "1\n2\n", "", 0},
		{"sed range", "sed -n '2,3p' /tmp/n", "1\n20\n", "", 0},
		{"sed $", "sed -n '$p' /tmp/n", "2\n", "", 0},
		{"sed regex address", "sed -n '/esxi/p' /etc/hosts", "10.0.0.1 esxi esxi.localdomain\n", "", 0},
		{"sed regex range", "printf 'a\\nstart\\nb\\nend\\nc\\n' | sed '/start/,/end/d'", "a\nc\n", "", 0},
		{"sed negate", "sed -n '1!p' /tmp/n", "1\n20\n2\n", "", 0},
		{"sed groups", `echo 'name = "vmk0"' | sed 's/^\(.*\) = "\(.*\)"$/\2=\1/'`, "vmk0=name\n", "", 0},
		{"sed -E and &", `echo abc123 | sed -E 's/[0-9]+/<&>/'`, "abc<123>\n", "", 0},
		{"sed -e -e", "echo ab | sed -e s/a/x/ -e s/b/y/", "xy\n", "", 0},
		{"sed a i c", "printf '1\\n2\\n' | sed -e '1i\\\nbefore' -e '1a after' -e '2c changed'", "before\n1\nafter\nchanged\n", "", 0},
		{"sed y", "echo abc | sed 'y/abc/xyz/'", "xyz\n", "", 0},
		{"sed q", "sed 2q /tmp/n", "3\n1\n", "", 0},
		{"sed =", "printf 'a\\nb\\n' | sed -n '$='", "2\n", "", 0},
		{"sed block", "sed -n '/2/{s/2/two/;p}' /tmp/n", "two0\ntwo\n", "", 0},
		{"sed hold", "printf '1\\n2\\n3\\n' | sed -n '1!G;h;$p'", "3\n2\n1\n", "", 0},
		{"sed N", "printf 'a\\nb\\nc\\n' | sed 'N;s/\\n/,/'", "a,b\nc\n", "", 0},
		{"sed labels", "echo aaa | sed ':a;s/a/b/;ta'", "bbb\n", "", 0},
		{"sed no final newline", "printf 'a\\nb' | sed s/b/c/", "a\nc", "", 0},
		{"sed -i", "sed -i 's/localhost/lh/' /etc/hosts; cat /etc/hosts", "127.0.0.1 lh\n10.0.0.1 esxi esxi.localdomain\n", "", 0},
		{"sed -i suffix", "sed -i.bak 1d /tmp/n; cat /tmp/n.bak | wc -l; wc -l < /tmp/n", "4\n3\n", "", 0},
		{"sed missing file", "sed p /nope", "", "sed: can't open '/nope': No such file or directory\n", 2},
		{"sed bad command", "echo | sed k", "", "sed: unsupported command k\n", 1},
		{"sed unterminated", "echo | sed s/a/b", "", "sed: unmatched '/'\n", 1},
		// files
		{"ls", "ls /etc", "hosts\nvmware\n", "", 0},
		{"ls -a", "ls -a /etc", ".\n..\nhosts\nvmware\n", "", 0},
		{"ls -d", "ls -d /etc", "/etc\n", "", 0},
		{"ls -l", "ls -l /etc", "total 2\n-rw-r--r--    1 root     root            51 Nov 21 05:20 hosts\ndrwxr-xr-x    1 root     root           512 Nov 21 05:20 vmware\n", "", 0},
		{"ls -l symlink", "ln -s /etc/hosts /tmp/h; ls -l /tmp/h", "lrwxrwxrwx    1 root     root            10 Nov 21 05:20 /tmp/h -> /etc/hosts\n", "", 0},
		{"ls -l symlink to dir with slash", "mkdir -p /tmp/d; touch /tmp/d/f; ln -s /tmp/d /tmp/l; ls -1l /tmp/l/ | tail -1", "-rw-r--r--    1 root     root             0 Nov 21 05:20 f\n", "", 0},
		{"ls file", "ls /etc/hosts", "/etc/hosts\n", "", 0},
		{"ls several", "ls /etc/vmware /etc/hosts /dev", "/etc/hosts\n\n/dev:\nnull\n\n/etc/vmware:\nesx.conf\n", "", 0},
		{"ls missing", "ls /nope", "", "ls: /nope: No such file or directory\n", 1},
		{"ls bad long option", "ls --zzz", "", "ls: unrecognized option '--zzz'\n" + usageLine + "ls [-1aAdl] [FILE]...\n", 1},
		{"ls bad option", "ls -z", "", "ls: invalid option -- 'z'\n" + usageLine + "ls [-1aAdl] [FILE]...\n", 1},
		{"ls bin", "ls /bin | grep -c .", "41\n", "", 0},
		{"mkdir", "mkdir /tmp/d && ls -d /tmp/d", "/tmp/d\n", "", 0},
		{"mkdir -p", "mkdir -p /tmp/a/b/c && ls /tmp/a/b", "c\n", "", 0},
		{"mkdir missing parent", "mkdir /tmp/x/y", "", "mkdir: can't create directory '/tmp/x/y': No such file or directory\n", 1},
		{"mkdir exists", "mkdir /etc", "", "mkdir: can't create directory '/etc': File exists\n", 1},
		{"rm", "rm /etc/hosts && ls /etc", "vmware\n", "", 0},
		{"rm missing", "rm /nope", "", "rm: can't remove '/nope': No such file or directory\n", 1},
		{"rm -f missing", "rm -f /nope", "", "", 0},
		{"rm directory", "rm /etc/vmware", "", "rm: '/etc/vmware' is a directory\n", 1},
		{"rm -r", "rm -r /etc/vmware && ls /etc", "hosts\n", "", 0},
		{"rmdir", "mkdir /tmp/e; rmdir /tmp/e; rmdir /etc", "", "rmdir: '/etc': Directory not empty\n", 1},
		{"touch", "touch /tmp/t; ls -l /tmp/t", "-rw-r--r--    1 root     root             0 Nov 21 05:20 /tmp/t\n", "", 0},
		{"touch missing dir", "touch /nope/t", "", "touch: /nope/t: No such file or directory\n", 1},
		{"cp", "cp /etc/hosts /tmp/ && cmpout=$(cat /tmp/hosts) && echo \"$cmpout\" | wc -l", "2\n", "", 0},
		{"cp -r", "cp -r /etc /tmp/etc2 && ls /tmp/etc2/vmware", "esx.conf\n", "", 0},
		{"cp dir without -r", "cp /etc /tmp/x", "", "cp: omitting directory '/etc'\n", 1},
		{"mv", "mv /etc/hosts /tmp/h && ls /tmp", "h\nn\n", "", 0},
		{"mv missing", "mv /nope /tmp", "", "mv: can't stat '/nope': No such file or directory\n", 1},
		{"readlink", "ln -s /etc/hosts /tmp/l; readlink /tmp/l; readlink -f /tmp/l", "/etc/hosts\n/etc/hosts\n", "", 0},
		{"basename dirname", "basename /a/b/c.txt .txt; dirname /a/b/c.txt; dirname c; basename /", "c\n/a/b\n.\n/\n", "", 0},
		{"tee", "echo t | tee /tmp/tee1 >/dev/null; cat /tmp/tee1", "t\n", "", 0},
		{"pwd applet", "cd /etc; /bin/pwd", "/etc\n", "", 0},
		// system
		{"date", "date", "Sat Nov 21 05:20:00 UTC 2026\n", "", 0},
		{"date format", "date '+%Y-%m-%d %H:%M:%S %j %s %%'", "2026-11-21 05:20:00 325 1795238400 %\n", "", 0},
		{"date -u -R", "date -u -R", "Sat, 21 Nov 2026 05:20:00 +0000\n", "", 0},
		{"date -I", "date -I", "2026-11-21\n", "", 0},
		{"date -d", "date -d @0 +%Y", "1970\n", "", 0},
		{"date set", "date 010100002020", "", "date: can't set date: Operation not permitted\n", 1},
		{"hostname", "hostname; hostname -s", "esxi.localdomain\nesxi\n", "", 0},
		{"uname", "uname; uname -n; uname -r", "VMkernel\nesxi.localdomain\n7.0.3\n", "", 0},
		{"uname -a", "uname -a", "VMkernel esxi.localdomain 7.0.3 #1 SMP Release build-19193900 Jan  4 2022 04:56:30 x86_64 x86_64 x86_64 ESXi\n", "", 0},
		{"uname bad", "uname -Q", "", "uname: invalid option -- 'Q'\n" + usageLine + "uname [-amnrspvio]\n", 1},
		{"true false", "/bin/true && ! /bin/false && echo ok", "ok\n", "", 0},
		{"env", "env | grep -c =", "4\n", "", 0},
		{"env -i cmd", "env -i A=1 /bin/sh -c 'echo $A$HOME'", "1\n", "", 0},
		{"env -u", "export Z=1; env -u Z | grep -c Z=", "0\n", "", 1},
		{"test applet", "/bin/test -f /etc/hosts && /bin/[ -d /etc ] && ! /bin/test -e /nope && echo ok", "ok\n", "", 0},
		{"xargs -n", "echo a b c | xargs -n 2 echo", "a b\nc\n", "", 0},
		{"xargs -I", "printf 'x\\ny\\n' | xargs -I{} echo '<{}>'", "<x>\n<y>\n", "", 0},
		{"xargs not found", "echo a | xargs nosuch", "", "sh: nosuch: not found\n", 127},
		{"which", "which -a ls", "/bin/ls\n", "", 0},
		{"sleep 0", "sleep 0 && echo ok", "ok\n", "", 0},
		{"sleep bad", "sleep x", "", "sleep: invalid number 'x'\n", 1},
		{"sleep missing", "sleep", "", "sleep: missing operand\n" + usageLine + "sleep [N]...\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			require.NoError(t, e.fs.WriteFile("/tmp/n", []byte("3\n1\n20\n2\n"), 0o644))
			stdout, stderr, status := e.run(t, tt.script)
			assert.Equal(t, tt.stdout, stdout, "stdout")
			if tt.name != "awk syntax error" {
				assert.Equal(t, tt.stderr, stderr, "stderr")
			} else {
				assert.True(t, strings.HasPrefix(stderr, "awk: "), stderr)
			}
			assert.Equal(t, tt.status, status, "status")
		})
	}
}

func TestTailFollow(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.fs.WriteFile("/tmp/log", []byte("old1\nold2\n"), 0o644))
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- e.s.Run(ctx, "tail -n1 -f /tmp/log", nil, out, out) }()

	require.NoError(t, e.clock.BlockUntilContext(ctx, 1))
	require.NoError(t, e.fs.AppendFile("/tmp/log", []byte("new1\n")))
	e.clock.Advance(time.Second)
	require.NoError(t, e.clock.BlockUntilContext(ctx, 1)) // next poll armed
	assert.Equal(t, "old2\nnew1\n", out.String())

	require.NoError(t, e.fs.AppendFile("/tmp/log", []byte("new2\n")))
	e.clock.Advance(time.Second)
	require.NoError(t, e.clock.BlockUntilContext(ctx, 1))
	assert.Equal(t, "old2\nnew1\nnew2\n", out.String())
	cancel()
	<-done
}

func TestTailFollowDynamic(t *testing.T) {
	e := newEnv(t)
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	content := "line1\n"
	require.NoError(t, e.fs.SetDynamic("/tmp/vmkernel.log", func() ([]byte, error) {
		<-mu
		defer func() { mu <- struct{}{} }()
		return []byte(content), nil
	}))
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() { done <- e.s.Run(ctx, "tail -f -s 2 /tmp/vmkernel.log", nil, out, out) }()
	require.NoError(t, e.clock.BlockUntilContext(ctx, 1))
	<-mu
	content += "line2\n"
	mu <- struct{}{}
	e.clock.Advance(time.Second) // not yet: the interval is 2s
	e.clock.Advance(time.Second)
	require.NoError(t, e.clock.BlockUntilContext(ctx, 1))
	assert.Equal(t, "line1\nline2\n", out.String())
	cancel()
	assert.Equal(t, 130, <-done)
}

// syncBuffer is a buffer safe to read while a command writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
