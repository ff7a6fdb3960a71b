package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// emit prints v as the API's JSON (-o json) or as a table for people.
func (cl *cli) emit(v any, fill func(*table)) error {
	if cl.json {
		enc := json.NewEncoder(cl.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	t := &table{tw: tabwriter.NewWriter(cl.out, 0, 0, 2, ' ', 0)}
	fill(t)
	return t.tw.Flush()
}

func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) line(format string, a ...any) { fmt.Fprintf(t.tw, format+"\n", a...) }

func (t *table) blank() { fmt.Fprintln(t.tw) }

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

func (t *table) labView(v harness.LabView) {
	t.row("LAB", v.Name)
	t.row("HOSTS", strings.Join(v.Hosts, ", "))
	t.row("CVMS", strings.Join(v.CVMs, ", "))
	t.row("GENESIS", onOff(v.Genesis, "running", "off"))
	t.row("FAULTS", strconv.Itoa(len(v.Faults)))
	t.row("RESETS", strconv.Itoa(v.Resets))
	t.row("LAB TIME", v.Time.Format(time.RFC3339))
}

func (t *table) endpoints(v []harness.Endpoint) {
	t.row("NODE", "ROLE", "IPS", "SSH", "NFS", "STATUS")
	for _, e := range v {
		t.row(e.Name, e.Role, strings.Join(e.IPs, ", "), e.Listeners["ssh"], e.Listeners["nfs"], e.Listeners["status"])
	}
}

func datastoreStates(ds []harness.DatastoreView) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Name+" "+onOff(d.Accessible, "accessible", "inaccessible"))
	}
	return strings.Join(s, ", ")
}

func ioSummary(w *harness.WorkloadView) string {
	if w == nil {
		return ""
	}
	s := fmt.Sprintf("%d ops, %d errors", w.Ops, w.Errors)
	if w.Stalled {
		s = "STALLED, " + s
	}
	return s
}

func staticRoutes(rs []harness.RouteView) int {
	n := 0
	for _, r := range rs {
		if r.Gateway != "" && !r.Default {
			n++
		}
	}
	return n
}

func (t *table) hosts(v []harness.HostView) {
	t.row("HOST", "HOSTNAME", "VERSION", "ROUTES", "STATIC", "DATASTORES", "IO")
	for _, h := range v {
		t.row(h.Name, h.Hostname, h.Version, strconv.Itoa(len(h.Routes)), strconv.Itoa(staticRoutes(h.Routes)), datastoreStates(h.Datastores), ioSummary(h.Workload))
	}
}

func (t *table) hostSummary(h harness.HostView) {
	t.row("HOST", h.Name)
	t.row("HOSTNAME", h.Hostname)
	t.row("VERSION", h.Version)
	var nics []string
	for _, k := range h.Vmknics {
		nics = append(nics, fmt.Sprintf("%s %s (%s)", k.Name, k.IP, k.Portgroup))
	}
	t.row("VMKNICS", strings.Join(nics, ", "))
	t.row("DATASTORES", datastoreStates(h.Datastores))
	t.row("FLOWS", strconv.Itoa(len(h.Flows)))
	t.row("IO", ioSummary(h.Workload))
	t.blank()
	t.routes(h.Routes)
}

func (t *table) routes(v []harness.RouteView) {
	t.row("NETSTACK", "NETWORK", "GATEWAY", "INTERFACE")
	for _, r := range v {
		gw := r.Gateway
		if gw == "" {
			gw = "Local Subnet"
		}
		network := r.Network
		if r.Default {
			network = "default"
		}
		t.row(r.Netstack, network, gw, r.Interface)
	}
}

func (t *table) vmknics(v []harness.VmknicView) {
	t.row("NAME", "PORTGROUP", "NETSTACK", "IP", "MAC", "MTU", "ENABLED")
	for _, k := range v {
		t.row(k.Name, k.Portgroup, k.Netstack, k.IP, k.MAC, strconv.Itoa(k.MTU), strconv.FormatBool(k.Enabled))
	}
}

func (t *table) neighbors(v []harness.NeighborView) {
	t.row("IP", "MAC", "INTERFACE", "EXPIRY")
	for _, n := range v {
		t.row(n.IP, n.MAC, n.Interface, fmt.Sprintf("%.0f sec", n.ExpirySec))
	}
}

func (t *table) datastores(v []harness.DatastoreView) {
	t.row("NAME", "SERVER", "SHARE", "STATE", "ACCESSIBLE", "MOUNTED")
	for _, d := range v {
		t.row(d.Name, d.Server, d.Share, d.State, strconv.FormatBool(d.Accessible), strconv.FormatBool(d.Mounted))
	}
}

func (t *table) flows(v []harness.FlowView) {
	t.row("LOCAL", "REMOTE", "EGRESS", "NEXT HOP", "TARGET")
	for _, f := range v {
		t.row(f.Local, f.Remote, f.Egress, f.NextHop, f.Target)
	}
}

