package tcpdump

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// A Filter is a compiled capture filter: pcap-filter(7)'s language as
// libpcap parses it, evaluated against a frame's bytes at the offsets a
// BPF program would read.
//
// The grammar is libpcap's (grammar.y), parsed by recursive descent:
//
//	expr  := term { ("and" | "&&" | "or" | "||") (term | id) }
//	term  := ("not" | "!") term | rterm
//	rterm := head id | "(" expr ")" | pname | arith relop arth | other
//	head  := [pname] [dir] [host|net|port|portrange] | [pname] proto | ...
//	id    := name | number | address | ("not"|"!") id | "(" id {and|or id} ")"
//
// As in pcap-filter(7), "not" binds tightest and "and" and "or" have the
// same precedence, associating left to right: "a or b and c" is
// "(a or b) and c". An id after "and"/"or" inherits the qualifiers of
// the term before it: "host a or b" is "host a or host b", "port 2049 and
// not 22" is "port 2049 and not port 22".
type Filter struct {
	root node // nil: every packet matches
}

// FilterOptions are what the compiler needs to know about the capture.
type FilterOptions struct {
	// LinkType is the capture's link-layer type (LinkEthernet by default).
	LinkType int
	// Netmask is the capture interface's netmask, for "ip broadcast";
	// zero when unknown.
	Netmask uint32
	// LookupHost resolves a host name (the node's /etc/hosts; there is no
	// DNS). Nil resolves nothing but numeric addresses.
	LookupHost func(name string) []netip.Addr
	// Dialect picks the libpcap whose messages and abilities to copy.
	Dialect Dialect
	// Offline is set when the filter applies to a file (-r): packet
	// direction is not known then.
	Offline bool
}

// Dialect is what differs between the libpcap builds the emulated
// tcpdumps link: ESXi's tcpdump-uw (libpcap 1.8.1) and CentOS 7's tcpdump
// (libpcap 1.5.3).
type Dialect struct {
	// BareSyntaxError makes a parse error read "syntax error" (libpcap
	// ≤ 1.7) rather than "syntax error in filter expression: syntax
	// error" (1.8).
	BareSyntaxError bool
	// Linux is a PF_PACKET capture: "inbound"/"outbound" work on a live
	// Ethernet capture. ESXi's userworld libpcap has no such metadata.
	Linux bool
}

// FilterError is a filter libpcap rejects; tcpdump prints its message
// after its name and exits 1.
type FilterError struct{ Msg string }

func (e *FilterError) Error() string { return e.Msg }

// Compile parses a filter expression. An empty (or blank) expression
// matches every packet.
func Compile(expr string, o FilterOptions) (*Filter, error) {
	if o.LinkType == 0 {
		o.LinkType = LinkEthernet
	}
	p := &parser{toks: lexAll(expr), o: o}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	return &Filter{root: root}, nil
}

// String renders the filter with every qualifier spelt out and only the
// parentheses it needs; it compiles to the same filter.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.write(&b)
	return b.String()
}

// Match reports whether the filter accepts a frame. data is the frame of
// the given link type, wire its original length, out its direction.
func (f *Filter) Match(data []byte, wire, linkType int, out bool) bool {
	return f.match(&pkt{data: data, wire: wire, link: linkType, out: out, live: true})
}

func (f *Filter) match(p *pkt) bool {
	if f == nil || f.root == nil {
		return true
	}
	ok := f.root.eval(p)
	return ok && !p.oob
}

// node is one node of the filter's tree.
type node interface {
	eval(p *pkt) bool
	write(b *strings.Builder)
}

type binNode struct {
	and  bool
	l, r node
}

func (n *binNode) eval(p *pkt) bool {
	if n.and {
		return n.l.eval(p) && !p.oob && n.r.eval(p)
	}
	return (n.l.eval(p) && !p.oob) || (!p.oob && n.r.eval(p))
}

func (n *binNode) op() string {
	if n.and {
		return "and"
	}
	return "or"
}

func (n *binNode) write(b *strings.Builder) {
	// Left-associative, one precedence: a left operand of the same
	// operator needs no parentheses; anything else binary gets them so
	// that a human reads what the parser reads.
	if l, ok := n.l.(*binNode); ok && l.and != n.and {
		b.WriteByte('(')
		l.write(b)
		b.WriteByte(')')
	} else {
		n.l.write(b)
	}
	b.WriteString(" " + n.op() + " ")
	if r, ok := n.r.(*binNode); ok {
		b.WriteByte('(')
		r.write(b)
		b.WriteByte(')')
	} else {
		n.r.write(b)
	}
}

type notNode struct{ x node }

func (n *notNode) eval(p *pkt) bool { return !n.x.eval(p) }

func (n *notNode) write(b *strings.Builder) {
	b.WriteString("not ")
	if x, ok := n.x.(*binNode); ok {
		b.WriteByte('(')
		x.write(b)
		b.WriteByte(')')
		return
	}
	n.x.write(b)
}

// primNode is a primitive: its canonical text and its test.
type primNode struct {
	text string
	pred func(p *pkt) bool
}

func (n *primNode) eval(p *pkt) bool         { return n.pred(p) }
func (n *primNode) write(b *strings.Builder) { b.WriteString(n.text) }

// qual is a primitive's qualifiers: protocol, direction, address type.
// undef is libpcap's qerr, the qualifiers after a term that has none to
// pass on ("tcp or 10.0.0.1" is a syntax error).
type qual struct {
	proto string // "" or a protocol keyword ("ether", "ip", "tcp", ...)
	dir   string // "", "src", "dst", "src or dst", "src and dst", "addr1"...
	addr  string // "", "host", "net", "port", "portrange", "proto", "protochain", "gateway"
	undef bool
}

var qerr = qual{undef: true}

// prefix renders the qualifiers before a value ("tcp src port ").
func (q qual) prefix(addr string) string {
	var parts []string
	for _, s := range []string{q.proto, q.dir, addr} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " ") + " "
}

