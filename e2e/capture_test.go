package e2e

// Seed 001 as Wireshark saw it: a capture on host A's vmk0, started and
// fetched with labctl, read by tshark.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tsharkFields runs tshark on a pcap file with a display filter and
// returns one line of tab-separated fields per frame.
func tsharkFields(t *testing.T, bin, file, filter string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", file, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-Y", filter, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no personal preferences
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// isTrue reads a boolean field as tshark prints it ("1", or "True" in
// newer versions).
func isTrue(s string) bool { return s == "1" || strings.EqualFold(s, "true") }

// The operator's route on host A, typed over OpenSSH, moves A's NFS to CVM
// B. The capture of vmk0 shows CVM B resetting the stale connection, then
// NFS from 192.168.1.24 to 192.168.5.2 sent to CVM B's MAC; tshark finds no
// malformed frame and no bad checksum.
func TestCaptureSeed001Tshark(t *testing.T) {
	tshark := requireTool(t, "tshark")
	bin := buildLabctl(t)
	l := startLab(t)
	api := l.apiURL(t)
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := labctl(t, bin, api, args...)
		if code != 0 {
			t.Fatalf("labctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	id := strings.TrimSpace(ok("capture", "start", "host", "a", "vmk0"))
	ssh := newSSH(t, l, "NTNX-BLOCK1-A")
	ssh.ok(t, "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28")

	// The datastore reconnects through CVM B...
	eventually(t, "host A's NFS flow through vmk0 to CVM B", func() error {
		var flows []struct{ Remote, Egress, Target string }
		if err := json.Unmarshal([]byte(ok("-o", "json", "host", "a", "flows")), &flows); err != nil {
			return err
		}
		for _, f := range flows {
			if f.Remote == "192.168.5.2:2049" && f.Egress == "vmk0" && f.Target == cvmB {
				return nil
			}
		}
		return fmt.Errorf("flows: %+v", flows)
	})
	// ... and the VM's IO goes on through it.
	dir := t.TempDir()
	snap := filepath.Join(dir, "snapshot.pcap")
	const nfsFromA = "ip.src == 192.168.1.24 && ip.dst == 192.168.5.2 && rpc.program == 100003"
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok("capture", "get", id, "-w", snap)
		if len(tsharkFields(t, tshark, snap, nfsFromA, "frame.number")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no NFS from 192.168.1.24 in the capture within 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ok("capture", "stop", id)
	file := filepath.Join(dir, "vmk0.pcap")
	ok("capture", "get", id, "-w", file)

	var neighbors []struct{ IP, MAC, Interface string }
	if err := json.Unmarshal([]byte(ok("-o", "json", "host", "a", "neighbors")), &neighbors); err != nil {
		t.Fatal(err)
	}
	cvmBMAC := ""
	for _, n := range neighbors {
		if n.IP == "192.168.1.28" && n.Interface == "vmk0" {
			cvmBMAC = n.MAC
		}
	}
	if cvmBMAC == "" {
		t.Fatalf("host A has no neighbour 192.168.1.28 on vmk0: %+v", neighbors)
	}

	var rst, nfs int
	for _, line := range tsharkFields(t, tshark, file, "ip.addr == 192.168.5.2", "ip.src", "ip.dst", "eth.dst", "tcp.flags.reset", "rpc.program") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("tshark line %q: want 5 fields", line)
		}
		src, dst, ethDst, reset, program := f[0], f[1], f[2], f[3], f[4]
		if src == "192.168.5.2" && isTrue(reset) {
			rst++
		}
		if src == "192.168.1.24" && dst == "192.168.5.2" && strings.Contains(program, "100003") {
			nfs++
			if ethDst != cvmBMAC {
				t.Errorf("NFS to 192.168.5.2 sent to %s, want CVM B's eth0 %s", ethDst, cvmBMAC)
			}
		}
	}
	if rst == 0 {
		t.Error("no RST from 192.168.5.2: CVM B did not reset the stale connection")
	}
	if nfs == 0 {
		t.Error("no NFS from 192.168.1.24 to 192.168.5.2")
	}
	if bad := tsharkFields(t, tshark, file, "_ws.malformed || _ws.expert.severity >= error", "frame.number", "_ws.expert.message"); len(bad) > 0 {
		t.Errorf("tshark reports malformed frames or errors:\n%s", strings.Join(bad, "\n"))
	}
	t.Logf("vmk0: %d RST from 192.168.5.2, %d NFS frames from 192.168.1.24 to CVM B", rst, nfs)

	// A file of the host's filesystem comes back as written.
	ssh.ok(t, "echo captured > /tmp/e2e.txt")
	got := filepath.Join(dir, "e2e.txt")
	ok("file", "get", "host", "a", "/tmp/e2e.txt", "-w", got)
	if b, err := os.ReadFile(got); err != nil || string(b) != "captured\n" {
		t.Errorf("labctl file get: %q, %v", b, err)
	}
}
