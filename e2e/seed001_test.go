package e2e

// Seed 001 over a real SSH client, with the NFS consequences checked in the
// model. The lab binary has no API yet that shows which CVM serves which
// host, so this test runs the lab in process (package harness) and is the
// one place in e2e that reaches into the emulator: what it types goes
// through OpenSSH as an operator's would, only the assertions about the
// Stargates, the datastore and the VM's IO read the model.

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmio"
	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/topology"
)

const (
	cvmA = "NTNX-BLOCK1-A-CVM"
	cvmB = "NTNX-BLOCK1-B-CVM"
)

// sshTo is an OpenSSH client for an in-process host's listener.
func sshTo(t *testing.T, addr net.Addr) *sshClient {
	t.Helper()
	requireTool(t, "ssh")
	requireTool(t, "sshpass")
	ip, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return &sshClient{ip: ip, port: port, knownHosts: filepath.Join(t.TempDir(), "known_hosts"), password: password}
}

// ok runs a command that must succeed silently on stderr, and returns its
// stdout.
func (c *sshClient) ok(t *testing.T, command string) string {
	t.Helper()
	stdout, stderr, code := c.exec(t, command)
	if code != 0 || stderr != "" {
		t.Fatalf("ssh %q: exit %d, stdout %q, stderr %q", command, code, stdout, stderr)
	}
	return stdout
}

// want runs a command that must succeed and print exactly stdout.
func (c *sshClient) want(t *testing.T, command, stdout string) {
	t.Helper()
	if got := c.ok(t, command); got != stdout {
		t.Errorf("ssh %q:\n got %q\nwant %q", command, got, stdout)
	}
}

// eventually polls the model every few milliseconds until cond returns
// nil, and fails with cond's last complaint after 20 s.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stargateClients returns the remote addresses of a Stargate's sessions;
// each must be an NFS session to 192.168.5.2:2049.
func stargateClients(l *harness.Lab, cvm string) ([]string, error) {
	var out []string
	for _, s := range l.NFSServer(cvm).Server.Sessions() {
		if s.Local.String() != "192.168.5.2:2049" {
			return nil, fmt.Errorf("%s: unexpected session %s->%s", cvm, s.Remote, s.Local)
		}
		out = append(out, s.Remote.Addr().String())
	}
	slices.Sort(out)
	return out, nil
}

// serves waits until a Stargate's clients are exactly from (sorted).
func serves(t *testing.T, l *harness.Lab, cvm string, from ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s to serve %v", cvm, from), func() error {
		got, err := stargateClients(l, cvm)
		if err != nil {
			return err
		}
		if !slices.Equal(got, from) {
			return fmt.Errorf("it serves %v", got)
		}
		return nil
	})
}

// ioFlows waits until n more of the VM's IOs succeeded.
func ioFlows(t *testing.T, w *vmio.Workload, n uint64) {
	t.Helper()
	ok := func() uint64 { r := w.Report(); return r.Ops - r.Errors }
	want := ok() + n
	eventually(t, "the VM's IO", func() error {
		if ok() < want {
			return fmt.Errorf("%v", w.Report())
		}
		return nil
	})
}

// mountCount counts MOUNT requests the Stargates granted.
type mountCount struct {
	mu sync.Mutex
	n  int
}

func (m *mountCount) event(e nfs.Event) {
	if e.Type == nfs.EventMount {
		m.mu.Lock()
		m.n++
		m.mu.Unlock()
	}
}