// parser is a recursive-descent parser of libpcap's grammar; each parse
// function gets the qualifiers an id in its place would inherit (bison's
// $<blk>0) and returns its own.
type parser struct {
	toks []token
	pos  int
	o    FilterOptions
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) peekAt(k int) token {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return token{kind: tEOF}
}
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF && t.kind != tERR {
		p.pos++
	}
	return t
}

func (p *parser) syntaxError() error {
	if t := p.peek(); t.kind == tERR {
		return &FilterError{t.err.Error()}
	}
	if p.o.Dialect.BareSyntaxError {
		return &FilterError{"syntax error"}
	}
	return &FilterError{"syntax error in filter expression: syntax error"}
}

// semanticSyntax is libpcap's syntax(): qualifiers that make no sense.
func semanticSyntax() error { return &FilterError{"syntax error in filter expression"} }

func errorf(format string, args ...any) error { return &FilterError{fmt.Sprintf(format, args...)} }

func (p *parser) expectOp(o string) error {
	if !p.peek().op(o) {
		return p.syntaxError()
	}
	p.next()
	return nil
}

func (p *parser) parse() (node, error) {
	if p.peek().kind == tEOF {
		return nil, nil
	}
	n, _, err := p.parseExpr(qerr)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, p.syntaxError()
	}
	return n, nil
}

func isAndOr(t token) bool { return t.is("and") || t.is("or") }

func (p *parser) parseExpr(inh qual) (node, qual, error) {
	n, q, err := p.parseTerm(inh)
	if err != nil {
		return nil, q, err
	}
	for isAndOr(p.peek()) {
		and := p.next().is("and")
		var r node
		if p.idAhead(0) {
			r, q, err = p.parseID(q)
		} else {
			r, q, err = p.parseTerm(q)
		}
		if err != nil {
			return nil, q, err
		}
		n = &binNode{and: and, l: n, r: r}
	}
	return n, q, nil
}

// idAhead decides, after "and"/"or", between an id (inheriting the
// qualifiers) and a new term, as bison's tables do: by the tokens ahead.
func (p *parser) idAhead(k int) bool {
	for p.peekAt(k).is("not") {
		k++
	}
	t := p.peekAt(k)
	if t.kind == tERR {
		return false
	}
	switch t.kind {
	case tID, tHID, tHID6, tEID, tAID:
		return true
	case tNUM:
		return !isArithOp(p.peekAt(k + 1))
	case tOp:
		if t.text != "(" {
			return false
		}
		in := k + 1
		for p.peekAt(in).is("not") {
			in++
		}
		switch u := p.peekAt(in); u.kind {
		case tID, tHID, tHID6, tEID, tAID:
			return true
		case tNUM:
			after := p.peekAt(in + 1)
			if after.op(")") {
				// "(22)": a number in parentheses, unless arithmetic
				// follows: "(22) > 1".
				return !isArithOp(p.peekAt(in + 2))
			}
			return isAndOr(after)
		}
	}
	return false
}

// isArithOp reports a token that continues an arithmetic expression or
// starts a relation.
func isArithOp(t token) bool {
	if t.kind != tOp {
		return false
	}
	switch t.text {
	case "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", ">", ">=", "=", "==", "<", "<=", "!=":
		return true
	}
	return false
}

func (p *parser) parseTerm(inh qual) (node, qual, error) {
	if p.peek().is("not") {
		p.next()
		n, q, err := p.parseTerm(inh)
		if err != nil {
			return nil, q, err
		}
		return &notNode{n}, q, nil
	}
	return p.parseRTerm(inh)
}

// pnames are the protocol keywords that may qualify a primitive.
var pnames = map[string]bool{
	"ether": true, "ip": true, "arp": true, "rarp": true, "sctp": true, "tcp": true, "udp": true, "icmp": true,
	"igmp": true, "igrp": true, "pim": true, "vrrp": true, "carp": true, "atalk": true, "aarp": true,
	"decnet": true, "lat": true, "sca": true, "moprc": true, "mopdl": true, "ip6": true, "icmp6": true,
	"ah": true, "esp": true, "iso": true, "esis": true, "isis": true, "l1": true, "l2": true, "iih": true,
	"lsp": true, "snp": true, "psnp": true, "csnp": true, "clnp": true, "stp": true, "ipx": true,
	"netbeui": true, "radio": true,
}

func isPname(t token) bool { return t.kind == tKW && pnames[t.text] }

func isDqualStart(t token) bool {
	if t.kind != tKW {
		return false
	}
	switch t.text {
	case "src", "dst", "addr1", "addr2", "addr3", "addr4", "ra", "ta":
		return true
	}
	return false
}

func isAqual(t token) bool {
	return t.is("host") || t.is("net") || t.is("port") || t.is("portrange")
}

func (p *parser) parseRTerm(inh qual) (node, qual, error) {
	t := p.peek()
	switch {
	case t.op("("):
		if p.parenIsArith() {
			n, err := p.parseRelation()
			return n, qerr, err
		}
		p.next()
		n, _, err := p.parseExpr(inh)
		if err != nil {
			return nil, inh, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, inh, err
		}
		return n, inh, nil
	case t.kind == tNUM, t.op("-"), t.is("len"):
		n, err := p.parseRelation()
		return n, qerr, err
	case isPname(t):
		u := p.peekAt(1)
		switch {
		case u.op("["):
			n, err := p.parseRelation()
			return n, qerr, err
		case isDqualStart(u), isAqual(u), u.is("proto"), u.is("protochain"), u.is("gateway"):
			return p.parseHeadID()
		case u.is("broadcast"), u.is("multicast"):
			p.next()
			n, err := p.parseOther(t.text)
			return n, qerr, err
		case u.is("type"), u.is("subtype"), u.is("dir"):
			return nil, qerr, errorf("802.11 link-layer types supported only on 802.11")
		}
		p.next()
		n, err := p.protoAbbrev(t.text)
		return n, qerr, err
	case isDqualStart(t), isAqual(t), t.is("proto"), t.is("protochain"), t.is("gateway"):
		return p.parseHeadID()
	case t.kind == tKW:
		n, err := p.parseOther("")
		return n, qerr, err
	}
	return nil, qerr, p.syntaxError()
}

