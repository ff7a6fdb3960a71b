package controlapi

import (
	"bytes"
	"net/http"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/harness"
)

// pcapFrames reads a pcap file: its frames, decoded.
func pcapFrames(t *testing.T, b []byte) []gopacket.Packet {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, layers.LinkTypeEthernet, r.LinkType())
	var out []gopacket.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		p.Metadata().CaptureInfo = ci
		out = append(out, p)
	}
	return out
}

// A capture's life through the client: start on host A's vmk0, a ping
// from A to CVM B shows in the pcap (a snapshot while it runs) with CVM
// B's MAC, stop keeps the frames and takes no more, remove forgets it.
func TestCaptures(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	v, err := a.c.StartCapture(ctx, CaptureRequest{Node: "a", Interface: "vmk0", Snaplen: 128})
	require.NoError(t, err)
	sameJSON(t, harness.CaptureView{ID: "1", Node: hostA, Interface: "vmk0", Snaplen: 128, MaxBytes: harness.DefaultCaptureMaxBytes,
		Running: true, Started: a.lab.Clock.Now()}, v)

	ping := func(seq uint16) {
		t.Helper()
		r, err := a.lab.Hosts[0].VMkernel().Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr("192.168.1.28"), ID: 7, Seq: seq, Size: 1000})
		require.NoError(t, err)
		require.NotNil(t, r)
	}
	ping(1)
	var pcap bytes.Buffer
	require.NoError(t, a.c.CapturePcap(ctx, "1", &pcap))
	frames := pcapFrames(t, pcap.Bytes())
	cvmBMAC := a.lab.CVMs[1].Node().Interface("eth0").MAC().String()
	var echoes []string
	for _, f := range frames {
		ci := f.Metadata().CaptureInfo
		assert.LessOrEqual(t, ci.CaptureLength, 128, "cut at the snaplen")
		if icmp, ok := f.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
			eth := f.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			ip := f.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			assert.Equal(t, 1042, ci.Length, "the frame's whole length")
			echoes = append(echoes, icmp.TypeCode.String()+" "+ip.SrcIP.String()+">"+ip.DstIP.String()+" to "+eth.DstMAC.String())
		}
	}
	assert.Equal(t, []string{
		"EchoRequest 192.168.1.24>192.168.1.28 to " + cvmBMAC,
		"EchoReply 192.168.1.28>192.168.1.24 to " + a.lab.Hosts[0].VMkernel().Node().Interface("vmk0").MAC().String(),
	}, echoes)

	got, err := a.c.Capture(ctx, "1")
	require.NoError(t, err)
	assert.True(t, got.Running)
	assert.Equal(t, len(frames), got.Packets)
	assert.Equal(t, uint64(len(frames)), got.Seen)

	stopped, err := a.c.StopCapture(ctx, "1")
	require.NoError(t, err)
	assert.False(t, stopped.Running)
	assert.False(t, stopped.Stopped.IsZero())
	ping(2)
	list, err := a.c.Captures(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, len(frames), list[0].Packets, "a stopped capture takes no more")
	again, err := a.c.StopCapture(ctx, "1")
	require.NoError(t, err)
	sameJSON(t, stopped, again)

	require.NoError(t, a.c.RemoveCapture(ctx, "1"))
	_, err = a.c.Capture(ctx, "1")
	requireStatus(t, err, http.StatusNotFound)
	list, err = a.c.Captures(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func requireStatus(t *testing.T, err error, status int) {
	t.Helper()
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, status, ae.Status, ae.Message)
}

// Bad capture requests, and what is not there.
func TestCaptureErrors(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/v1/captures", `{"node":"z"}`, 404, `no node "z"`},
		{"POST", "/v1/captures", `{}`, 400, "node is missing"},
		{"POST", "/v1/captures", `{"node":"a","interface":"vmk9"}`, 400, `has no interface "vmk9" (it has: vmk0, vmk1)`},
		{"POST", "/v1/captures", `{"node":"a","snaplen":-1}`, 400, "must not be negative"},
		{"POST", "/v1/captures", `{"node":"a","iface":"vmk0"}`, 400, "unknown field"},
		{"GET", "/v1/captures/9", "", 404, `no capture "9"`},
		{"GET", "/v1/captures/9/pcap", "", 404, `no capture "9"`},
		{"POST", "/v1/captures/9/stop", "", 404, `no capture "9"`},
		{"DELETE", "/v1/captures/9", "", 404, `no capture "9"`},
		{"GET", "/v1/hosts/a/files", "", 400, "path query parameter is required"},
		{"GET", "/v1/hosts/a/files?path=etc/motd", "", 400, "absolute path"},
		{"GET", "/v1/hosts/a/files?path=/etc", "", 404, "not a regular file"},
		{"GET", "/v1/hosts/a/files?path=/nope", "", 404, "not a regular file"},
		{"GET", "/v1/hosts/z/files?path=/etc/motd", "", 404, `no host "z"`},
		{"GET", "/v1/cvms/z/files?path=/etc/hostname", "", 404, `no cvm "z"`},
	} {
		status, body := a.call(tc.method, tc.path, tc.body)
		assert.Equal(t, tc.status, status, "%s %s: %s", tc.method, tc.path, body)
		assert.Contains(t, errorOf(t, body), tc.msg, "%s %s", tc.method, tc.path)
	}
}

// A node's files come back byte for byte: what tcpdump-uw -w wrote on a
// host, a CVM's file.
func TestFiles(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	data := []byte{0xd4, 0xc3, 0xb2, 0xa1, 0, 1, 2, 3}
	require.NoError(t, a.lab.Hosts[0].FS().WriteFile("/tmp/vmk0.pcap", data, 0o644))
	var got bytes.Buffer
	require.NoError(t, a.c.HostFile(ctx, "a", "/tmp/vmk0.pcap", &got))
	assert.Equal(t, data, got.Bytes())

	got.Reset()
	require.NoError(t, a.c.CVMFile(ctx, "b", "/etc/hostname", &got))
	assert.Equal(t, cvmB+"\n", got.String())

	err := a.c.HostFile(ctx, "a", "/tmp", &got)
	requireStatus(t, err, http.StatusNotFound)

	req, err := http.NewRequestWithContext(ctx, "GET", a.ts.URL+"/v1/hosts/a/files?path=/tmp/vmk0.pcap", nil)
	require.NoError(t, err)
	resp, err := a.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="vmk0.pcap"`, resp.Header.Get("Content-Disposition"))
	assert.Equal(t, "8", resp.Header.Get("Content-Length"))
}

// The pcap route says what it serves.
func TestPcapHeaders(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	_, err := a.c.StartCapture(ctx, CaptureRequest{Node: "b"})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, "GET", a.ts.URL+"/v1/captures/1/pcap", nil)
	require.NoError(t, err)
	resp, err := a.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, PcapType, resp.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="capture-1.pcap"`, resp.Header.Get("Content-Disposition"))
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	require.NoError(t, err)
	assert.Len(t, b.Bytes(), 24, "an empty capture is a pcap header")
	assert.Empty(t, pcapFrames(t, b.Bytes()))
}
