package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/harness"
	"github.com/autopathlab/autopathlab/harness/controlapi"
)

// cli is one invocation.
type cli struct {
	ctx       context.Context
	c         *controlapi.Client
	api       string
	o         options
	out, errw io.Writer
	json      bool
}

type verb struct {
	name    string
	usage   string
	summary string
	help    string
	// flags are the verb's own flags (the global ones go everywhere).
	flags []string
	run   func(cl *cli, args []string) error
}

var verbs []*verb

func init() {
	verbs = []*verb{
		{name: "lab", usage: "lab", summary: "the lab at a glance", run: (*cli).lab},
		{name: "endpoints", usage: "endpoints", summary: "every node's addresses and real listeners", run: (*cli).endpoints},
		{name: "hosts", usage: "hosts", summary: "the ESXi hosts", run: (*cli).hosts},
		{name: "host", usage: "host REF [routes|vmknics|neighbors|datastores|flows|workload]\n       labctl host REF route add NETWORK GATEWAY [--netstack NS]\n       labctl host REF route delete NETWORK [GATEWAY] [--netstack NS]",
			summary: "one host: a summary, one of its tables, or a route change",
			help: "REF is a name, a letter (a = the first host) or a number (1 = the first).\n" +
				"route add is esxcfg-route -a: NETWORK is a CIDR (192.168.5.2/32), an address or default.\n" +
				"route delete without GATEWAY deletes the network's static route whatever its gateway.\n\n" +
				"  labctl host a route add 192.168.5.2/32 192.168.1.28\n  labctl host a routes",
			flags: []string{"netstack"}, run: (*cli).host},
		{name: "cvms", usage: "cvms", summary: "the CVMs", run: (*cli).cvms},
		{name: "cvm", usage: "cvm REF [sessions | power off|on | reboot | stargate up|down|hang]",
			summary: "one CVM: a summary, its NFS sessions, power or Stargate",
			help: "power off pulls the plug (flows are blackholed); power on starts the boot sequence;\n" +
				"stargate down refuses NFS, stargate hang accepts and never answers, stargate up clears.\n\n" +
				"  labctl cvm a power off\n  labctl cvm b stargate hang",
			run: (*cli).cvm},
		{name: "faults", usage: "faults", summary: "the standing faults", run: (*cli).faults},
		{name: "fault", usage: "fault KIND TARGET [ARGS] [--for D] [--count N] [--command PREFIX] [--delay D]\n       labctl fault rm ID\n       labctl fault clear",
			summary: "add, remove or clear standing faults",
			help: "  labctl fault ssh-hang host a --for 30s [--count N] [--command PREFIX]\n" +
				"  labctl fault ssh-refuse|ssh-slow|ssh-drop host a [--delay 2s]\n" +
				"  labctl fault link-down host a vmnic0\n" +
				"  labctl fault link-down cvm b eth0\n" +
				"  labctl fault latency cvm b eth0 50ms\n" +
				"  labctl fault loss host a vmnic0 10\n" +
				"  labctl fault partition NODE NODE\n" +
				"  labctl fault stargate-down|stargate-hang cvm a\n" +
				"  labctl fault rm ID\n  labctl fault clear\n\n" +
				"--for ends a fault after that long on the lab's clock; --count ends an SSH fault after N hits.",
			flags: []string{"for", "count", "command", "delay"}, run: (*cli).fault},
		captureVerb,
		fileVerb,
		{name: "events", usage: "events [-f] [--kind KIND] [--node NODE] [--limit N]",
			summary: "the recent events, or follow them with -f",
			help: "--kind matches exactly or as a prefix (ssh matches ssh.login, ssh.command);\n" +
				"--node a selects host A and CVM A. -f follows the stream until interrupted;\n" +
				"with -o json, -f prints one JSON event per line.",
			flags: []string{"f", "kind", "node", "limit"}, run: (*cli).events},
		{name: "wait", usage: "wait [--timeout 60s] CONDITION",
			summary: "wait until a condition on the model holds (exit 4 on timeout)",
			help: "CONDITION is one of:\n  " + strings.ReplaceAll(harness.ConditionHelp, " |\n", "\n  ") +
				"\n\n  labctl wait --timeout 60s 'host a route 192.168.5.2/32 via 192.168.1.28'",
			flags: []string{"timeout"}, run: (*cli).wait},
		{name: "reset", usage: "reset", summary: "bring the lab back to its initial state", run: (*cli).reset},
		{name: "metrics", usage: "metrics", summary: "the Prometheus metrics", run: (*cli).metrics},
		{name: "help", usage: "help [VERB]", summary: "this help, or one verb's", run: (*cli).helpVerb},
	}
}

