package tcpdump

import (
	"fmt"
	"strings"
)

// Arithmetic relations: "tcp[tcpflags] & tcp-syn != 0", "ip[2:2] > 576",
// "len <= 100". Values are unsigned 32-bit as in BPF; a load outside the
// captured bytes, or a division by zero at run time, rejects the packet.

// arith is an arithmetic expression.
type arith interface {
	// guard reports whether the protocols the loads need are there;
	// a relation whose guard fails is false (libpcap ANDs the
	// protocol tests before the loads).
	guard(k *pkt) bool
	val(k *pkt) uint32
	write(b *strings.Builder)
}

type numArith struct{ v uint32 }

func (a numArith) guard(*pkt) bool            { return true }
func (a numArith) val(*pkt) uint32            { return a.v }
func (a numArith) write(b *strings.Builder)   { fmt.Fprint(b, a.v) }
func (lenArith) guard(*pkt) bool              { return true }
func (lenArith) val(k *pkt) uint32            { return uint32(k.wire) }
func (lenArith) write(b *strings.Builder)     { b.WriteString("len") }
func (a negArith) guard(k *pkt) bool          { return a.x.guard(k) }
func (a negArith) val(k *pkt) uint32          { return -a.x.val(k) }
func (a *binArith) guard(k *pkt) bool         { return a.l.guard(k) && a.r.guard(k) }
func (a *loadArith) guard(k *pkt) bool        { return a.idx.guard(k) && a.proto(k) }
func (a *loadArith) write(b *strings.Builder) { a.writeLoad(b) }

type lenArith struct{}

type negArith struct{ x arith }

func (a negArith) write(b *strings.Builder) {
	b.WriteString("-")
	writeOperand(b, a.x)
}

type binArith struct {
	op   string
	l, r arith
}

func (a *binArith) val(k *pkt) uint32 {
	l, r := a.l.val(k), a.r.val(k)
	switch a.op {
	case "+":
		return l + r
	case "-":
		return l - r
	case "*":
		return l * r
	case "/":
		if r == 0 {
			k.oob = true
			return 0
		}
		return l / r
	case "%":
		if r == 0 {
			k.oob = true
			return 0
		}
		return l % r
	case "&":
		return l & r
	case "|":
		return l | r
	case "^":
		return l ^ r
	case "<<":
		if r >= 32 {
			return 0
		}
		return l << r
	case ">>":
		if r >= 32 {
			return 0
		}
		return l >> r
	}
	return 0
}

func (a *binArith) write(b *strings.Builder) {
	writeOperand(b, a.l)
	b.WriteString(" " + a.op + " ")
	writeOperand(b, a.r)
}

// writeOperand parenthesises a binary operand: the canonical form does
// not rely on operator precedence.
func writeOperand(b *strings.Builder, a arith) {
	if _, ok := a.(*binArith); ok {
		b.WriteByte('(')
		a.write(b)
		b.WriteByte(')')
		return
	}
	a.write(b)
}

// loadArith is proto[idx] or proto[idx:size].
type loadArith struct {
	name  string
	idx   arith
	size  int
	base  func(k *pkt) int  // offset idx counts from
	proto func(k *pkt) bool // the protocol test libpcap ANDs with it
}

func (a *loadArith) val(k *pkt) uint32 {
	return k.load(a.base(k)+int(a.idx.val(k)), a.size)
}

func (a *loadArith) writeLoad(b *strings.Builder) {
	b.WriteString(a.name + "[")
	a.idx.write(b)
	if a.size != 1 {
		fmt.Fprintf(b, ":%d", a.size)
	}
	b.WriteString("]")
}

// relNode is "arith relop arith".
type relNode struct {
	op   string // ">", ">=", "=", "<", "<=", "!="
	l, r arith
}

