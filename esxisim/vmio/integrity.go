package vmio

import (
	"fmt"
	"time"
)

// Violation kinds.
const (
	// ViolationLostWrite: a block read back older than its last
	// acknowledged (or already observed) generation.
	ViolationLostWrite = "lost-write"
	// ViolationCorrupt: a block failed its magic or checksum.
	ViolationCorrupt = "corrupt"
	// ViolationMisplaced: a well-formed block of another block number.
	ViolationMisplaced = "misplaced"
	// ViolationUnexpected: a generation newer than anything acknowledged
	// and not one of the block's uncertain writes.
	ViolationUnexpected = "unexpected-generation"
)

// Violation is one broken promise of the datastore.
type Violation struct {
	// Time is when the read that found it completed.
	Time  time.Time
	Block int
	Kind  string
	// Want is the last acknowledged generation of the block (0: none);
	// UncertainFrom..UncertainTo, when not zero, are generations of writes
	// with unknown outcome that would also have been accepted.
	Want          uint64
	UncertainFrom uint64
	UncertainTo   uint64
	// Got is the generation read (0 for zeros or an unreadable block);
	// GotBlock the block number found in a misplaced block.
	Got      uint64
	GotBlock uint64
}

func (v Violation) String() string {
	want := fmt.Sprintf("gen %d", v.Want)
	if v.UncertainFrom != 0 {
		want += fmt.Sprintf(" (or uncertain %d..%d)", v.UncertainFrom, v.UncertainTo)
	}
	switch v.Kind {
	case ViolationCorrupt:
		return fmt.Sprintf("block %d: checksum error: want %s", v.Block, want)
	case ViolationMisplaced:
		return fmt.Sprintf("block %d: holds block %d gen %d: want %s", v.Block, v.GotBlock, v.Got, want)
	}
	return fmt.Sprintf("block %d: %s: want %s, got gen %d", v.Block, v.Kind, want, v.Got)
}

// Integrity is the verdict on the data.
type Integrity struct {
	// OK is true when no violation was found.
	OK bool
	// Checked counts reads whose content was verified; Acknowledged the
	// writes that succeeded; Uncertain the writes that failed, timed out or
	// were cut off by Stop, which may or may not have landed.
	Checked      uint64
	Acknowledged uint64
	Uncertain    uint64
	// ViolationCount counts every violation; Violations holds the first
	// maxViolations, the ones that point at a cause.
	ViolationCount uint64
	Violations     []Violation
	// Verified is when the last Verify pass that read every block ended;
	// zero if none did.
	Verified time.Time
}

const maxViolations = 64

// blockState is what a block may hold. Generations are global and
// increasing, so "newer" is a comparison.
type blockState struct {
	ack uint64 // last acknowledged or observed generation; 0: none (zeros)
	// lo..hi bound the generations of writes since ack whose outcome is
	// unknown; lo == 0: none. A block is written by one goroutine at a
	// time, so any well-formed generation of this block in the range was
	// one of those writes.
	lo, hi uint64
	// suspect is set after a checksum error or a misplaced block: until
	// content is
	// well-formed again, the same damage is not reported on every read.
	suspect bool
}

func (s *blockState) acknowledged(gen uint64) { *s = blockState{ack: gen} }

func (s *blockState) uncertain(gen uint64) {
	if s.lo == 0 {
		s.lo = gen
	}
	s.hi = gen
}

// observe checks a read of the block: st and gen as decodeBlock returned.
// It returns the violation kind, or "" if the content is acceptable, and
// moves the state to what was observed: later reads must not go back, and
// one damage is reported once, not on every read.
func (s *blockState) observe(st blockStatus, gen uint64) string {
	switch st {
	case blockCorrupt, blockMisplaced:
		if s.suspect {
			return ""
		}
		s.suspect = true
		if st == blockMisplaced {
			return ViolationMisplaced
		}
		return ViolationCorrupt
	case blockZero, blockForeign:
		// Nothing this run wrote: acceptable only if nothing was acked.
		gen = 0
	}
	if s.suspect {
		*s = blockState{ack: gen}
		return ""
	}
	switch {
	case gen == s.ack:
		return ""
	case s.lo != 0 && gen >= s.lo && gen <= s.hi:
		// An uncertain write landed: it is now the floor.
		s.ack = gen
		if gen == s.hi {
			s.lo, s.hi = 0, 0
		} else {
			s.lo = gen + 1
		}
		return ""
	case gen < s.ack:
		*s = blockState{ack: gen}
		return ViolationLostWrite
	default:
		*s = blockState{ack: gen}
		return ViolationUnexpected
	}
}
