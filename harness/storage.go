package harness

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
	"github.com/autopathlab/autopathlab/topology"
)

// NFS server ports on a modelled node: Stargate serves the portmapper,
// MOUNT and NFS on both, as a CVM listens on 111 and 2049.
const (
	portmapPort = 111
	nfsPort     = 2049
)

// NFSServer is a Stargate (on a CVM) or a filer's NFS service.
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

// startStorage builds the cluster store, a Stargate on every CVM and the
// filers' NFS services.
func (l *Lab) startStorage(o Options) error {
	topo := l.Topology
	nfsPortFor := func(i int) int {
		if o.NFSPortBase == 0 {
			return 0
		}
		return o.NFSPortBase + i + 1
	}
	idx := 0
	if len(topo.CVMs) > 0 {
		var store *nfs.Store
		if topo.Cluster != nil && topo.Cluster.Store != "" {
			s, err := nfs.NewDirStore(topo.Cluster.Store)
			if err != nil {
				return fmt.Errorf("cluster store: %w", err)
			}
			store = s
		} else {
			store = nfs.NewMemStore(nfs.WithStoreClock(l.Clock))
		}
		l.Store = store
		base := clusterWhitelist(topo)
		var exports []nfs.Export
		if topo.Cluster != nil {
			for _, c := range topo.Cluster.Containers {
				if err := store.CreateContainer(c.Name); err != nil {
					return fmt.Errorf("container %s: %w", c.Name, err)
				}
				wl := append(append([]netip.Prefix(nil), base...), prefixes(c.Whitelist)...)
				exports = append(exports, nfs.Export{Path: "/" + c.Name, Whitelist: wl})
			}
		}
		for _, c := range topo.CVMs {
			srv := nfs.NewServer(store, nfs.Config{Name: c.Name, Exports: exports, Clock: l.Clock, OnEvent: o.OnNFSEvent})
			s, err := l.startNFS(c.Name, l.Nodes[c.Name], srv, o.ListenHost, nfsPortFor(idx))
			if err != nil {
				srv.Close()
				return err
			}
			l.NFS = append(l.NFS, s)
			idx++
		}
	}
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
		s, err := l.startNFS(f.Name, l.Nodes[f.Name], srv, o.ListenHost, nfsPortFor(idx))
		if err != nil {
			srv.Close()
			return err
		}
		l.NFS = append(l.NFS, s)
		idx++
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