func verbNamed(name string) *verb {
	for _, v := range verbs {
		if v.name == name {
			return v
		}
	}
	return nil
}

func writeHelp(w io.Writer, name string) {
	if v := verbNamed(name); v != nil {
		fmt.Fprintf(w, "Usage: labctl %s\n\n%s.\n", v.usage, upperFirst(v.summary))
		if v.help != "" {
			fmt.Fprintf(w, "\n%s\n", v.help)
		}
		return
	}
	fmt.Fprint(w, `labctl drives a running autopathlab lab through its control API.

Usage: labctl [--api URL] [--token TOKEN] [-o table|json] VERB [ARGS] [FLAGS]

Verbs:
`)
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-10s %s\n", v.name, v.summary)
	}
	fmt.Fprintf(w, `
Nodes are named by topology name, letter (a = the first) or number (1).

Global flags (anywhere on the line):
  --api URL      the control API (default $AUTOPATHLAB_API, then %s)
  --token TOKEN  the bearer token (default $AUTOPATHLAB_TOKEN)
  -o FORMAT      table (default, for people) or json (the API's JSON, for scripts)

Exit codes:
  0  success; for wait, the condition holds
  1  the lab refused the request (HTTP 4xx/5xx; the reason on stderr)
  2  usage error
  3  the lab cannot be reached
  4  wait timed out

Run 'labctl help VERB' for one verb.
`, defaultAPI)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (cl *cli) helpVerb(args []string) error {
	switch {
	case len(args) > 1:
		return usagef("one verb at most")
	case len(args) == 1 && verbNamed(args[0]) == nil:
		return usagef("unknown verb %q", args[0])
	case len(args) == 1:
		writeHelp(cl.out, args[0])
	default:
		writeHelp(cl.out, "")
	}
	return nil
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

func (cl *cli) lab(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	v, err := cl.c.Lab(cl.ctx)
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.labView(v) })
}

func (cl *cli) endpoints(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	v, err := cl.c.Endpoints(cl.ctx)
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.endpoints(v) })
}

func (cl *cli) hosts(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	v, err := cl.c.Hosts(cl.ctx)
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.hosts(v) })
}

func (cl *cli) host(args []string) error {
	if len(args) == 0 {
		return usagef("which host?")
	}
	ref, args := args[0], args[1:]
	if len(args) == 0 {
		v, err := cl.c.Host(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.hostSummary(v) })
	}
	if args[0] == "route" {
		return cl.route(ref, args[1:])
	}
	if len(args) > 1 {
		return usagef("unexpected argument %q", args[1])
	}
	switch args[0] {
	case "routes":
		v, err := cl.c.Routes(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.routes(v) })
	case "vmknics":
		v, err := cl.c.Vmknics(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.vmknics(v) })
	case "neighbors":
		v, err := cl.c.Neighbors(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.neighbors(v) })
	case "datastores":
		v, err := cl.c.Datastores(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.datastores(v) })
	case "flows":
		v, err := cl.c.Flows(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.flows(v) })
	case "workload":
		v, err := cl.c.Workload(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.workload(v) })
	}
	return usagef("unknown host view %q (want routes, vmknics, neighbors, datastores, flows, workload or route)", args[0])
}

func (cl *cli) route(ref string, args []string) error {
	if len(args) == 0 {
		return usagef("route add|delete ...")
	}
	var (
		v   []harness.RouteView
		err error
	)
	switch op := args[0]; {
	case op == "add" && len(args) == 3:
		v, err = cl.c.AddRoute(cl.ctx, ref, cl.o.netstack, args[1], args[2])
	case op == "add":
		return usagef("route add NETWORK GATEWAY")
	case (op == "delete" || op == "del" || op == "rm") && (len(args) == 2 || len(args) == 3):
		gw := ""
		if len(args) == 3 {
			gw = args[2]
		}
		v, err = cl.c.DeleteRoute(cl.ctx, ref, cl.o.netstack, args[1], gw)
	case op == "delete" || op == "del" || op == "rm":
		return usagef("route delete NETWORK [GATEWAY]")
	default:
		return usagef("route %q: want add or delete", op)
	}
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.routes(v) })
}

func (cl *cli) cvms(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	v, err := cl.c.CVMs(cl.ctx)
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.cvms(v) })
}