// parenIsArith looks past the parenthesis at the cursor: an arithmetic
// operator or a relation after its match means arithmetic.
func (p *parser) parenIsArith() bool {
	depth := 0
	for k := 0; ; k++ {
		t := p.peekAt(k)
		switch {
		case t.kind == tEOF, t.kind == tERR:
			return false
		case t.op("("), t.op("["):
			depth++
		case t.op(")"), t.op("]"):
			depth--
			if depth == 0 {
				return isArithOp(p.peekAt(k + 1))
			}
		}
	}
}

// parseHeadID parses "[pname] [dir] [aqual] id" and friends.
func (p *parser) parseHeadID() (node, qual, error) {
	var q qual
	if isPname(p.peek()) {
		q.proto = p.next().text
	}
	switch t := p.peek(); {
	case t.is("proto"), t.is("protochain"), t.is("gateway"):
		p.next()
		q.addr = t.text
	default:
		if isDqualStart(t) {
			p.next()
			q.dir = t.text
			if (t.is("src") || t.is("dst")) && isAndOr(p.peek()) {
				conj := p.next().text
				other := "dst"
				if t.is("dst") {
					other = "src"
				}
				if !p.peek().is(other) {
					return nil, q, p.syntaxError()
				}
				p.next()
				q.dir = "src " + conj + " dst"
			}
		}
		if isAqual(p.peek()) {
			q.addr = p.next().text
		}
	}
	return p.parseID(q)
}

// parseID parses an id with the qualifiers q.
func (p *parser) parseID(q qual) (node, qual, error) {
	t := p.peek()
	switch {
	case t.is("not"):
		p.next()
		n, q2, err := p.parseID(q)
		if err != nil {
			return nil, q2, err
		}
		return &notNode{n}, q2, nil
	case t.op("("):
		p.next()
		n, err := p.parsePid(q)
		if err != nil {
			return nil, q, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, q, err
		}
		return n, q, nil
	case t.kind == tNUM:
		p.next()
		n, err := p.ncode(t.text, t.num, false, q)
		return n, q, err
	}
	n, err := p.nid(q)
	return n, q, err
}

// parsePid parses the inside of "host (a or b)": a list of ids whose
// first may be a number in parentheses.
func (p *parser) parsePid(q qual) (node, error) {
	var n node
	var err error
	switch t := p.peek(); {
	case t.kind == tNUM:
		p.next()
		n, err = p.ncode(t.text, t.num, false, q)
	case t.op("("):
		// Only a number may be parenthesised here: (pnum).
		p.next()
		n, err = p.parsePnumParen(q)
	default:
		n, err = p.nid(q)
	}
	if err != nil {
		return nil, err
	}
	for isAndOr(p.peek()) {
		and := p.next().is("and")
		r, _, err := p.parseID(q)
		if err != nil {
			return nil, err
		}
		n = &binNode{and: and, l: n, r: r}
	}
	return n, nil
}

// parsePnumParen parses "NUM )" or "( ... ) )" after an opening
// parenthesis.
func (p *parser) parsePnumParen(q qual) (node, error) {
	var n node
	var err error
	switch t := p.peek(); {
	case t.kind == tNUM:
		p.next()
		n, err = p.ncode(t.text, t.num, false, q)
	case t.op("("):
		p.next()
		n, err = p.parsePnumParen(q)
	default:
		return nil, p.syntaxError()
	}
	if err != nil {
		return nil, err
	}
	return n, p.expectOp(")")
}

// nid parses a name, an address, a MAC or "not id".
func (p *parser) nid(q qual) (node, error) {
	t := p.peek()
	switch t.kind {
	case tKW:
		if t.is("not") {
			n, _, err := p.parseID(q)
			return n, err
		}
	case tID:
		p.next()
		return p.scode(t.text, q)
	case tHID:
		p.next()
		switch u := p.peek(); {
		case u.op("/"):
			p.next()
			if p.peek().kind != tNUM {
				return nil, p.syntaxError()
			}
			return p.mcode(t.text, "", p.next().num, q)
		case u.is("mask"):
			p.next()
			if p.peek().kind != tHID {
				return nil, p.syntaxError()
			}
			return p.mcode(t.text, p.next().text, 0, q)
		}
		switch q.addr {
		case "port", "portrange", "proto", "protochain":
			return nil, errorf("'%s' modifier applied to ip host", q.addr)
		}
		return p.ncode(t.text, 0, true, q)
	case tHID6:
		p.next()
		if p.peek().op("/") {
			p.next()
			if p.peek().kind != tNUM {
				return nil, p.syntaxError()
			}
			return p.mcode6(t.text, p.next().num, q)
		}
		return p.mcode6(t.text, 128, q)
	case tEID:
		p.next()
		return p.ecode(t, q)
	case tAID:
		p.next()
		return nil, errorf("aid supported only on ARCnet")
	}
	return nil, p.syntaxError()
}

