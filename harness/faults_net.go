package harness

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/autopathlab/autopathlab/esxisim"
	"github.com/autopathlab/autopathlab/fabric"
)

// faultNode resolves a fault's node: a host, a CVM, or any other node of
// the fabric (a gateway, a filer) by name. It returns the topology name
// and, for a host, the host.
func (l *Lab) faultNode(ref string) (string, *esxisim.Host, *fabric.Node, error) {
	if ref == "" {
		return "", nil, nil, fmt.Errorf("fault: node is missing")
	}
	if h, name, err := l.resolveHost(ref); err == nil {
		return name, h, h.VMkernel().Node(), nil
	}
	if c, err := l.resolveCVM(ref); err == nil {
		return c.Name(), nil, c.Node(), nil
	}
	for name, n := range l.Nodes {
		if strings.EqualFold(name, ref) {
			return name, nil, n, nil
		}
	}
	// A host or CVM another process runs (NewNode): say who runs it.
	if name, err := l.ResolveHost(ref); err == nil {
		return "", nil, nil, l.notHere("host", ref, name)
	}
	if name, err := l.ResolveCVM(ref); err == nil {
		return "", nil, nil, l.notHere("cvm", ref, name)
	}
	var known []string
	for _, th := range l.hostTopo {
		known = append(known, th.Name)
	}
	for _, c := range l.CVMs {
		known = append(known, c.Name())
	}
	return "", nil, nil, &NotFoundError{Kind: "node", Ref: ref, Known: known}
}

// partitionEnd resolves one end of a partition: a node this process runs,
// or (NewNode) a placeholder of one another process runs, whose flows to
// and from this process's node the partition cuts here.
func (l *Lab) partitionEnd(ref string) (name string, local bool, err error) {
	name, _, _, err = l.faultNode(ref)
	if err == nil {
		return name, true, nil
	}
	var nf *NotFoundError
	if errors.As(err, &nf) && nf.Owner != "" {
		return nf.Name, false, nil
	}
	return "", false, err
}

// faultInterfaces resolves the interface a link fault acts on: a host's
// vmnic (every vmknic it carries) or vmknic, or a node's interface with its
// aliases (eth1 takes eth1:1 with it: they share the wire).
func (l *Lab) faultInterfaces(name string, h *esxisim.Host, n *fabric.Node, iface string) ([]*fabric.Interface, error) {
	if iface == "" {
		return nil, fmt.Errorf("fault on %s: interface is missing (a vmnic or vmk of a host, an eth of a CVM)", name)
	}
	if h != nil {
		if strings.HasPrefix(iface, "vmnic") {
			ifs, err := h.VMkernel().UplinkInterfaces(iface)
			if err != nil {
				return nil, fmt.Errorf("host %s: %w", name, err)
			}
			return ifs, nil
		}
	}
	var out []*fabric.Interface
	for _, i := range n.Interfaces() {
		if i.Name() == iface || baseIface(i.Name()) == iface {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		var have []string
		for _, i := range n.Interfaces() {
			have = append(have, i.Name())
		}
		if h != nil {
			for _, v := range h.VMkernel().Vmnics() {
				have = append(have, v.Name)
			}
		}
		return nil, fmt.Errorf("%s has no interface %q (it has: %s)", name, iface, strings.Join(have, ", "))
	}
	return out, nil
}

func (l *Lab) applyNetworkFault(spec *FaultSpec) (applied, error) {
	if spec.Kind == FaultPartition {
		// Either end may be another process's node (NewNode): each
		// process cuts the flows of its own end; the gateway sends the
		// partition to both.
		name, local, err := l.partitionEnd(spec.Node)
		if err != nil {
			return applied{}, err
		}
		spec.Node = name
		if spec.Peer == "" {
			return applied{}, fmt.Errorf("partition of %s: peer is missing (the node it is cut off from)", name)
		}
		peer, peerLocal, err := l.partitionEnd(spec.Peer)
		if err != nil {
			return applied{}, err
		}
		if peer == name {
			return applied{}, fmt.Errorf("partition: %s cannot be cut off from itself", name)
		}
		if !local && !peerLocal {
			return applied{}, l.notHere("node", spec.Node, name)
		}
		spec.Peer = peer
		heal, err := l.Net.Partition(l.nodeName(name), l.nodeName(peer))
		if err != nil {
			return applied{}, err
		}
		return applied{revert: heal}, nil
	}
	name, h, n, err := l.faultNode(spec.Node)
	if err != nil {
		return applied{}, err
	}
	spec.Node = name
	switch spec.Kind {
	case FaultLatency:
		if spec.Latency <= 0 {
			return applied{}, fmt.Errorf("latency on %s: latency must be positive (e.g. \"50ms\")", name)
		}
	case FaultLoss:
		if spec.LossPercent <= 0 || spec.LossPercent > 100 {
			return applied{}, fmt.Errorf("loss on %s: loss_percent must be in (0, 100], got %g", name, spec.LossPercent)
		}
	}
	if spec.Kind == FaultLinkDown && h != nil && strings.HasPrefix(spec.Interface, "vmnic") {
		vk := h.VMkernel()
		if err := vk.SetVmnicLink(spec.Interface, false); err != nil {
			return applied{}, fmt.Errorf("host %s: %w", name, err)
		}
		vmnic := spec.Interface
		return applied{revert: func() { _ = vk.SetVmnicLink(vmnic, true) }}, nil
	}
	ifs, err := l.faultInterfaces(name, h, n, spec.Interface)
	if err != nil {
		return applied{}, err
	}
	switch spec.Kind {
	case FaultLinkDown:
		for _, i := range ifs {
			i.SetCarrier(false)
		}
		return applied{revert: func() {
			for _, i := range ifs {
				i.SetCarrier(true)
			}
		}}, nil
	case FaultLatency:
		d := time.Duration(spec.Latency)
		for _, i := range ifs {
			i.SetLatency(i.Latency() + d)
		}
		return applied{revert: func() {
			for _, i := range ifs {
				i.SetLatency(i.Latency() - d)
			}
		}}, nil
	default: // FaultLoss
		p := spec.LossPercent
		for _, i := range ifs {
			i.SetLoss(p)
		}
		return applied{revert: func() {
			for _, i := range ifs {
				i.SetLoss(0)
			}
		}}, nil
	}
}

// nodeName is the fabric node's name for a topology name (they are the
// same today; hosts' nodes are named after the host).
func (l *Lab) nodeName(name string) string {
	if h := l.Host(name); h != nil {
		return h.VMkernel().Node().Name()
	}
	if c := l.CVM(name); c != nil {
		return c.Node().Name()
	}
	return name
}
