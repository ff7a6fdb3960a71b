package harness

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/autopathlab/autopathlab/capture"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// Packet capture from the lab's side: a tcpdump on any interface of any
// node that nobody on the node sees, kept in a bounded ring in memory and
// exported as pcap for Wireshark. The frames are fabric's: every modelled
// packet that crosses the interface, with real headers.

// CaptureOptions bound what a capture keeps.
type CaptureOptions struct {
	// Snaplen is how many bytes of each frame are kept (default 262144,
	// tcpdump's).
	Snaplen int `json:"snaplen,omitempty"`
	// MaxPackets and MaxBytes bound the ring: beyond either, the oldest
	// frames are dropped (defaults: no packet limit, 64 MiB of frames).
	MaxPackets int   `json:"max_packets,omitempty"`
	MaxBytes   int64 `json:"max_bytes,omitempty"`
}

// Capture defaults.
const (
	DefaultSnaplen         = capture.DefaultSnaplen
	DefaultCaptureMaxBytes = capture.DefaultMaxBytes
)

// CaptureView is one capture.
type CaptureView struct {
	ID   string `json:"id"`
	Node string `json:"node"`
	// Interface is "" for every interface of the node. An interface
	// includes its aliases (eth1 takes eth1:1), as tcpdump -i eth1 does.
	Interface  string    `json:"interface,omitempty"`
	Snaplen    int       `json:"snaplen"`
	MaxPackets int       `json:"max_packets,omitempty"`
	MaxBytes   int64     `json:"max_bytes"`
	Running    bool      `json:"running"`
	Started    time.Time `json:"started"`
	Stopped    time.Time `json:"stopped,omitzero"`
	// Packets and Bytes are what the ring holds now (Bytes as kept, after
	// the snaplen); Seen counts every frame since the start and Dropped
	// those the ring let go to stay within its bounds.
	Packets int    `json:"packets"`
	Bytes   int64  `json:"bytes"`
	Seen    uint64 `json:"seen"`
	Dropped uint64 `json:"dropped"`
}

// captureSet is a lab's captures; the zero value is empty.
type captureSet struct {
	mu   sync.Mutex
	next int
	m    map[string]*liveCapture
	// mem is the memory of removed captures' rings, for the next ones.
	mem capture.Memory
}

func (l *Lab) captures() *captureSet { return &l.caps }

// liveCapture is one capture and its ring.
type liveCapture struct {
	view CaptureView // ID, Node, Interface, bounds, Started: fixed
	stop func()
	ring *capture.Ring
	// sync waits for the frames still on their way to the ring
	// (fabric's capture pipeline).
	sync func()

	mu      sync.Mutex
	running bool
	stopped time.Time
}

// StartCapture captures on one interface of a node (a host or CVM
// reference, or a gateway's or filer's name), or on all of them when
// iface is "". A letter or number names a host first, and its CVM when
// the interface is the CVM's ("b", "eth0").
func (l *Lab) StartCapture(node, iface string, o CaptureOptions) (CaptureView, error) {
	if node == "" {
		return CaptureView{}, errors.New("capture: node is missing")
	}
	name, _, n, err := l.faultNode(node)
	if err != nil {
		return CaptureView{}, err
	}
	if c, cerr := l.resolveCVM(node); cerr == nil && iface != "" && !hasInterface(n, iface) && hasInterface(c.Node(), iface) {
		// "b" names host B and CVM B: eth0 is the CVM's.
		name, n = c.Name(), c.Node()
	}
	if iface != "" && !hasInterface(n, iface) {
		var have []string
		for _, i := range n.Interfaces() {
			have = append(have, i.Name())
		}
		return CaptureView{}, fmt.Errorf("capture: %s has no interface %q (it has: %s)", name, iface, strings.Join(have, ", "))
	}
	switch {
	case o.Snaplen < 0, o.MaxPackets < 0, o.MaxBytes < 0:
		return CaptureView{}, errors.New("capture: snaplen, max_packets and max_bytes must not be negative")
	case o.Snaplen == 0:
		o.Snaplen = DefaultSnaplen
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultCaptureMaxBytes
	}
	cs := l.captures()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[string]*liveCapture{}
	}
	cs.next++
	c := &liveCapture{running: true, view: CaptureView{ID: strconv.Itoa(cs.next), Node: name, Interface: iface,
		Snaplen: o.Snaplen, MaxPackets: o.MaxPackets, MaxBytes: o.MaxBytes, Started: l.Clock.Now()},
		ring: capture.NewRing(capture.Options{Snaplen: o.Snaplen, MaxPackets: o.MaxPackets, MaxBytes: o.MaxBytes, Memory: &cs.mem}),
		sync: n.Network().SyncCaptures}
	c.stop = n.Capture(func(p fabric.Packet) {
		if iface == "" || p.Iface == iface || baseIface(p.Iface) == iface {
			c.ring.Add(p.Time, p.Data, p.Len)
		}
	})
	cs.m[c.view.ID] = c
	return c.snapshot(), nil
}

