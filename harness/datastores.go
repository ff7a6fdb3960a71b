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
	l.mountWith(h, th, o, func(d topology.Datastore) (*datastore.Datastore, error) {
		ctx, cancel := context.WithTimeout(context.Background(), mountTimeout)
		defer cancel()
		return h.Datastores().Add(ctx, d.Name, d.Host, d.Share, d.ReadOnly)
	})
}

// Retries of a node process's mounts (real time: the other process's
// start is what they wait for).
const (
	mountRetryFirst = 500 * time.Millisecond
	mountRetryMax   = 10 * time.Second
)

// mountWhenReachable mounts a node process's datastores in the background,
// retrying each until it mounts or the lab closes, as an ESXi host keeps
// trying an NFS datastore that was unreachable at boot; the VM workload
// starts once the first one is mounted; a host.mounted event follows. A
// mount that is refused for good (a denied export) is retried too: the
// other process may not be the one its topology describes yet.
func (l *Lab) mountWhenReachable(h *esxisim.Host, th topology.Host, o Options) {
	ctx, cancel := context.WithCancel(context.Background())
	l.closers = append(l.closers, cancel)
	l.serve(func() {
		// host.mounted says it is done: every datastore mounted, the
		// workload started.
		defer func() {
			if !l.closing() {
				l.Events.Add(Event{Time: l.Clock.Now(), Kind: "host.mounted", Node: th.Name})
			}
		}()
		l.mountWith(h, th, o, func(d topology.Datastore) (*datastore.Datastore, error) {
			wait := mountRetryFirst
			for {
				// A dial to a node that does not answer waits for the
				// network to change (the node powered on), within this.
				actx, acancel := context.WithTimeout(ctx, mountTimeout)
				ds, err := h.Datastores().Add(actx, d.Name, d.Host, d.Share, d.ReadOnly)
				acancel()
				if err == nil || ctx.Err() != nil {
					return ds, err
				}
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil, ctx.Err()
				case <-t.C:
				}
				wait = min(2*wait, mountRetryMax)
			}
		})
	})
}

// mountWith mounts a host's datastores with add and starts its VM IO
// workload on the first writable one that mounted.
func (l *Lab) mountWith(h *esxisim.Host, th topology.Host, o Options, add func(topology.Datastore) (*datastore.Datastore, error)) {
	var first *datastore.Datastore
	for _, d := range th.Datastores {
		ds, err := add(d)
		if err != nil && l.closing() {
			return
		}
		l.wmu.Lock()
		if err != nil {
			l.MountErrors = append(l.MountErrors, fmt.Errorf("%s: datastore %s (%s:%s): %w", th.Name, d.Name, d.Host, d.Share, err))
			l.wmu.Unlock()
			continue
		}
		if l.initialMounts[th.Name] == nil {
			l.initialMounts[th.Name] = map[string]bool{}
		}
		l.initialMounts[th.Name][d.Name] = true
		l.wmu.Unlock()
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
		l.addMountError(fmt.Errorf("%s: workload: %w", th.Name, err))
		return
	}
	// Registered and started under wmu, so that Close either stops it or
	// finds the lab closed before it starts.
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closing() {
		return
	}
	if err := w.Start(context.Background()); err != nil {
		l.MountErrors = append(l.MountErrors, fmt.Errorf("%s: workload: %w", th.Name, err))
		return
	}
	l.workloads[th.Name] = w
}

func (l *Lab) addMountError(err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.MountErrors = append(l.MountErrors, err)
}

// workloadList returns the running workloads.
func (l *Lab) workloadList() []*vmio.Workload {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	out := make([]*vmio.Workload, 0, len(l.workloads))
	for _, w := range l.workloads {
		out = append(out, w)
	}
	return out
}

// mountedAtStart reports whether a host's datastore mounted when the lab
// started (what Reset restores).
func (l *Lab) mountedAtStart(host, ds string) bool {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.initialMounts[host][ds]
}

// Workload returns the VM IO workload running on a host, or nil.
func (l *Lab) Workload(host string) *vmio.Workload {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.workloads[host]
}
