package tcpdump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/autopathlab/autopathlab/shell"
)

// Packet is one frame seen on a device: what a node's capture hands the
// engine. Data is an Ethernet frame the engine may keep but not modify.
type Packet struct {
	Time  time.Time
	Iface string
	Out   bool // sent by the interface
	Data  []byte
	Len   int // original length
}

// Device is a capture device of a node: a vmknic, a CVM's eth0, Linux's
// "any".
type Device struct {
	Name string
	// Description is what -D prints in parentheses ("" for none).
	Description string
	Loopback    bool
	// LinkType is LinkEthernet, or LinkLinuxSLL for "any": the engine
	// then cooks the Ethernet frames Capture delivers.
	LinkType int
	// Netmask is the device's IPv4 netmask, for "ip broadcast" (0:
	// unknown).
	Netmask uint32
	// Warning is what pcap_activate warns about for this device (the
	// "any" device cannot be promiscuous); -p silences it.
	Warning string
	// Capture delivers the device's frames to fn until stop; fn must not
	// block. A Packet's Data may be valid only during the call: fn copies
	// what it keeps. Nil: a device that never sees a packet (lo).
	Capture func(fn func(Packet)) (stop func())
	// MAC is the hardware address of a named interface, for the cooked
	// header's packet type.
	MAC func(iface string) net.HardwareAddr
}

// Flavor is one tcpdump build: what it is called and prints, and the
// libpcap under it.
type Flavor struct {
	Name    string   // program name: "tcpdump-uw", "tcpdump"
	Version []string // print_version's lines
	Dialect Dialect
	// NoSuchDevice is the message for an unknown device, %s its name.
	NoSuchDevice string
}

// Config describes the tcpdump of one node.
type Config struct {
	Flavor Flavor
	// Devices lists the node's capture devices in pcap_findalldevs'
	// order: the first is the default.
	Devices func() []Device
	// Lookup finds a device by name, including ones -D does not list
	// (Linux's interface aliases); nil searches Devices.
	Lookup func(name string) (Device, bool)
	// QueueLen bounds the packets waiting between the capture and the
	// printer, as the kernel's capture buffer does; beyond it packets
	// are dropped and counted as "dropped by kernel". Default 4096.
	QueueLen int
}

// Command returns the tcpdump command of a node.
func Command(cfg Config) shell.Command {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 4096
	}
	return func(ctx context.Context, inv *shell.Invocation) int {
		r := &run{cfg: cfg, inv: inv, prog: cfg.Flavor.Name, argv0: cfg.Flavor.Name}
		if len(inv.Args) > 0 {
			r.argv0 = inv.Args[0]
			r.prog = path.Base(inv.Args[0])
		}
		return r.main(ctx)
	}
}

// run is one execution of the command.
type run struct {
	cfg         Config
	inv         *shell.Invocation
	prog, argv0 string
	o           options
}

// fail is tcpdump's error(): the program name, the message, exit 1.
func (r *run) fail(format string, args ...any) int {
	fmt.Fprintf(r.inv.Stderr, "%s: %s\n", r.prog, fmt.Sprintf(format, args...))
	return 1
}

func (r *run) printVersion() {
	for _, l := range r.cfg.Flavor.Version {
		fmt.Fprintln(r.inv.Stderr, strings.Replace(l, r.cfg.Flavor.Name, r.prog, 1))
	}
}

func (r *run) main(ctx context.Context) int {
	var args []string
	if len(r.inv.Args) > 1 {
		args = r.inv.Args[1:]
	}
	o, err := parseOptions(r.argv0, r.prog, args)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(r.inv.Stderr, ue.msg)
			if ue.usage {
				r.printVersion()
				fmt.Fprint(r.inv.Stderr, usageText(r.prog))
			}
		}
		return 1
	}
	r.o = o
	switch {
	case o.help:
		r.printVersion()
		fmt.Fprint(r.inv.Stderr, usageText(r.prog))
		return 0
	case o.version:
		r.printVersion()
		return 0
	case o.listDevices:
		for k, d := range r.cfg.Devices() {
			fmt.Fprintf(r.inv.Stdout, "%d.%s", k+1, d.Name)
			if d.Description != "" {
				fmt.Fprintf(r.inv.Stdout, " (%s)", d.Description)
			}
			if d.Loopback {
				fmt.Fprint(r.inv.Stdout, " [Loopback]")
			}
			fmt.Fprintln(r.inv.Stdout)
		}
		return 0
	case o.tflag > 5:
		return r.fail("only -t, -tt, -ttt, -tttt and -ttttt are supported")
	}
	if o.readFile != "" {
		return r.readFile(ctx)
	}
	return r.live(ctx)
}

