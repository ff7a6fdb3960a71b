package cvmsim

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/shell"
)

// clusterArgs is a parsed `cluster` command line. The real tool takes
// gflags (--name=value) before the action; they are accepted and ignored.
type clusterArgs struct {
	action string
	help   bool
}

func parseClusterArgs(args []string) (clusterArgs, error) {
	var a clusterArgs
	for _, s := range args {
		switch {
		case s == "-h" || s == "--help" || s == "-help" || s == "--helpshort":
			a.help = true
		case strings.HasPrefix(s, "-"):
			// gflags such as --cluster_name=x: accepted, no effect here.
		case a.action == "":
			a.action = s
		default:
			return a, fmt.Errorf("unexpected argument %q", s)
		}
	}
	return a, nil
}

const clusterUsage = `usage: cluster [flags] <action>

  status    show the state of every CVM's services
  start     start the cluster's services
`

// cmdCluster is /home/nutanix/cluster/bin/cluster: status, and start
// (which also clears a stopped Stargate, as `cluster start` restarts what
// `genesis stop` stopped).
func (c *CVM) cmdCluster(_ context.Context, inv *shell.Invocation) int {
	a, err := parseClusterArgs(inv.Args[1:])
	if err != nil {
		fmt.Fprintf(inv.Stderr, "cluster: %v\n%s", err, clusterUsage)
		return 1
	}
	switch {
	case a.help:
		fmt.Fprint(inv.Stdout, clusterUsage)
		return 0
	case a.action == "":
		fmt.Fprint(inv.Stderr, clusterUsage)
		return 1
	}
	peers := c.peers()
	log := func(line int, msg string) {
		fmt.Fprintf(inv.Stderr, "%s INFO MainThread cluster:%d %s\n", logTime(c.clock.Now()), line, msg)
	}
	switch a.action {
	case "status":
	case "start":
		if c.StargateFault() == StargateDown {
			c.SetStargate(StargateUp)
			peers = c.peers()
		}
	default:
		fmt.Fprintf(inv.Stderr, "cluster: unknown action %q\n%s", a.action, clusterUsage)
		return 1
	}
	var ips []string
	for _, p := range peers {
		ips = append(ips, p.IP.String())
	}
	log(2943, "Executing action "+a.action+" on SVMs "+strings.Join(ips, ","))
	renderClusterStatus(inv.Stdout, peers)
	log(3104, "Success!")
	return 0
}

// peers returns the cluster's CVMs, this one included.
func (c *CVM) peers() []PeerStatus {
	self := c.Status()
	if c.cfg.Cluster == nil {
		return []PeerStatus{self}
	}
	ps := c.cfg.Cluster()
	for i, p := range ps {
		if p.Name == self.Name {
			ps[i] = self
			return ps
		}
	}
	return append(ps, self)
}

// renderClusterStatus prints cluster status (reference §9.1, VERIFIED
// layout): "Waiting on" lines for CVMs still starting, the cluster state,
// and one block per CVM with its services as `%36s   %-8s %s`.
func renderClusterStatus(w io.Writer, peers []PeerStatus) {
	leader := -1
	for i, p := range peers {
		if p.Reachable && len(p.Services) > 0 && p.Services[0].Up {
			leader = i
			break
		}
	}
	state := func(i int) string {
		if !peers[i].Reachable {
			return "Down"
		}
		if i == leader {
			return "Up, ZeusLeader"
		}
		return "Up"
	}
	for i, p := range peers {
		if !p.Reachable || p.Ready {
			continue
		}
		var down []string
		for _, s := range p.Services {
			if !s.Up {
				down = append(down, s.Name)
			}
		}
		if len(down) > 0 {
			fmt.Fprintf(w, "Waiting on %s (%s) to start:  %s\n", p.IP, state(i), strings.Join(down, " "))
		}
	}
	fmt.Fprint(w, "The state of the cluster: start\nLockdown mode: Disabled\n")
	for i, p := range peers {
		fmt.Fprintf(w, "\n        CVM: %s %s\n", p.IP, state(i))
		for _, s := range p.Services {
			st := "DOWN"
			if s.Up {
				st = "UP"
			}
			fmt.Fprintf(w, "%36s   %-8s %s\n", s.Name, st, pyList(s.PIDs))
		}
	}
	fmt.Fprintln(w)
}

