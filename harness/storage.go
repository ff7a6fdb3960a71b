package harness

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/topology"
)

// NFS server ports on a filer's modelled node: the portmapper, MOUNT and
// NFS on both, as a CVM's Stargate listens on 111 and 2049.
const (
	portmapPort = 111
	nfsPort     = 2049
)

// NFSServer is a Stargate (a CVM's: Server is cvm.NFS(), and the CVM
// drives it) or a filer's NFS service.
type NFSServer struct {
	Name   string
	Node   *fabric.Node
	Server *nfs.Server
	// Addr is the real loopback listener (portmapper, MOUNT and NFS on one
	// port) that tools such as nfs-ls use to look inside; it admits any
	// client, unlike the modelled path which enforces the whitelist.
	Addr net.Addr
}

// clusterWhitelist is what Nutanix lets in for every container: the
// internal network, the cluster's own hypervisor and CVM public addresses,
// and the cluster-wide nfs_subnet_whitelist.
func clusterWhitelist(topo *topology.Topology) []netip.Prefix {
	wl := []netip.Prefix{netip.MustParsePrefix("192.168.5.0/24")}
	add := func(cidr string) {
		if p, err := netip.ParsePrefix(cidr); err == nil {
			wl = append(wl, netip.PrefixFrom(p.Addr(), 32))
		}
	}
	for _, h := range topo.Hosts {
		for _, v := range h.Vmknics {
			if v.IP != "" && !strings.HasPrefix(v.IP, "192.168.5.") {
				add(v.IP)
			}
		}
	}
	for _, c := range topo.CVMs {
		for _, i := range c.Interfaces {
			if !strings.HasPrefix(i.IP, "192.168.5.") {
				add(i.IP)
			}
		}
	}
	if topo.Cluster != nil {
		for _, c := range topo.Cluster.NFSWhitelist {
			wl = append(wl, netip.MustParsePrefix(c).Masked())
		}
	}
	return wl
}

func prefixes(cidrs []string) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c).Masked())
	}
	return out
}

// listenModelled serves srv on the node's modelled NFS ports.
func (l *Lab) listenModelled(name string, node *fabric.Node, srv *nfs.Server) error {
	for _, p := range []uint16{portmapPort, nfsPort} {
		ln, err := node.Listen(p)
		if err != nil {
			return fmt.Errorf("%s: listen %d: %w", name, p, err)
		}
		l.serve(func() { srv.Serve(ln) })
	}
	return nil
}

// startNFS serves srv on the node's modelled ports and on a real loopback
// port (port 0: a free one). The service lives and dies with the node:
// power-off drops its sessions and listeners, power-on serves again.
func (l *Lab) startNFS(name string, node *fabric.Node, srv *nfs.Server, host string, port int) (*NFSServer, error) {
	if err := l.listenModelled(name, node, srv); err != nil {
		return nil, err
	}
	node.OnPower(func(on bool) {
		if !on {
			srv.DropSessions("node powered off")
			return
		}
		if l.closing() {
			return
		}
		// The node's listeners vanished with its power; a second
		// power-on racing this one finds the ports taken, harmlessly.
		_ = l.listenModelled(name, node, srv)
	})
	rl, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%s: nfs: %w", name, err)
	}
	real := uint16(rl.Addr().(*net.TCPAddr).Port)
	l.serve(func() { srv.Serve(rl, nfs.AllowAll(), nfs.AdvertisePort(real)) })
	return &NFSServer{Name: name, Node: node, Server: srv, Addr: rl.Addr()}, nil
}

// clusterStore builds the cluster-wide store with its containers and the
// exports every Stargate serves.
func (l *Lab) clusterStore() (*nfs.Store, []nfs.Export, error) {
	topo := l.Topology
	var store *nfs.Store
	dir := l.place.storeDir
	if dir == "" && topo.Cluster != nil {
		dir = topo.Cluster.Store
	}
	if dir != "" {
		s, err := nfs.NewDirStore(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster store: %w", err)
		}
		store = s
	} else {
		store = nfs.NewMemStore(nfs.WithStoreClock(l.Clock))
	}
	base := clusterWhitelist(topo)
	var exports []nfs.Export
	if topo.Cluster != nil {
		for _, c := range topo.Cluster.Containers {
			if err := store.CreateContainer(c.Name); err != nil {
				return nil, nil, fmt.Errorf("container %s: %w", c.Name, err)
			}
			wl := append(append([]netip.Prefix(nil), base...), prefixes(c.Whitelist)...)
			exports = append(exports, nfs.Export{Path: "/" + c.Name, Whitelist: wl})
		}
	}
	return store, exports, nil
}

// portFor is base+n (n 1-based), or 0 (a free port) without a base.
func portFor(base, n int) int {
	if base == 0 {
		return 0
	}
	return base + n
}