func hasInterface(n *fabric.Node, iface string) bool {
	for _, i := range n.Interfaces() {
		if i.Name() == iface || baseIface(i.Name()) == iface {
			return true
		}
	}
	return false
}

// snapshot is the capture's view, with every frame sent before it.
func (c *liveCapture) snapshot() CaptureView {
	c.sync()
	st := c.ring.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.view
	v.Running, v.Stopped = c.running, c.stopped
	v.Packets, v.Bytes, v.Seen, v.Dropped = st.Packets, st.Bytes, st.Seen, st.Dropped
	return v
}

func (c *liveCapture) halt(now time.Time) {
	c.sync() // what was sent before the stop is the capture's
	c.stop()
	c.ring.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.running, c.stopped = false, now
	}
}

func (l *Lab) capture(id string) (*liveCapture, error) {
	cs := l.captures()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.m[id]; ok {
		return c, nil
	}
	return nil, &NotFoundError{Kind: "capture", Ref: id, Known: cs.ids()}
}

// ids lists the captures in the order they were started; needs cs.mu.
func (cs *captureSet) ids() []string {
	ids := make([]string, 0, len(cs.m))
	for id := range cs.m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return ids
}

// Capture returns one capture.
func (l *Lab) Capture(id string) (CaptureView, error) {
	c, err := l.capture(id)
	if err != nil {
		return CaptureView{}, err
	}
	return c.snapshot(), nil
}

// Captures lists the captures, running and stopped, oldest first.
func (l *Lab) Captures() []CaptureView {
	cs := l.captures()
	cs.mu.Lock()
	cs2 := make([]*liveCapture, 0, len(cs.m))
	for _, id := range cs.ids() {
		cs2 = append(cs2, cs.m[id])
	}
	cs.mu.Unlock()
	out := make([]CaptureView, 0, len(cs2))
	for _, c := range cs2 {
		out = append(out, c.snapshot())
	}
	return out
}

// StopCapture stops a capture and keeps what it has; it is idempotent.
func (l *Lab) StopCapture(id string) (CaptureView, error) {
	c, err := l.capture(id)
	if err != nil {
		return CaptureView{}, err
	}
	c.halt(l.Clock.Now())
	return c.snapshot(), nil
}

// RemoveCapture stops a capture and forgets it.
func (l *Lab) RemoveCapture(id string) error {
	c, err := l.capture(id)
	if err != nil {
		return err
	}
	c.halt(l.Clock.Now())
	c.ring.Release()
	cs := l.captures()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.m, id)
	return nil
}

// CapturePcap writes what a capture holds as a pcap file (nanosecond
// timestamps on the lab's clock, Ethernet). A running capture goes on:
// this is a snapshot.
func (l *Lab) CapturePcap(id string, w io.Writer) error {
	c, err := l.capture(id)
	if err != nil {
		return err
	}
	c.sync()
	return c.ring.WritePcap(w)
}

// dropCaptures stops and forgets every capture, and numbers new ones from
// 1 again: Reset and Close call it.
func (l *Lab) dropCaptures() {
	cs := l.captures()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.m {
		c.halt(l.Clock.Now())
		c.ring.Release()
	}
	cs.m, cs.next = nil, 0
}

// HostFile opens a regular file of a host's virtual filesystem: a pcap
// that tcpdump-uw -w wrote, a log. The caller closes it.
func (l *Lab) HostFile(host, name string) (io.ReadCloser, fs.FileInfo, error) {
	h, _, err := l.resolveHost(host)
	if err != nil {
		return nil, nil, err
	}
	return openRegular(h.FS(), name)
}

// CVMFile opens a regular file of a CVM's virtual filesystem.
func (l *Lab) CVMFile(cvm, name string) (io.ReadCloser, fs.FileInfo, error) {
	c, err := l.resolveCVM(cvm)
	if err != nil {
		return nil, nil, err
	}
	return openRegular(c.FS(), name)
}

// openRegular opens name if it is a regular file; anything else (a
// directory, a device, nothing) is fs.ErrNotExist.
func openRegular(fsys *shell.FS, name string) (io.ReadCloser, fs.FileInfo, error) {
	if !path.IsAbs(name) {
		return nil, nil, fmt.Errorf("file %q: want an absolute path", name)
	}
	fi, err := fsys.Stat(name)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file: %w", name, fs.ErrNotExist)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, fi, nil
}
