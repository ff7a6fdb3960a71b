package harness

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim"
)

// The views are snapshots of the one model, shaped for the control API,
// labctl and the conformance kit. They are read on demand; none is kept.

// LabView is the lab at a glance.
type LabView struct {
	Name      string     `json:"name"`
	Hosts     []string   `json:"hosts"`
	CVMs      []string   `json:"cvms"`
	Endpoints []Endpoint `json:"endpoints"`
	Faults    []Fault    `json:"faults"`
	Genesis   bool       `json:"genesis"`
	// Time is the lab clock's now (scaled or fake time in tests).
	Time time.Time `json:"time"`
	// Resets counts Reset calls since the lab started.
	Resets int `json:"resets"`
}

// HostView is one ESXi host.
type HostView struct {
	Name       string          `json:"name"`
	Hostname   string          `json:"hostname"`
	Version    string          `json:"version"`
	Routes     []RouteView     `json:"routes"`
	Vmknics    []VmknicView    `json:"vmknics"`
	Neighbors  []NeighborView  `json:"neighbors"`
	Datastores []DatastoreView `json:"datastores"`
	Flows      []FlowView      `json:"flows"`
	// Workload is the VM IO workload's account; nil without one.
	Workload *WorkloadView `json:"workload,omitempty"`
}

// RouteView is a route of a netstack as esxcfg-route -l lists it.
type RouteView struct {
	Netstack string `json:"netstack"`
	Network  string `json:"network"`
	// Gateway is "" for a connected ("Local Subnet") route.
	Gateway   string `json:"gateway,omitempty"`
	Interface string `json:"interface"`
	Default   bool   `json:"default,omitempty"`
}

// VmknicView is a VMkernel NIC.
type VmknicView struct {
	Name      string `json:"name"`
	Portgroup string `json:"portgroup"`
	Netstack  string `json:"netstack"`
	IP        string `json:"ip"`
	MAC       string `json:"mac"`
	MTU       int    `json:"mtu"`
	Enabled   bool   `json:"enabled"`
}

// NeighborView is an ARP entry.
type NeighborView struct {
	IP        string  `json:"ip"`
	MAC       string  `json:"mac"`
	Interface string  `json:"interface"`
	ExpirySec float64 `json:"expiry_sec"`
}

// DatastoreView is an NFS datastore and the path its traffic takes now.
type DatastoreView struct {
	Name       string `json:"name"`
	Server     string `json:"server"`
	Share      string `json:"share"`
	State      string `json:"state"`
	Accessible bool   `json:"accessible"`
	Mounted    bool   `json:"mounted"`
	ReadOnly   bool   `json:"read_only,omitempty"`
}

// FlowView is an open modelled TCP flow from the node.
type FlowView struct {
	Local   string `json:"local"`
	Remote  string `json:"remote"`
	Egress  string `json:"egress"`
	NextHop string `json:"next_hop"`
	Target  string `json:"target"`
}

