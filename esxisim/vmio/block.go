package vmio

import (
	"encoding/binary"
	"hash/crc32"
)

// A block describes itself, so that a read proves what it returned:
//
//	[0:4]   magic "APIO"
//	[4:8]   CRC-32C of bytes [8:] (header and payload)
//	[8:16]  epoch: which run of which workload wrote it
//	[16:24] block number: catches data landing at the wrong offset
//	[24:32] generation: the write's sequence number, unique in the run
//	[32:40] the writer's clock at the write, Unix ns (for humans)
//	[40:]   payload: a pattern derived from epoch, block and generation
//
// The payload differs per generation so that a torn write (the header of
// one write, the tail of another) fails the checksum. CRC-32C is
// hardware-accelerated on amd64 and arm64; the threat is a bug, not an
// adversary, so a cryptographic hash would only cost CPU.
const (
	headerSize = 40
	blockMagic = 0x4f495041 // "APIO" little-endian
)

// blockStatus classifies the content of a block read back.
type blockStatus uint8

const (
	blockValid     blockStatus = iota // well-formed, this run's, this block
	blockZero                         // all zeros: never written (a hole)
	blockForeign                      // well-formed, another run's epoch
	blockCorrupt                      // bad magic or checksum
	blockMisplaced                    // well-formed, but another block's
)

// encodeBlock fills buf with generation gen of block b.
func encodeBlock(buf []byte, tab *crc32.Table, epoch uint64, b int, gen uint64, unixNano int64) {
	le := binary.LittleEndian
	le.PutUint32(buf[0:], blockMagic)
	le.PutUint64(buf[8:], epoch)
	le.PutUint64(buf[16:], uint64(b))
	le.PutUint64(buf[24:], gen)
	le.PutUint64(buf[32:], uint64(unixNano))
	p := buf[headerSize:]
	le.PutUint64(p, mix(epoch^uint64(b)<<40^gen))
	// Doubling copies fill the payload in log2(len/8) memmoves.
	for n := 8; n < len(p); n *= 2 {
		copy(p[n:], p[:n])
	}
	le.PutUint32(buf[4:], crc32.Checksum(buf[8:], tab))
}

// decodeBlock says what buf holds, read from block b's offset, and for a
// well-formed block its block number and generation.
func decodeBlock(buf []byte, tab *crc32.Table, epoch uint64, b int) (st blockStatus, blk uint64, gen uint64) {
	le := binary.LittleEndian
	if le.Uint32(buf[0:]) != blockMagic {
		if allZero(buf) {
			return blockZero, 0, 0
		}
		return blockCorrupt, 0, 0
	}
	if le.Uint32(buf[4:]) != crc32.Checksum(buf[8:], tab) {
		return blockCorrupt, 0, 0
	}
	blk, gen = le.Uint64(buf[16:]), le.Uint64(buf[24:])
	switch {
	case le.Uint64(buf[8:]) != epoch:
		return blockForeign, blk, gen
	case blk != uint64(b):
		return blockMisplaced, blk, gen
	}
	return blockValid, blk, gen
}

func allZero(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p) != 0 {
			return false
		}
		p = p[8:]
	}
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// mix is SplitMix64's finaliser: nearby inputs give unrelated words.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
