package fabric

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
)

// BenchmarkDialWriteReadClose is one short RPC on a fresh flow: the cost of
// a reconnect in the model (path lookup, ARP learning, registration, accept).
func BenchmarkDialWriteReadClose(b *testing.B) {
	l := newTestLab(b)
	echoServer(b, l.cvmA, nfsPort)
	ctx := context.Background()
	dst := netip.AddrPortFrom(cvmPriv, nfsPort)
	msg := make([]byte, 128)
	buf := make([]byte, len(msg))
	b.ReportAllocs()
	for b.Loop() {
		c, err := l.host.Dial(ctx, dst, DialOptions{})
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
}

// BenchmarkMemTransfer1MiB moves 1 MiB one way through an in-memory flow in
// 64 KiB writes, the size of an NFS WRITE.
func BenchmarkMemTransfer1MiB(b *testing.B) {
	a, z := MemTransport{}.Carry(FlowInfo{})
	defer a.Close()
	defer z.Close()
	chunk := make([]byte, 64<<10)
	const total = 1 << 20
	done := make(chan error)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n := 0
			for n < total {
				m, err := z.Read(buf)
				if err != nil {
					done <- err
					return
				}
				n += m
			}
			done <- nil
		}
	}()
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for range total / len(chunk) {
			if _, err := a.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookup measures a route lookup in an ESXi-sized table (two vmks,
// a default route) and in a table of 200 static routes.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{3, 200} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			_, rt := rtNodeB(b,
				InterfaceConfig{Name: "vmk0", Addr: pfx("192.168.1.24/24"), Segment: "p"},
				InterfaceConfig{Name: "vmk1", Addr: pfx("192.168.5.1/24"), Segment: "s"},
			)
			if err := rt.SetDefault(gwAddr); err != nil {
				b.Fatal(err)
			}
			for i := range n - 3 {
				dst := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
				if err := rt.Add(dst, gwAddr); err != nil {
					b.Fatal(err)
				}
			}
			if got := len(rt.Routes()); got != n {
				b.Fatalf("%d routes", got)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.Lookup(cvmPriv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func rtNodeB(b *testing.B, ifs ...InterfaceConfig) (*Node, *RouteTable) {
	nw := New()
	n, err := nw.AddNode(NodeConfig{Name: "esx"})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range ifs {
		if _, err := n.AddInterface(c); err != nil {
			b.Fatal(err)
		}
	}
	rt := NewRouteTable(n.Interfaces, n.Reevaluate)
	n.SetRouter(rt)
	return n, rt
}
