package tcpdump

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, p, got, want)
	}
}

// The VERIFIED packet lines of the reference (§7), byte for byte.
func TestPrintVerified(t *testing.T) {
	syn := tcpFrame(t, seg{srcMAC: macGW, dstMAC: macVmk0, src: "192.168.0.103", dst: "192.168.0.121",
		sport: 60337, dport: 4001, flags: "S", seq: 2797491653, win: 65535, opts: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{9}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0x02, 0xb4, 0x45, 0x6a, 0, 0, 0, 0}},
		}})
	ping := icmpFrame(t, macGW, macVmk0, "192.168.222.50", "192.168.222.10", 8, 1, 130, 32)
	reply := icmpFrame(t, macVmk0, macGW, "192.168.222.10", "192.168.222.50", 0, 1, 130, 32)
	hosts := ParseHosts([]byte("192.168.222.10 esx6.virten.lab esx6\n"))
	cases := []struct {
		o    PrintOptions
		ts   time.Time
		data []byte
		want string
	}{
		{PrintOptions{}, time.Date(2013, 1, 7, 4, 3, 26, 974476000, time.UTC), syn,
			"04:03:26.974476 IP 192.168.0.103.60337 > 192.168.0.121.4001: Flags [S], seq 2797491653, win 65535, options [mss 1460,nop,wscale 9,sackOK,TS val 45368682 ecr 0], length 0"},
		{PrintOptions{Hosts: hosts}, time.Date(2015, 6, 1, 18, 51, 0, 953859000, time.UTC), ping,
			"18:51:00.953859 IP 192.168.222.50 > esx6.virten.lab: ICMP echo request, id 1, seq 130, length 40"},
		{PrintOptions{Hosts: hosts, Numeric: true}, time.Date(2015, 6, 1, 18, 51, 0, 953859000, time.UTC), ping,
			"18:51:00.953859 IP 192.168.222.50 > 192.168.222.10: ICMP echo request, id 1, seq 130, length 40"},
		{PrintOptions{Numeric: true}, time.Date(2015, 6, 1, 18, 51, 0, 953859000, time.UTC), reply,
			"18:51:00.953859 IP 192.168.222.10 > 192.168.222.50: ICMP echo reply, id 1, seq 130, length 40"},
	}
	for _, c := range cases {
		if got := NewPrinter(c.o).Line(c.ts, c.data, len(c.data)); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// conversation is an NFS mount's first exchanges over vmk1, seed 001's
// reset over vmk0, a ping and an ARP exchange: the lines each option
// changes.
func conversation(t *testing.T) [][]byte {
	fh := []byte{0x01, 0x00, 0x07, 0x00, 0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x43, 0x54, 0x52, 0x31, 0x00, 0x00, 0x00, 0x00}
	getattr := rpcCallRecord(123, 100003, 3, 1, fhArg(fh))
	attrs := u32s(0, // NFS3_OK
		2, 0o755, 2, 0, 0, 0, 4096, 0, 4096, 0, 0, 0, 0x1234, 0, 2, 1709294400, 0, 1709294400, 0, 1709294400, 0)
	reply := rpcReplyRecord(123, attrs)
	read := rpcCallRecord(124, 100003, 3, 6, append(fhArg(fh), u32s(0, 8192, 4096)...))
	write := rpcCallRecord(125, 100003, 3, 7, append(append(fhArg(fh), u32s(0, 0, 512, 2, 512)...), make([]byte, 512)...))
	null := rpcCallRecord(126, 100003, 3, 0, nil)
	mss := []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
	c, s := "192.168.5.1", "192.168.5.2"
	return [][]byte{
		// As the sender captures it, before the NIC pads it to 60 bytes.
		arpFrame(t, 1, macVmk1, c, make([]byte, 6), s, macBcast)[:42],
		// As the fabric delivers it: padded, as a receiver sees it.
		arpFrame(t, 2, macCVMA1, s, macVmk1, c, macVmk1),
		tcpFrame(t, seg{src: c, dst: s, sport: 1023, dport: 2049, flags: "S", seq: 3000000000, win: 65535, opts: mss, id: 1}),
		tcpFrame(t, seg{srcMAC: macCVMA1, dstMAC: macVmk1, src: s, dst: c, sport: 2049, dport: 1023, flags: "SA", seq: 1000, ack: 3000000001, opts: mss}),
		tcpFrame(t, seg{src: c, dst: s, sport: 1023, dport: 2049, flags: "A", seq: 3000000001, ack: 1001, id: 2}),
		tcpFrame(t, seg{src: c, dst: s, sport: 1023, dport: 2049, flags: "PA", seq: 3000000001, ack: 1001, payload: getattr, id: 3}),
		tcpFrame(t, seg{srcMAC: macCVMA1, dstMAC: macVmk1, src: s, dst: c, sport: 2049, dport: 1023, flags: "PA", seq: 1001, ack: 3000000001 + uint32(len(getattr)), payload: reply}),
		tcpFrame(t, seg{src: c, dst: s, sport: 1023, dport: 2049, flags: "PA", seq: 3000000001 + uint32(len(getattr)), ack: 1001 + uint32(len(reply)), payload: read, id: 4}),
		tcpFrame(t, seg{src: c, dst: s, sport: 1023, dport: 2049, flags: "PA", seq: 3000000001 + uint32(len(getattr)+len(read)), ack: 1001 + uint32(len(reply)), payload: write, id: 5}),
		tcpFrame(t, seg{src: c, dst: s, sport: 1023, dport: 2049, flags: "PA", seq: 3000000001 + uint32(len(getattr)+len(read)+len(write)), ack: 1001 + uint32(len(reply)), payload: null, id: 6}),
		tcpFrame(t, seg{src: c, dst: s, sport: 1023, dport: 2049, flags: "FA", seq: 3000000001 + uint32(len(getattr)+len(read)+len(write)+len(null)), ack: 1001 + uint32(len(reply)), id: 7}),
		// Seed 001: vmk0 carries the flow after the route change; CVM B
		// never saw it and resets it.
		tcpFrame(t, seg{srcMAC: macVmk0, dstMAC: macCVMB0, src: "192.168.1.24", dst: s, sport: 1022, dport: 2049, flags: "PA", seq: 77, ack: 99, payload: rpcCallRecord(200, 100003, 3, 1, fhArg(fh)), id: 9}),
		tcpFrame(t, seg{srcMAC: macCVMB0, dstMAC: macVmk0, src: s, dst: "192.168.1.24", sport: 2049, dport: 1022, flags: "R", seq: 99, win: 1}),
		tcpFrame(t, seg{srcMAC: macCVMB0, dstMAC: macVmk0, src: s, dst: "192.168.1.24", sport: 2049, dport: 1021, flags: "RA", seq: 0, ack: 55, win: 1}),
		icmpFrame(t, macVmk0, macGW, "192.168.1.24", "192.168.1.1", 8, 0x1c46, 0, 56),
		icmpFrame(t, macGW, macVmk0, "192.168.1.1", "192.168.1.24", 0, 0x1c46, 0, 56),
		udpFrame(t, "192.168.1.24", "192.168.1.1", 49152, 53, []byte("query")),
	}
}

func TestPrintGolden(t *testing.T) {
	hosts := ParseHosts([]byte("127.0.0.1 localhost\n"))
	modes := []struct {
		name string
		o    PrintOptions
	}{
		{"print-default", PrintOptions{Hosts: hosts}},
		{"print-n", PrintOptions{Numeric: true}},
		{"print-e", PrintOptions{Link: true}},
		{"print-ne", PrintOptions{Numeric: true, Link: true}},
		{"print-v", PrintOptions{Numeric: true, Verbose: 1}},
		{"print-vv", PrintOptions{Numeric: true, Verbose: 2}},
		{"print-S", PrintOptions{Numeric: true, AbsSeq: true}},
		{"print-tt", PrintOptions{Numeric: true, TFlag: 2}},
		{"print-ttt", PrintOptions{Numeric: true, TFlag: 3}},
	}
	frames := conversation(t)
	for _, m := range modes {
		p := NewPrinter(m.o)
		var b strings.Builder
		for k, f := range frames {
			ts := at.Add(time.Duration(k) * 1250 * time.Microsecond)
			b.WriteString(p.Line(ts, f, len(f)) + "\n")
		}
		golden(t, m.name, b.String())
	}
}

func TestPrintCooked(t *testing.T) {
	p := NewPrinter(PrintOptions{Numeric: true, Link: true, LinkType: LinkLinuxSLL})
	var b strings.Builder
	for k, f := range conversation(t)[:6] {
		out := k%2 == 0
		c := cook(f, out, macCVMA1)
		b.WriteString(p.Line(at, c, len(c)) + "\n")
	}
	golden(t, "print-any-e", b.String())
}

func TestPrintTruncated(t *testing.T) {
	frames := conversation(t)
	p := NewPrinter(PrintOptions{Numeric: true})
	var b strings.Builder
	for _, snap := range []int{10, 20, 40, 60, 96} {
		for _, f := range [][]byte{frames[0], frames[2], frames[5], frames[14]} {
			d := f[:min(snap, len(f))]
			b.WriteString(p.Line(at, d, len(f)) + "\n")
		}
	}
	golden(t, "print-snaplen", b.String())
}

// NFS calls and their replies, as a datastore mount and its IO make them.
func TestPrintNFSReplies(t *testing.T) {
	fh := []byte{0, 0, 0, 0, 0x10, 0x20, 0x30, 0x40, 0, 0, 0, 0, 0, 0, 0, 7} // Auspex-looking: fh 0,0/7
	attr := u32s(1, 0o644, 1, 0, 0, 0, 1<<20, 0, 1<<20, 0, 0, 0, 1, 0, 7, 1, 2, 3, 4, 5, 6)
	post := append(u32s(1), attr...)
	type rpc struct {
		proc uint32
		args []byte
		res  []byte
	}
	calls := []rpc{
		{nfsFsinfo, fhArg(fh), append(append(u32s(0), post...), u32s(1048576, 1048576, 4096, 1048576, 1048576, 4096, 8192, 0xffffffff, 0xffffffff, 0, 1, 0x1b)...)},
		{nfsFsstat, fhArg(fh), append(append(u32s(0), post...), u32s(0, 1<<30, 0, 1<<29, 0, 1<<29, 0, 1000, 0, 900, 0, 900, 0)...)},
		{nfsLookup, append(fhArg(fh), append(u32s(8), []byte("vm1.vmdk")...)...), append(append(append(u32s(0), fhArg(fh)...), post...), post...)},
		{nfsAccess, append(fhArg(fh), u32s(0x1f)...), append(append(u32s(0), post...), u32s(0x1f)...)},
		{nfsRead, append(fhArg(fh), u32s(0, 0, 4096)...), append(append(u32s(0), post...), u32s(4096, 1, 4096)...)},
		{nfsWrite, append(fhArg(fh), u32s(0, 4096, 8, 0, 8, 0, 0)...), append(u32s(0, 0), append(post, u32s(8, 2, 0, 0)...)...)},
		{nfsGetattr, fhArg(fh), u32s(70)}, // stale handle
		{nfsPathconf, fhArg(fh), append(append(u32s(0), post...), u32s(32000, 255, 1, 1, 0, 1)...)},
		{nfsCommit, append(fhArg(fh), u32s(0, 0, 0)...), append(u32s(0, 0), post...)},
	}
	c, s := "192.168.5.1", "192.168.5.2"
	var frames [][]byte
	seq, ack := uint32(1), uint32(1)
	for k, x := range calls {
		req := rpcCallRecord(uint32(500+k), 100003, 3, x.proc, x.args)
		rep := rpcReplyRecord(uint32(500+k), x.res)
		frames = append(frames,
			tcpFrame(t, seg{src: c, dst: s, sport: 800, dport: 2049, flags: "PA", seq: seq, ack: ack, payload: req}),
			tcpFrame(t, seg{srcMAC: macCVMA1, dstMAC: macVmk1, src: s, dst: c, sport: 2049, dport: 800, flags: "PA", seq: ack, ack: seq + uint32(len(req)), payload: rep}))
		seq += uint32(len(req))
		ack += uint32(len(rep))
	}
	// A reply whose call was not seen: no procedure.
	frames = append(frames, tcpFrame(t, seg{srcMAC: macCVMA1, dstMAC: macVmk1, src: s, dst: c, sport: 2049, dport: 800, flags: "PA", seq: 9, ack: 9, payload: rpcReplyRecord(999, u32s(0))}))
	for _, v := range []int{0, 1, 2} {
		p := NewPrinter(PrintOptions{Numeric: true, Verbose: v, TFlag: 1})
		var b strings.Builder
		for _, f := range frames {
			b.WriteString(p.Line(at, f, len(f)) + "\n")
		}
		golden(t, "print-nfs-v"+strconv.Itoa(v), b.String())
	}
}
