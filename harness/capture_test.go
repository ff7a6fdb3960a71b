package harness

import (
	"bytes"
	"io"
	"io/fs"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
)

// capturedPackets reads a capture's pcap back.
func capturedPackets(t *testing.T, lab *Lab, id string) []gopacket.Packet {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, lab.CapturePcap(id, &buf))
	r, err := pcapgo.NewReader(&buf)
	require.NoError(t, err)
	require.Equal(t, layers.LinkTypeEthernet, r.LinkType())
	var out []gopacket.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		p.Metadata().CaptureInfo = ci
		out = append(out, p)
	}
}

func pingFrom(t *testing.T, n *fabric.Node, dst string) {
	t.Helper()
	r, err := n.Echo(fabric.EchoRequest{Dst: netip.MustParseAddr(dst)})
	require.NoError(t, err)
	require.NotNil(t, r, "no reply from %s", dst)
}

// TestCaptureSeed001 is seed 001's Wireshark view, from host A's vmk0: the
// injected route makes CVM B reset A's stale NFS connection, and the
// datastore's NFS then leaves vmk0 from 192.168.1.24 to 192.168.5.2 at CVM
// B's MAC.
func TestCaptureSeed001(t *testing.T) {
	lab := Start(t, Default(), WithoutWorkload())
	v, err := lab.StartCapture("a", "vmk0", CaptureOptions{})
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-A", v.Node)
	require.NoError(t, lab.AddRoute("a", "", "192.168.5.2/32", "192.168.1.28"))
	// A write to the datastore waits for its reconnection through CVM B.
	require.NoError(t, lab.Hosts[0].FS().WriteFile("/vmfs/volumes/ctr1/capture.txt", []byte("via CVM B"), 0o644))
	_, err = lab.StopCapture(v.ID)
	require.NoError(t, err)

	cvmB := lab.CVMs[1].Node().Interface("eth0").MAC().String()
	var rst, nfs int
	for _, p := range capturedPackets(t, lab, v.ID) {
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip == nil || tcp == nil {
			continue
		}
		if tcp.RST && ip.SrcIP.String() == "192.168.5.2" && eth.SrcMAC.String() == cvmB {
			rst++
		}
		if ip.SrcIP.String() == "192.168.1.24" && ip.DstIP.String() == "192.168.5.2" && tcp.DstPort == 2049 && len(tcp.Payload) > 0 {
			assert.Equal(t, cvmB, eth.DstMAC.String(), "the next hop's MAC")
			nfs++
		}
	}
	assert.Equal(t, 1, rst, "CVM B resets the stale connection")
	assert.Positive(t, nfs, "NFS through CVM B")
}

// TestCaptureRing: the snaplen cuts frames (their length stays), the ring
// keeps the newest frames within its bounds and counts the rest.
func TestCaptureRing(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	a := lab.Hosts[0].VMkernel().Node()
	v, err := lab.StartCapture("1", "", CaptureOptions{Snaplen: 60, MaxPackets: 3})
	require.NoError(t, err)
	for range 3 {
		pingFrom(t, a, "192.168.1.1")
	}
	got, err := lab.Capture(v.ID)
	require.NoError(t, err)
	assert.Equal(t, 3, got.Packets)
	assert.Equal(t, got.Seen-3, got.Dropped)
	assert.Equal(t, int64(3*60), got.Bytes)
	ps := capturedPackets(t, lab, v.ID)
	require.Len(t, ps, 3)
	last := ps[2].Metadata().CaptureInfo
	assert.Equal(t, 60, last.CaptureLength)
	assert.Equal(t, 98, last.Length, "a 56-byte ping's frame")

	w, err := lab.StartCapture("a", "vmk0", CaptureOptions{MaxBytes: 200})
	require.NoError(t, err)
	pingFrom(t, a, "192.168.1.1")
	got, err = lab.Capture(w.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Packets, "two 98-byte frames fit in 200 bytes")
	assert.Equal(t, int64(196), got.Bytes)

	_, err = lab.StartCapture("a", "vmk0", CaptureOptions{MaxPackets: -1})
	assert.ErrorContains(t, err, "must not be negative")
}

