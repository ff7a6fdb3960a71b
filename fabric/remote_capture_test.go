package fabric

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// counted is a recorder that can be waited on.
type counted struct {
	recorder
	seen chan struct{}
}

func captureCounted(t testing.TB, i *Interface) *counted {
	r := &counted{seen: make(chan struct{}, 1024)}
	t.Cleanup(i.Capture(func(p Packet) {
		r.add(p)
		r.seen <- struct{}{}
	}))
	return r
}

// wait waits until n frames were seen since the last take.
func (r *counted) wait(t testing.TB, n int) {
	t.Helper()
	for {
		r.mu.Lock()
		k := len(r.pkts)
		r.mu.Unlock()
		if k >= n {
			return
		}
		select {
		case <-r.seen:
		case <-testCtx(t).Done():
			t.Fatalf("%d frames seen, want %d", k, n)
		}
	}
}

// tcpOnly drops the ARP exchange, which only the sender's process sees.
func tcpOnly(ls []string) []string {
	var out []string
	for _, l := range ls {
		if !strings.Contains(l, " arp ") {
			out = append(out, l)
		}
	}
	return out
}

// TestRemoteCaptureSeq: each process shows its own interfaces' frames of
// a flow between them — the host's egress in its process, the CVM's
// ingress in the CVMs' — and both show the same segments with the same
// sequence numbers, as TestCaptureFlow does in one process.
func TestRemoteCaptureSeq(t *testing.T) {
	h, c := remotePair(t)
	ln := listen(t, c.cvmA, nfs)
	host := captureCounted(t, h.host.Interface("vmk1"))
	cvm := captureCounted(t, c.cvmA.Interface("eth1"))
	placeholder := capture(t, h.cvmA.Interface("eth1"))

	cl, sv := remoteFlow(t, h, ln, cvmPriv, nfs)
	msg := strings.Repeat("x", 3000)
	roundTrip(t, cl, sv, msg)
	roundTrip(t, sv, cl, "ok")
	require.NoError(t, cl.Close())
	rest, err := io.ReadAll(sv) // the client's FIN is in
	require.NoError(t, err)
	require.Empty(t, rest)
	require.NoError(t, sv.Close())

	port := cl.LocalAddr().(*net.TCPAddr).Port
	up := fmt.Sprintf("192.168.5.1.%d>192.168.5.2.2049", port)
	down := fmt.Sprintf("192.168.5.2.2049>192.168.5.1.%d", port)
	out := "vmk1 out " + hostVmk1MAC + ">" + cvmAEth1MAC + " " + up + " ttl 64 "
	in := "vmk1 in " + cvmAEth1MAC + ">" + hostVmk1MAC + " " + down + " ttl 64 "
	want := []string{
		out + "[S] seq 0 len 0 mss 1460",
		in + "[S.] seq 0 ack 1 len 0 mss 1460",
		out + "[.] seq 1 ack 1 len 0",
		out + "[.] seq 1 ack 1 len 1460",
		out + "[.] seq 1461 ack 1 len 1460",
		out + "[P.] seq 2921 ack 1 len 80",
		in + "[.] seq 1 ack 3001 len 0",
		in + "[P.] seq 1 ack 3001 len 2",
		out + "[.] seq 3001 ack 3 len 0",
		out + "[F.] seq 3001 ack 3 len 0",
		in + "[.] seq 3 ack 3002 len 0",
		in + "[F.] seq 3 ack 3002 len 0",
		out + "[.] seq 3002 ack 4 len 0",
	}
	host.wait(t, len(want)+2) // and the ARP exchange
	cvm.wait(t, len(want))
	hostPkts, cvmPkts := host.take(), cvm.take()
	require.Equal(t, want, tcpOnly(lines(t, hostPkts)))
	mirror := make([]string, len(want))
	for k, w := range want {
		if rest, ok := strings.CutPrefix(w, "vmk1 out "); ok {
			mirror[k] = "eth1 in " + rest
		} else {
			mirror[k] = "eth1 out " + strings.TrimPrefix(w, "vmk1 in ")
		}
	}
	require.Equal(t, mirror, lines(t, cvmPkts))

	// Not only relative: the same ISNs and the same bytes on the wire,
	// but for the IP identification each process numbers on its own.
	hostTCP := hostPkts[2:]
	for k := range want {
		a, b := decode(t, hostTCP[k]), decode(t, cvmPkts[k])
		require.Equal(t, a.tcp.Seq, b.tcp.Seq, want[k])
		require.Equal(t, a.tcp.Ack, b.tcp.Ack, want[k])
		require.Equal(t, a.tcp.Payload, b.tcp.Payload, want[k])
	}
	require.Empty(t, placeholder.take(), "a remote node's interfaces show nothing here")
}

// TestRemoteCaptureRefusedAndMoved: a refused SYN shows on both sides with
// the same ISN; after seed 001's route change the new flow's SYN shows
// arriving on CVM B's eth0 in the CVMs' process.
func TestRemoteCaptureRefusedAndMoved(t *testing.T) {
	h, c := remotePair(t)
	host := captureCounted(t, h.host.Interface("vmk1"))
	cvm := captureCounted(t, c.cvmA.Interface("eth1"))
	_, err := h.host.Dial(testCtx(t), netip.AddrPortFrom(cvmPriv, 111), DialOptions{})
	require.ErrorIs(t, err, ErrConnRefused)
	host.wait(t, 4)
	cvm.wait(t, 2)
	hl, cl := tcpOnly(lines(t, host.take())), lines(t, cvm.take())
	require.Len(t, hl, 2)
	require.Contains(t, hl[0], "[S] seq 0 len 0")
	require.Contains(t, hl[1], "[R.] seq 0 ack 1 len 0")
	require.Equal(t, strings.Replace(hl[0], "vmk1 out", "eth1 in", 1), cl[0])
	require.Equal(t, strings.Replace(hl[1], "vmk1 in", "eth1 out", 1), cl[1])

	lnB := listen(t, c.cvmB, nfs)
	eth0 := captureCounted(t, c.cvmB.Interface("eth0"))
	require.NoError(t, h.rt.Add(host32, cvmBPub))
	cl2, sv := remoteFlow(t, h, lnB, cvmPriv, nfs)
	roundTrip(t, cl2, sv, "x")
	eth0.wait(t, 5)
	ls := lines(t, eth0.take())
	require.Contains(t, ls[0], "eth0 in "+hostVmk0MAC+">"+cvmBEth0MAC+" 192.168.1.24.")
	require.Contains(t, ls[0], ">192.168.5.2.2049 ttl 64 [S] seq 0 len 0")
}