func (m *mountCount) get() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// TestSeed001OverSSH types seed 001's operator commands on host A with
// OpenSSH: the host route to 192.168.5.2 via CVM B moves A's NFS to CVM B
// (source 192.168.1.24, out of vmk0), the datastore stays mounted and the
// VM's IO goes on; deleting it moves A back to CVM A.
func TestSeed001OverSSH(t *testing.T) {
	topo := topology.Default()
	for i := range topo.Hosts {
		// A fast VM on host A; none elsewhere, to keep the machine quiet.
		topo.Hosts[i].Workload = &topology.Workload{Interval: "5ms", Disabled: i != 0}
	}
	var mounts mountCount
	l := harness.Start(t, topo, harness.Options{OnNFSEvent: mounts.event})
	if len(l.MountErrors) > 0 {
		t.Fatalf("mount errors: %v", l.MountErrors)
	}
	a := l.Host(hostA)
	w := l.Workload(hostA)
	ds, found := a.Datastores().Get("ctr1")
	if w == nil || !found {
		t.Fatalf("host A: workload %v, datastore ctr1 found %v", w, found)
	}
	uuid := ds.UUID()
	c := sshTo(t, a.Addr())
	const nasLine = "ctr1 is /ctr1 from 192.168.5.2 mounted available\n"
	const hello = "echo hello > /vmfs/volumes/ctr1/x && cat /vmfs/volumes/ctr1/x"

	c.want(t, "esxcfg-nas -l", nasLine)
	c.want(t, hello, "hello\n")
	serves(t, l, cvmA, "192.168.5.1")
	ioFlows(t, w, 20)
	before := mounts.get()

	// The untrained administrator injects the route.
	c.want(t, "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28", "Adding static route 192.168.5.2/32 to VMkernel\n")
	c.want(t, "esxcfg-route -l", "VMkernel Routes:\n"+
		"Network          Netmask          Gateway          Interface\n"+
		"192.168.1.0      255.255.255.0    Local Subnet     vmk0\n"+
		"192.168.5.0      255.255.255.0    Local Subnet     vmk1\n"+
		"192.168.5.2      255.255.255.255  192.168.1.28     vmk0\n"+
		"default          0.0.0.0          192.168.1.1      vmk0\n")
	serves(t, l, cvmB, "192.168.1.24", "192.168.5.1") // host A, and host B's own
	serves(t, l, cvmA)
	ioFlows(t, w, 50)
	c.want(t, "esxcfg-nas -l", nasLine)
	ping := c.ok(t, "vmkping -c 1 192.168.5.2")
	for _, s := range []string{"64 bytes from 192.168.5.2: icmp_seq=0", "1 packets transmitted, 1 packets received, 0% packet loss"} {
		if !strings.Contains(ping, s) {
			t.Errorf("vmkping through CVM B: no %q in\n%s", s, ping)
		}
	}
	neighbor(t, c, "192.168.1.28", l.Nodes[cvmB].Interface("eth0").MAC().String(), "vmk0")
	c.want(t, hello, "hello\n")
	sameMount(t, a.Datastores(), ds, uuid)
	if n := mounts.get(); n != before {
		t.Errorf("%d MOUNT requests after the route change: the datastore was remounted", n-before)
	}
	verifyIO(t, w)

	c.want(t, "esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.28", "Deleting static route 192.168.5.2/32 from VMkernel\n")
	c.want(t, "esxcfg-route -l", routesA)
	serves(t, l, cvmA, "192.168.5.1")
	serves(t, l, cvmB, "192.168.5.1")
	ioFlows(t, w, 50)
	c.want(t, "esxcfg-nas -l", nasLine)
	c.want(t, "echo bye >> /vmfs/volumes/ctr1/x && cat /vmfs/volumes/ctr1/x", "hello\nbye\n")
	sameMount(t, a.Datastores(), ds, uuid)
	if n := mounts.get(); n != before {
		t.Errorf("%d MOUNT requests after the route changes: the datastore was remounted", n-before)
	}
	verifyIO(t, w)

	log := c.ok(t, "tail /var/log/vmkernel.log")
	for _, s := range []string{
		")Tcpip: 1414: add dstAddr=0x205a8c0, netMask=0xffffffff, gwAddr=0x1c01a8c0 ifName=0x0x0, ifNameLen=0\n",
		")Tcpip: 1414: delete dstAddr=0x205a8c0, netMask=0xffffffff, gwAddr=0x1c01a8c0 ifName=0x0x0, ifNameLen=0\n",
	} {
		if !strings.Contains(log, s) {
			t.Errorf("vmkernel.log has no %q:\n%s", s, log)
		}
	}
	r := w.Report()
	t.Log(r)
	if r.Errors != 0 || !r.Integrity.OK {
		t.Errorf("the VM saw errors or lost writes: %v", r)
	}
	for _, o := range r.Outages {
		if o.Duration >= 2*time.Second {
			t.Errorf("long IO outage %+v", o)
		}
	}
}

// neighbor checks that esxcfg-route -n lists ip with mac on vmk.
func neighbor(t *testing.T, c *sshClient, ip, mac, vmk string) {
	t.Helper()
	out := c.ok(t, "esxcfg-route -n")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == ip && f[1] == mac && f[2] == vmk {
			return
		}
	}
	t.Errorf("esxcfg-route -n has no %s %s on %s:\n%s", ip, mac, vmk, out)
}

// sameMount checks the datastore was not remounted.
func sameMount(t *testing.T, m *datastore.Manager, ds *datastore.Datastore, uuid string) {
	t.Helper()
	got, ok := m.Get("ctr1")
	if !ok || got != ds || got.UUID() != uuid || got.State() != datastore.Accessible {
		t.Errorf("datastore ctr1: %+v (found %v, same %v), want the mount %s, accessible", m.List(), ok, got == ds, uuid)
	}
}

// verifyIO reads every block of the VM's disk back.
func verifyIO(t *testing.T, w *vmio.Workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	integ, err := w.Verify(ctx)
	if err != nil || !integ.OK {
		t.Fatalf("verify: %v; %v", err, w.Report())
	}
}
