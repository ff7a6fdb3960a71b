package tcpdump

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/shell"
)

var esxiFlavor = Flavor{
	Name:         "tcpdump-uw",
	Version:      []string{"tcpdump-uw version 4.9.1-PRE-GIT_2017_09_22", "libpcap version 1.8.1"},
	NoSuchDevice: "%s: No such device exists\n(SIOCGIFHWADDR: No such device)",
}

// tap is a fake device: the test hands it packets.
type tap struct {
	mu  sync.Mutex
	fn  func(Packet)
	on  chan struct{} // closed when a capture starts
	off chan struct{} // closed when it stops
}

func newTap() *tap { return &tap{on: make(chan struct{}), off: make(chan struct{})} }

func (t *tap) capture(fn func(Packet)) func() {
	t.mu.Lock()
	t.fn = fn
	t.mu.Unlock()
	close(t.on)
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			t.fn = nil
			t.mu.Unlock()
			close(t.off)
		})
	}
}

func (t *tap) send(p Packet) {
	t.mu.Lock()
	fn := t.fn
	t.mu.Unlock()
	if fn != nil {
		fn(p)
	}
}

// lines is a writer that reports each complete line.
type lines struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	each chan string
}

func newLines() *lines { return &lines{each: make(chan string, 100)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for _, c := range p {
		if c == '\n' {
			select {
			case l.each <- "":
			default:
			}
		}
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type bench struct {
	vmk0, vmk1 *tap
	fs         *shell.FS
	queue      int
}

func newBench() *bench {
	fs := shell.NewFS()
	_ = fs.MkdirAll("/tmp")
	return &bench{vmk0: newTap(), vmk1: newTap(), fs: fs}
}

func (b *bench) config() Config {
	return Config{
		Flavor:   esxiFlavor,
		QueueLen: b.queue,
		Devices: func() []Device {
			return []Device{
				{Name: "vmk0", LinkType: LinkEthernet, Netmask: 0xffffff00, Capture: b.vmk0.capture},
				{Name: "vmk1", LinkType: LinkEthernet, Netmask: 0xffffff00, Capture: b.vmk1.capture},
			}
		},
	}
}

type result struct {
	out, err string
	code     int
}

// start runs the command in the background; wait returns its result.
func (b *bench) start(ctx context.Context, args ...string) (stdout, stderr *lines, wait func() result) {
	stdout, stderr = newLines(), newLines()
	done := make(chan int, 1)
	cmd := Command(b.config())
	go func() {
		done <- cmd(ctx, &shell.Invocation{Args: args, Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr,
			Dir: "/", Getenv: func(string) string { return "" }, FS: b.fs})
	}()
	return stdout, stderr, func() result {
		code := <-done
		return result{stdout.String(), stderr.String(), code}
	}
}

func (b *bench) run(args ...string) result {
	_, _, wait := b.start(context.Background(), args...)
	return wait()
}

func transcript(b *bench, lines ...string) string {
	var s strings.Builder
	for _, l := range lines {
		r := b.run(strings.Fields(l)...)
		s.WriteString("$ " + l + "\n" + r.out)
		if r.err != "" {
			s.WriteString("[stderr]\n" + r.err)
		}
		s.WriteString("[exit " + strconv.Itoa(r.code) + "]\n")
	}
	return s.String()
}

func TestCommandUsage(t *testing.T) {
	b := newBench()
	golden(t, "command-usage", transcript(b,
		"tcpdump-uw --version",
		"tcpdump-uw -h",
		"tcpdump-uw -k",
		"tcpdump-uw -i",
		"tcpdump-uw --frobnicate",
		"tcpdump-uw -c 0",
		"tcpdump-uw -c abc",
		"tcpdump-uw -s 300000",
		"tcpdump-uw -Q sideways",
		"tcpdump-uw -X",
		"tcpdump-uw -tttttt",
		"tcpdump-uw -D",
		"tcpdump-uw -i vmk9",
		"tcpdump-uw -i 3",
		"tcpdump-uw -i vmk0 host",
		"tcpdump-uw -i vmk0 host nosuch",
		"tcpdump-uw -i vmk0 port 2049 and",
		"tcpdump-uw -i vmk0 ip host 1.2.3.4 @",
		"tcpdump-uw -r /tmp/nosuch.pcap",
		"tcpdump-uw -i vmk0 -w /nosuch/dir/x.pcap",
	))
}

// capture runs a live capture of frames on vmk0 until -c stops it.
func TestCommandCount(t *testing.T) {
	b := newBench()
	frames := conversation(t)
	_, _, wait := b.start(context.Background(), "tcpdump-uw", "-n", "-c", "3", "port", "2049")
	<-b.vmk0.on
	for k, f := range frames {
		b.vmk0.send(Packet{Time: at.Add(time.Duration(k) * time.Millisecond), Iface: "vmk0", Data: f, Len: len(f)})
	}
	r := wait()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	golden(t, "command-count", "[stdout]\n"+r.out+"[stderr]\n"+receivedByFilter(t, r.err, 3, len(frames)))
}

// receivedByFilter checks the "received by filter" counter and takes it
// out of the output: it counts what the filter passed until the capture
// closed, and the sender may still be sending when -c ends it (with real
// tcpdump too), so only its range is certain.
func receivedByFilter(t *testing.T, stderr string, lo, hi int) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\d+) packets? received by filter$`)
	m := re.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no received-by-filter counter in %q", stderr)
	}
	if n, _ := strconv.Atoi(m[1]); n < lo || n > hi {
		t.Errorf("%d packets received by filter, want %d to %d", n, lo, hi)
	}
	return re.ReplaceAllString(stderr, "N packets received by filter")
}

// Ctrl-C (the context) ends a capture: a newline, then the counters.
func TestCommandInterrupt(t *testing.T) {
	b := newBench()
	ctx, cancel := context.WithCancel(context.Background())
	frames := conversation(t)
	stdout, _, wait := b.start(ctx, "tcpdump-uw", "-i", "vmk1", "-nn", "-e", "arp", "or", "icmp")
	<-b.vmk1.on
	for k, f := range frames {
		b.vmk1.send(Packet{Time: at.Add(time.Duration(k) * time.Millisecond), Iface: "vmk1", Data: f, Len: len(f)})
	}
	// Four of the frames pass the filter: wait for their lines.
	for range 4 {
		<-stdout.each
	}
	cancel()
	r := wait()
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	<-b.vmk1.off
	golden(t, "command-interrupt", "[stdout]\n"+r.out+"[stderr]\n"+r.err)
}

// A full queue drops packets and counts them as dropped by the kernel.
func TestCommandDrops(t *testing.T) {
	b := newBench()
	b.queue = 2
	ctx, cancel := context.WithCancel(context.Background())
	f := conversation(t)[2]
	// -w: nothing is printed; the first packets are written as they come.
	_, _, wait := b.start(ctx, "tcpdump-uw", "-w", "/tmp/x.pcap")
	<-b.vmk0.on
	// The command may take packets off the queue while they arrive, but
	// never more than it receives: with the printer stalled behind a
	// full queue some are dropped, and all are received by the filter.
	for k := 0; k < 50; k++ {
		b.vmk0.send(Packet{Time: at, Iface: "vmk0", Data: f, Len: len(f)})
	}
	cancel()
	r := wait()
	if !strings.Contains(r.err, "50 packets received by filter\n") {
		t.Errorf("stderr:\n%s", r.err)
	}
	var captured, dropped int
	for _, l := range strings.Split(r.err, "\n") {
		fields := strings.Fields(l)
		if len(fields) > 1 && fields[1] == "packets" || len(fields) > 1 && fields[1] == "packet" {
			switch {
			case strings.HasSuffix(l, "captured"):
				captured = atoi(fields[0])
			case strings.HasSuffix(l, "dropped by kernel"):
				dropped = atoi(fields[0])
			}
		}
	}
	if dropped == 0 || captured+dropped > 50 {
		t.Errorf("captured %d, dropped %d of 50:\n%s", captured, dropped, r.err)
	}
	if !strings.HasPrefix(r.err, "tcpdump-uw: listening on vmk0, link-type EN10MB (Ethernet), capture size 262144 bytes\n") {
		t.Errorf("banner with -w:\n%s", r.err)
	}
}

// -w writes a pcap file into the node's filesystem; -r reads it back
// (filtered, with -c) and can copy it.
func TestCommandWriteRead(t *testing.T) {
	b := newBench()
	frames := conversation(t)
	_, _, wait := b.start(context.Background(), "tcpdump-uw", "-i", "vmk1", "-s", "96", "-c", "8", "-w", "/tmp/nfs.pcap")
	<-b.vmk1.on
	for k, f := range frames {
		b.vmk1.send(Packet{Time: at.Add(time.Duration(k) * time.Millisecond), Iface: "vmk1", Data: f, Len: len(f)})
	}
	r := wait()
	if r.code != 0 {
		t.Fatalf("-w: exit %d: %s", r.code, r.err)
	}
	data, err := b.fs.ReadFile("/tmp/nfs.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 || data[0] != 0xd4 || data[1] != 0xc3 {
		t.Fatalf("not a pcap file: % x", data[:min(len(data), 24)])
	}
	if _, err := b.fs.ReadFile("/tmp/nfs.pcap"); err != nil {
		t.Fatal(err)
	}
	golden(t, "command-write-read", "[-w stderr]\n"+receivedByFilter(t, r.err, 8, len(frames))+transcript(b,
		"tcpdump-uw -r /tmp/nfs.pcap -n",
		"tcpdump-uw -r /tmp/nfs.pcap -n -c 2 tcp",
		"tcpdump-uw -r /tmp/nfs.pcap -w /tmp/arp.pcap arp",
		"tcpdump-uw -nr /tmp/arp.pcap",
		"tcpdump-uw -r /tmp/nfs.pcap inbound",
	))
}
