package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// Faults, Toxiproxy-style: a standing fault is added, listed and removed,
// by the Go API and by the control API alike. Actions that happen once
// (power a CVM off, add a route) are methods of their own (actions.go).

// Fault kinds.
const (
	// Network faults on a node's interface (a host's vmnic or a CVM's
	// eth), or between two nodes.
	FaultLinkDown  = "link-down"
	FaultLatency   = "latency"
	FaultLoss      = "loss"
	FaultPartition = "partition"
	// SSH faults on a host's SSH server, for a duration or a count.
	FaultSSHRefuse = "ssh-refuse" // connections are reset before the SSH banner
	FaultSSHSlow   = "ssh-slow"   // the handshake is delayed by Delay
	FaultSSHDrop   = "ssh-drop"   // a session is cut in the middle of its output
	FaultSSHHang   = "ssh-hang"   // a command never completes
	// Stargate faults on a CVM (also set by SetStargate).
	FaultStargateDown = "stargate-down"
	FaultStargateHang = "stargate-hang"
)

// FaultKinds lists every kind, for help texts and validation messages.
var FaultKinds = []string{FaultLinkDown, FaultLatency, FaultLoss, FaultPartition, FaultSSHRefuse, FaultSSHSlow, FaultSSHDrop, FaultSSHHang, FaultStargateDown, FaultStargateHang}

// Duration is a time.Duration that reads and writes as Go syntax ("30s")
// in JSON; a number is taken as seconds.
type Duration time.Duration

// MarshalJSON writes "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "90s" or 90.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("duration: want a string like \"30s\" or seconds, got %s", b)
		}
		*d = Duration(f * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want Go syntax like \"30s\" or \"1m\"", s)
	}
	*d = Duration(v)
	return nil
}

// FaultSpec says what to break.
type FaultSpec struct {
	Kind string `json:"kind"`
	// Node is the host or CVM (a reference: name, letter or number).
	Node string `json:"node"`
	// Interface is the node's vmnic or eth for link-down, latency and loss.
	Interface string `json:"interface,omitempty"`
	// Peer is the partition's other node.
	Peer string `json:"peer,omitempty"`
	// Latency is added one way on the interface (latency).
	Latency Duration `json:"latency,omitempty"`
	// LossPercent of the packets on the interface are lost (loss).
	LossPercent float64 `json:"loss_percent,omitempty"`
	// Delay slows each SSH handshake (ssh-slow).
	Delay Duration `json:"delay,omitempty"`
	// Command restricts ssh-hang to commands that start with it.
	Command string `json:"command,omitempty"`
	// For ends the fault after this long on the lab's clock; 0 keeps it
	// until it is removed (or Count runs out).
	For Duration `json:"for,omitempty"`
	// Count ends an SSH fault after it has hit this many connections,
	// sessions or commands; 0 is unlimited.
	Count int `json:"count,omitempty"`
}

// Fault is a standing fault.
type Fault struct {
	ID   string    `json:"id"`
	Spec FaultSpec `json:"spec"`
	// Added and Expires are on the lab's clock; Expires is zero without
	// For.
	Added   time.Time `json:"added"`
	Expires time.Time `json:"expires,omitzero"`
	// Hits counts what an SSH fault has hit so far.
	Hits int `json:"hits"`
}

// ErrNoFault is returned for an unknown fault ID.
var ErrNoFault = errors.New("no such fault")

// faultSet holds the lab's standing faults.
type faultSet struct {
	next  int
	items map[string]*activeFault
}

type activeFault struct {
	f      Fault
	revert func()
	hits   func() int
	timer  clock.Timer
}

// applied is what a fault kind's apply returns: how to undo it and, for a
// counted fault, how many hits so far.
type applied struct {
	revert func()
	hits   func() int
}

// AddFault applies a fault and returns it with its ID.
func (l *Lab) AddFault(spec FaultSpec) (Fault, error) {
	if spec.For < 0 || spec.Count < 0 {
		return Fault{}, fmt.Errorf("fault %s: for and count must not be negative", spec.Kind)
	}
	l.fmu.Lock()
	defer l.fmu.Unlock()
	id := strconv.Itoa(l.faults.next + 1)
	a, err := l.applyFault(id, &spec)
	if err != nil {
		return Fault{}, err
	}
	l.faults.next++
	now := l.Clock.Now()
	af := &activeFault{f: Fault{ID: id, Spec: spec, Added: now}, revert: a.revert, hits: a.hits}
	if spec.For > 0 {
		af.f.Expires = now.Add(time.Duration(spec.For))
		af.timer = l.Clock.AfterFunc(time.Duration(spec.For), func() { _ = l.RemoveFault(id) })
	}
	if l.faults.items == nil {
		l.faults.items = map[string]*activeFault{}
	}
	l.faults.items[id] = af
	l.Events.Add(Event{Time: now, Kind: "fault.add", Node: spec.Node, Detail: describeFault(id, spec)})
	return af.f, nil
}

// RemoveFault undoes a fault.
func (l *Lab) RemoveFault(id string) error {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	return l.removeFaultLocked(id)
}

func (l *Lab) removeFaultLocked(id string) error {
	af, ok := l.faults.items[id]
	if !ok {
		return fmt.Errorf("fault %s: %w", id, ErrNoFault)
	}
	delete(l.faults.items, id)
	if af.timer != nil {
		af.timer.Stop()
	}
	if af.revert != nil {
		af.revert()
	}
	l.Events.Add(Event{Time: l.Clock.Now(), Kind: "fault.remove", Node: af.f.Spec.Node, Detail: describeFault(id, af.f.Spec)})
	return nil
}

// ClearFaults removes every standing fault.
func (l *Lab) ClearFaults() {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	for _, id := range l.faultIDsLocked() {
		_ = l.removeFaultLocked(id)
	}
}

// Faults lists the standing faults, oldest first.
func (l *Lab) Faults() []Fault {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	out := []Fault{}
	for _, id := range l.faultIDsLocked() {
		af := l.faults.items[id]
		f := af.f
		if af.hits != nil {
			f.Hits = af.hits()
		}
		out = append(out, f)
	}
	return out
}

func (l *Lab) faultIDsLocked() []string {
	ids := make([]string, 0, len(l.faults.items))
	for id := range l.faults.items {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.Atoi(ids[i])
		b, _ := strconv.Atoi(ids[j])
		return a < b
	})
	return ids
}

func describeFault(id string, s FaultSpec) string {
	d := fmt.Sprintf("#%s %s", id, s.Kind)
	if s.Node != "" {
		d += " " + s.Node
	}
	if s.Interface != "" {
		d += " " + s.Interface
	}
	if s.Peer != "" {
		d += " <-> " + s.Peer
	}
	if s.Latency > 0 {
		d += " +" + time.Duration(s.Latency).String()
	}
	if s.LossPercent > 0 {
		d += fmt.Sprintf(" %g%%", s.LossPercent)
	}
	if s.Delay > 0 {
		d += " delay " + time.Duration(s.Delay).String()
	}
	if s.Command != "" {
		d += fmt.Sprintf(" command %q", s.Command)
	}
	if s.For > 0 {
		d += " for " + time.Duration(s.For).String()
	}
	if s.Count > 0 {
		d += fmt.Sprintf(" count %d", s.Count)
	}
	return d
}