func (cl *cli) cvm(args []string) error {
	if len(args) == 0 {
		return usagef("which CVM?")
	}
	ref, args := args[0], args[1:]
	var (
		v   harness.CVMView
		err error
	)
	switch {
	case len(args) == 0:
		if v, err = cl.c.CVM(cl.ctx, ref); err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.cvmSummary(v) })
	case len(args) == 1 && args[0] == "sessions":
		s, err := cl.c.Sessions(cl.ctx, ref)
		if err != nil {
			return err
		}
		return cl.emit(s, func(t *table) { t.sessions(s) })
	case len(args) == 1 && args[0] == "reboot":
		v, err = cl.c.Reboot(cl.ctx, ref)
	case len(args) == 2 && args[0] == "power" && args[1] == "off":
		v, err = cl.c.PowerOff(cl.ctx, ref)
	case len(args) == 2 && args[0] == "power" && args[1] == "on":
		v, err = cl.c.PowerOn(cl.ctx, ref)
	case len(args) == 2 && args[0] == "power" && args[1] == "reboot":
		v, err = cl.c.Reboot(cl.ctx, ref)
	case len(args) == 2 && args[0] == "stargate":
		switch args[1] {
		case "up", "down", "hang", "hung":
		default:
			return usagef("stargate %q: want up, down or hang", args[1])
		}
		v, err = cl.c.SetStargate(cl.ctx, ref, args[1])
	default:
		return usagef("unexpected %q", strings.Join(args, " "))
	}
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.cvms([]harness.CVMView{v}) })
}

func (cl *cli) faults(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	v, err := cl.c.Faults(cl.ctx)
	if err != nil {
		return err
	}
	return cl.emit(v, func(t *table) { t.faults(v) })
}

func (cl *cli) fault(args []string) error {
	if len(args) == 0 {
		return usagef("which fault? (one of %s, rm or clear)", strings.Join(harness.FaultKinds, ", "))
	}
	switch args[0] {
	case "rm", "remove", "delete":
		if len(args) != 2 {
			return usagef("fault rm ID")
		}
		if err := cl.c.RemoveFault(cl.ctx, args[1]); err != nil {
			return err
		}
		if !cl.json {
			fmt.Fprintf(cl.out, "fault %s removed\n", args[1])
		}
		return nil
	case "clear":
		if len(args) != 1 {
			return usagef("fault clear takes no argument")
		}
		if err := cl.c.ClearFaults(cl.ctx); err != nil {
			return err
		}
		if !cl.json {
			fmt.Fprintln(cl.out, "every fault removed")
		}
		return nil
	}
	spec, err := cl.faultSpec(args)
	if err != nil {
		return err
	}
	f, err := cl.c.AddFault(cl.ctx, spec)
	if err != nil {
		return err
	}
	return cl.emit(f, func(t *table) { t.faults([]harness.Fault{f}) })
}

// faultSpec reads `KIND TARGET [ARGS]`, where TARGET is `host REF`, `cvm
// REF` or, for a partition, two node names. The host or CVM is resolved
// here: "a" alone would not say which of host A and CVM A is meant.
func (cl *cli) faultSpec(args []string) (harness.FaultSpec, error) {
	kind, args := args[0], args[1:]
	spec := harness.FaultSpec{Kind: kind, For: harness.Duration(cl.o.forD), Count: cl.o.count, Command: cl.o.command, Delay: harness.Duration(cl.o.delay)}
	if kind == harness.FaultPartition {
		if len(args) != 2 {
			return spec, usagef("fault partition NODE NODE")
		}
		spec.Node, spec.Peer = args[0], args[1]
		return spec, nil
	}
	var rest []string
	var want string
	switch kind {
	case harness.FaultSSHRefuse, harness.FaultSSHSlow, harness.FaultSSHDrop, harness.FaultSSHHang, harness.FaultStargateDown, harness.FaultStargateHang:
		want = ""
	case harness.FaultLinkDown:
		want = "IFACE"
	case harness.FaultLatency:
		want = "IFACE LATENCY"
	case harness.FaultLoss:
		want = "IFACE PERCENT"
	default:
		return spec, usagef("unknown fault kind %q (want one of %s, rm or clear)", kind, strings.Join(harness.FaultKinds, ", "))
	}
	target := "host|cvm REF"
	switch kind {
	case harness.FaultStargateDown, harness.FaultStargateHang:
		target = "cvm REF"
	case harness.FaultSSHRefuse, harness.FaultSSHSlow, harness.FaultSSHDrop, harness.FaultSSHHang:
		target = "host REF"
	}
	form := strings.TrimSpace(fmt.Sprintf("fault %s %s %s", kind, target, want))
	if len(args) < 2 || len(args)-2 != len(strings.Fields(want)) {
		return spec, usagef("want: %s", form)
	}
	role, ref := args[0], args[1]
	rest = args[2:]
	switch role {
	case "host":
		v, err := cl.c.Host(cl.ctx, ref)
		if err != nil {
			return spec, err
		}
		spec.Node = v.Name
	case "cvm":
		v, err := cl.c.CVM(cl.ctx, ref)
		if err != nil {
			return spec, err
		}
		spec.Node = v.Name
	default:
		return spec, usagef("%q: want host or cvm (%s)", role, form)
	}
	if len(rest) > 0 {
		spec.Interface = rest[0]
	}
	switch kind {
	case harness.FaultLatency:
		d, err := time.ParseDuration(rest[1])
		if err != nil || d <= 0 {
			return spec, usagef("latency %q: want a duration like 50ms", rest[1])
		}
		spec.Latency = harness.Duration(d)
	case harness.FaultLoss:
		p, err := strconv.ParseFloat(strings.TrimSuffix(rest[1], "%"), 64)
		if err != nil || p <= 0 || p > 100 {
			return spec, usagef("loss %q: want a percentage in (0, 100]", rest[1])
		}
		spec.LossPercent = p
	}
	return spec, nil
}

