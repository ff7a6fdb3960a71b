package genesis

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// genesis.out lines. No real ha_service.py or hypervisor_ha.py line was
// ever captured (reference §9.4, §10): the layout is the INFERRED
// `YYYY-MM-DD hh:mm:ss,mmmZ LEVEL <module>.py:<line> <message>` of the
// CVM's other Python services, and the messages follow what seed 001
// describes (checking the Stargates, "illegal forwarding", "creating a task
// to delete/add the route", NfsTerminateConnection). The line numbers are
// fixed per message so that a grep for one kind of line is stable; they are
// not Nutanix's.

// logTimeLayout is the Python logging timestamp: milliseconds after a
// comma; the Z is appended after converting to UTC.
const logTimeLayout = "2006-01-02 15:04:05,000"

// source is the module and line a message is attributed to.
type source string

const (
	srcLeader        source = "ha_service.py:188"
	srcNoLeader      source = "ha_service.py:194"
	srcCheck         source = "ha_service.py:212"
	srcStargateDown  source = "ha_service.py:240"
	srcStargateInit  source = "ha_service.py:255"
	srcAllAlive      source = "ha_service.py:268"
	srcCheckHost     source = "ha_service.py:310"
	srcIllegal       source = "ha_service.py:334"
	srcAbsent        source = "ha_service.py:352"
	srcBadTarget     source = "ha_service.py:371"
	srcNoTarget      source = "ha_service.py:389"
	srcWaitStable    source = "ha_service.py:395"
	srcForwarding    source = "ha_service.py:402"
	srcNoLocal       source = "ha_service.py:417"
	srcConnect       source = "hypervisor_ha.py:95"
	srcSSHError      source = "hypervisor_ha.py:121"
	srcAddRoute      source = "hypervisor_ha.py:148"
	srcDelRoute      source = "hypervisor_ha.py:176"
	srcTerminate     source = "hypervisor_ha.py:203"
	srcCommandFailed source = "hypervisor_ha.py:220"
)

// logger writes whole lines: rounds serve hosts concurrently, and a line
// must never interleave with another.
type logger struct {
	clk interface{ Now() time.Time }
	w   io.Writer // nil: discard

	mu sync.Mutex
}

func (l *logger) line(w io.Writer, level string, src source, format string, args ...any) {
	if l.w == nil && w == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	s := fmt.Sprintf("%sZ %s %s %s\n", l.clk.Now().UTC().Format(logTimeLayout), level, src, msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failing log writer must not stop Genesis: the write error is
	// dropped, as a full disk does not stop the real one either.
	if l.w != nil {
		_, _ = io.WriteString(l.w, s)
	}
	if w != nil && w != l.w {
		_, _ = io.WriteString(w, s)
	}
}