func (r *run) hosts() *Hosts {
	if r.inv.FS == nil {
		return nil
	}
	data, err := r.inv.FS.ReadFile("/etc/hosts")
	if err != nil {
		return nil
	}
	return ParseHosts(data)
}

func (r *run) printer(linkType int, hosts *Hosts) *Printer {
	return NewPrinter(PrintOptions{
		Numeric: r.o.numeric > 0, Link: r.o.link, Verbose: r.o.verbose, Hosts: hosts,
		LinkType: linkType, TFlag: r.o.tflag, AbsSeq: r.o.absSeq, NoChecksum: r.o.noChecksum,
	})
}

func (r *run) compile(linkType int, netmask uint32, offline bool, hosts *Hosts) (*Filter, error) {
	return Compile(strings.Join(r.o.expr, " "), FilterOptions{
		LinkType: linkType, Netmask: netmask, LookupHost: hosts.Lookup,
		Dialect: r.cfg.Flavor.Dialect, Offline: offline,
	})
}

var linkTypeNames = map[int][2]string{
	LinkEthernet: {"EN10MB", "Ethernet"},
	LinkLinuxSLL: {"LINUX_SLL", "Linux cooked"},
}

func linkTypeString(lt int) string {
	if n, ok := linkTypeNames[lt]; ok {
		return fmt.Sprintf("%s (%s)", n[0], n[1])
	}
	return fmt.Sprint(lt)
}

// device finds the capture device -i names, or the default one; a
// number is an index into the list, as tcpdump allows.
func (r *run) device() (Device, error) {
	devs := r.cfg.Devices()
	name := r.o.iface
	if name == "" {
		for _, d := range devs {
			if !d.Loopback {
				return d, nil
			}
		}
		return Device{}, fmt.Errorf("no suitable device found")
	}
	if r.cfg.Lookup != nil {
		if d, ok := r.cfg.Lookup(name); ok {
			return d, nil
		}
	} else {
		for _, d := range devs {
			if d.Name == name {
				return d, nil
			}
		}
	}
	if n := atoi(name); n > 0 && strings.Trim(name, "0123456789") == "" {
		if n > len(devs) {
			return Device{}, fmt.Errorf("Invalid adapter index")
		}
		return devs[n-1], nil
	}
	return Device{}, fmt.Errorf(r.cfg.Flavor.NoSuchDevice, name)
}

// dumper is -w: a pcap file in the node's filesystem, or stdout.
type dumper struct {
	w *pcapgo.Writer
	f io.Closer
}

func (r *run) openDump(linkType int) (*dumper, error) {
	var w io.Writer
	var c io.Closer
	if r.o.writeFile == "-" {
		w = r.inv.Stdout
	} else {
		f, err := r.inv.FS.OpenFile(r.inv.Abs(r.o.writeFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", r.o.writeFile, shell.ErrorText(err))
		}
		w, c = f, f
	}
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(uint32(r.o.snaplen), layers.LinkType(linkType)); err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("%s: %s", r.o.writeFile, shell.ErrorText(err))
	}
	return &dumper{w: pw, f: c}, nil
}

func (d *dumper) write(ts time.Time, data []byte, wire int) error {
	return d.w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: wire}, data)
}

func (d *dumper) close() {
	if d != nil && d.f != nil {
		d.f.Close()
	}
}

// output prints or dumps the packets that passed the filter.
type output struct {
	r       *run
	pr      *Printer
	dump    *dumper
	n       int // packets_captured
	failed  error
	numbers bool
}

func (out *output) handle(ts time.Time, data []byte, wire int) {
	out.n++
	if out.dump != nil {
		if err := out.dump.write(ts, data, wire); err != nil && out.failed == nil {
			out.failed = err
		}
		return
	}
	line := out.pr.Line(ts, data, wire)
	if out.numbers {
		line = fmt.Sprintf("%5d  %s", out.n, line)
	}
	fmt.Fprintln(out.r.inv.Stdout, line)
}