// parseOther parses the keyword primitives: less, greater, byte,
// broadcast, multicast, inbound, outbound, vlan... proto is the protocol
// qualifier before broadcast/multicast.
func (p *parser) parseOther(proto string) (node, error) {
	t := p.next()
	num := func() (uint32, bool) {
		if p.peek().kind == tNUM {
			return p.next().num, true
		}
		return 0, false
	}
	// An optional number, possibly in parentheses (pnum).
	optNum := func() (uint32, bool, error) {
		if p.peek().kind == tNUM {
			return p.next().num, true, nil
		}
		if p.peek().op("(") && p.peekAt(1).kind == tNUM && p.peekAt(2).op(")") {
			p.next()
			v := p.next().num
			p.next()
			return v, true, nil
		}
		return 0, false, nil
	}
	switch t.text {
	case "less", "greater":
		n, ok := num()
		if !ok {
			return nil, p.syntaxError()
		}
		if t.text == "less" {
			return &primNode{fmt.Sprintf("less %d", n), func(k *pkt) bool { return uint32(k.wire) <= n }}, nil
		}
		return &primNode{fmt.Sprintf("greater %d", n), func(k *pkt) bool { return uint32(k.wire) >= n }}, nil
	case "byte":
		return p.parseByteOp()
	case "broadcast":
		return p.broadcast(proto)
	case "multicast":
		return p.multicast(proto)
	case "inbound", "outbound":
		return p.inbound(t.text == "outbound")
	case "vlan", "mpls", "pppoes", "geneve":
		v, ok, err := optNum()
		if err != nil {
			return nil, err
		}
		return encap(t.text, v, ok), nil
	case "pppoed":
		return &primNode{"pppoed", func(k *pkt) bool { return k.isEther(0x8863) }}, nil
	case "llc":
		if p.peek().kind == tID || p.peek().is("rnr") {
			return nil, errorf("'llc %s' is not supported by this emulator", p.next().text)
		}
		return &primNode{"llc", func(k *pkt) bool { return k.link == LinkEthernet && k.ethertype() <= 1500 }}, nil
	case "ifname", "ruleset", "rnr", "srnr", "reason", "action":
		return nil, errorf("%s supported only on PF linktype", pfName(t.text))
	case "lane", "metac", "bcc", "oamf4ec", "oamf4sc", "sc", "ilmic", "oam", "oamf4", "connectmsg", "metaconnect", "vpi", "vci":
		return nil, errorf("'%s' supported only on raw ATM", t.text)
	case "fisu", "lssu", "msu":
		return nil, errorf("'%s' supported only on MTP2", t.text)
	case "hfisu", "hlssu", "hmsu":
		return nil, errorf("'%s' supported only on MTP2_HSL", t.text)
	case "sio", "opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls":
		return nil, errorf("'%s' supported only on SS7", strings.TrimPrefix(t.text, "h"))
	case "type", "subtype", "dir":
		return nil, errorf("802.11 link-layer types supported only on 802.11")
	}
	return nil, p.syntaxError()
}

func pfName(kw string) string {
	if kw == "ruleset" {
		return "ruleset"
	}
	return kw
}

// encap is vlan, mpls, pppoes or geneve, with an optional id. libpcap
// also moves the offsets of the primitives after it inside the
// encapsulation; the fabric sends no encapsulated frames, so that is not
// modelled.
func encap(kw string, v uint32, withID bool) node {
	text := kw
	if withID {
		text = fmt.Sprintf("%s %d", kw, v)
	}
	var pred func(k *pkt) bool
	switch kw {
	case "vlan":
		pred = func(k *pkt) bool {
			return k.isEther(etherVLAN) && (!withID || k.load(k.linkLen(), 2)&0x0fff == v)
		}
	case "mpls":
		pred = func(k *pkt) bool { return k.isEther(0x8847) && (!withID || k.load(k.nl(), 4)>>12 == v) }
	case "pppoes":
		pred = func(k *pkt) bool { return k.isEther(0x8864) && (!withID || k.load(k.nl()+2, 2) == v) }
	default: // geneve
		pred = func(k *pkt) bool {
			return k.ipProto(protoUDP) && k.firstFrag() && k.load(k.tl()+2, 2) == 6081 &&
				(!withID || k.load(k.tl()+8+4, 4)>>8 == v)
		}
	}
	return &primNode{text, pred}
}

func (p *parser) parseByteOp() (node, error) {
	if p.peek().kind != tNUM {
		return nil, p.syntaxError()
	}
	idx := p.next().num
	op := p.next()
	if op.kind != tOp || !strings.Contains("&|<>=", op.text) || len(op.text) != 1 {
		return nil, p.syntaxError()
	}
	if p.peek().kind != tNUM {
		return nil, p.syntaxError()
	}
	val := p.next().num
	text := fmt.Sprintf("byte %d %s %d", idx, op.text, val)
	return &primNode{text, func(k *pkt) bool {
		b := k.load(int(idx), 1)
		switch op.text {
		case "&":
			return b&val != 0
		case "|":
			return b|val != 0
		case "<":
			return b < val
		case ">":
			return b > val
		}
		return b == val
	}}, nil
}

func (p *parser) broadcast(proto string) (node, error) {
	switch proto {
	case "", "ether":
		if p.o.LinkType != LinkEthernet {
			return nil, errorf("not a broadcast link")
		}
		all := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		return &primNode{qual{proto: proto}.prefix("") + "broadcast", func(k *pkt) bool { return macAt(k, 0, all) }}, nil
	case "ip":
		if p.o.Netmask == 0 {
			return nil, errorf("netmask not known, so 'ip broadcast' not supported")
		}
		host := ^p.o.Netmask
		return &primNode{"ip broadcast", func(k *pkt) bool {
			if !k.isEther(etherIPv4) {
				return false
			}
			d := k.load(k.nl()+16, 4) & host
			return d == 0 || d == host
		}}, nil
	}
	return nil, errorf("only link-layer/IP broadcast filters supported")
}

func (p *parser) multicast(proto string) (node, error) {
	switch proto {
	case "", "ether":
		if p.o.LinkType != LinkEthernet {
			return nil, errorf("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel")
		}
		return &primNode{qual{proto: proto}.prefix("") + "multicast", func(k *pkt) bool { return k.load(0, 1)&1 != 0 }}, nil
	case "ip":
		return &primNode{"ip multicast", func(k *pkt) bool {
			return k.isEther(etherIPv4) && k.load(k.nl()+16, 1) >= 224
		}}, nil
	case "ip6":
		return &primNode{"ip6 multicast", func(k *pkt) bool {
			return k.isEther(etherIPv6) && k.load(k.nl()+24, 1) == 0xff
		}}, nil
	}
	return nil, errorf("only link-layer/IP multicast filters supported")
}

