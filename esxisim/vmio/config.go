package vmio

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"time"

	"github.com/autopathlab/autopathlab/clock"
)

// Config describes one VM's IO. Zero values take the defaults noted.
type Config struct {
	// Name is the VM's name ("vm-a1"); it names events and the default
	// Path. Default "vm".
	Name string
	// Clock times everything: pacing, latencies, outages, timeouts.
	// Default: the real clock.
	Clock clock.Clock
	// Path is the file on the datastore. Default "<Name>/<Name>-flat.vmdk",
	// where ESXi keeps a VM's disk; missing directories are created.
	Path string
	// BlockSize is the size of one IO, a multiple of 8 and at least 64.
	// Default 4 KiB.
	BlockSize int
	// Blocks is the working set in blocks. Default 256 (1 MiB at 4 KiB).
	Blocks int
	// Interval separates the starts of consecutive operations. Default
	// 20 ms: 50 IOPS, light enough to run on every host of every lab. When
	// an operation takes longer, the next starts as soon as it ends; missed
	// slots are not caught up (a guest does not burst after a stall either).
	Interval time.Duration
	// ReadRatio is the fraction of operations that are reads. 0 means the
	// default 0.5; a negative value means writes only, 1 reads only.
	ReadRatio float64
	// StallThreshold is how long an operation may go without completing
	// before IO counts as out. Default 1 s.
	StallThreshold time.Duration
	// OpTimeout abandons an operation (its context is cancelled, a write
	// becomes uncertain). Default 180 s, the guest disk timeout VMware
	// Tools sets: a guest sees no error before that, so the datastore's APD
	// timeout (140 s) is what fails IO first, as on a real host. Negative
	// means never.
	OpTimeout time.Duration
	// Seed makes the sequence of blocks and reads/writes reproducible.
	// Default: derived from Name.
	Seed uint64
	// OnEvent receives outage, error and corruption events. It is called
	// from the Workload's goroutines, one event at a time, in order; it may
	// call Report but not Stop or Verify.
	OnEvent func(Event)
}

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = "vm"
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Path == "" {
		c.Path = c.Name + "/" + c.Name + "-flat.vmdk"
	}
	c.Path = path.Clean(c.Path)
	if c.BlockSize == 0 {
		c.BlockSize = 4096
	}
	if c.Blocks == 0 {
		c.Blocks = 256
	}
	if c.Interval <= 0 {
		c.Interval = 20 * time.Millisecond
	}
	if c.ReadRatio == 0 {
		c.ReadRatio = 0.5
	}
	if c.StallThreshold <= 0 {
		c.StallThreshold = time.Second
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 180 * time.Second
	}
	if c.Seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(c.Name))
		c.Seed = h.Sum64()
	}
	switch {
	case c.BlockSize < 64 || c.BlockSize%8 != 0:
		return c, fmt.Errorf("vmio: block size %d: want a multiple of 8, at least 64", c.BlockSize)
	case c.Blocks < 0:
		return c, fmt.Errorf("vmio: blocks %d: want > 0", c.Blocks)
	case c.ReadRatio > 1:
		return c, fmt.Errorf("vmio: read ratio %g: want <= 1", c.ReadRatio)
	case c.Path == "." || !fs.ValidPath(c.Path):
		return c, fmt.Errorf("vmio: path %q: want a file name relative to the datastore", c.Path)
	}
	return c, nil
}