// readFile is -r: print (or copy with -w) a pcap file's packets.
func (r *run) readFile(ctx context.Context) int {
	var src io.Reader
	name := r.o.readFile
	if name == "-" {
		src = r.inv.Stdin
	} else {
		f, err := r.inv.FS.Open(r.inv.Abs(name))
		if err != nil {
			return r.fail("%s: %s", name, shell.ErrorText(err))
		}
		defer f.Close()
		src = f
	}
	rd, err := pcapgo.NewReader(src)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return r.fail("truncated dump file; tried to read 24 file header bytes, only got 0")
		}
		return r.fail("unknown file format")
	}
	lt := int(rd.LinkType())
	fmt.Fprintf(r.inv.Stderr, "reading from file %s, link-type %s\n", name, linkTypeString(lt))
	hosts := r.hosts()
	flt, err := r.compile(lt, 0, true, hosts)
	if err != nil {
		return r.fail("%s", err)
	}
	out := &output{r: r, pr: r.printer(lt, hosts), numbers: r.o.number}
	if r.o.writeFile != "" {
		d, err := r.openDump(lt)
		if err != nil {
			return r.fail("%s", err)
		}
		defer d.close()
		out.dump = d
	}
	for r.o.count == 0 || out.n < r.o.count {
		if ctx.Err() != nil {
			if out.dump == nil {
				fmt.Fprintln(r.inv.Stdout)
			}
			break
		}
		data, ci, err := rd.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(r.inv.Stderr, "%s: pcap_loop: truncated dump file; %s\n", r.prog, err)
			return 1
		}
		if !flt.match(&pkt{data: data, wire: ci.Length, link: lt}) {
			continue
		}
		if len(data) > r.o.snaplen {
			data = data[:r.o.snaplen]
		}
		out.handle(ci.Timestamp, data, ci.Length)
	}
	if out.failed != nil {
		return r.fail("%s", out.failed)
	}
	return 0
}

