package conform

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// Defaults of the lab's logins (topology: a host without users has root,
// a CVM without users has nutanix, both with this password).
const (
	defaultSSHUser     = "root"
	defaultSSHPassword = "nutanix/4u"
	cvmSSHUser         = "nutanix"
)

// genesisLoop and genesisStable are the built-in Genesis' period and
// stable period on the lab's clock (seed 001's 30 s).
const (
	genesisLoop   = 30 * time.Second
	genesisStable = 30 * time.Second
)

// Env is the environment contract an implementation under test reads
// (docs/conformance.md): where the endpoints JSON is, and every host and
// CVM as KEY=value pairs. N counts from 1 in topology order.
func Env(l *harness.Lab, endpointsJSON string, scale float64) []string {
	var env []string
	set := func(k string, v any) { env = append(env, fmt.Sprintf("AUTOPATHLAB_%s=%v", k, v)) }
	li := newLabInfo(l)
	set("ENDPOINTS", endpointsJSON)
	set("HOSTS", len(li.hosts))
	set("CVMS", len(li.cvms))
	user, password := defaultSSHUser, defaultSSHPassword
	if len(l.Topology.Hosts) > 0 {
		for _, u := range l.Topology.Hosts[0].SSH.Users {
			if u.Name == defaultSSHUser && u.Password != "" {
				password = u.Password
			}
		}
	}
	set("SSH_USER", user)
	set("SSH_PASSWORD", password)
	set("CVM_SSH_USER", cvmSSHUser)
	set("CVM_SSH_PASSWORD", defaultSSHPassword)
	set("TIME_SCALE", num(scale))
	set("STABLE_PERIOD", num(genesisStable.Seconds()*scale))
	set("LOOP_PERIOD", num(genesisLoop.Seconds()*scale))
	for i, h := range li.hosts {
		p := fmt.Sprintf("HOST_%d_", i+1)
		set(p+"NAME", h.Name)
		set(p+"IP", h.IP)
		if hh := l.Host(h.Name); hh != nil && hh.Addr() != nil {
			set(p+"SSH", hh.Addr().String())
		}
	}
	for i, c := range li.cvms {
		p := fmt.Sprintf("CVM_%d_", i+1)
		set(p+"NAME", c.Name)
		set(p+"HOST", c.Host)
		set(p+"IP", c.IP)
		if cv := l.CVM(c.Name); cv != nil {
			if a := cv.SSHAddr(); a != nil {
				set(p+"SSH", a.String())
			}
			if a := cv.StatusAddr(); a != nil {
				set(p+"STATUS", "http://"+a.String()+"/h/status")
			}
		}
	}
	return env
}

// num prints a number of seconds without float noise (1.5, not
// 1.5000000000000002).
func num(f float64) string { return strconv.FormatFloat(math.Round(f*1e6)/1e6, 'g', -1, 64) }

// writeEndpoints writes the endpoints JSON atomically: an implementation
// polling for the file never reads half of it.
func writeEndpoints(path string, l *harness.Lab) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".endpoints-*")
	if err != nil {
		return err
	}
	if err := l.WriteEndpointsJSON(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
