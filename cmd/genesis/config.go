package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/cvmsim/genesis"
)

// The lab's logins when the environment does not name them
// (docs/conformance.md: root / nutanix/4u, as ESXi has them).
const (
	defaultUser     = "root"
	defaultPassword = "nutanix/4u"
)

// sshPort is the port of an SSH address given without one.
const sshPort = "22"

// cluster is what Genesis needs to know of the lab: every ESXi host and
// every CVM, and where the description came from (for the start line).
type cluster struct {
	Source string
	Hosts  []genesis.Host
	CVMs   []cvmSpec
}

// cvmSpec is one CVM before its HTTPCVM is built (the probe timeout comes
// from the flags).
type cvmSpec struct {
	Name, Host string
	IP         netip.Addr
	StatusURL  string
}

// getenv looks an environment variable up.
type getenv func(key string) (string, bool)

// configError is a problem with the lab's description or the flags: exit
// status 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// loadCluster reads the lab from, in order: the endpoints file given with
// --endpoints (an explicit flag beats the inherited environment), the
// per-node variables of the environment contract (AUTOPATHLAB_HOSTS,
// AUTOPATHLAB_CVMS, ...), the endpoints file AUTOPATHLAB_ENDPOINTS names.
func loadCluster(env getenv, endpointsFlag string) (*cluster, error) {
	user, password := defaultUser, defaultPassword
	if v, ok := env("AUTOPATHLAB_SSH_USER"); ok && v != "" {
		user = v
	}
	if v, ok := env("AUTOPATHLAB_SSH_PASSWORD"); ok {
		password = v
	}
	if endpointsFlag != "" {
		return fromEndpoints(endpointsFlag, "--endpoints", user, password)
	}
	_, hasHosts := env("AUTOPATHLAB_HOSTS")
	_, hasCVMs := env("AUTOPATHLAB_CVMS")
	if hasHosts || hasCVMs {
		return fromEnv(env, user, password)
	}
	if f, ok := env("AUTOPATHLAB_ENDPOINTS"); ok && f != "" {
		return fromEndpoints(f, "AUTOPATHLAB_ENDPOINTS", user, password)
	}
	return nil, configErrorf("no lab to watch: set AUTOPATHLAB_HOSTS, AUTOPATHLAB_CVMS and their AUTOPATHLAB_HOST_<N>_* and AUTOPATHLAB_CVM_<N>_* " +
		"variables (lab conform does), or AUTOPATHLAB_ENDPOINTS, or pass --endpoints FILE (lab --endpoints-json writes one)")
}

// fromEnv reads the environment contract of docs/conformance.md.
func fromEnv(env getenv, user, password string) (*cluster, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	count := func(key string) int {
		v, _ := env(key)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			bad("%s=%q: want a count of at least 1", key, v)
			return 0
		}
		return n
	}
	need := func(key string) string {
		v, ok := env(key)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			bad("%s is not set", key)
		}
		return v
	}
	addr := func(key string) netip.Addr {
		v := need(key)
		if v == "" {
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			bad("%s=%q: want an IP address", key, v)
		}
		return a
	}

	c := &cluster{Source: "the environment"}
	nh, nc := count("AUTOPATHLAB_HOSTS"), count("AUTOPATHLAB_CVMS")
	for n := 1; n <= nh; n++ {
		p := fmt.Sprintf("AUTOPATHLAB_HOST_%d_", n)
		h := genesis.Host{Name: need(p + "NAME"), PublicIP: addr(p + "IP"), User: user, Password: password}
		if s := need(p + "SSH"); s != "" {
			a, err := sshAddr(s)
			if err != nil {
				bad("%sSSH=%q: %v", p, s, err)
			}
			h.SSHAddr = a
		}
		c.Hosts = append(c.Hosts, h)
	}
	for n := 1; n <= nc; n++ {
		p := fmt.Sprintf("AUTOPATHLAB_CVM_%d_", n)
		c.CVMs = append(c.CVMs, cvmSpec{Name: need(p + "NAME"), Host: need(p + "HOST"), IP: addr(p + "IP"), StatusURL: need(p + "STATUS")})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, &configError{msg: "the environment does not describe the lab:\n" + indent(err.Error())}
	}
	return c, c.check("AUTOPATHLAB_CVM_%d_HOST")
}

// endpointsFile is harness.Lab.WriteEndpointsJSON's format.
type endpointsFile struct {
	Lab   string `json:"lab"`
	Nodes []struct {
		Name      string            `json:"name"`
		Role      string            `json:"role"`
		IPs       []string          `json:"ips"`
		Listeners map[string]string `json:"listeners"`
	} `json:"nodes"`
}

