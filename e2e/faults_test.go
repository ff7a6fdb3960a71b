package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Faults injected with the real labctl, as the real OpenSSH client sees
// them: the effect on the model is checked in package harness, here it is
// what an autopath implementation's SSH session meets.
func TestFaultsAsOpenSSHSeesThem(t *testing.T) {
	requireTool(t, "ssh")
	requireTool(t, "sshpass")
	bin := buildLabctl(t)
	l := startLab(t)
	api := l.apiURL(t)
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := labctl(t, bin, api, args...)
		if code != 0 {
			t.Fatalf("labctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	faultID := func(out string) string {
		t.Helper()
		var f struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(out), &f); err != nil || f.ID == "" {
			t.Fatalf("fault: %v\n%s", err, out)
		}
		return f.ID
	}
	a := newSSH(t, l, hostA)

	// ssh-refuse, once: the next login is reset before the banner, the
	// one after works.
	ok("fault", "ssh-refuse", "host", "a", "--count", "1")
	if _, stderr, code := a.exec(t, "hostname"); code != 255 || !regexp.MustCompile(`Connection (reset|closed)`).MatchString(stderr) {
		t.Errorf("login under ssh-refuse: exit %d, stderr %q; want 255 and a reset connection", code, stderr)
	}
	if out, _, code := a.exec(t, "hostname"); code != 0 || out != "NTNX-BLOCK1-A\n" {
		t.Errorf("login after the refusal was spent: exit %d, %q", code, out)
	}
	if out := ok("-o", "json", "faults"); strings.TrimSpace(out) != "[]" {
		t.Errorf("a spent fault is still listed: %s", out)
	}

	// ssh-hang on esxcfg-route: the command does not complete until the
	// fault goes; then it runs.
	id := faultID(ok("-o", "json", "fault", "ssh-hang", "host", "a", "--command", "esxcfg-route"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hung := exec.CommandContext(ctx, "sshpass", a.args("root@"+a.ip, "esxcfg-route -l")...)
	var hungOut syncBuffer
	hung.Stdout = &hungOut
	if err := hung.Start(); err != nil {
		t.Fatal(err)
	}
	waitHits(t, bin, api, id, 1)
	if hungOut.Len() != 0 {
		t.Errorf("the hung command printed %q", hungOut.String())
	}
	ok("fault", "rm", id)
	if err := hung.Wait(); err != nil {
		t.Errorf("esxcfg-route -l after the hang was lifted: %v", err)
	}
	if hungOut.String() != routesA {
		t.Errorf("esxcfg-route -l after the hang was lifted:\n%s", hungOut.String())
	}

	// Both uplinks of vSwitch0 down: vmk0 has no link, vmkping to the
	// gateway gets nothing back; the route table does not change.
	ok("fault", "link-down", "host", "a", "vmnic0")
	ok("fault", "link-down", "host", "a", "vmnic1")
	if out, _, code := a.exec(t, "vmkping -c 1 192.168.1.1"); code == 0 || !strings.Contains(out, "100% packet loss") {
		t.Errorf("vmkping with vmk0's uplinks down: exit %d\n%s", code, out)
	}
	if out, _, _ := a.exec(t, "esxcfg-nics -l"); !regexp.MustCompile(`(?m)^vmnic0 .* Down `).MatchString(out) {
		t.Errorf("esxcfg-nics -l with vmnic0's link down:\n%s", out)
	}
	// (this session itself rides the real loopback, not the modelled vmk0)
	if out, _, _ := a.exec(t, "esxcfg-route -l"); out != routesA {
		t.Errorf("routes changed by a link failure:\n%s", out)
	}
	ok("fault", "clear")
	if out, _, code := a.exec(t, "vmkping -c 1 192.168.1.1"); code != 0 || !strings.Contains(out, "1 packets received") {
		t.Errorf("vmkping after the links came back: exit %d\n%s", code, out)
	}

	// 50 ms one way on vmk0: the gateway's RTT grows by 100 ms.
	ok("fault", "latency", "host", "a", "vmk0", "50ms")
	if out, _, _ := a.exec(t, "vmkping -c 1 192.168.1.1"); !regexp.MustCompile(`time=100\.\d+ ms`).MatchString(out) {
		t.Errorf("vmkping with 50 ms on vmk0:\n%s", out)
	}
	ok("fault", "clear")

	// Stargate down on CVM A: an operator on CVM B sees it.
	ok("fault", "stargate-down", "cvm", "a")
	if st := cvmSSH(t, l, cvmB, "cluster status"); !regexp.MustCompile(`(?s)CVM: 192\.168\.1\.27 .*?Stargate\s+DOWN`).MatchString(st) {
		t.Errorf("cluster status on CVM B with CVM A's Stargate down:\n%s", st)
	}
	ok("reset")
}

// waitHits waits until a fault has hit n times (labctl faults, re-read as
// the fault's hits change: there is no event for "still hung").
func waitHits(t *testing.T, bin, api, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, out, _ := labctl(t, bin, api, "-o", "json", "faults")
		var fs []struct {
			ID   string `json:"id"`
			Hits int    `json:"hits"`
		}
		if err := json.Unmarshal([]byte(out), &fs); err != nil {
			t.Fatalf("labctl faults: %v\n%s", err, out)
		}
		for _, f := range fs {
			if f.ID == id && f.Hits >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fault %s: fewer than %d hits after 30 s: %s", id, n, out)
		}
		// labctl itself takes a few ms: this loop is paced by it.
		labctl(t, bin, api, "wait", "--timeout", "20ms", "event ssh.fault")
	}
}
