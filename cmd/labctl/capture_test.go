package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/harness"
)

// pcapCount reads a pcap file and counts its frames.
func pcapCount(t *testing.T, b []byte) int {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			return n
		}
		n++
	}
}

// A capture's life through labctl: start prints the ID, list and stop
// show it, get writes the pcap to a file or stdout, rm forgets it.
func TestCaptureVerbs(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	assert.Equal(t, "1\n", e.ok(t, "capture", "start", "host", "a", "vmk0"))
	_, err := e.lab.Hosts[0].VMkernel().Node().Echo(fabric.EchoRequest{Dst: netip.MustParseAddr("192.168.1.28")})
	require.NoError(t, err)

	rows(t, e.ok(t, "capture", "list"), `^ID\s+NODE\s+INTERFACE\s+STATE\s+PACKETS\s+BYTES\s+SEEN\s+DROPPED\s+STARTED$`,
		`^1\s+NTNX-BLOCK1-A\s+vmk0\s+running\s+[1-9]\d*\s+`)
	file := filepath.Join(t.TempDir(), "vmk0.pcap")
	rows(t, e.ok(t, "capture", "get", "1", "-w", file), `^capture 1: \d+ bytes written to `+regexp.QuoteMeta(file)+`$`)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	frames := pcapCount(t, b)
	assert.GreaterOrEqual(t, frames, 2, "the ping and its reply")
	assert.Equal(t, b, []byte(e.ok(t, "capture", "get", "1", "-w", "-")), "-w - is stdout")

	rows(t, e.ok(t, "capture", "stop", "1"), `^1\s+NTNX-BLOCK1-A\s+vmk0\s+stopped\s+`)
	v, err := e.lab.Capture("1")
	require.NoError(t, err)
	sameJSON(t, []harness.CaptureView{v}, e.ok(t, "capture", "list", "-o", "json"))

	// "b" is CVM B here: labctl resolves the role before it asks.
	out := e.ok(t, "capture", "start", "cvm", "b", "eth0", "--snaplen", "96", "-o", "json")
	v, err = e.lab.Capture("2")
	require.NoError(t, err)
	assert.Equal(t, cvmB, v.Node)
	assert.Equal(t, 96, v.Snaplen)
	sameJSON(t, v, out)
	assert.Equal(t, "3\n", e.ok(t, "capture", "start", "node", "gw"))

	assert.Equal(t, "capture 1 removed\n", e.ok(t, "capture", "rm", "1"))
	code, _, errOut := e.run(t, "capture", "get", "1", "-w", filepath.Join(t.TempDir(), "gone.pcap"))
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, `no capture "1"`)
}

// A file of a node's filesystem, to a file or stdout; a failed copy leaves
// nothing behind.
func TestFileVerb(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	require.NoError(t, e.lab.Hosts[0].FS().WriteFile("/tmp/x.pcap", []byte("pcap bytes"), 0o644))
	dst := filepath.Join(t.TempDir(), "x.pcap")
	e.ok(t, "file", "get", "host", "a", "/tmp/x.pcap", "-w", dst)
	b, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "pcap bytes", string(b))
	assert.Equal(t, cvmB+"\n", e.ok(t, "file", "get", "cvm", "b", "/etc/hostname", "-w", "-"))

	missing := filepath.Join(t.TempDir(), "missing")
	code, _, errOut := e.run(t, "file", "get", "cvm", "b", "/nope", "-w", missing)
	assert.Equal(t, exitRefused, code)
	assert.Contains(t, errOut, "not a regular file")
	assert.NoFileExists(t, missing)
}

// Capture and file usage errors.
func TestCaptureUsage(t *testing.T) {
	e := newEnv(t, "", harness.WithoutWorkload())
	for _, args := range [][]string{
		{"capture"},
		{"capture", "start", "host"},
		{"capture", "start", "vm", "a"},
		{"capture", "start", "host", "a", "vmk0", "--snaplen", "-1"},
		{"capture", "get", "1"},
		{"capture", "list", "--snaplen", "5"},
		{"capture", "stop", "1", "-w", "x"},
		{"capture", "frobnicate"},
		{"file", "get", "host", "a"},
		{"file", "get", "vm", "a", "/etc/motd", "-w", "-"},
		{"host", "a", "-w", "x"},
	} {
		code, _, errOut := e.run(t, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, errOut)
		assert.Contains(t, errOut, "Usage: labctl", "%v", args)
	}
}
