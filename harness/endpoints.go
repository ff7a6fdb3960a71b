package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
)

// Endpoint is one node of a running lab as clients reach it.
type Endpoint struct {
	Name string `json:"name"`
	// Role is esxi, cvm, filer or gateway.
	Role string `json:"role"`
	// IPs are the node's modelled addresses.
	IPs []string `json:"ips"`
	// Listeners are real addresses by service: "ssh" -> "127.0.0.1:2201",
	// "nfs" -> "127.0.0.1:2401" (portmapper, MOUNT and NFS on one port),
	// and for a CVM "status" -> "127.0.0.1:2501" (Stargate's status page,
	// port 2009 on a real CVM).
	Listeners map[string]string `json:"listeners,omitempty"`
}

// Endpoints describes every node, hosts first, in topology order.
func (l *Lab) Endpoints() []Endpoint {
	var out []Endpoint
	for _, th := range l.Topology.Hosts {
		e := Endpoint{Name: th.Name, Role: "esxi", Listeners: map[string]string{}}
		h := l.Host(th.Name)
		if h == nil && l.place.self != "" {
			continue // another process's: its own endpoints say
		}
		if h != nil {
			for _, v := range h.VMkernel().Vmknics() {
				if a := v.Addr(); a.IsValid() {
					e.IPs = append(e.IPs, a.Addr().String())
				}
			}
			if a := h.Addr(); a != nil {
				e.Listeners["ssh"] = l.advertised(a)
			}
		}
		out = append(out, e)
	}
	nfsOf := func(name string) map[string]string {
		if s := l.NFSServer(name); s != nil {
			return map[string]string{"nfs": l.advertised(s.Addr)}
		}
		return nil
	}
	for _, c := range l.Topology.CVMs {
		e := Endpoint{Name: c.Name, Role: "cvm", Listeners: map[string]string{}}
		cvm := l.CVM(c.Name)
		if cvm == nil && l.place.self != "" {
			continue
		}
		for _, i := range c.Interfaces {
			e.IPs = append(e.IPs, strings.SplitN(i.IP, "/", 2)[0])
		}
		if cvm != nil {
			for svc, a := range map[string]net.Addr{"ssh": cvm.SSHAddr(), "nfs": cvm.NFSAddr(), "status": cvm.StatusAddr()} {
				if a != nil {
					e.Listeners[svc] = l.advertised(a)
				}
			}
		}
		out = append(out, e)
	}
	for _, f := range l.Topology.Filers {
		if !l.place.servesFilers(l.Topology) {
			break
		}
		e := Endpoint{Name: f.Name, Role: "filer", Listeners: nfsOf(f.Name)}
		for _, i := range f.Interfaces {
			e.IPs = append(e.IPs, strings.SplitN(i.IP, "/", 2)[0])
		}
		out = append(out, e)
	}
	for _, g := range l.Topology.Gateways {
		out = append(out, Endpoint{Name: g.Name, Role: "gateway", IPs: []string{strings.SplitN(g.IP, "/", 2)[0]}})
	}
	return out
}

// WriteEndpointsJSON writes {"lab": name, "nodes": [...]}.
func (l *Lab) WriteEndpointsJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Lab   string     `json:"lab"`
		API   string     `json:"api,omitempty"`
		Nodes []Endpoint `json:"nodes"`
	}{l.Topology.Name, l.APIURL, l.Endpoints()})
}

// WriteEndpointsTable prints the endpoints for people.
func (l *Lab) WriteEndpointsTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tIPS\tSSH\tNFS\tSTATUS")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, e := range l.Endpoints() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Role, strings.Join(e.IPs, ", "), dash(e.Listeners["ssh"]), dash(e.Listeners["nfs"]), dash(e.Listeners["status"]))
	}
	return tw.Flush()
}