// live captures on a device until -c packets, Ctrl-C or the end of the
// session.
func (r *run) live(ctx context.Context) int {
	dev, err := r.device()
	if err != nil {
		return r.fail("%s", err)
	}
	if dev.Warning != "" && !r.o.noPromisc {
		fmt.Fprintf(r.inv.Stderr, "%s: WARNING: %s\n", r.prog, dev.Warning)
	}
	hosts := r.hosts()
	flt, err := r.compile(dev.LinkType, dev.Netmask, false, hosts)
	if err != nil {
		return r.fail("%s", err)
	}
	out := &output{r: r, pr: r.printer(dev.LinkType, hosts), numbers: r.o.number}
	if r.o.writeFile != "" {
		d, err := r.openDump(dev.LinkType)
		if err != nil {
			return r.fail("%s", err)
		}
		defer d.close()
		out.dump = d
	}
	// The capture is on before the banner says so, as pcap_activate
	// comes before it: whoever reads "listening on" may send.
	c := newCapture(r.cfg.QueueLen)
	if dev.Capture != nil {
		stop := dev.Capture(func(p Packet) { c.offer(r, dev, flt, p) })
		defer stop()
	}
	if r.o.verbose == 0 && r.o.writeFile == "" {
		fmt.Fprintf(r.inv.Stderr, "%s: verbose output suppressed, use -v or -vv for full protocol decode\n", r.prog)
	} else {
		fmt.Fprintf(r.inv.Stderr, "%s: ", r.prog)
	}
	fmt.Fprintf(r.inv.Stderr, "listening on %s, link-type %s, capture size %d bytes\n", dev.Name, linkTypeString(dev.LinkType), r.o.snaplen)
	interrupted := false
	for r.o.count == 0 || out.n < r.o.count {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		select {
		case <-ctx.Done():
			interrupted = true
		case f := <-c.queue:
			out.handle(f.ts, f.data, f.wire)
		}
		if interrupted {
			break
		}
	}
	c.closed.Store(true)
	if interrupted && out.dump == nil {
		// tcpdump ends a line it may have been printing.
		fmt.Fprintln(r.inv.Stdout)
	}
	if interrupted && out.failed == nil {
		// tcpdump catches SIGINT and exits 0 after its counters.
		defer shell.CaughtInterrupt(ctx, 0)
	}
	fmt.Fprintf(r.inv.Stderr, "%d packet%s captured\n", out.n, plural(int64(out.n)))
	recv, drop := c.recv.Load(), c.drop.Load()
	fmt.Fprintf(r.inv.Stderr, "%d packet%s received by filter\n", recv, plural(recv))
	fmt.Fprintf(r.inv.Stderr, "%d packet%s dropped by kernel\n", drop, plural(drop))
	if out.failed != nil {
		return r.fail("%s", out.failed)
	}
	return 0
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// frame is a packet that passed the filter, cut to the snapshot length.
type frame struct {
	ts   time.Time
	data []byte
	wire int
}

// capture is the kernel side: the filter runs on the data path and the
// packets it accepts wait in a bounded queue for the printer.
type capture struct {
	queue  chan frame
	recv   atomic.Int64 // accepted by the filter ("received by filter")
	drop   atomic.Int64 // accepted but the queue was full
	closed atomic.Bool
	// slab is where keep copies frames: carved one after the other, a
	// new chunk when it is full (the queued frames keep the old one).
	mu   sync.Mutex
	slab []byte
}

func newCapture(n int) *capture { return &capture{queue: make(chan frame, n)} }

// keep copies a frame for the queue, without an allocation of its own.
func (c *capture) keep(data []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cap(c.slab)-len(c.slab) < len(data) {
		// 4 KiB first, doubling up to 64 KiB: a short capture stays small.
		c.slab = make([]byte, 0, max(min(2*cap(c.slab), 64<<10), 4<<10, len(data)))
	}
	n := len(c.slab)
	c.slab = append(c.slab, data...)
	return c.slab[n:len(c.slab):len(c.slab)]
}

// offer runs on the capture's data path: it must not block.
func (c *capture) offer(r *run, dev Device, flt *Filter, p Packet) {
	if c.closed.Load() {
		return
	}
	switch r.o.direction {
	case "in":
		if p.Out {
			return
		}
	case "out":
		if !p.Out {
			return
		}
	}
	data, wire := p.Data, p.Len
	if wire == 0 {
		wire = len(data)
	}
	if dev.LinkType == LinkLinuxSLL {
		var mac net.HardwareAddr
		if dev.MAC != nil {
			mac = dev.MAC(p.Iface)
		}
		data = cook(data, p.Out, mac)
		wire += len(data) - len(p.Data)
	}
	if !flt.match(&pkt{data: data, wire: wire, link: dev.LinkType, out: p.Out, live: true}) {
		return
	}
	c.recv.Add(1)
	if len(data) > r.o.snaplen {
		data = data[:r.o.snaplen]
	}
	if len(data) > 0 && &data[0] == &p.Data[0] {
		// p.Data is valid only during the callback: the queue keeps a
		// copy of what it prints (a cooked frame is one already).
		data = c.keep(data)
	}
	select {
	case c.queue <- frame{ts: p.Time, data: data, wire: wire}:
	default:
		c.drop.Add(1)
	}
}

// cook turns an Ethernet frame into a Linux cooked (SLL) one, as the
// "any" device delivers it: the packet type seen from the interface, the
// sender's hardware address, the ethertype, the payload.
func cook(eth []byte, out bool, ifaceMAC net.HardwareAddr) []byte {
	if len(eth) < 14 {
		return eth
	}
	typ := uint16(sllHost)
	dst := eth[0:6]
	switch {
	case out:
		typ = sllOutgoing
	case isBroadcast(dst):
		typ = sllBroadcast
	case dst[0]&1 != 0:
		typ = sllMulticast
	case ifaceMAC != nil && string(dst) != string(ifaceMAC):
		typ = sllOtherHost
	}
	b := make([]byte, 16+len(eth)-14)
	b[0], b[1] = byte(typ>>8), byte(typ)
	b[2], b[3] = 0, 1 // ARPHRD_ETHER
	b[4], b[5] = 0, 6
	copy(b[6:12], eth[6:12])
	copy(b[14:16], eth[12:14])
	copy(b[16:], eth[14:])
	return b
}