// startCVMs builds the cluster store and a cvmsim CVM per topology CVM
// this process runs, then starts them: each serves its Stargate (modelled
// and on a real NFS port), its status page and its SSH shell. A CVM
// another process runs is a placeholder with the same interfaces.
func (l *Lab) startCVMs(o Options) error {
	topo := l.Topology
	p := l.place
	local := 0
	for _, tc := range topo.CVMs {
		if p.runs(tc.Name) {
			local++
		}
	}
	var exports []nfs.Export
	if local > 0 {
		store, ex, err := l.clusterStore()
		if err != nil {
			return err
		}
		l.Store, exports = store, ex
	}
	// Every CVM's cluster status lists the whole cluster, in topology
	// order; l.CVMs and the placeholders are complete before the first
	// CVM starts (nothing reads them earlier) and never change after.
	cluster := func() []cvmsim.PeerStatus {
		out := make([]cvmsim.PeerStatus, 0, len(topo.CVMs))
		for _, tc := range topo.CVMs {
			if c := l.CVM(tc.Name); c != nil {
				out = append(out, c.Status())
			} else if n := l.placeholders[tc.Name]; n != nil {
				out = append(out, placeholderStatus(tc.Name, n))
			}
		}
		return out
	}
	for idx, tc := range topo.CVMs {
		var ifaces []cvmsim.Interface
		var eth0 netip.Prefix
		for _, i := range tc.Interfaces {
			mac, err := optMAC(i.MAC)
			if err != nil {
				return fmt.Errorf("cvm %s: %s: %w", tc.Name, i.Name, err)
			}
			if mac == nil {
				mac = vmkernel.MAC(tc.Name, baseIface(i.Name), 0)
			}
			pfx, err := netip.ParsePrefix(i.IP)
			if err != nil {
				return fmt.Errorf("cvm %s: %s: %w", tc.Name, i.Name, err)
			}
			if i.Name == "eth0" || len(ifaces) == 0 {
				eth0 = pfx
			}
			ifaces = append(ifaces, cvmsim.Interface{Name: i.Name, Segment: i.Segment, Addr: pfx, MAC: mac})
		}
		gw := gatewayIn(topo, eth0)
		if !p.runs(tc.Name) {
			if err := l.placeCVM(tc.Name, ifaces, gw); err != nil {
				return err
			}
			continue
		}
		nfsAddr := net.JoinHostPort(o.ListenHost, strconv.Itoa(portFor(o.NFSPortBase, idx+1)))
		sshAddr := net.JoinHostPort(o.ListenHost, strconv.Itoa(portFor(o.CVMSSHPortBase, idx+1)))
		statusAddr := net.JoinHostPort(o.ListenHost, strconv.Itoa(portFor(o.StatusPortBase, idx+1)))
		if p.self != "" {
			nfsAddr, sshAddr, statusAddr = p.nfsAddr, p.sshAddr, p.statusAddr
		}
		cfg := cvmsim.Config{
			Name:        tc.Name,
			Host:        tc.Host,
			Store:       l.Store,
			Exports:     exports,
			OnNFSEvent:  o.OnNFSEvent,
			Clock:       l.Clock,
			Timers:      o.CVMTimers,
			NFSAddr:     nfsAddr,
			SSHAddr:     sshAddr,
			StatusAddr:  statusAddr,
			HostKeySeed: o.HostKeySeed + "/" + tc.Name,
			RSAKeySeed:  o.HostKeySeed,
			Keyring:     o.Keyring,
			Cluster:     cluster,
			Users:       cvmUsers(tc),
			Interfaces:  ifaces,
			Gateway:     gw,
			// A CVM process started again (its container stopped and
			// started) boots: it starts off and is powered on below.
			Off: p.boot,
		}
		c, err := cvmsim.New(l.Net, cfg)
		if err != nil {
			return fmt.Errorf("cvm %s: %w", tc.Name, err)
		}
		// Appended before any starts, so that Close finds every CVM made.
		l.CVMs = append(l.CVMs, c)
		if err := installCVMKeys(c, tc); err != nil {
			return err
		}
		l.Nodes[tc.Name] = c.Node()
	}
	for _, c := range l.CVMs {
		name := c.Name()
		c.Subscribe(func(e cvmsim.Event) { l.Events.Add(cvmEvent(e)) })
		if err := c.Start(); err != nil {
			return fmt.Errorf("cvm %s: %w", name, err)
		}
		if p.boot {
			c.PowerOn()
		}
		l.NFS = append(l.NFS, &NFSServer{Name: name, Node: c.Node(), Server: c.NFS(), Addr: c.NFSAddr()})
	}
	return nil
}

// gatewayIn returns the topology gateway on eth0's subnet: the CVM's
// default gateway (none if no gateway is there).
func gatewayIn(topo *topology.Topology, eth0 netip.Prefix) netip.Addr {
	if !eth0.IsValid() {
		return netip.Addr{}
	}
	for _, g := range topo.Gateways {
		p, err := netip.ParsePrefix(g.IP)
		if err != nil {
			continue
		}
		if eth0.Masked().Contains(p.Addr()) {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// startFilers serves every filer's exports from a store of its own; their
// NFS ports follow the CVMs'.
func (l *Lab) startFilers(o Options) error {
	topo := l.Topology
	idx := len(topo.CVMs)
	for _, f := range topo.Filers {
		store := nfs.NewMemStore(nfs.WithStoreClock(l.Clock))
		var exports []nfs.Export
		for _, e := range f.Exports {
			name := strings.Trim(e.Path, "/")
			if err := store.CreateContainer(name); err != nil {
				return fmt.Errorf("filer %s: export %s: %w", f.Name, e.Path, err)
			}
			exports = append(exports, nfs.Export{Path: "/" + name, Whitelist: prefixes(e.Whitelist)})
		}
		srv := nfs.NewServer(store, nfs.Config{Name: f.Name, Exports: exports, Clock: l.Clock, OnEvent: o.OnNFSEvent})
		s, err := l.startNFS(f.Name, l.Nodes[f.Name], srv, o.ListenHost, portFor(o.NFSPortBase, idx+1))
		if err != nil {
			srv.Close()
			return err
		}
		l.NFS = append(l.NFS, s)
		idx++
	}
	return nil
}

// CVM returns the CVM with the topology name, or nil.
func (l *Lab) CVM(name string) *cvmsim.CVM {
	for _, c := range l.CVMs {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// NFSServer returns the NFS service of a CVM or filer by node name.
func (l *Lab) NFSServer(name string) *NFSServer {
	for _, s := range l.NFS {
		if s.Name == name {
			return s
		}
	}
	return nil
}
