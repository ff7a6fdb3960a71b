package fabric

import (
	"context"
	"io"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// crossProcessModes are the two ways a flow from the host to CVM A is
// carried: in memory (both nodes in one process) and over loopback TCP
// between two processes' networks (remote.go).
func crossProcessModes(b *testing.B, run func(b *testing.B, host *Node, cvm *Node)) {
	b.Run("carrier=mem", func(b *testing.B) {
		p := buildRemoteTopo(b, New())
		run(b, p.host, p.cvmA)
	})
	b.Run("carrier=tcp", func(b *testing.B) {
		h, c := remotePair(b)
		run(b, h.host, c.cvmA)
	})
}

// BenchmarkCrossProcessTransfer1MiB moves 1 MiB one way through a dialled
// flow in 64 KiB writes, the size of an NFS WRITE.
func BenchmarkCrossProcessTransfer1MiB(b *testing.B) {
	crossProcessModes(b, func(b *testing.B, host, cvm *Node) {
		ln, err := cvm.Listen(nfs)
		require.NoError(b, err)
		defer ln.Close()
		c, err := host.Dial(context.Background(), netip.AddrPortFrom(cvmPriv, nfs), DialOptions{})
		require.NoError(b, err)
		defer c.Close()
		s, err := ln.Accept()
		require.NoError(b, err)
		defer s.Close()
		const total = 1 << 20
		done := make(chan error)
		go func() {
			buf := make([]byte, total)
			for {
				_, err := io.ReadFull(s, buf)
				done <- err
				if err != nil {
					return
				}
			}
		}()
		chunk := make([]byte, 64<<10)
		b.SetBytes(total)
		b.ReportAllocs()
		for b.Loop() {
			for range total / len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCrossProcessDialRoundTrip is one short RPC on a fresh flow: dial,
// 128 bytes there and back, close — the cost of a reconnect.
func BenchmarkCrossProcessDialRoundTrip(b *testing.B) {
	crossProcessModes(b, func(b *testing.B, host, cvm *Node) {
		echoServer(b, cvm, nfs)
		dst := netip.AddrPortFrom(cvmPriv, nfs)
		msg := make([]byte, 128)
		buf := make([]byte, len(msg))
		b.ReportAllocs()
		for b.Loop() {
			c, err := host.Dial(context.Background(), dst, DialOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}
