package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// tcpdump-uw in an OpenSSH PTY: the capture runs until -c or Ctrl-C, as
// on ESXi. The banner goes out once the capture is listening, so traffic
// made after it is seen.
func startTcpdump(t *testing.T, c *sshClient, prompt, args string) *term {
	t.Helper()
	tm := c.shell(t)
	tm.expect(prompt)
	tm.send("tcpdump-uw " + args)
	tm.expect("capture size 262144 bytes\r\n")
	return tm
}

// Seed 001: after the operator's route is injected on host A, CVM B's RST
// to the stale NFS connection shows on vmk0, then the NFS session comes
// back from 192.168.1.24.
func TestTcpdumpSeed001OverSSH(t *testing.T) {
	l := startLab(t)
	a := newSSH(t, l, hostA)
	const prompt = "[root@NTNX-BLOCK1-A:~] "
	tm := startTcpdump(t, a, prompt, "-i vmk0 -n -c 2 'tcp[tcpflags] & tcp-rst != 0 or (src 192.168.1.24 and dst 192.168.5.2 and tcp[tcpflags] & tcp-syn != 0)'")
	a.want(t, "esxcfg-route -a 192.168.5.2 255.255.255.255 "+gwB, "Adding static route 192.168.5.2/32 to VMkernel\n")
	out := tm.expect("0 packets dropped by kernel\r\n" + prompt)
	lines := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{6} IP .*$`).FindAllString(out, -1)
	if len(lines) != 2 {
		t.Fatalf("want the RST and the new SYN, got:\n%s", out)
	}
	if !regexp.MustCompile(`IP 192\.168\.5\.2\.2049 > 192\.168\.5\.1\.\d+: Flags \[R\]`).MatchString(lines[0]) {
		t.Errorf("first packet on vmk0 is not CVM B's RST: %s", lines[0])
	}
	if !regexp.MustCompile(`IP 192\.168\.1\.24\.\d+ > 192\.168\.5\.2\.(2049|111): Flags \[S\]`).MatchString(lines[1]) {
		t.Errorf("second packet on vmk0 is not the reconnection from 192.168.1.24: %s", lines[1])
	}
	if !strings.Contains(out, "2 packets captured\n") {
		t.Errorf("counters:\n%s", out)
	}
	tm.send("exit")
	if err := tm.wait(); err != nil {
		t.Error(err)
	}
}

// Seed 004: the mount to the filer leaves vmk0 (the first vmk in the
// subnet), so a capture on vmk1 sees nothing while vmk0 sees the SYNs.
func TestTcpdumpSeed004OverSSH(t *testing.T) {
	l := startLab(t, "--topology", "../examples/topologies/wrong-vmk.yaml")
	c := newSSH(t, l, "esxi01")
	const prompt = "[root@esxi01:~] "
	on1 := startTcpdump(t, c, prompt, "-i vmk1 -n host 10.0.0.50")
	on0 := startTcpdump(t, c, prompt, "-i vmk0 -n -c 2 'host 10.0.0.50 and tcp[tcpflags] == tcp-syn'")
	if _, _, code := c.exec(t, "esxcfg-nas -a -o 10.0.0.50 -s /ISOs ISOs"); code == 0 {
		t.Fatal("the mount through vmk0 succeeded")
	}
	out0 := on0.expect("0 packets dropped by kernel\r\n" + prompt)
	if n := len(regexp.MustCompile(`(?m)^\S+ IP 10\.0\.0\.11\.\d+ > 10\.0\.0\.50\.(111|2049): Flags \[S\]`).FindAllString(out0, -1)); n != 2 {
		t.Errorf("vmk0: want 2 SYNs from 10.0.0.11 to the filer, got %d:\n%s", n, out0)
	}
	// vmk0 has seen the whole exchange; Ctrl-C ends the vmk1 capture.
	if _, err := on1.in.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	out1 := on1.expect("0 packets dropped by kernel\r\n" + prompt)
	if !strings.Contains(out1, "0 packets captured\n") || strings.Contains(out1, " IP ") {
		t.Errorf("vmk1 saw traffic to the filer:\n%s", out1)
	}
	for _, tm := range []*term{on0, on1} {
		tm.send("exit")
		if err := tm.wait(); err != nil {
			t.Error(err)
		}
	}
}
