package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/autopathlab/autopathlab/esxisim"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmio"
	"github.com/autopathlab/autopathlab/topology"
)

// mountTimeout bounds one datastore mount at lab start; a mount that fails
// is logged by the host (vmkernel.log) and the lab starts anyway, as an
// ESXi host boots with an unreachable NAS.
const mountTimeout = 5 * time.Second

// datastoreConfig turns a topology's NFS settings into the client's.
func datastoreConfig(n *topology.NFSSettings) datastore.Config {
	var c datastore.Config
	if n == nil {
		return c
	}
	d := func(s string) time.Duration {
		v, _ := time.ParseDuration(s) // validated with the topology
		return v
	}
	c.HeartbeatFrequency = d(n.HeartbeatFrequency)
	c.HeartbeatTimeout = d(n.HeartbeatTimeout)
	c.HeartbeatMaxFailures = n.HeartbeatMaxFailures
	c.APDTimeout = d(n.APDTimeout)
	return c
}

// mountDatastores mounts the topology's datastores on a host and starts
// its VM IO workload on the first one that mounted.
func (l *Lab) mountDatastores(h *esxisim.Host, th topology.Host, o Options) {
	var first *datastore.Datastore
	for _, d := range th.Datastores {
		ctx, cancel := context.WithTimeout(context.Background(), mountTimeout)
		ds, err := h.Datastores().Add(ctx, d.Name, d.Host, d.Share, d.ReadOnly)
		cancel()
		if err != nil {
			l.MountErrors = append(l.MountErrors, fmt.Errorf("%s: datastore %s (%s:%s): %w", th.Name, d.Name, d.Host, d.Share, err))
			continue
		}
		if l.initialMounts[th.Name] == nil {
			l.initialMounts[th.Name] = map[string]bool{}
		}
		l.initialMounts[th.Name][d.Name] = true
		if first == nil && !d.ReadOnly {
			first = ds
		}
	}
	if first == nil || o.NoWorkload || (th.Workload != nil && th.Workload.Disabled) {
		return
	}
	hook := o.OnIOEvent
	cfg := vmio.Config{Name: "vm-" + th.Name, Clock: l.Clock, OnEvent: func(e vmio.Event) {
		l.Events.Add(ioEvent(th.Name, e))
		if hook != nil {
			hook(e)
		}
	}}
	if w := th.Workload; w != nil {
		cfg.Interval, _ = time.ParseDuration(w.Interval)
		cfg.BlockSize, cfg.Blocks = w.BlockSize, w.Blocks
	}
	w, err := vmio.New(vmio.FromMount(first), cfg)
	if err != nil {
		l.MountErrors = append(l.MountErrors, fmt.Errorf("%s: workload: %w", th.Name, err))
		return
	}
	if err := w.Start(context.Background()); err != nil {
		l.MountErrors = append(l.MountErrors, fmt.Errorf("%s: workload: %w", th.Name, err))
		return
	}
	l.workloads[th.Name] = w
}

// Workload returns the VM IO workload running on a host, or nil.
func (l *Lab) Workload(host string) *vmio.Workload { return l.workloads[host] }
