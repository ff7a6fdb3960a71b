package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autopathlab/autopathlab/esxisim"
	"github.com/autopathlab/autopathlab/topology"
)

func (l *Lab) resets() int {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	return l.nreset
}

// Reset brings the lab back to its initial state without restarting a
// listener or changing a port, and returns how long it took:
//
//   - every standing fault is removed, the network's faults cleared;
//   - every CVM is up, fully initialised, Stargate up (a healthy CVM is
//     not disturbed: its sessions stay);
//   - every host's vmknics, routes and vmnic links are as the topology
//     says (flows whose path does not change are not reset);
//   - the topology's datastores are mounted and accessible (added ones
//     are removed, removed ones mounted again);
//   - the VM workloads start a fresh account (their data stays: the
//     datastores are not rolled back), Genesis forgets its history;
//   - faults the topology declares with "at" are scheduled again from now;
//   - packet captures are stopped and forgotten (download them first).
//
// SSH sessions stay open. The event log keeps its history and records a
// lab.reset event.
func (l *Lab) Reset(ctx context.Context) (time.Duration, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.closing() {
		return 0, errors.New("reset: the lab is closed")
	}
	t0 := time.Now()
	l.cancelScheduled()
	l.dropCaptures()
	l.ClearFaults()
	l.Net.ClearFaults()
	for _, c := range l.CVMs {
		c.Reset()
	}
	var errs []error
	for i, h := range l.Hosts {
		if err := h.VMkernel().Reset(); err != nil {
			errs = append(errs, fmt.Errorf("host %s: %w", l.hostTopo[i].Name, err))
		}
	}
	for i, h := range l.Hosts {
		if err := l.resetDatastores(ctx, h, l.hostTopo[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, w := range l.workloadList() {
		w.Reset()
	}
	if l.Genesis != nil {
		l.Genesis.Reset()
	}
	l.scheduleFaults()
	l.nreset++
	d := time.Since(t0)
	err := errors.Join(errs...)
	ev := Event{Time: l.Clock.Now(), Kind: "lab.reset", DurationMS: ms(d)}
	if err != nil {
		ev.Error = err.Error()
	}
	l.Events.Add(ev)
	return d, err
}

// resetDatastores puts a host's datastores back as the lab started them:
// one the operator added is removed, one removed (or re-pointed) is mounted
// again, and every one is accessible again (Manager.Reset). Datastores that
// did not mount at start (seed 004's denied mount) stay unmounted.
func (l *Lab) resetDatastores(ctx context.Context, h *esxisim.Host, th topology.Host) error {
	m := h.Datastores()
	want := map[string]topology.Datastore{}
	for _, d := range th.Datastores {
		if l.mountedAtStart(th.Name, d.Name) {
			want[d.Name] = d
		}
	}
	have := map[string]bool{}
	for _, in := range m.List() {
		d, ok := want[in.Name]
		if !ok || d.Host != in.Host || d.Share != in.Share || d.ReadOnly != in.ReadOnly {
			if err := m.Remove(in.Name); err != nil {
				return fmt.Errorf("host %s: datastore %s: %w", th.Name, in.Name, err)
			}
			continue
		}
		have[in.Name] = true
	}
	for _, d := range th.Datastores {
		if _, ok := want[d.Name]; ok && !have[d.Name] {
			if _, err := m.Add(ctx, d.Name, d.Host, d.Share, d.ReadOnly); err != nil {
				return fmt.Errorf("host %s: datastore %s: %w", th.Name, d.Name, err)
			}
		}
	}
	if err := m.Reset(ctx); err != nil {
		return fmt.Errorf("host %s: datastores: %w", th.Name, err)
	}
	return nil
}