func (n *relNode) eval(k *pkt) bool {
	if !n.l.guard(k) || !n.r.guard(k) {
		return false
	}
	l, r := n.l.val(k), n.r.val(k)
	switch n.op {
	case ">":
		return l > r
	case ">=":
		return l >= r
	case "=":
		return l == r
	case "<":
		return l < r
	case "<=":
		return l <= r
	}
	return l != r
}

func (n *relNode) write(b *strings.Builder) {
	n.l.write(b)
	b.WriteString(" " + n.op + " ")
	n.r.write(b)
}

// Binding power of the binary operators (grammar.y's %left lines; '%' and
// '^', which grammar.y leaves out, bind as '*' and '|').
var arithPrec = map[string]int{
	"|": 1, "^": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5,
}

func (p *parser) parseRelation() (node, error) {
	l, err := p.parseArith(1)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	var op string
	switch {
	case t.op(">"), t.op(">="), t.op("<"), t.op("<="), t.op("!="):
		op = t.text
	case t.op("="), t.op("=="):
		op = "="
	default:
		return nil, p.syntaxError()
	}
	p.next()
	r, err := p.parseArith(1)
	if err != nil {
		return nil, err
	}
	return &relNode{op: op, l: l, r: r}, nil
}

func (p *parser) parseArith(minPrec int) (arith, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec, ok := arithPrec[t.text]
		if t.kind != tOp || !ok || prec < minPrec {
			return l, nil
		}
		p.next()
		r, err := p.parseArith(prec + 1)
		if err != nil {
			return nil, err
		}
		if n, ok := r.(numArith); ok && n.v == 0 {
			switch t.text {
			case "/":
				return nil, errorf("division by zero")
			case "%":
				return nil, errorf("modulus by zero")
			}
		}
		l = &binArith{op: t.text, l: l, r: r}
	}
}

func (p *parser) parseUnary() (arith, error) {
	t := p.peek()
	switch {
	case t.op("-"):
		p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return negArith{x}, nil
	case t.kind == tNUM:
		p.next()
		return numArith{t.num}, nil
	case t.is("len"):
		p.next()
		return lenArith{}, nil
	case t.op("("):
		p.next()
		x, err := p.parseArith(1)
		if err != nil {
			return nil, err
		}
		return x, p.expectOp(")")
	case isPname(t) && p.peekAt(1).op("["):
		p.next()
		p.next()
		idx, err := p.parseArith(1)
		if err != nil {
			return nil, err
		}
		size := uint32(1)
		if p.peek().op(":") {
			p.next()
			if p.peek().kind != tNUM {
				return nil, p.syntaxError()
			}
			size = p.next().num
		}
		if err := p.expectOp("]"); err != nil {
			return nil, err
		}
		return p.load(t.text, idx, size)
	}
	return nil, p.syntaxError()
}

// load is gen_load: where proto[...] counts from and what it needs.
func (p *parser) load(name string, idx arith, size uint32) (arith, error) {
	if size != 1 && size != 2 && size != 4 {
		return nil, errorf("data size must be 1, 2, or 4")
	}
	a := &loadArith{name: name, idx: idx, size: int(size)}
	switch name {
	case "radio":
		return nil, errorf("radio information not present in capture")
	case "ether":
		a.base = func(*pkt) int { return 0 }
		a.proto = func(*pkt) bool { return true }
	case "ip", "arp", "rarp", "atalk", "decnet", "sca", "lat", "moprc", "mopdl", "ip6":
		pred, _ := abbrevPred(name)
		a.base = (*pkt).nl
		a.proto = pred
	case "sctp", "tcp", "udp", "icmp", "igmp", "igrp", "pim", "vrrp", "carp":
		pred, _ := abbrevPred(name)
		a.base = (*pkt).tl
		a.proto = func(k *pkt) bool { return pred(k) && k.isEther(etherIPv4) && k.firstFrag() }
	case "icmp6":
		return nil, errorf("IPv6 upper-layer protocol is not supported by proto[x]")
	default:
		return nil, errorf("unsupported index operation")
	}
	return a, nil
}
