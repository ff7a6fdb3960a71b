package nfs

import (
	"encoding/binary"
	"errors"
)

// errGarbage is returned for arguments that do not decode.
var errGarbage = errors.New("nfs: garbage arguments")

// xdrDec decodes XDR from a byte slice. Every read is bounds-checked: a
// length that claims more than what is left fails instead of allocating,
// which is the point of decoding untrusted records ourselves.
type xdrDec struct {
	b   []byte
	off int
	err error
}

func (d *xdrDec) fail() {
	if d.err == nil {
		d.err = errGarbage
	}
}

func (d *xdrDec) u32() uint32 {
	if d.err != nil || len(d.b)-d.off < 4 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *xdrDec) u64() uint64 {
	hi := d.u32()
	lo := d.u32()
	return uint64(hi)<<32 | uint64(lo)
}

// opaque reads a variable-length opaque of at most max bytes; the result
// aliases the input.
func (d *xdrDec) opaque(max int) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		d.fail()
		return nil
	}
	return d.fixed(int(n))
}

// fixed reads n bytes plus XDR padding.
func (d *xdrDec) fixed(n int) []byte {
	pad := (4 - n%4) % 4
	if d.err != nil || n < 0 || len(d.b)-d.off < n+pad {
		d.fail()
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n + pad
	return v
}

func (d *xdrDec) bool() bool {
	v := d.u32()
	if v > 1 {
		d.fail()
	}
	return v == 1
}

// xdrEnc appends XDR to a byte slice.
type xdrEnc struct{ b []byte }

func (e *xdrEnc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *xdrEnc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *xdrEnc) bool(v bool) {
	if v {
		e.u32(1)
	} else {
		e.u32(0)
	}
}

func (e *xdrEnc) opaque(p []byte) {
	e.u32(uint32(len(p)))
	e.b = append(e.b, p...)
	for i := len(p); i%4 != 0; i++ {
		e.b = append(e.b, 0)
	}
}

func (e *xdrEnc) string(s string) { e.opaque([]byte(s)) }