// errStreamEnded is the lab closing the event stream (it stopped).
var errStreamEnded = errors.New("the lab closed the event stream")

func (cl *cli) events(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	q := controlapi.EventQuery{Kind: cl.o.kind, Node: cl.o.node, Limit: cl.o.limit}
	if !cl.o.follow {
		v, err := cl.c.Events(cl.ctx, q)
		if err != nil {
			return err
		}
		return cl.emit(v, func(t *table) { t.events(v) })
	}
	if cl.o.limit > 0 {
		return usagef("--limit does not apply with -f")
	}
	s, err := cl.c.OpenStream(cl.ctx, q)
	if err != nil {
		return err
	}
	defer s.Close()
	// The header goes out once the lab follows the log for this stream:
	// whoever reads it knows every later event will be shown.
	if !cl.json {
		fmt.Fprintf(cl.out, eventFormat, "TIME", "KIND", "NODE", "DETAIL")
	}
	for {
		ev, err := s.Next()
		switch {
		case cl.ctx.Err() != nil:
			return nil // interrupted: the normal end of -f
		case errors.Is(err, io.EOF):
			return errStreamEnded
		case err != nil:
			return err
		}
		if ev.Dropped > 0 {
			fmt.Fprintf(cl.errw, "labctl: %d events dropped: this terminal reads too slowly\n", ev.Dropped)
			continue
		}
		if cl.json {
			if err := writeJSONLine(cl.out, ev.Event); err != nil {
				return err
			}
			continue
		}
		writeEventLine(cl.out, ev.Event)
	}
}

func (cl *cli) wait(args []string) error {
	if len(args) == 0 {
		return usagef("wait for what?")
	}
	if cl.o.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	cond := strings.Join(args, " ")
	// The lab times the wait out; the margin only guards against a lab
	// that stops answering.
	ctx, cancel := context.WithTimeout(cl.ctx, cl.o.timeout+30*time.Second)
	defer cancel()
	d, err := cl.c.Wait(ctx, cond, cl.o.timeout)
	switch {
	case controlapi.IsTimeout(err):
		return &timeoutError{fmt.Sprintf("timed out after %s waiting for %q", cl.o.timeout, cond)}
	case err != nil && ctx.Err() == context.DeadlineExceeded && cl.ctx.Err() == nil:
		return &timeoutError{fmt.Sprintf("the lab did not answer within %s waiting for %q", cl.o.timeout+30*time.Second, cond)}
	case err != nil:
		return err
	}
	return cl.emit(controlapi.WaitResult{Met: true, WaitedMS: float64(d) / float64(time.Millisecond)}, func(t *table) {
		t.line("condition met after %s: %s", d.Round(time.Millisecond), cond)
	})
}

func (cl *cli) reset(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	d, err := cl.c.Reset(cl.ctx)
	if err != nil {
		return err
	}
	return cl.emit(controlapi.ResetResult{DurationMS: float64(d) / float64(time.Millisecond)}, func(t *table) {
		t.line("lab reset in %s", d.Round(10*time.Microsecond))
	})
}

func (cl *cli) metrics(args []string) error {
	if err := noArgs(args); err != nil {
		return err
	}
	m, err := cl.c.Metrics(cl.ctx)
	if err != nil {
		return err
	}
	_, err = io.WriteString(cl.out, m)
	return err
}