// TestCaptureNodes: an interface takes its aliases (CVM B's eth1 sees
// eth1:1's traffic), a gateway is captured by name, and a capture of the
// whole node sees every interface.
func TestCaptureNodes(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	eth1, err := lab.StartCapture("b", "eth1", CaptureOptions{})
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-B-CVM", eth1.Node)
	gw, err := lab.StartCapture("GW", "vlan1", CaptureOptions{})
	require.NoError(t, err)
	assert.Equal(t, "gw", gw.Node)
	all, err := lab.StartCapture("a", "", CaptureOptions{})
	require.NoError(t, err)

	hostB := lab.Hosts[1].VMkernel().Node()
	pingFrom(t, hostB, "192.168.5.254")
	pingFrom(t, lab.Hosts[0].VMkernel().Node(), "192.168.1.1")
	pingFrom(t, lab.Hosts[0].VMkernel().Node(), "192.168.5.2")

	var dsts []string
	for _, p := range capturedPackets(t, lab, eth1.ID) {
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			dsts = append(dsts, ip.DstIP.String())
		}
	}
	assert.Equal(t, []string{"192.168.5.254", "192.168.5.1"}, dsts)
	assert.NotEmpty(t, capturedPackets(t, lab, gw.ID))
	var kinds []string
	for _, p := range capturedPackets(t, lab, all.ID) {
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			kinds = append(kinds, ip.SrcIP.String())
		}
	}
	assert.Equal(t, []string{"192.168.1.24", "192.168.1.1", "192.168.5.1", "192.168.5.2"}, kinds, "vmk0's ping, then vmk1's")

	list := lab.Captures()
	require.Len(t, list, 3)
	assert.Equal(t, []string{"1", "2", "3"}, []string{list[0].ID, list[1].ID, list[2].ID})
	require.NoError(t, lab.RemoveCapture("2"))
	_, err = lab.Capture("2")
	assert.EqualError(t, err, `no capture "2" (the lab has: 1, 3)`)

	_, err = lab.StartCapture("NTNX-BLOCK1-C-CVM", "eth7", CaptureOptions{})
	assert.ErrorContains(t, err, `has no interface "eth7" (it has: eth0, eth1, eth1:1)`)
	_, err = lab.StartCapture("nowhere", "", CaptureOptions{})
	var nf *NotFoundError
	assert.ErrorAs(t, err, &nf)
}

// TestCaptureDrop: dropping the captures (Reset, Close) stops them and
// forgets them; a capture after that starts afresh.
func TestCaptureDrop(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	v, err := lab.StartCapture("a", "vmk0", CaptureOptions{})
	require.NoError(t, err)
	lab.dropCaptures()
	assert.Empty(t, lab.Captures())
	_, err = lab.Capture(v.ID)
	assert.Error(t, err)
	pingFrom(t, lab.Hosts[0].VMkernel().Node(), "192.168.1.1")
	w, err := lab.StartCapture("a", "vmk0", CaptureOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1", w.ID)
}

// TestCaptureFiles: a node's regular files open; anything else does not.
func TestCaptureFiles(t *testing.T) {
	lab := Start(t, Default(), WithFakeClock(), WithoutWorkload())
	require.NoError(t, lab.Hosts[0].FS().WriteFile("/tmp/x.pcap", []byte("pcap"), 0o644))
	f, fi, err := lab.HostFile("a", "/tmp/x.pcap")
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, int64(4), fi.Size())
	f2, _, err := lab.CVMFile("a", "/etc/hostname")
	require.NoError(t, err)
	defer f2.Close()
	data, err := io.ReadAll(f2)
	require.NoError(t, err)
	assert.Equal(t, "NTNX-BLOCK1-A-CVM\n", string(data))
	for _, name := range []string{"/tmp", "/nope"} {
		_, _, err := lab.HostFile("a", name)
		assert.ErrorIs(t, err, fs.ErrNotExist, name)
	}
	_, _, err = lab.HostFile("a", "relative")
	assert.ErrorContains(t, err, "want an absolute path")
}