// WorkloadView is the VM IO workload's account.
type WorkloadView struct {
	VM        string  `json:"vm"`
	Running   bool    `json:"running"`
	Ops       uint64  `json:"ops"`
	Reads     uint64  `json:"reads"`
	Writes    uint64  `json:"writes"`
	Errors    uint64  `json:"errors"`
	LastError string  `json:"last_error,omitempty"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	// Stalled is true while an outage is open.
	Stalled       bool         `json:"stalled"`
	Outages       []OutageView `json:"outages"`
	OutageTotalMS float64      `json:"outage_total_ms"`
	IntegrityOK   bool         `json:"integrity_ok"`
	Violations    uint64       `json:"violations"`
}

// OutageView is one IO outage window.
type OutageView struct {
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	DurationMS float64   `json:"duration_ms"`
	Open       bool      `json:"open,omitempty"`
	Errors     uint64    `json:"errors"`
	Cause      string    `json:"cause,omitempty"`
}

// CVMView is one Controller VM.
type CVMView struct {
	Name string `json:"name"`
	Host string `json:"host"`
	IP   string `json:"ip"`
	// Power is off, booting or up.
	Power string `json:"power"`
	// Stargate is up, down or hung as clients see it now; Fault is the
	// standing Stargate fault ("" when none).
	Stargate    string        `json:"stargate"`
	Fault       string        `json:"fault,omitempty"`
	Initialised bool          `json:"initialised"`
	Sessions    []SessionView `json:"sessions"`
}

// SessionView is an NFS client connection Stargate serves.
type SessionView struct {
	Client string    `json:"client"`
	Local  string    `json:"local"`
	Export string    `json:"export,omitempty"`
	Since  time.Time `json:"since"`
}

// View returns the lab at a glance.
func (l *Lab) View() LabView {
	v := LabView{Name: l.Topology.Name, Endpoints: l.Endpoints(), Faults: l.Faults(), Genesis: l.Genesis != nil, Time: l.Clock.Now()}
	for _, h := range l.hostTopo {
		v.Hosts = append(v.Hosts, h.Name)
	}
	for _, c := range l.CVMs {
		v.CVMs = append(v.CVMs, c.Name())
	}
	v.Resets = l.resets()
	return v
}

// HostView returns one host by reference (see ResolveHost).
func (l *Lab) HostView(ref string) (HostView, error) {
	h, name, err := l.resolveHost(ref)
	if err != nil {
		return HostView{}, err
	}
	return l.hostView(h, name), nil
}

// HostViews returns every host in topology order.
func (l *Lab) HostViews() []HostView {
	out := make([]HostView, 0, len(l.Hosts))
	for i, h := range l.Hosts {
		out = append(out, l.hostView(h, l.hostTopo[i].Name))
	}
	return out
}

func (l *Lab) hostView(h *esxisim.Host, name string) HostView {
	vk := h.VMkernel()
	v := HostView{Name: name, Hostname: vk.Hostname(), Version: vk.Version().Version,
		Routes: []RouteView{}, Vmknics: []VmknicView{}, Neighbors: []NeighborView{}, Datastores: []DatastoreView{}, Flows: []FlowView{}}
	for _, ns := range vk.Netstacks() {
		rs, err := vk.Routes(ns)
		if err != nil {
			continue
		}
		for _, r := range rs {
			rv := RouteView{Netstack: ns, Network: r.Network.String(), Interface: r.Interface, Default: r.Default}
			if r.Gateway.IsValid() {
				rv.Gateway = r.Gateway.String()
			}
			v.Routes = append(v.Routes, rv)
		}
	}
	for _, k := range vk.Vmknics() {
		kv := VmknicView{Name: k.Name, Portgroup: k.Portgroup, Netstack: k.Netstack, MAC: k.MAC().String(), MTU: k.MTU(), Enabled: k.Enabled()}
		if a := k.Addr(); a.IsValid() {
			kv.IP = a.String()
		}
		v.Vmknics = append(v.Vmknics, kv)
	}
	for _, n := range vk.Node().Neighbors() {
		v.Neighbors = append(v.Neighbors, NeighborView{IP: n.IP.String(), MAC: n.MAC.String(), Interface: n.Iface, ExpirySec: n.Expiry.Seconds()})
	}
	for _, d := range h.Datastores().List() {
		v.Datastores = append(v.Datastores, DatastoreView{Name: d.Name, Server: d.Host, Share: d.Share, State: d.State.String(), Accessible: d.Accessible, Mounted: d.Mounted, ReadOnly: d.ReadOnly})
	}
	for _, f := range vk.Node().Flows() {
		v.Flows = append(v.Flows, FlowView{Local: f.Local.String(), Remote: f.Remote.String(), Egress: f.Egress, NextHop: f.NextHop, Target: f.Target})
	}
	sort.Slice(v.Flows, func(i, j int) bool { return v.Flows[i].Local < v.Flows[j].Local })
	if w := l.Workload(name); w != nil {
		r := w.Report()
		wv := &WorkloadView{VM: r.VM, Running: r.Running, Ops: r.Ops, Reads: r.Reads, Writes: r.Writes, Errors: r.Errors, LastError: r.LastError,
			P50MS: ms(r.Latency.P50), P99MS: ms(r.Latency.P99), OutageTotalMS: ms(r.OutageTotal), IntegrityOK: r.Integrity.OK, Violations: r.Integrity.ViolationCount, Outages: []OutageView{}}
		for _, o := range r.Outages {
			wv.Outages = append(wv.Outages, OutageView{Start: o.Start, End: o.End, DurationMS: ms(o.Duration), Open: o.Open, Errors: o.Errors, Cause: o.Cause})
			if o.Open {
				wv.Stalled = true
			}
		}
		v.Workload = wv
	}
	return v
}

// CVMView returns one CVM by reference (see ResolveCVM).
func (l *Lab) CVMView(ref string) (CVMView, error) {
	c, err := l.resolveCVM(ref)
	if err != nil {
		return CVMView{}, err
	}
	return cvmView(c), nil
}

// CVMViews returns every CVM in topology order.
func (l *Lab) CVMViews() []CVMView {
	out := make([]CVMView, 0, len(l.CVMs))
	for _, c := range l.CVMs {
		out = append(out, cvmView(c))
	}
	return out
}

func cvmView(c *cvmsim.CVM) CVMView {
	v := CVMView{Name: c.Name(), Host: c.Host(), IP: c.IP().String(), Power: c.Power().String(), Stargate: c.StargateState().String(), Sessions: []SessionView{}}
	if f := c.StargateFault(); f != cvmsim.StargateUp {
		v.Fault = f.String()
	}
	v.Initialised = c.StatusPage().Initialised
	for _, s := range c.NFS().Sessions() {
		v.Sessions = append(v.Sessions, SessionView{Client: s.Remote.String(), Local: s.Local.String(), Export: s.Export, Since: s.Since})
	}
	return v
}

// References: a host or CVM is named by its topology name (any case), its
// 1-based position in the topology ("1"), or its letter ("a" is the first):
// "labctl cvm a power off" is the first CVM.

// resolveHost finds a host by reference. A host another process runs
// (NewNode) is a *NotFoundError naming its owner.
func (l *Lab) resolveHost(ref string) (*esxisim.Host, string, error) {
	name, err := l.ResolveHost(ref)
	if err != nil {
		return nil, "", err
	}
	h := l.Host(name)
	if h == nil {
		return nil, name, l.notHere("host", ref, name)
	}
	return h, name, nil
}

// resolveCVM finds a CVM by reference, as resolveHost.
func (l *Lab) resolveCVM(ref string) (*cvmsim.CVM, error) {
	name, err := l.ResolveCVM(ref)
	if err != nil {
		return nil, err
	}
	c := l.CVM(name)
	if c == nil {
		return nil, l.notHere("cvm", ref, name)
	}
	return c, nil
}

// ResolveHost returns the topology name of the host ref names (in a lab
// of one node, NewNode's, also a host another process runs).
func (l *Lab) ResolveHost(ref string) (string, error) {
	names := make([]string, len(l.Topology.Hosts))
	for i, th := range l.Topology.Hosts {
		names[i] = th.Name
	}
	i, err := resolve("host", ref, names)
	if err != nil {
		return "", err
	}
	return names[i], nil
}

// ResolveCVM returns the name of the CVM ref names, as ResolveHost.
func (l *Lab) ResolveCVM(ref string) (string, error) {
	names := make([]string, len(l.Topology.CVMs))
	for i, c := range l.Topology.CVMs {
		names[i] = c.Name
	}
	i, err := resolve("cvm", ref, names)
	if err != nil {
		return "", err
	}
	return names[i], nil
}

// notHere is the error for a node of the topology this process does not
// run.
func (l *Lab) notHere(kind, ref, name string) error {
	return &NotFoundError{Kind: kind, Ref: ref, Known: l.localNames(), Name: name, Owner: l.Owner(name)}
}

// NotFoundError says a reference names nothing in the lab.
type NotFoundError struct {
	Kind, Ref string
	Known     []string
	// Name and Owner are set for a node of the topology that another
	// process runs (a lab of one node, NewNode): its name, and the fabric
	// address of the process that runs it. Known lists this process's.
	Name, Owner string
}

func (e *NotFoundError) Error() string {
	if e.Owner != "" {
		return fmt.Sprintf("%s %s runs in another process (%s), not in this one (%s): ask the lab's gateway", e.Kind, e.Name, e.Owner, strings.Join(e.Known, ", "))
	}
	return fmt.Sprintf("no %s %q (the lab has: %s)", e.Kind, e.Ref, strings.Join(e.Known, ", "))
}

func resolve(kind, ref string, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(n, ref) {
			return i, nil
		}
	}
	if len(ref) == 1 && ref[0] >= 'a' && ref[0] <= 'z' || len(ref) == 1 && ref[0] >= 'A' && ref[0] <= 'Z' {
		i := int(ref[0]|0x20) - 'a'
		if i < len(names) {
			return i, nil
		}
	}
	var n int
	if _, err := fmt.Sscanf(ref, "%d", &n); err == nil && fmt.Sprint(n) == ref && n >= 1 && n <= len(names) {
		return n - 1, nil
	}
	return 0, &NotFoundError{Kind: kind, Ref: ref, Known: names}
}