func (p *parser) inbound(out bool) (node, error) {
	text := "inbound"
	if out {
		text = "outbound"
	}
	if p.o.LinkType == LinkLinuxSLL {
		return &primNode{text, func(k *pkt) bool { return (k.load(0, 2) == sllOutgoing) == out }}, nil
	}
	if !p.o.Dialect.Linux {
		return nil, errorf("inbound/outbound not supported on linktype %d", p.o.LinkType)
	}
	if p.o.Offline {
		return nil, errorf("inbound/outbound not supported on linktype %d when reading savefiles", p.o.LinkType)
	}
	return &primNode{text, func(k *pkt) bool { return k.out == out }}, nil
}

// protoAbbrev is a protocol keyword alone: "tcp", "arp", "ip6".
func (p *parser) protoAbbrev(name string) (node, error) {
	pred, err := abbrevPred(name)
	if err != nil {
		return nil, err
	}
	return &primNode{name, pred}, nil
}

// llcSAPs are the LLC service access points of the OSI-ish keywords.
var llcSAPs = map[string]uint32{"iso": 0xfe, "stp": 0x42, "ipx": 0xe0, "netbeui": 0xf0}

// isoNLPIDs are the OSI network-layer protocol ids, and IS-IS PDU types.
var isoNLPIDs = map[string]uint32{"esis": 0x82, "isis": 0x83, "clnp": 0x81}

var isisPDUs = map[string][]uint32{
	"l1": {15, 17, 18, 24, 26}, "l2": {16, 17, 20, 25, 27}, "iih": {15, 16, 17},
	"lsp": {18, 20}, "snp": {24, 25, 26, 27}, "csnp": {24, 25}, "psnp": {26, 27},
}

