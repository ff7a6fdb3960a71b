package tcpdump

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// The lexer is libpcap's flex scanner (scanner.l of 1.5/1.8) done by hand:
// at each position every rule is tried, the longest match wins and a tie
// goes to the rule listed first in scanner.l. That ordering is what makes
// "host" a keyword but "hosts" a name, "10.0.0.1" an address rather than a
// name, "2049-2050" a name (for portrange) and "deadbeefcafe" a MAC.

type tokKind int

const (
	tEOF  tokKind = iota
	tKW           // a keyword; tok.text is its canonical name
	tOp           // an operator; tok.text is it ("(", "&&" is AND, ...)
	tID           // a name (or a \-escaped keyword)
	tNUM          // a number (or a named constant such as tcp-syn)
	tHID          // a dotted IPv4 address or prefix: 1 to 4 parts
	tHID6         // an IPv6 address
	tEID          // a MAC address
	tAID          // an ARCnet address ($xx)
	tERR          // what the scanner refused; tok.err says why
)

type token struct {
	kind tokKind
	text string // as typed, except keywords (canonical) and \-escaped IDs
	num  uint32 // tNUM's value
	mac  net.HardwareAddr
	err  error // tERR's
}

func (t token) is(kw string) bool { return t.kind == tKW && t.text == kw }
func (t token) op(o string) bool  { return t.kind == tOp && t.text == o }

// keywords maps scanner.l's keyword spellings to one canonical name.
var keywords = map[string]string{
	"dst": "dst", "src": "src",
	"link": "ether", "ether": "ether", "ppp": "ether", "slip": "ether", "fddi": "ether", "tr": "ether", "wlan": "ether",
	"arp": "arp", "rarp": "rarp", "ip": "ip", "sctp": "sctp", "tcp": "tcp", "udp": "udp", "icmp": "icmp",
	"igmp": "igmp", "igrp": "igrp", "pim": "pim", "vrrp": "vrrp", "carp": "carp", "radio": "radio",
	"ip6": "ip6", "icmp6": "icmp6", "ah": "ah", "esp": "esp",
	"atalk": "atalk", "aarp": "aarp", "decnet": "decnet", "lat": "lat", "sca": "sca", "moprc": "moprc", "mopdl": "mopdl",
	"iso": "iso", "esis": "esis", "es-is": "esis", "isis": "isis", "is-is": "isis",
	"l1": "l1", "l2": "l2", "iih": "iih", "lsp": "lsp", "snp": "snp", "csnp": "csnp", "psnp": "psnp",
	"clnp": "clnp", "stp": "stp", "ipx": "ipx", "netbeui": "netbeui",
	"host": "host", "net": "net", "mask": "mask", "port": "port", "portrange": "portrange",
	"proto": "proto", "protochain": "protochain", "gateway": "gateway",
	"type": "type", "subtype": "subtype", "direction": "dir", "dir": "dir",
	"address1": "addr1", "addr1": "addr1", "address2": "addr2", "addr2": "addr2",
	"address3": "addr3", "addr3": "addr3", "address4": "addr4", "addr4": "addr4", "ra": "ra", "ta": "ta",
	"less": "less", "greater": "greater", "byte": "byte", "broadcast": "broadcast", "multicast": "multicast",
	"and": "and", "or": "or", "not": "not",
	"len": "len", "length": "len", "inbound": "inbound", "outbound": "outbound",
	"vlan": "vlan", "mpls": "mpls", "pppoed": "pppoed", "pppoes": "pppoes", "geneve": "geneve",
	"lane": "lane", "llc": "llc", "metac": "metac", "bcc": "bcc", "oam": "oam", "oamf4": "oamf4",
	"oamf4ec": "oamf4ec", "oamf4sc": "oamf4sc", "sc": "sc", "ilmic": "ilmic", "vpi": "vpi", "vci": "vci",
	"connectmsg": "connectmsg", "metaconnect": "metaconnect",
	"on": "ifname", "ifname": "ifname", "rset": "ruleset", "ruleset": "ruleset", "rnr": "rnr", "rulenum": "rnr",
	"srnr": "srnr", "subrulenum": "srnr", "reason": "reason", "action": "action",
	"fisu": "fisu", "lssu": "lssu", "lsu": "lssu", "msu": "msu", "hfisu": "hfisu", "hlssu": "hlssu", "hmsu": "hmsu",
	"sio": "sio", "opc": "opc", "dpc": "dpc", "sls": "sls", "hsio": "hsio", "hopc": "hopc", "hdpc": "hdpc", "hsls": "hsls",
}

