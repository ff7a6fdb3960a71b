package e2e

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// cvmSSH runs one command on a CVM of the lab binary with OpenSSH through
// sshpass, logging in as nutanix with a password, as an operator does.
func cvmSSH(t *testing.T, l *lab, cvm, command string) string {
	t.Helper()
	ip, port := l.sshAddr(t, cvm)
	addr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(ip, port))
	if err != nil {
		t.Fatal(err)
	}
	return cvmSSHAt(t, addr, command)
}

// A CVM of the lab binary is a real SSH server: nutanix / nutanix/4u by
// password, cluster status sees the three CVMs up, and netstat shows the
// local host's NFS session to 192.168.5.2.
func TestCVMOverOpenSSH(t *testing.T) {
	l := startLab(t)
	var listeners map[string]string
	for _, n := range l.eps.Nodes {
		if n.Name == cvmA {
			listeners = n.Listeners
		}
	}
	for _, svc := range []string{"ssh", "nfs", "status"} {
		if listeners[svc] == "" {
			t.Fatalf("%s: no %q listener in the endpoints: %v", cvmA, svc, listeners)
		}
	}

	st := cvmSSH(t, l, cvmA, "cluster status")
	if !strings.Contains(st, "The state of the cluster: start") {
		t.Errorf("cluster status:\n%s", st)
	}
	for _, ip := range []string{"192.168.1.27", "192.168.1.28", "192.168.1.29"} {
		if !strings.Contains(st, "CVM: "+ip+" Up") {
			t.Errorf("cluster status: no %q Up block:\n%s", ip, st)
		}
	}
	if n := strings.Count(st, "CVM: "); n != 3 {
		t.Errorf("cluster status: %d CVM blocks, want 3:\n%s", n, st)
	}

	ns := cvmSSH(t, l, cvmA, "netstat -a | grep 192.168.5.2")
	// Without -n, netstat names the port: 192.168.5.2:nfs.
	if !strings.Contains(ns, "192.168.5.2:nfs ") || !strings.Contains(ns, "192.168.5.1:") || !strings.Contains(ns, "ESTABLISHED") {
		t.Errorf("netstat: no NFS session from host A (192.168.5.1) to 192.168.5.2:nfs:\n%s", ns)
	}

	resp, err := http.Get("http://" + listeners["status"] + "/h/status")
	if err != nil {
		t.Fatalf("status page: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"initialised":true`) {
		t.Errorf("status page /h/status: %s\n%s", resp.Status, body)
	}
}