// pyList formats ints as Python prints a list.
func pyList(v []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, x)
	}
	b.WriteByte(']')
	return b.String()
}

// logTime is the AOS log timestamp: 2023-08-25 23:16:00,617Z.
func logTime(t time.Time) string {
	t = t.UTC()
	return t.Format("2006-01-02 15:04:05") + fmt.Sprintf(",%03dZ", t.Nanosecond()/1e6)
}

// genesisArgs is a parsed `genesis` command line.
type genesisArgs struct {
	action   string
	services []string
}

func parseGenesisArgs(args []string) (genesisArgs, error) {
	var a genesisArgs
	for _, s := range args {
		switch {
		case strings.HasPrefix(s, "-"):
			return a, fmt.Errorf("unknown option %q", s)
		case a.action == "":
			a.action = s
		default:
			a.services = append(a.services, s)
		}
	}
	switch a.action {
	case "status":
		if len(a.services) > 0 {
			return a, fmt.Errorf("status takes no arguments")
		}
	case "stop", "start":
		if len(a.services) == 0 {
			return a, fmt.Errorf("%s needs a service name", a.action)
		}
	case "":
		return a, fmt.Errorf("no action")
	default:
		return a, fmt.Errorf("unknown action %q", a.action)
	}
	return a, nil
}

const genesisUsage = "usage: genesis status | stop <service>... | start <service>...\n"

// cmdGenesis is genesis status (INFERRED layout, reference §9.2) and
// genesis stop/start stargate, which inject and clear the Stargate fault
// from the shell.
func (c *CVM) cmdGenesis(_ context.Context, inv *shell.Invocation) int {
	a, err := parseGenesisArgs(inv.Args[1:])
	if err != nil {
		fmt.Fprintf(inv.Stderr, "genesis: %v\n%s", err, genesisUsage)
		return 1
	}
	stamp := func() string { return c.clock.Now().UTC().Format("2006-01-02 15:04:05.000000") }
	switch a.action {
	case "status":
		p := c.Status()
		fmt.Fprintf(inv.Stdout, "%s: Genesis is running, pids: %s\n", stamp(), pyList(p.GenesisPIDs))
		fmt.Fprintf(inv.Stdout, "%s: Services running on this node:\n", stamp())
		lines := make([]string, 0, len(p.Services)+1)
		lines = append(lines, fmt.Sprintf("  genesis: %s", pyList(p.GenesisPIDs)))
		for _, s := range p.Services {
			lines = append(lines, fmt.Sprintf("  %s: %s", s.Genesis, pyList(s.PIDs)))
		}
		slices.Sort(lines)
		for _, l := range lines {
			fmt.Fprintln(inv.Stdout, l)
		}
		return 0
	default:
		status := 0
		for _, s := range a.services {
			if s != "stargate" {
				fmt.Fprintf(inv.Stderr, "genesis: %s: only stargate can be stopped or started here\n", s)
				status = 1
				continue
			}
			if a.action == "stop" {
				fmt.Fprintf(inv.Stdout, "%s: Stopping stargate (pids %s)\n", stamp(), pyList(c.stargatePIDs()))
				c.SetStargate(StargateDown)
			} else {
				c.SetStargate(StargateUp)
				fmt.Fprintf(inv.Stdout, "%s: Starting stargate\n", stamp())
			}
		}
		return status
	}
}

func (c *CVM) stargatePIDs() []int {
	return c.Status().Services[stargateIndex].PIDs
}
