package vmkernel

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/autopathlab/autopathlab/clock"
)

// Log is a VMkernel log file (/var/log/vmkernel.log): lines in ESXi 8's
// format, kept in a bounded ring so a long-running lab does not grow
// without limit.
type Log struct {
	clock clock.Clock
	max   int

	mu    sync.Mutex
	lines []string
	cpu   int
}

// NewLog returns a log keeping at most max lines (0: 10000).
func NewLog(c clock.Clock, max int) *Log {
	if max <= 0 {
		max = 10000
	}
	return &Log{clock: c, max: max}
}

// Printf appends one line: "<ts> In(182) vmkernel: cpuN:WID)<msg>".
func (l *Log) Printf(format string, args ...any) {
	l.add("In(182) vmkernel", format, args...)
}

// Warnf appends a warning line as ESXi 8 writes it to vmkernel.log.
func (l *Log) Warnf(format string, args ...any) {
	l.add("Wa(180) vmkwarning", "WARNING: "+format, args...)
}

func (l *Log) add(tag, format string, args ...any) {
	ts := l.clock.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cpu = (l.cpu + 7) % 16
	line := fmt.Sprintf("%s %s: cpu%d:%d)%s", ts, tag, l.cpu, 2097152+l.cpu*131, fmt.Sprintf(format, args...))
	l.lines = append(l.lines, line)
	if len(l.lines) > l.max {
		l.lines = append([]string(nil), l.lines[len(l.lines)-l.max:]...)
	}
}

// Bytes returns the file's content.
func (l *Log) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	for _, s := range l.lines {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Lines returns a copy of the lines.
func (l *Log) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
