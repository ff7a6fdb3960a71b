package harness

import (
	"fmt"
	"strings"
	"time"
)

// IOReport is the VM IO outage account of every host with a workload,
// from a moment on: what a test asserts after a failover.
type IOReport struct {
	Since time.Time `json:"since"`
	Hosts []HostIO  `json:"hosts"`
}

// HostIO is one host's VM IO since the report's start.
type HostIO struct {
	Host string `json:"host"`
	// Outages are the windows that ended or are open after Since.
	Outages []OutageView `json:"outages"`
	// LongestMS and TotalMS sum those windows; Errors counts their failed
	// operations.
	LongestMS float64 `json:"longest_ms"`
	TotalMS   float64 `json:"total_ms"`
	Errors    uint64  `json:"errors"`
	// IntegrityOK is false once the workload found a lost or corrupt
	// write.
	IntegrityOK bool `json:"integrity_ok"`
}

// IOReport returns the outages of every host's workload that ended (or
// are still open) after since; a zero since covers the whole run.
func (l *Lab) IOReport(since time.Time) IOReport {
	r := IOReport{Since: since, Hosts: []HostIO{}}
	for _, th := range l.Topology.Hosts {
		w := l.Workload(th.Name)
		if w == nil {
			continue
		}
		rep := w.Report()
		h := HostIO{Host: th.Name, Outages: []OutageView{}, IntegrityOK: rep.Integrity.OK}
		for _, o := range rep.Outages {
			if !o.Open && o.End.Before(since) {
				continue
			}
			h.Outages = append(h.Outages, OutageView{Start: o.Start, End: o.End, DurationMS: ms(o.Duration), Open: o.Open, Errors: o.Errors, Cause: o.Cause})
			h.LongestMS = max(h.LongestMS, ms(o.Duration))
			h.TotalMS += ms(o.Duration)
			h.Errors += o.Errors
		}
		r.Hosts = append(r.Hosts, h)
	}
	return r
}

// Host returns one host's account (by topology name), or a zero HostIO.
func (r IOReport) Host(name string) HostIO {
	for _, h := range r.Hosts {
		if h.Host == name {
			return h
		}
	}
	return HostIO{Host: name}
}

// String is one line per host: "NTNX-BLOCK1-A: 1 outage, longest 812ms".
func (r IOReport) String() string {
	var b strings.Builder
	for _, h := range r.Hosts {
		fmt.Fprintf(&b, "%s: %d outage(s), longest %v, total %v, %d failed op(s), integrity ok=%v\n", h.Host, len(h.Outages),
			time.Duration(h.LongestMS*float64(time.Millisecond)).Round(time.Millisecond),
			time.Duration(h.TotalMS*float64(time.Millisecond)).Round(time.Millisecond), h.Errors, h.IntegrityOK)
	}
	return b.String()
}