func abbrevPred(name string) (func(*pkt) bool, error) {
	either := func(proto uint32) func(*pkt) bool {
		return func(k *pkt) bool { return k.ipProto(proto) || k.ip6Proto(proto) }
	}
	v4 := func(proto uint32) func(*pkt) bool { return func(k *pkt) bool { return k.ipProto(proto) } }
	ether := func(t uint32) func(*pkt) bool { return func(k *pkt) bool { return k.isEther(t) } }
	switch name {
	case "tcp":
		return either(protoTCP), nil
	case "udp":
		return either(protoUDP), nil
	case "sctp":
		return either(protoSCTP), nil
	case "pim":
		return either(protoPIM), nil
	case "ah":
		return either(protoAH), nil
	case "esp":
		return either(protoESP), nil
	case "icmp":
		return v4(protoICMP), nil
	case "igmp":
		return v4(protoIGMP), nil
	case "igrp":
		return v4(protoIGRP), nil
	case "vrrp", "carp":
		return v4(protoVRRP), nil
	case "icmp6":
		return func(k *pkt) bool { return k.ip6Proto(protoICMPv6) }, nil
	case "ip":
		return ether(etherIPv4), nil
	case "ip6":
		return ether(etherIPv6), nil
	case "arp":
		return ether(etherARP), nil
	case "rarp":
		return ether(etherRARP), nil
	case "atalk":
		return ether(0x809b), nil
	case "aarp":
		return ether(0x80f3), nil
	case "decnet":
		return ether(0x6003), nil
	case "sca":
		return ether(0x6007), nil
	case "lat":
		return ether(0x6004), nil
	case "mopdl":
		return ether(0x6001), nil
	case "moprc":
		return ether(0x6002), nil
	case "ether":
		return nil, errorf("link layer applied in wrong context")
	case "radio":
		return nil, errorf("'radio' is not a valid protocol type")
	}
	if sap, ok := llcSAPs[name]; ok {
		return func(k *pkt) bool {
			if name == "ipx" && k.isEther(0x8137) {
				return true
			}
			return k.link == LinkEthernet && k.ethertype() <= 1500 && k.load(14, 1) == sap
		}, nil
	}
	iso := func(k *pkt) bool { return k.link == LinkEthernet && k.ethertype() <= 1500 && k.load(14, 1) == 0xfe }
	if id, ok := isoNLPIDs[name]; ok {
		return func(k *pkt) bool { return iso(k) && k.load(17, 1) == id }, nil
	}
	if types, ok := isisPDUs[name]; ok {
		return func(k *pkt) bool {
			if !iso(k) || k.load(17, 1) != 0x83 {
				return false
			}
			t := k.load(21, 1) & 0x1f
			for _, x := range types {
				if t == x {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, errorf("unknown protocol %s", name)
}

// Host, net, port and protocol primitives: libpcap's gen_scode (a name),
// gen_ncode (a number or a dotted address), gen_mcode (net/len, net
// mask M) and gen_ecode (a MAC).

// hostWord names the address type in messages ("'tcp' modifier applied
// to host").
func hostWord(q qual) string {
	if q.addr == "net" {
		return "net"
	}
	return "host"
}

func (p *parser) scode(name string, q qual) (node, error) {
	if q.undef {
		return nil, semanticSyntax()
	}
	text := q.prefix(q.addr) + escapeID(name)
	switch q.addr {
	case "net":
		a, ok := netByName(name)
		if !ok {
			return nil, errorf("unknown network '%s'", name)
		}
		mask := uint32(0xffffffff)
		for a != 0 && a&0xff000000 == 0 {
			a <<= 8
			mask <<= 8
		}
		pred, err := p.hostPred(a, mask, q)
		return prim(text, pred, err)
	case "", "host":
		if q.proto == "ether" {
			if p.o.LinkType != LinkEthernet {
				return nil, errorf("only ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel supports link-level host name")
			}
			return nil, errorf("unknown ether host '%s'", name)
		}
		addrs := p.lookup(name)
		if len(addrs) == 0 {
			return nil, errorf("unknown host '%s'", name)
		}
		var preds []func(*pkt) bool
		for _, a := range addrs {
			var pred func(*pkt) bool
			var err error
			if a.Is4() {
				if q.proto == "ip6" {
					continue
				}
				pred, err = p.hostPred(addr4(a), 0xffffffff, q)
			} else {
				if q.proto == "ip" || q.proto == "arp" || q.proto == "rarp" {
					continue
				}
				pred, err = host6Pred(a, 128, q)
			}
			if err != nil {
				return nil, err
			}
			preds = append(preds, pred)
		}
		if len(preds) == 0 {
			return nil, errorf("unknown host '%s' for specified address family", name)
		}
		return prim(text, anyOf(preds), nil)
	case "port":
		if !portProto(q.proto) {
			return nil, errorf("illegal qualifier of 'port'")
		}
		port, proto, ok := serviceByName(name)
		if !ok {
			return nil, errorf("unknown port '%s'", name)
		}
		proto, err := narrowPortProto(q.proto, proto, "port '%s' is %s", name)
		if err != nil {
			return nil, err
		}
		return prim(text, portPred(port, port, proto, q.dir), nil)
	case "portrange":
		if !portProto(q.proto) {
			return nil, errorf("illegal qualifier of 'portrange'")
		}
		lo, hi, proto, ok := portRangeByName(name)
		if !ok {
			return nil, errorf("unknown port in range '%s'", name)
		}
		proto, err := narrowPortProto(q.proto, proto, "port in range '%s' is %s", name)
		if err != nil {
			return nil, err
		}
		for _, x := range []int{lo, hi} {
			if x < 0 {
				return nil, errorf("illegal port number %d < 0", x)
			}
			if x > 65535 {
				return nil, errorf("illegal port number %d > 65535", x)
			}
		}
		return prim(text, portPred(lo, hi, proto, q.dir), nil)
	case "gateway":
		return nil, errorf("'gateway' not supported in this configuration")
	case "proto", "protochain":
		v, err := lookupProto(name, q.proto)
		if err != nil {
			return nil, err
		}
		pred, err := protoPred(v, q)
		return prim(text, pred, err)
	}
	return nil, semanticSyntax()
}

func prim(text string, pred func(*pkt) bool, err error) (node, error) {
	if err != nil {
		return nil, err
	}
	return &primNode{text, pred}, nil
}

// escapeID writes a name so that it lexes back as the same name: a name
// that would lex as a keyword, number or address gets libpcap's
// backslash.
func escapeID(name string) string {
	if t, n, err := lexOne(name); err == nil && n == len(name) && t.kind == tID && t.text == name {
		return name
	}
	return `\` + name
}

func (p *parser) lookup(name string) []netip.Addr {
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a.Unmap()}
	}
	if p.o.LookupHost == nil {
		return nil
	}
	return p.o.LookupHost(name)
}

func addr4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func anyOf(preds []func(*pkt) bool) func(*pkt) bool {
	if len(preds) == 1 {
		return preds[0]
	}
	return func(k *pkt) bool {
		for _, f := range preds {
			if f(k) {
				return true
			}
		}
		return false
	}
}

// ncode is gen_ncode: a number (s == "", v) or a dotted address (hid).
func (p *parser) ncode(text string, v uint32, hid bool, q qual) (node, error) {
	if q.undef {
		return nil, semanticSyntax()
	}
	shown := fmt.Sprint(v)
	if hid {
		shown = text
	}
	out := q.prefix(q.addr) + shown
	switch q.addr {
	case "", "host", "net":
		if q.proto == "ether" {
			return nil, errorf("illegal link layer address")
		}
		mask := uint32(0xffffffff)
		if hid {
			var n int
			v, n = atoin(text)
			v <<= 32 - n
			mask <<= 32 - n
		} else if q.addr == "net" {
			for v != 0 && v&0xff000000 == 0 {
				v <<= 8
				mask <<= 8
			}
		}
		pred, err := p.hostPred(v, mask, q)
		return prim(out, pred, err)
	case "port", "portrange":
		if !portProto(q.proto) {
			return nil, errorf("illegal qualifier of '%s'", q.addr)
		}
		if v > 65535 {
			return nil, errorf("illegal port number %d > 65535", v)
		}
		proto, _ := narrowPortProto(q.proto, 0, "", "")
		return prim(out, portPred(int(v), int(v), proto, q.dir), nil)
	case "gateway":
		return nil, errorf("'gateway' requires a name")
	case "proto", "protochain":
		pred, err := protoPred(v, q)
		return prim(out, pred, err)
	}
	return nil, semanticSyntax()
}

// atoin is __pcap_atoin: a dotted address of one to four parts, and its
// length in bits.
func atoin(s string) (uint32, int) {
	var addr uint32
	n := 0
	for _, part := range strings.Split(s, ".") {
		addr = addr<<8 | (stoi(part) & 0xff)
		n += 8
	}
	return addr, n
}

// mcode is gen_mcode: "net A/len" or "net A mask M".
func (p *parser) mcode(s1, s2 string, masklen uint32, q qual) (node, error) {
	n, nlen := atoin(s1)
	n <<= 32 - nlen
	var m uint32
	var text string
	if s2 != "" {
		var mlen int
		m, mlen = atoin(s2)
		m <<= 32 - mlen
		if n&^m != 0 {
			return nil, errorf("non-network bits set in \"%s mask %s\"", s1, s2)
		}
		text = fmt.Sprintf("%s mask %s", s1, s2)
	} else {
		if masklen > 32 {
			return nil, errorf("mask length must be <= 32")
		}
		if masklen > 0 {
			m = 0xffffffff << (32 - masklen)
		}
		if n&^m != 0 {
			return nil, errorf("non-network bits set in \"%s/%d\"", s1, masklen)
		}
		text = fmt.Sprintf("%s/%d", s1, masklen)
	}
	if q.undef {
		return nil, errorf("Mask syntax for networks only")
	}
	if q.addr != "net" {
		return nil, errorf("Mask syntax for networks only")
	}
	pred, err := p.hostPred(n, m, q)
	return prim(q.prefix(q.addr)+text, pred, err)
}

// hostPred is gen_host: an IPv4 address under a mask, for the protocol
// and direction of q.
func (p *parser) hostPred(addr, mask uint32, q qual) (func(*pkt) bool, error) {
	if err := checkDir(q.dir); err != nil {
		return nil, err
	}
	op := func(ether uint32, src, dst int) func(*pkt) bool {
		at := func(k *pkt, off int) bool {
			return k.isEther(ether) && k.load(k.nl()+off, 4)&mask == addr&mask
		}
		return dirPred(q.dir, func(k *pkt) bool { return at(k, src) }, func(k *pkt) bool { return at(k, dst) })
	}
	word := hostWord(q)
	switch q.proto {
	case "":
		ip, arp, rarp := op(etherIPv4, 12, 16), op(etherARP, 14, 24), op(etherRARP, 14, 24)
		return func(k *pkt) bool { return ip(k) || arp(k) || rarp(k) }, nil
	case "ip":
		return op(etherIPv4, 12, 16), nil
	case "arp":
		return op(etherARP, 14, 24), nil
	case "rarp":
		return op(etherRARP, 14, 24), nil
	case "ip6":
		return nil, errorf("'ip6' modifier applied to ip host")
	case "atalk", "aarp", "sca", "lat", "mopdl", "moprc", "iso", "ipx":
		return nil, errorf("%s host filtering not implemented", strings.ToUpper(q.proto))
	case "decnet":
		return nil, errorf("'decnet' host filtering is not supported by this emulator")
	}
	return nil, errorf("'%s' modifier applied to %s", q.proto, word)
}

// checkDir rejects the 802.11 address qualifiers.
func checkDir(dir string) error {
	switch dir {
	case "addr1", "addr2", "addr3", "addr4", "ra", "ta":
		return errorf("'%s' is only supported on 802.11", dir)
	}
	return nil
}

// dirPred combines a source and a destination test as the direction
// qualifier says.
func dirPred(dir string, src, dst func(*pkt) bool) func(*pkt) bool {
	switch dir {
	case "src":
		return src
	case "dst":
		return dst
	case "src and dst":
		return func(k *pkt) bool { return src(k) && dst(k) }
	}
	return func(k *pkt) bool { return src(k) || dst(k) }
}

// mcode6 is an IPv6 address or prefix (gen_mcode6).
func (p *parser) mcode6(s string, masklen uint32, q qual) (node, error) {
	if q.undef {
		return nil, semanticSyntax()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, errorf("invalid ip6 address %s", s)
	}
	if masklen > 128 {
		return nil, errorf("mask length must be <= 128")
	}
	pfx := netip.PrefixFrom(a, int(masklen))
	if pfx.Masked().Addr() != a {
		return nil, errorf("non-network bits set in \"%s/%d\"", s, masklen)
	}
	text := s
	if masklen != 128 {
		text = fmt.Sprintf("%s/%d", s, masklen)
	}
	switch q.addr {
	case "", "host":
		if masklen != 128 {
			return nil, errorf("Mask syntax for networks only")
		}
	case "net":
	default:
		return nil, errorf("invalid qualifier against IPv6 address")
	}
	pred, err := host6Pred(a, int(masklen), q)
	return prim(q.prefix(q.addr)+text, pred, err)
}

func host6Pred(a netip.Addr, bits int, q qual) (func(*pkt) bool, error) {
	if err := checkDir(q.dir); err != nil {
		return nil, err
	}
	word := hostWord(q)
	switch q.proto {
	case "", "ip6":
	case "ether":
		return nil, errorf("link-layer modifier applied to ip6 %s", word)
	case "ip", "arp", "rarp":
		return nil, errorf("'%s' modifier applied to ip6 %s", q.proto, word)
	default:
		return nil, errorf("'%s' modifier applied to %s", q.proto, word)
	}
	pfx := netip.PrefixFrom(a, bits)
	at := func(k *pkt, off int) bool {
		if !k.isEther(etherIPv6) {
			return false
		}
		start := k.nl() + off
		if start+16 > len(k.data) {
			k.oob = true
			return false
		}
		b, _ := netip.AddrFromSlice(k.data[start : start+16])
		return pfx.Contains(b)
	}
	return dirPred(q.dir, func(k *pkt) bool { return at(k, 8) }, func(k *pkt) bool { return at(k, 24) }), nil
}

// ecode is a MAC address: only "ether host/src/dst M".
func (p *parser) ecode(t token, q qual) (node, error) {
	if (q.addr == "host" || q.addr == "") && q.proto == "ether" && !q.undef {
		if p.o.LinkType != LinkEthernet {
			return nil, errorf("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel")
		}
		if err := checkDir(q.dir); err != nil {
			return nil, err
		}
		mac := t.mac
		pred := dirPred(q.dir, func(k *pkt) bool { return macAt(k, 6, mac) }, func(k *pkt) bool { return macAt(k, 0, mac) })
		return &primNode{q.prefix(q.addr) + mac.String(), pred}, nil
	}
	return nil, errorf("ethernet address used in non-ether expression")
}

func macAt(k *pkt, off int, mac net.HardwareAddr) bool {
	if off+6 > len(k.data) {
		k.oob = true
		return false
	}
	return bytes.Equal(k.data[off:off+6], mac)
}

// portProto reports a protocol qualifier "port" accepts.
func portProto(proto string) bool {
	return proto == "" || proto == "tcp" || proto == "udp" || proto == "sctp"
}

// narrowPortProto combines the qualifier's protocol with the one a
// service name has (0: both), as gen_scode does.
func narrowPortProto(qproto string, real int, msg, name string) (int, error) {
	want := map[string]int{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP}[qproto]
	if want == 0 {
		return real, nil
	}
	if real != 0 && real != want {
		return 0, errorf(msg, name, protoName(real))
	}
	return want, nil
}

func protoName(p int) string {
	return map[int]string{protoTCP: "tcp", protoUDP: "udp", protoSCTP: "sctp"}[p]
}

// portPred matches a transport port in [lo, hi] (gen_port, gen_port6,
// gen_portrange): TCP, UDP or SCTP (proto 0: any of them), in an IPv4
// packet that is not a later fragment, or an IPv6 packet whose first next
// header is the transport.
func portPred(lo, hi, proto int, dir string) func(*pkt) bool {
	if lo > hi {
		lo, hi = hi, lo
	}
	protos := []uint32{protoTCP, protoUDP, protoSCTP}
	if proto != 0 {
		protos = []uint32{uint32(proto)}
	}
	in := func(v uint32) bool { return v >= uint32(lo) && v <= uint32(hi) }
	v4 := func(k *pkt, off int) bool {
		if !k.isEther(etherIPv4) || !k.firstFrag() {
			return false
		}
		ok := false
		pr := k.load(k.nl()+9, 1)
		for _, x := range protos {
			ok = ok || pr == x
		}
		return ok && in(k.load(k.tl()+off, 2))
	}
	v6 := func(k *pkt, off int) bool {
		if !k.isEther(etherIPv6) {
			return false
		}
		ok := false
		pr := k.load(k.nl()+6, 1)
		for _, x := range protos {
			ok = ok || pr == x
		}
		return ok && in(k.load(k.nl()+40+off, 2))
	}
	src := func(k *pkt) bool { return v4(k, 0) || v6(k, 0) }
	dst := func(k *pkt) bool { return v4(k, 2) || v6(k, 2) }
	return dirPred(dir, src, dst)
}

// lookupProto resolves "proto NAME" (/etc/protocols or the ether types).
func lookupProto(name, proto string) (uint32, error) {
	switch proto {
	case "", "ip", "ip6":
		if v, ok := ipProtocols[name]; ok {
			return v, nil
		}
		return 0, errorf("unknown ip proto '%s'", name)
	case "ether":
		if v, ok := etherProtocols[name]; ok {
			return v, nil
		}
		return 0, errorf("unknown ether proto '%s'", name)
	case "iso":
		if v, ok := isoNLPIDs[name]; ok {
			return v, nil
		}
		return 0, errorf("unknown osi proto '%s'", name)
	}
	return 0, errorf("unknown protocol: %s", name)
}

// ipProtocols is CentOS 7's /etc/protocols, the entries a filter uses.
var ipProtocols = map[string]uint32{
	"ip": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipencap": 4, "st": 5, "tcp": 6, "egp": 8, "igp": 9,
	"pup": 12, "udp": 17, "hmp": 20, "xns-idp": 22, "rdp": 27, "iso-tp4": 29, "xtp": 36, "ddp": 37,
	"idpr-cmtp": 38, "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "gre": 47,
	"esp": 50, "ah": 51, "skip": 57, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "rspf": 73,
	"vmtp": 81, "eigrp": 88, "ospf": 89, "ax.25": 93, "ipip": 94, "etherip": 97, "encap": 98,
	"pim": 103, "ipcomp": 108, "vrrp": 112, "l2tp": 115, "isis": 124, "sctp": 132, "fc": 133,
	"udplite": 136,
}

// etherProtocols is libpcap's own table (pcap_nametoeproto) and its LLC
// one.
var etherProtocols = map[string]uint32{
	"ip": etherIPv4, "ip6": etherIPv6, "arp": etherARP, "rarp": etherRARP, "revarp": etherRARP,
	"loopback": 0x9000, "decnet": 0x6003, "lat": 0x6004, "sca": 0x6007, "moprc": 0x6002,
	"mopdl": 0x6001, "atalk": 0x809b, "aarp": 0x80f3,
	"iso": 0xfe, "stp": 0x42, "ipx": 0xe0, "netbeui": 0xf0,
}

// protoPred is gen_proto: "ip proto 6", "ether proto 0x806", "proto 17".
func protoPred(v uint32, q qual) (func(*pkt) bool, error) {
	if q.dir != "" {
		return nil, errorf("direction applied to 'proto'")
	}
	switch q.proto {
	case "":
		return func(k *pkt) bool { return k.ipProto(v) || k.ip6Proto(v) }, nil
	case "ip":
		return func(k *pkt) bool { return k.ipProto(v) }, nil
	case "ip6":
		return func(k *pkt) bool { return k.ip6Proto(v) }, nil
	case "ether":
		if v > 1500 {
			return func(k *pkt) bool { return k.isEther(v) }, nil
		}
		return func(k *pkt) bool {
			return k.link == LinkEthernet && k.ethertype() <= 1500 && k.load(14, 1) == v
		}, nil
	case "iso":
		return func(k *pkt) bool {
			return k.link == LinkEthernet && k.ethertype() <= 1500 && k.load(14, 1) == 0xfe && k.load(17, 1) == v
		}, nil
	case "arp", "rarp", "sca", "lat", "moprc", "mopdl":
		return nil, errorf("%s does not encapsulate another protocol", q.proto)
	case "atalk":
		return nil, errorf("atalk encapsulation is not specifiable")
	case "icmp6", "ah", "esp":
		// libpcap says 'ah proto' for esp too.
		if q.proto == "esp" {
			return nil, errorf("'ah proto' is bogus")
		}
		return nil, errorf("'%s proto' is bogus", q.proto)
	}
	return nil, errorf("'%s proto' is bogus", q.proto)
}
