package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Seed 004, "Challenges with Multiple VMkernel Ports in the Same Subnet",
// on the built lab with examples/topologies/wrong-vmk.yaml, through
// OpenSSH: vmk0 (management) and vmk1 (NFS) share 10.0.0.0/24, the filer
// admits only vmk1's address, and the VMkernel sends everything for the
// subnet out of vmk0, the first created: the mount is denied although
// vmkping out of vmk1 is answered. Giving vmk1 a subnet of its own fixes
// it without touching the filer.
func TestSeed004WrongVmkOverSSH(t *testing.T) {
	cp := requireTool(t, "nfs-cp")
	l := startLab(t, "--topology", "../examples/topologies/wrong-vmk.yaml")
	if !strings.Contains(l.out.String(), "datastore ISOs (10.0.0.50:/ISOs): The NFS server denied the mount request") {
		t.Errorf("the lab does not report the denied start-up mount:\n%s", l.out)
	}
	// An ISO on the filer, put there through its loopback NFS port (which
	// admits anyone), for the host to find once it mounts the export.
	iso := filepath.Join(t.TempDir(), "tools.iso")
	if err := os.WriteFile(iso, []byte("VMware Tools\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cp, iso, l.nfsURL(t, "filer", "/ISOs/tools.iso")).CombinedOutput(); err != nil {
		t.Fatalf("nfs-cp to the filer: %v\n%s", err, out)
	}
	c := newSSH(t, l, "esxi01")

	// The start-up mount was denied: ESXi created no datastore.
	c.want(t, "esxcfg-nas -l", "No NAS datastore found\n")
	c.want(t, "esxcfg-route -l", "VMkernel Routes:\n"+
		"Network          Netmask          Gateway          Interface\n"+
		"10.0.0.0         255.255.255.0    Local Subnet     vmk0\n"+
		"default          0.0.0.0          10.0.0.1         vmk0\n")
	const denied = ")NFS: 190: NFS mount 10.0.0.50:/ISOs failed: The mount request was denied by the NFS server. " +
		"Check that the export exists and that the client is permitted to mount it.\n"
	if got := c.ok(t, "grep 'denied' /var/log/vmkernel.log"); strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, denied) {
		t.Errorf("vmkernel.log's denied lines after start-up:\n%s\nwant one ending %q", got, denied)
	}

	// The classic confusion: ping out of vmk1 is answered...
	ping := c.ok(t, "vmkping -I vmk1 -c 1 10.0.0.50")
	if !strings.Contains(ping, "1 packets transmitted, 1 packets received, 0% packet loss") {
		t.Errorf("vmkping -I vmk1 10.0.0.50:\n%s", ping)
	}
	filerMAC := neighborMAC(t, c, "10.0.0.50", "vmk1")
	// ...and the mount still leaves vmk0, from 10.0.0.11, and is denied.
	stdout, stderr, code := c.exec(t, "esxcfg-nas -a -o 10.0.0.50 -s /ISOs ISOs")
	const sysinfo = "Unable to connect to NAS volume ISOs: Unable to complete Sysinfo operation.  Please see the VMkernel log file for more details.: " +
		"Sysinfo error: The NFS server denied the mount requestSee VMkernel log for details.\n"
	if stdout != "Connecting to NAS volume: ISOs\n" || stderr != sysinfo || code == 0 {
		t.Errorf("esxcfg-nas -a through vmk0: exit %d\nstdout %q\nstderr %q\nwant a non-zero exit, %q and %q",
			code, stdout, stderr, "Connecting to NAS volume: ISOs\n", sysinfo)
	}
	if got := neighborMAC(t, c, "10.0.0.50", "vmk0"); got != filerMAC {
		t.Errorf("the filer is %s on vmk0 and %s on vmk1", got, filerMAC)
	}
	c.want(t, "grep -c 'denied' /var/log/vmkernel.log", "2\n")
	c.want(t, "esxcfg-nas -l", "No NAS datastore found\n")

	// The fix: NFS in its own subnet, and the filer's address there.
	c.want(t, "esxcfg-vmknic -i 10.0.1.12 -n 255.255.255.0 NFS", "")
	c.want(t, "esxcfg-route -l", "VMkernel Routes:\n"+
		"Network          Netmask          Gateway          Interface\n"+
		"10.0.0.0         255.255.255.0    Local Subnet     vmk0\n"+
		"10.0.1.0         255.255.255.0    Local Subnet     vmk1\n"+
		"default          0.0.0.0          10.0.0.1         vmk0\n")
	c.want(t, "esxcfg-nas -a -o 10.0.1.50 -s /ISOs ISOs", "Connecting to NAS volume: ISOs\nISOs created and connected.\n")
	c.want(t, "esxcfg-nas -l", "ISOs is /ISOs from 10.0.1.50 mounted available\n")
	c.want(t, "ls /vmfs/volumes/ISOs", "tools.iso\n")
	c.want(t, "cat /vmfs/volumes/ISOs/tools.iso", "VMware Tools\n")
	if got := c.ok(t, "grep 'NFS: 317' /var/log/vmkernel.log"); !strings.HasSuffix(got, ")NFS: 317: NFS mount succeeded for 10.0.1.50:/ISOs volume ISOs\n") {
		t.Errorf("vmkernel.log has no mount-succeeded line for 10.0.1.50:/ISOs:\n%s", got)
	}
}

// neighborMAC returns the MAC esxcfg-route -n lists for ip on vmk.
func neighborMAC(t *testing.T, c *sshClient, ip, vmk string) string {
	t.Helper()
	out := c.ok(t, "esxcfg-route -n")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == ip && f[2] == vmk {
			return f[1]
		}
	}
	t.Errorf("esxcfg-route -n lists no %s on %s:\n%s", ip, vmk, out)
	return ""
}
