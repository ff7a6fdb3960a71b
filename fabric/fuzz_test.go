package fabric

import (
	"fmt"
	"net/netip"
	"testing"
)

// FuzzRouteTable drives a route table through random sequences of route and
// interface changes. Whatever happened, Lookup must not panic, and a route it
// returns must contain the destination, leave an up interface, and be the
// longest match among the effective routes.
func FuzzRouteTable(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{2, 10, 1, 0, 40, 7, 3, 3, 9, 9, 9})
	f.Add([]byte("seed 001: esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		nw := New()
		n, err := nw.AddNode(NodeConfig{Name: "esx"})
		if err != nil {
			t.Fatal(err)
		}
		rt := NewRouteTable(n.Interfaces, n.Reevaluate)
		n.SetRouter(rt)
		// A small address space, so that prefixes, gateways and interface
		// subnets collide often.
		addr := func(b byte) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, b >> 4 & 3, b & 15}) }
		bits := func(b byte) int { return []int{0, 8, 16, 22, 24, 28, 30, 32}[b&7] }
		next := func() byte {
			if len(ops) == 0 {
				return 0
			}
			b := ops[0]
			ops = ops[1:]
			return b
		}
		nifs := 0
		iface := func(b byte) *Interface {
			ifs := n.Interfaces()
			if len(ifs) == 0 {
				return nil
			}
			return ifs[int(b)%len(ifs)]
		}
		for len(ops) > 0 {
			switch op := next(); op % 10 {
			case 0:
				_ = rt.Add(netip.PrefixFrom(addr(next()), bits(next())), addr(next()))
			case 1:
				gw := addr(next())
				if next()&1 == 0 {
					gw = netip.Addr{}
				}
				_ = rt.Delete(netip.PrefixFrom(addr(next()), bits(next())), gw)
			case 2:
				_ = rt.SetDefault(addr(next()))
			case 3:
				if nifs < 6 {
					nifs++
					_, _ = n.AddInterface(InterfaceConfig{
						Name:    fmt.Sprintf("vmk%d", next()%12),
						Addr:    netip.PrefixFrom(addr(next()), 20+int(next()%13)),
						Segment: "s",
					})
				}
			case 4:
				if i := iface(next()); i != nil {
					i.SetUp(next()&1 == 0)
				}
			case 5:
				if i := iface(next()); i != nil {
					a := netip.PrefixFrom(addr(next()), 20+int(next()%13))
					if next()&3 == 0 {
						a = netip.Prefix{}
					}
					i.SetAddr(a)
				}
			case 6:
				if i := iface(next()); i != nil {
					_ = n.RemoveInterface(i.Name())
				}
			case 7:
				rt.SetSelection(Selection(next() & 1))
			case 8:
				rt.Restore(rt.Static())
			default:
				checkLookup(t, rt, addr(next()))
			}
		}
		for b := range 64 {
			checkLookup(t, rt, addr(byte(b)))
		}
	})
}

func checkLookup(t *testing.T, rt *RouteTable, dst netip.Addr) {
	t.Helper()
	r, err := rt.Lookup(dst)
	routes := rt.Routes()
	if err != nil {
		for _, x := range routes {
			if x.Dst.Contains(dst) {
				t.Fatalf("Lookup(%s): %v, but %v matches", dst, err, x.Dst)
			}
		}
		return
	}
	if !r.Dst.Contains(dst) {
		t.Fatalf("Lookup(%s) = %v: does not contain the destination", dst, r.Dst)
	}
	if r.Iface == nil || !r.Iface.Up() {
		t.Fatalf("Lookup(%s) = %v via %v: egress not up", dst, r.Dst, r.Iface)
	}
	a := r.Iface.Addr()
	if !a.IsValid() {
		t.Fatalf("Lookup(%s) = %v via %v: egress has no address", dst, r.Dst, r.Iface)
	}
	if r.Static && !a.Masked().Contains(r.Gateway) {
		t.Fatalf("Lookup(%s) = %v: gateway %s not on %s's subnet %s", dst, r.Dst, r.Gateway, r.Iface.Name(), a)
	}
	if !r.Static && a.Masked() != r.Dst {
		t.Fatalf("Lookup(%s) = connected %v via %s with address %s", dst, r.Dst, r.Iface.Name(), a)
	}
	for _, x := range routes {
		if x.Dst.Contains(dst) && x.Dst.Bits() > r.Dst.Bits() {
			t.Fatalf("Lookup(%s) = %v, but %v is longer", dst, r.Dst, x.Dst)
		}
	}
}
