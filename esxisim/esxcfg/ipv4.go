package esxcfg

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// parseIPv4 accepts a dotted-quad IPv4 address only: the esxcfg tools work
// on IPv4 unless -f V6 says otherwise, and never resolve names.
func parseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// parseHostIPv4 accepts an address a host may hold or route through: not
// 0.0.0.0, not loopback, multicast or the limited broadcast.
func parseHostIPv4(s string) (netip.Addr, bool) {
	a, ok := parseIPv4(s)
	if !ok || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}, false
	}
	return a, true
}

// parseNetmask turns a dotted netmask into a prefix length. Non-contiguous
// masks (255.0.255.0) are refused: the VMkernel stores prefixes.
func parseNetmask(s string) (int, bool) {
	a, ok := parseIPv4(s)
	if !ok {
		return 0, false
	}
	b := a.As4()
	m := binary.BigEndian.Uint32(b[:])
	ones := bits.LeadingZeros32(^m)
	if ones < 32 && m<<ones != 0 {
		return 0, false
	}
	return ones, true
}

// parsePrefix parses "a.b.c.d/len" with a decimal length 0-32.
func parsePrefix(s string) (netip.Prefix, bool) {
	addr, l, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, false
	}
	a, ok := parseIPv4(addr)
	if !ok {
		return netip.Prefix{}, false
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 0 || n > 32 || l != strconv.Itoa(n) {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, n), true
}

// netmaskString renders a prefix length as a dotted netmask.
func netmaskString(bits int) string {
	var b [4]byte
	if bits > 0 {
		binary.BigEndian.PutUint32(b[:], ^uint32(0)<<(32-bits))
	}
	return netip.AddrFrom4(b).String()
}

// broadcast returns the directed broadcast address of p.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := binary.BigEndian.Uint32(b[:])
	if p.Bits() < 32 {
		v |= ^uint32(0) >> p.Bits()
	}
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// linkLocal derives the IPv6 link-local address ESXi gives every vmknic
// from its MAC (modified EUI-64, RFC 4291 appendix A): 88:e9:a4:6b:b8:54
// becomes fe80::8ae9:a4ff:fe6b:b854, as in the VERIFIED esxcfg-vmknic -l.
func linkLocal(mac []byte) (netip.Addr, bool) {
	if len(mac) != 6 {
		return netip.Addr{}, false
	}
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10] = mac[0]^0x02, mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a), true
}