// namedNums are scanner.l's named constants, which lex as numbers.
var namedNums = map[string]uint32{
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5, "icmp-echo": 8,
	"icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
	"icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15, "icmp-ireqreply": 16,
	"icmp-maskreq": 17, "icmp-maskreply": 18,
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20,
}

// lexError is a scanner error: the filter is rejected with its message.
type lexError string

func (e lexError) Error() string { return string(e) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'f' }
func isAlnum(c byte) bool { return isDigit(c) || (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// lexAll splits a filter into tokens. A scanner error becomes a tERR
// token, the last: as flex is called by bison one token at a time, the
// error is reported only when the parser gets that far, after the
// semantic errors of what comes before it.
func lexAll(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		t, n, err := lexOne(s[i:])
		if err != nil {
			return append(out, token{kind: tERR, err: err})
		}
		out = append(out, t)
		i += n
	}
	return append(out, token{kind: tEOF})
}

// lexOne scans one token at the start of s and returns it and its length.
func lexOne(s string) (token, int, error) {
	// Two-character operators beat the one-character ones by length.
	if len(s) >= 2 {
		switch two := s[:2]; two {
		case "&&":
			return token{kind: tKW, text: "and"}, 2, nil
		case "||":
			return token{kind: tKW, text: "or"}, 2, nil
		case ">=", "<=", "!=", "==", "<<", ">>":
			return token{kind: tOp, text: two}, 2, nil
		}
	}
	// Candidates in scanner.l's order; the longest wins, the first on a tie.
	best, bestLen := -1, 0
	lens := [...]int{
		opLen(s),       // 0: one-character operators
		aidLen(s),      // 1: $xx
		macLen(s),      // 2: MAC
		numLen(s),      // 3: N
		hidLen(s),      // 4: N.N[.N[.N]]
		v6Len(s),       // 5: IPv6
		bogusMACLen(s), // 6: {B}:+({B}:+)+
		idLen(s),       // 7: ID (keywords and named numbers are IDs that tie and come first)
		escIDLen(s),    // 8: \ID
		illegalLen(s),  // 9: illegal token
	}
	for k, n := range lens {
		if n > bestLen {
			best, bestLen = k, n
		}
	}
	text := s[:bestLen]
	switch best {
	case 0:
		if text == "!" {
			return token{kind: tKW, text: "not"}, 1, nil
		}
		return token{kind: tOp, text: text}, 1, nil
	case 1:
		return token{kind: tAID, text: text}, bestLen, nil
	case 2:
		return token{kind: tEID, text: text, mac: parseMAC(text)}, bestLen, nil
	case 3:
		return token{kind: tNUM, text: text, num: stoi(text)}, bestLen, nil
	case 4:
		return token{kind: tHID, text: text}, bestLen, nil
	case 5:
		return token{kind: tHID6, text: text}, bestLen, nil
	case 6:
		return token{}, 0, lexError(fmt.Sprintf("bogus ethernet address %s", text))
	case 7:
		if kw, ok := keywords[text]; ok {
			return token{kind: tKW, text: kw}, bestLen, nil
		}
		if v, ok := namedNums[text]; ok {
			return token{kind: tNUM, text: text, num: v}, bestLen, nil
		}
		return token{kind: tID, text: text}, bestLen, nil
	case 8:
		return token{kind: tID, text: text[1:]}, bestLen, nil
	case 9:
		return token{}, 0, lexError(fmt.Sprintf("illegal token: %s", text))
	}
	return token{}, 0, lexError(fmt.Sprintf("illegal char '%c'", s[0]))
}

func opLen(s string) int {
	if strings.IndexByte("+-*/%:[]!<>()&|^=", s[0]) >= 0 {
		return 1
	}
	return 0
}

// hexRun counts hex digits at the start of s, at most max.
func hexRun(s string, max int) int {
	n := 0
	for n < len(s) && n < max && isHex(s[n]) {
		n++
	}
	return n
}

func aidLen(s string) int {
	if s[0] != '$' {
		return 0
	}
	if n := hexRun(s[1:], 2); n > 0 {
		return 1 + n
	}
	return 0
}

// macLen matches {B}:{B}:{B}:{B}:{B}:{B}, the same with - or ., {B2}.{B2}.{B2}
// and {B2}{B2}{B2} (B is one or two hex digits, B2 four).
func macLen(s string) int {
	best := 0
	for _, sep := range []byte{':', '-', '.'} {
		i := 0
		ok := true
		for k := 0; k < 6; k++ {
			if k > 0 {
				if i >= len(s) || s[i] != sep {
					ok = false
					break
				}
				i++
			}
			n := hexRun(s[i:], 2)
			if n == 0 {
				ok = false
				break
			}
			i += n
		}
		if ok && i > best {
			best = i
		}
	}
	// {B2}.{B2}.{B2}
	if hexRun(s, 4) == 4 && len(s) >= 14 && s[4] == '.' && hexRun(s[5:], 4) == 4 && s[9] == '.' && hexRun(s[10:], 4) == 4 {
		best = max(best, 14)
	}
	if hexRun(s, 12) == 12 {
		best = max(best, 12)
	}
	return best
}

func parseMAC(text string) net.HardwareAddr {
	var hex []string
	switch {
	case strings.ContainsAny(text, ":-") || strings.Count(text, ".") == 5:
		hex = strings.FieldsFunc(text, func(r rune) bool { return r == ':' || r == '-' || r == '.' })
	default: // xxxx.xxxx.xxxx or xxxxxxxxxxxx
		flat := strings.ReplaceAll(text, ".", "")
		for k := 0; k+2 <= len(flat); k += 2 {
			hex = append(hex, flat[k:k+2])
		}
	}
	mac := make(net.HardwareAddr, 0, 6)
	for _, h := range hex {
		var b byte
		for k := 0; k < len(h); k++ {
			b = b<<4 | xdtoi(h[k])
		}
		mac = append(mac, b)
	}
	return mac
}

func xdtoi(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// numLen matches N: [0-9]+ or 0x followed by hex digits.
func numLen(s string) int {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]) {
		return 2 + hexRun(s[2:], len(s))
	}
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// stoi is scanner.l's: a leading 0 means octal (digits are not checked,
// as in C), 0x hexadecimal; the value wraps as a 32-bit one.
func stoi(s string) uint32 {
	base := uint32(10)
	if s[0] == '0' {
		if len(s) > 1 && (s[1] == 'x' || s[1] == 'X') {
			s, base = s[2:], 16
		} else {
			s, base = s[1:], 8
		}
	}
	var n uint32
	for k := 0; k < len(s); k++ {
		n = n*base + uint32(xdtoi(s[k]))
	}
	return n
}

// hidLen matches N.N, N.N.N or N.N.N.N.
func hidLen(s string) int {
	i, parts, best := 0, 0, 0
	for parts < 4 {
		n := numLen(s[i:])
		if n == 0 {
			break
		}
		i += n
		parts++
		if parts >= 2 {
			best = i
		}
		if i >= len(s) || s[i] != '.' {
			break
		}
		i++
	}
	return best
}

// v6Len approximates scanner.l's IPv6 patterns: the longest run of hex
// digits, colons and dots with a colon in it that parses as an IPv6
// address.
func v6Len(s string) int {
	n := 0
	for n < len(s) && (isHex(s[n]) || s[n] == ':' || s[n] == '.') {
		n++
	}
	for ; n > 1; n-- {
		t := s[:n]
		if !strings.Contains(t, ":") {
			return 0
		}
		if a, err := netip.ParseAddr(t); err == nil && a.Is6() && a.Zone() == "" {
			return n
		}
	}
	return 0
}

// bogusMACLen matches {B}:+({B}:+)+, which libpcap rejects.
func bogusMACLen(s string) int {
	i, groups := 0, 0
	for {
		n := hexRun(s[i:], 2)
		if n == 0 {
			break
		}
		j := i + n
		colons := 0
		for j < len(s) && s[j] == ':' {
			j++
			colons++
		}
		if colons == 0 {
			break
		}
		i = j
		groups++
	}
	if groups >= 2 {
		return i
	}
	return 0
}

// idLen matches [A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?.
func idLen(s string) int {
	if !isAlnum(s[0]) {
		return 0
	}
	n := 1
	for n < len(s) && (isAlnum(s[n]) || s[n] == '-' || s[n] == '_' || s[n] == '.') {
		n++
	}
	for n > 1 && (s[n-1] == '-' || s[n-1] == '_') {
		n--
	}
	return n
}

// escIDLen matches "\\"[^ !()\n\t]+.
func escIDLen(s string) int {
	if s[0] != '\\' {
		return 0
	}
	n := 1
	for n < len(s) && strings.IndexByte(" !()\n\t", s[n]) < 0 {
		n++
	}
	if n == 1 {
		return 0
	}
	return n
}

// illegalLen matches [^ \[\]\t\n\-_.A-Za-z0-9!<>()&|=]+.
func illegalLen(s string) int {
	n := 0
	for n < len(s) && strings.IndexByte(" []\t\n-_.!<>()&|=", s[n]) < 0 && !isAlnum(s[n]) {
		n++
	}
	return n
}