func (t *table) workload(w harness.WorkloadView) {
	t.row("VM", w.VM)
	t.row("RUNNING", strconv.FormatBool(w.Running))
	t.row("OPS", fmt.Sprintf("%d (%d reads, %d writes)", w.Ops, w.Reads, w.Writes))
	t.row("ERRORS", strconv.FormatUint(w.Errors, 10))
	t.row("LAST ERROR", w.LastError)
	t.row("LATENCY", fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", w.P50MS, w.P99MS))
	t.row("STALLED", strconv.FormatBool(w.Stalled))
	t.row("OUTAGE TOTAL", fmt.Sprintf("%.0f ms", w.OutageTotalMS))
	t.row("INTEGRITY", onOff(w.IntegrityOK, "ok", fmt.Sprintf("%d violations", w.Violations)))
	if len(w.Outages) == 0 {
		return
	}
	t.blank()
	t.row("OUTAGE START", "DURATION", "ERRORS", "CAUSE")
	for _, o := range w.Outages {
		d := fmt.Sprintf("%.0f ms", o.DurationMS)
		if o.Open {
			d += " (open)"
		}
		t.row(o.Start.Format("15:04:05.000"), d, strconv.FormatUint(o.Errors, 10), o.Cause)
	}
}

func (t *table) cvms(v []harness.CVMView) {
	t.row("CVM", "HOST", "IP", "POWER", "STARGATE", "FAULT", "SESSIONS")
	for _, c := range v {
		t.row(c.Name, c.Host, c.IP, c.Power, c.Stargate, c.Fault, strconv.Itoa(len(c.Sessions)))
	}
}

func (t *table) cvmSummary(c harness.CVMView) {
	t.row("CVM", c.Name)
	t.row("HOST", c.Host)
	t.row("IP", c.IP)
	t.row("POWER", c.Power)
	t.row("STARGATE", c.Stargate)
	t.row("FAULT", c.Fault)
	t.row("INITIALISED", strconv.FormatBool(c.Initialised))
	t.blank()
	t.sessions(c.Sessions)
}

func (t *table) sessions(v []harness.SessionView) {
	t.row("CLIENT", "LOCAL", "EXPORT", "SINCE")
	for _, s := range v {
		t.row(s.Client, s.Local, s.Export, s.Since.Format("15:04:05.000"))
	}
}

func (t *table) faults(v []harness.Fault) {
	t.row("ID", "KIND", "NODE", "DETAIL", "EXPIRES", "HITS")
	for _, f := range v {
		exp := ""
		if !f.Expires.IsZero() {
			exp = f.Expires.Format("15:04:05")
		}
		t.row(f.ID, f.Spec.Kind, f.Spec.Node, faultDetail(f.Spec), exp, strconv.Itoa(f.Hits))
	}
}

func faultDetail(s harness.FaultSpec) string {
	var d []string
	add := func(cond bool, format string, a ...any) {
		if cond {
			d = append(d, fmt.Sprintf(format, a...))
		}
	}
	add(s.Interface != "", "%s", s.Interface)
	add(s.Peer != "", "<-> %s", s.Peer)
	add(s.Latency > 0, "+%s", time.Duration(s.Latency))
	add(s.LossPercent > 0, "%g%% loss", s.LossPercent)
	add(s.Delay > 0, "delay %s", time.Duration(s.Delay))
	add(s.Command != "", "command %q", s.Command)
	add(s.For > 0, "for %s", time.Duration(s.For))
	add(s.Count > 0, "count %d", s.Count)
	return strings.Join(d, " ")
}

func (t *table) events(v []harness.Event) {
	// The same fixed columns as events -f, which cannot align ahead.
	fmt.Fprintf(t.tw, eventFormat, "TIME", "KIND", "NODE", "DETAIL")
	for _, e := range v {
		writeEventLine(t.tw, e)
	}
}

const eventFormat = "%-12s  %-22s  %-20s  %s\n"

func writeEventLine(w io.Writer, e harness.Event) {
	fmt.Fprintf(w, eventFormat, e.Time.Format("15:04:05.000"), e.Kind, e.Node, eventDetail(e))
}

// eventDetail puts the fields an event kind uses on one line.
func eventDetail(e harness.Event) string {
	var d []string
	add := func(k, v string) {
		if v != "" {
			d = append(d, k+"="+v)
		}
	}
	add("user", e.User)
	add("source", e.Source)
	if e.Command != "" {
		d = append(d, "command="+strconv.Quote(e.Command))
	}
	if e.Exit != nil {
		add("exit", strconv.Itoa(*e.Exit))
	}
	add("datastore", e.Datastore)
	if e.Server != "" {
		add("share", e.Server+":"+e.Share)
	} else {
		add("share", e.Share)
	}
	add("client", e.Client)
	add("local", e.Local)
	add("egress", e.Egress)
	add("target", e.Target)
	add("netstack", e.Netstack)
	add("network", e.Network)
	add("gateway", e.Gateway)
	add("vmknic", e.Vmknic)
	add("addr", e.Addr)
	add("vm", e.VM)
	if e.DurationMS != 0 {
		add("duration", (time.Duration(e.DurationMS * float64(time.Millisecond))).Round(time.Millisecond).String())
	}
	if e.Detail != "" {
		d = append(d, e.Detail)
	}
	if e.Error != "" {
		d = append(d, "error="+strconv.Quote(e.Error))
	}
	return strings.Join(d, " ")
}
