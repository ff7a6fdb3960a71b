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

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

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
	DefaultSnaplen         = 262144
	DefaultCaptureMaxBytes = 64 << 20
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
}

func (l *Lab) captures() *captureSet { return &l.caps }

// liveCapture is one capture and its ring.
type liveCapture struct {
	view CaptureView // ID, Node, Interface, bounds, Started: fixed
	stop func()

	mu      sync.Mutex
	running bool
	stopped time.Time
	ring    []capturedFrame // ring[head:] are kept, oldest first
	head    int
	// slabs hold the kept frames' bytes, copied one after the other into
	// chunks of slabSize (a bigger frame gets a chunk of its own):
	// slabs[0] is chunk number slabBase, the last is being filled. A
	// chunk is dropped once the ring let go of its frames; it is reused
	// (free) only if no pcap snapshot, which reads frames without the
	// lock, is under way (readers). Neither the ring nor the chunks hold
	// pointers for the GC to scan, and a frame costs no allocation of its
	// own.
	slabs    [][]byte
	slabBase int
	slabSize int
	free     [][]byte
	readers  int
	bytes    int64
	seen     uint64
	dropped  uint64
}

// capturedFrame is a kept frame: its time, its length on the wire, and
// where its (snaplen-cut) bytes are: slab (a chunk number), off, n.
type capturedFrame struct {
	sec  int64
	nsec int32
	n    int32
	off  int32
	slab int
	len  int
}

// captureSlab is the size of the chunks a ring's frames are copied into
// (less for a ring bounded to less).
const captureSlab = 1 << 20

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
		Snaplen: o.Snaplen, MaxPackets: o.MaxPackets, MaxBytes: o.MaxBytes, Started: l.Clock.Now()}}
	c.stop = n.Capture(func(p fabric.Packet) {
		if iface == "" || p.Iface == iface || baseIface(p.Iface) == iface {
			c.add(p)
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

// add keeps a frame; it runs on the data path, so it only copies the
// frame (p.Data is valid only during the callback) and appends.
func (c *liveCapture) add(p fabric.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return
	}
	c.seen++
	data := p.Data
	if len(data) > c.view.Snaplen {
		data = data[:c.view.Snaplen]
	}
	k, off := c.carve(len(data))
	copy(c.slabs[k-c.slabBase][off:], data)
	c.ring = append(c.ring, capturedFrame{sec: p.Time.Unix(), nsec: int32(p.Time.Nanosecond()),
		n: int32(len(data)), off: int32(off), slab: k, len: p.Len})
	c.bytes += int64(len(data))
	for c.head < len(c.ring) && (c.bytes > c.view.MaxBytes || c.view.MaxPackets > 0 && len(c.ring)-c.head > c.view.MaxPackets) {
		c.bytes -= int64(c.ring[c.head].n)
		c.head++
		c.dropped++
	}
	// Drop the chunks before the oldest kept frame's (all but the last
	// when none is kept).
	keep := c.slabBase + len(c.slabs) - 1
	if c.head < len(c.ring) {
		keep = c.ring[c.head].slab
	}
	for c.slabBase < keep {
		if c.readers == 0 && len(c.free) < 2 && cap(c.slabs[0]) == c.slabSize {
			c.free = append(c.free, c.slabs[0][:0])
		}
		c.slabs[0] = nil
		c.slabs = c.slabs[1:]
		c.slabBase++
	}
	if c.head > len(c.ring)/2 {
		// Compact now and then: appends stay amortised O(1).
		c.ring = append(c.ring[:0], c.ring[c.head:]...)
		c.head = 0
	}
}

// carve makes room for n bytes at the end of the last chunk, or in a new
// one, and returns the chunk's number and the offset; it needs c.mu.
func (c *liveCapture) carve(n int) (slab, off int) {
	last := len(c.slabs) - 1
	if last < 0 || cap(c.slabs[last])-len(c.slabs[last]) < n {
		if c.slabSize == 0 {
			c.slabSize = int(min(captureSlab, max(c.view.MaxBytes, 4<<10)))
		}
		var chunk []byte
		if k := len(c.free) - 1; k >= 0 && n <= c.slabSize {
			chunk, c.free[k], c.free = c.free[k], nil, c.free[:k]
		} else {
			chunk = make([]byte, 0, max(c.slabSize, n))
		}
		c.slabs = append(c.slabs, chunk)
		last++
	}
	off = len(c.slabs[last])
	c.slabs[last] = c.slabs[last][:off+n]
	return c.slabBase + last, off
}

func (c *liveCapture) snapshot() CaptureView {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.view
	v.Running, v.Stopped = c.running, c.stopped
	v.Packets, v.Bytes, v.Seen, v.Dropped = len(c.ring)-c.head, c.bytes, c.seen, c.dropped
	return v
}

func (c *liveCapture) halt(now time.Time) {
	c.stop()
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
	c.mu.Lock()
	frames := slices.Clone(c.ring[c.head:])
	slabs, base := slices.Clone(c.slabs), c.slabBase
	c.readers++ // the chunks it reads are not reused until it is done
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.readers--
		c.mu.Unlock()
	}()
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(uint32(c.view.Snaplen), layers.LinkTypeEthernet); err != nil {
		return err
	}
	for _, f := range frames {
		data := slabs[f.slab-base][f.off : f.off+f.n]
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(f.sec, int64(f.nsec)), CaptureLength: len(data), Length: f.len}
		if err := pw.WritePacket(ci, data); err != nil {
			return err
		}
	}
	return nil
}

// dropCaptures stops and forgets every capture, and numbers new ones from
// 1 again: Reset and Close call it.
func (l *Lab) dropCaptures() {
	cs := l.captures()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.m {
		c.halt(l.Clock.Now())
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
