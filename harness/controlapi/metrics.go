package controlapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/autopathlab/autopathlab/harness"
)

// GET /metrics is Prometheus' text format from a registry of the server's
// own. The state is read from the lab's views at scrape time (no copy of
// the model to go stale); the counters are fed by the event log.

type metrics struct {
	events      *prometheus.CounterVec
	sshCommands *prometheus.CounterVec
	handler     http.Handler
}

func newMetrics(lab *harness.Lab) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "autopathlab_events_total",
			Help: "Events recorded by the lab's event log, by kind."}, []string{"kind"}),
		sshCommands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "autopathlab_ssh_commands_total",
			Help: "Commands run over SSH, by node (ESXi host or CVM)."}, []string{"node"}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.events, m.sshCommands, newViewCollector(lab))
	// The events recorded before the server started (the datastores'
	// mounts) count too. The hub subscribes just after this snapshot; the
	// log offers no atomic snapshot-and-subscribe, so an event recorded in
	// that instant is not counted (rather than counted twice).
	for _, e := range lab.Events.Events() {
		m.count(e)
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) count(e harness.Event) {
	m.events.WithLabelValues(e.Kind).Inc()
	if e.Kind == "ssh.command" {
		m.sshCommands.WithLabelValues(e.Node).Inc()
	}
}

// viewCollector reads the views at every scrape.
type viewCollector struct {
	lab                          *harness.Lab
	power, stargate, sessions    *prometheus.Desc
	routes, accessible           *prometheus.Desc
	ops, errors, outage, stalled *prometheus.Desc
	faults, resets               *prometheus.Desc
}

func newViewCollector(lab *harness.Lab) *viewCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("autopathlab_"+name, help, labels, nil)
	}
	return &viewCollector{lab: lab,
		power:      d("cvm_power", "1 for the CVM's power state (off, booting, up), 0 for the others.", "cvm", "state"),
		stargate:   d("cvm_stargate", "1 for Stargate's state as clients see it (up, down, hung), 0 for the others.", "cvm", "state"),
		sessions:   d("cvm_sessions", "NFS client connections the CVM's Stargate serves.", "cvm"),
		routes:     d("host_routes", "Routes in a host's netstack, connected routes included.", "host", "netstack"),
		accessible: d("datastore_accessible", "1 while a host's NFS datastore is accessible.", "host", "datastore"),
		ops:        d("workload_ops_total", "IO operations the host's VM workload completed.", "host", "vm"),
		errors:     d("workload_errors_total", "IO operations of the host's VM workload that failed.", "host", "vm"),
		outage:     d("workload_outage_seconds_total", "Seconds of IO outage the host's VM workload has seen (lab clock).", "host", "vm"),
		stalled:    d("workload_stalled", "1 while the host's VM workload is in an IO outage.", "host", "vm"),
		faults:     d("faults", "Standing faults, by kind.", "kind"),
		resets:     d("resets_total", "Lab resets since the lab started."),
	}
}

func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.power, c.stargate, c.sessions, c.routes, c.accessible, c.ops, c.errors, c.outage, c.stalled, c.faults, c.resets} {
		ch <- d
	}
}

func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, v := range c.lab.CVMViews() {
		for _, st := range []string{"off", "booting", "up"} {
			gauge(c.power, bool01(v.Power == st), v.Name, st)
		}
		for _, st := range harness.StargateStates {
			gauge(c.stargate, bool01(v.Stargate == st), v.Name, st)
		}
		gauge(c.sessions, float64(len(v.Sessions)), v.Name)
	}
	for _, h := range c.lab.HostViews() {
		perStack := map[string]int{}
		var stacks []string
		for _, r := range h.Routes {
			if perStack[r.Netstack] == 0 {
				stacks = append(stacks, r.Netstack)
			}
			perStack[r.Netstack]++
		}
		for _, ns := range stacks {
			gauge(c.routes, float64(perStack[ns]), h.Name, ns)
		}
		for _, d := range h.Datastores {
			gauge(c.accessible, bool01(d.Accessible), h.Name, d.Name)
		}
		if w := h.Workload; w != nil {
			counter(c.ops, float64(w.Ops), h.Name, w.VM)
			counter(c.errors, float64(w.Errors), h.Name, w.VM)
			counter(c.outage, w.OutageTotalMS/1000, h.Name, w.VM)
			gauge(c.stalled, bool01(w.Stalled), h.Name, w.VM)
		}
	}
	lv := c.lab.View()
	perKind := map[string]int{}
	for _, f := range lv.Faults {
		perKind[f.Spec.Kind]++
	}
	for _, k := range harness.FaultKinds {
		gauge(c.faults, float64(perKind[k]), k)
	}
	counter(c.resets, float64(lv.Resets))
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
