package harness

import (
	"fmt"
	"strings"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/sshd"
	"github.com/autopathlab/autopathlab/topology"
)

// The topology's timers fill what the options leave unset: a test's
// options win over the file, the file over the emulator's defaults.
func withTopologyTimers(topo *topology.Topology, o Options) Options {
	b := topo.Timers.CVMBoot
	if o.CVMTimers == (cvmsim.Timers{}) {
		o.CVMTimers = cvmsim.Timers{PingAfter: b.Ping, StargateAfter: b.Stargate, InitAfter: b.Initialised}
	}
	if o.Genesis != nil {
		g, t := *o.Genesis, topo.Timers.Genesis
		if g.Interval == 0 {
			g.Interval = t.Interval
		}
		if g.StablePeriod == 0 {
			g.StablePeriod = t.StablePeriod
		}
		if g.ProbeTimeout == 0 {
			g.ProbeTimeout = t.ProbeTimeout
		}
		o.Genesis = &g
	}
	return o
}

// sshMethods turns the topology's method names (validated) into sshd's set.
func sshMethods(names []string) sshd.Methods {
	var m sshd.Methods
	for _, n := range names {
		switch n {
		case "publickey":
			m |= sshd.PublicKey
		case "keyboard-interactive":
			m |= sshd.KeyboardInteractive
		case "password":
			m |= sshd.Password
		}
	}
	return m
}

// cvmUsers returns a CVM's logins for cvmsim (passwords) and writes their
// authorized keys where the CVM's sshd reads them.
func cvmUsers(tc topology.CVM) map[string]string {
	users := map[string]string{}
	for _, u := range tc.SSHUsers() {
		users[u.Name] = u.Password
	}
	return users
}

func installCVMKeys(c *cvmsim.CVM, tc topology.CVM) error {
	for _, u := range tc.SSHUsers() {
		if len(u.AuthorizedKeys) == 0 {
			continue
		}
		home := cvmsim.HomeDir
		if u.Name == "root" {
			home = "/root"
		} else if u.Name != cvmsim.DefaultUser {
			home = "/home/" + u.Name
		}
		if err := c.FS().MkdirAll(home + "/.ssh"); err != nil {
			return fmt.Errorf("cvm %s: %w", tc.Name, err)
		}
		if err := c.FS().WriteFile(home+"/.ssh/authorized_keys", []byte(strings.Join(u.AuthorizedKeys, "\n")+"\n"), 0o600); err != nil {
			return fmt.Errorf("cvm %s: %w", tc.Name, err)
		}
	}
	return nil
}
