package harness

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/cvmsim"
	"github.com/autopathlab/autopathlab/esxisim"
	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmio"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/nfs"
)

// Event is one line of the lab's event log: what happened, where, when.
// Kinds are "<source>.<what>": ssh.login, ssh.command, nfs.mount,
// nfs.mount-denied, datastore.apd, datastore.restored,
// datastore.reconnected, io.outage.start, io.outage.end, ...
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Node is the ESXi host, CVM or filer the event happened on.
	Node string `json:"node,omitempty"`

	User    string `json:"user,omitempty"`
	Source  string `json:"source,omitempty"`
	Command string `json:"command,omitempty"`
	Exit    *int   `json:"exit,omitempty"`

	Datastore string `json:"datastore,omitempty"`
	Server    string `json:"server,omitempty"`
	Share     string `json:"share,omitempty"`
	// Client is the NFS client's modelled address as a server saw it.
	Client string `json:"client,omitempty"`
	Local  string `json:"local,omitempty"`
	Egress string `json:"egress,omitempty"`
	Target string `json:"target,omitempty"`

	// Netstack, Network, Gateway and Vmknic describe a route or vmknic
	// change.
	Netstack string `json:"netstack,omitempty"`
	Network  string `json:"network,omitempty"`
	Gateway  string `json:"gateway,omitempty"`
	Vmknic   string `json:"vmknic,omitempty"`
	Addr     string `json:"addr,omitempty"`

	VM         string  `json:"vm,omitempty"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Detail     string  `json:"detail,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// eventRing bounds the events kept in memory; the JSON-lines file, if
// any, has them all.
const eventRing = 10000

// EventLog collects every node's events in order. One per lab.
type EventLog struct {
	mu     sync.Mutex
	ring   []Event
	start  int
	nsub   int
	subs   map[int]func(Event)
	writer *json.Encoder
}

// NewEventLog returns an empty log; with w non-nil every event is also
// written to it as a JSON line.
func NewEventLog(w io.Writer) *EventLog {
	l := &EventLog{subs: map[int]func(Event){}}
	if w != nil {
		l.writer = json.NewEncoder(w)
	}
	return l
}

// Add records an event and hands it to the subscribers.
func (l *EventLog) Add(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.mu.Lock()
	if len(l.ring) < eventRing {
		l.ring = append(l.ring, e)
	} else {
		l.ring[l.start] = e
		l.start = (l.start + 1) % eventRing
	}
	if l.writer != nil {
		_ = l.writer.Encode(e)
	}
	subs := make([]func(Event), 0, len(l.subs))
	for _, f := range l.subs {
		subs = append(subs, f)
	}
	l.mu.Unlock()
	for _, f := range subs {
		f(e)
	}
}

// Events returns the events kept in memory, oldest first.
func (l *EventLog) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.ring))
	out = append(out, l.ring[l.start:]...)
	return append(out, l.ring[:l.start]...)
}

// Subscribe calls fn for every later event (synchronously: fn must not
// block); cancel stops it.
func (l *EventLog) Subscribe(fn func(Event)) (cancel func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nsub++
	id := l.nsub
	l.subs[id] = fn
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.subs, id)
	}
}

func sshEvent(e esxisim.Event) Event {
	ev := Event{Time: e.Time, Kind: e.Kind, Node: e.Host, User: e.User, Source: e.Source, Command: e.Command, Error: e.Error, Detail: e.Method}
	if e.Detail != "" { // ssh.fault: which fault hit
		ev.Detail = e.Detail
	}
	if e.Kind == "ssh.command" {
		exit := e.Exit
		ev.Exit = &exit
	}
	return ev
}

// cvmEvent keeps cvmsim's kinds (power.off, boot.network, booted,
// stargate.up, ssh.login, ...); the node is the CVM. SSH events carry the
// auth method in Detail, as the hosts' do.
func cvmEvent(e cvmsim.Event) Event {
	ev := Event{Time: e.Time, Kind: e.Kind, Node: e.CVM, User: e.User, Source: e.Source, Command: e.Command, Error: e.Error, Detail: e.Detail}
	if ev.Detail == "" {
		ev.Detail = e.Method
	}
	if e.Kind == cvmsim.EventCommand {
		exit := e.Exit
		ev.Exit = &exit
	}
	return ev
}

func nfsEvent(e nfs.Event) Event {
	ev := Event{Time: e.Time, Kind: "nfs." + string(e.Type), Node: e.Server, Share: e.Export, Detail: e.Detail}
	if e.Client.IsValid() {
		ev.Client = e.Client.String()
	}
	if e.Local.IsValid() {
		ev.Local = e.Local.String()
	}
	return ev
}

func datastoreEvent(e datastore.Event) Event {
	return Event{Time: e.Time, Kind: e.Kind, Node: e.Host, Datastore: e.Datastore, Server: e.Server, Share: e.Share,
		Local: e.Local, Egress: e.Egress, Target: e.Target, DurationMS: ms(e.Outage), Error: e.Error}
}

func ioEvent(host string, e vmio.Event) Event {
	return Event{Time: e.Time, Kind: e.Kind, Node: host, VM: e.VM, Detail: e.Detail, DurationMS: ms(e.Duration)}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func changeEvent(c vmkernel.Change) Event {
	e := Event{Time: c.Time, Kind: c.Kind, Node: c.Host, Netstack: c.Netstack, Vmknic: c.Vmknic}
	if c.Network.IsValid() {
		e.Network = c.Network.String()
	}
	if c.Gateway.IsValid() {
		e.Gateway = c.Gateway.String()
	}
	if c.Addr.IsValid() {
		e.Addr = c.Addr.String()
	}
	return e
}