// fromEndpoints reads an endpoints file. It names no CVM's host: a CVM
// named "<host>-CVM" serves that host (Nutanix's own naming), otherwise
// the CVMs pair with the hosts in order. A node's first address is its
// public one (vmk0, eth0), as the lab lists them.
func fromEndpoints(path, from, user, password string) (*cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, configErrorf("%s: %v", from, err)
	}
	var ef endpointsFile
	if err := json.Unmarshal(data, &ef); err != nil {
		return nil, configErrorf("%s %s: not an endpoints file (lab --endpoints-json writes one): %v", from, path, err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c := &cluster{Source: path}
	firstIP := func(i int) netip.Addr {
		n := ef.Nodes[i]
		if len(n.IPs) == 0 {
			bad("node %q has no ips", n.Name)
			return netip.Addr{}
		}
		a, err := netip.ParseAddr(n.IPs[0])
		if err != nil {
			bad("node %q: ips[0]=%q: want an IP address", n.Name, n.IPs[0])
		}
		return a
	}
	hostNames := map[string]bool{}
	var cvmNodes []int
	for i, n := range ef.Nodes {
		switch n.Role {
		case "esxi":
			h := genesis.Host{Name: n.Name, PublicIP: firstIP(i), User: user, Password: password}
			if s := n.Listeners["ssh"]; s == "" {
				bad("host %q has no ssh listener", n.Name)
			} else if h.SSHAddr, err = sshAddr(s); err != nil {
				bad("host %q: ssh %q: %v", n.Name, s, err)
			}
			hostNames[n.Name] = true
			c.Hosts = append(c.Hosts, h)
		case "cvm":
			cvmNodes = append(cvmNodes, i)
		}
	}
	for k, i := range cvmNodes {
		n := ef.Nodes[i]
		cs := cvmSpec{Name: n.Name, IP: firstIP(i)}
		switch h := strings.TrimSuffix(n.Name, "-CVM"); {
		case h != n.Name && hostNames[h]:
			cs.Host = h
		case len(cvmNodes) == len(c.Hosts):
			cs.Host = c.Hosts[k].Name
		default:
			bad("CVM %q: cannot tell which host it serves (not named <host>-CVM, and %d CVMs for %d hosts)", n.Name, len(cvmNodes), len(c.Hosts))
		}
		if s := n.Listeners["status"]; s == "" {
			bad("CVM %q has no status listener", n.Name)
		} else {
			cs.StatusURL = s
		}
		c.CVMs = append(c.CVMs, cs)
	}
	if len(c.Hosts) == 0 {
		bad("no node with role esxi")
	}
	if len(cvmNodes) == 0 {
		bad("no node with role cvm")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, &configError{msg: fmt.Sprintf("%s %s does not describe the lab:\n%s", from, path, indent(err.Error()))}
	}
	return c, c.check("CVM %d's host")
}

// check catches what Genesis would take silently: a CVM whose host is no
// host here would leave that host without failover.
func (c *cluster) check(hostField string) error {
	names := map[string]bool{}
	var list []string
	for _, h := range c.Hosts {
		names[h.Name] = true
		list = append(list, h.Name)
	}
	for i, cv := range c.CVMs {
		if !names[cv.Host] {
			return configErrorf("%s=%q: no such host (hosts: %s)", fmt.Sprintf(hostField, i+1), cv.Host, strings.Join(list, ", "))
		}
	}
	return nil
}

// sshAddr checks host:port; a bare host gets port 22, as ssh does.
func sshAddr(s string) (string, error) {
	if host, port, err := net.SplitHostPort(s); err == nil {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" || strings.ContainsAny(host, "/ ") {
			return "", errors.New("want HOST:PORT")
		}
		return s, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(a.String(), sshPort), nil
	}
	if s == "" || strings.ContainsAny(s, ":/ ") {
		return "", errors.New("want HOST:PORT")
	}
	return net.JoinHostPort(s, sshPort), nil
}

// seconds reads a period given in seconds ("1.5"); a Go duration ("1.5s")
// is accepted too.
func seconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f <= 0 || f > 1e6 {
			return 0, errors.New("want a positive number of seconds")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("want seconds, such as 1.5")
	}
	if d <= 0 {
		return 0, errors.New("want a positive number of seconds")
	}
	return d, nil
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
