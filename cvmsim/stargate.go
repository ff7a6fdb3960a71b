package cvmsim

import (
	"net/http"
	"time"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/nfs"
)

// Modelled ports of Stargate (reference §9.3).
const (
	PortPortmap = 111
	PortNFS     = 2049
	PortStatus  = 2009
	PortSSH     = 22
)

// StargateState is Stargate's health.
type StargateState int

const (
	// StargateDown: not running. NFS connections are reset (the nfs
	// server's Down mode: its listeners stay, new connections get RST,
	// open ones are closed); the status page port refuses connections.
	StargateDown StargateState = iota
	// StargateUp serves.
	StargateUp
	// StargateHung runs but never answers: connections are accepted, NFS
	// calls and status page requests wait forever.
	StargateHung
)

func (s StargateState) String() string {
	switch s {
	case StargateDown:
		return "down"
	case StargateUp:
		return "up"
	case StargateHung:
		return "hung"
	}
	return "unknown"
}

func (s StargateState) event() string {
	switch s {
	case StargateUp:
		return EventStargateUp
	case StargateHung:
		return EventStargateHung
	}
	return EventStargateDown
}

// StargateState returns Stargate's effective state: Down whenever it is
// not running (CVM off, still booting, or a Down fault), else Up or Hung.
func (c *CVM) StargateState() StargateState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stargateStateLocked()
}

func (c *CVM) stargateStateLocked() StargateState {
	if !c.stargateRunningLocked() {
		return StargateDown
	}
	return c.st.fault
}

func (c *CVM) stargateRunningLocked() bool {
	return c.st.netUp && c.st.stargateStarted && c.st.fault != StargateDown
}

// StargateFault returns the injected fault (StargateUp when none).
func (c *CVM) StargateFault() StargateState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.st.fault
}

// StargateUptime is how long the running Stargate has served; zero when
// it is not running.
func (c *CVM) StargateUptime() time.Duration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.stargateRunningLocked() {
		return 0
	}
	return max(c.clock.Now().Sub(c.st.sgSince), 0)
}

// SetStargate injects a Stargate fault, or clears it with StargateUp. The
// fault is standing, like `genesis stop stargate`: it holds across reboots
// until cleared. On a CVM that is off or still booting it takes effect
// when Stargate would start.
func (c *CVM) SetStargate(s StargateState) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.Lock()
	old := c.stargateStateLocked()
	c.st.fault = s
	runnable := c.st.netUp && c.st.stargateStarted
	var hs *http.Server
	var hln *fabric.Listener
	if s == StargateDown {
		hs, hln = c.st.statusHS, c.st.statusLn
		c.st.statusHS, c.st.statusLn = nil, nil
	}
	if s == StargateHung {
		c.armHangLocked()
	} else {
		c.releaseHangLocked()
	}
	c.mu.Unlock()
	if !runnable || old == s {
		return
	}
	switch {
	case s == StargateDown:
		// The NFS listeners stay (nfs Down resets what connects); the
		// status page's closes, so its port refuses.
		c.srv.SetMode(nfs.Down)
		closeStatus(hs, hln)
		c.emit(Event{Kind: EventStargateDown, Detail: reasonFault})
	case old == StargateDown:
		c.startStargate(reasonFaultCleared, c.clock.Now())
	default: // Up <-> Hung: the process lives on.
		c.srv.SetMode(nfsMode(s))
		why := reasonFault
		if s == StargateUp {
			why = reasonFaultCleared
		}
		c.emit(Event{Kind: s.event(), Detail: why})
	}
}

func nfsMode(s StargateState) nfs.Mode {
	switch s {
	case StargateUp:
		return nfs.Up
	case StargateHung:
		return nfs.Hung
	}
	return nfs.Down
}

// startStargate starts the Stargate process: NFS on the modelled ports
// (once per boot: they outlive a Down fault), the status page, the mode.
// at is when it started: the boot step's due time, which a fake clock
// advanced past several steps at once has already left behind. Needs
// opMu; the node is up.
func (c *CVM) startStargate(why string, at time.Time) {
	c.mu.Lock()
	needNFS := c.st.nfsLns == nil
	c.mu.Unlock()
	var lns []*fabric.Listener
	if needNFS {
		for _, p := range []uint16{PortPortmap, PortNFS} {
			ln, err := c.node.Listen(p)
			if err != nil {
				continue // the node went down under us; power-off cleans up
			}
			lns = append(lns, ln)
			c.goServe(func() { _ = c.srv.Serve(ln) })
		}
	}
	var hs *http.Server
	hln, err := c.node.Listen(PortStatus)
	if err == nil {
		hs = c.newStatusServer()
		c.goServe(func() { _ = hs.Serve(hln) })
	}
	c.mu.Lock()
	if needNFS {
		c.st.nfsLns = lns
	}
	c.st.statusHS, c.st.statusLn = hs, hln
	c.st.sgGen++
	c.st.sgSince = at
	fault := c.st.fault
	if fault == StargateHung {
		c.armHangLocked()
	}
	c.mu.Unlock()
	c.srv.SetMode(nfsMode(fault))
	c.emit(Event{Kind: fault.event(), Detail: why})
}

// stopStargate ends the Stargate process after power-off: its sessions
// are forgotten (on a powered-off node the clients see nothing), its real
// port resets connections, its status page stops.
func (c *CVM) stopStargate(lns []*fabric.Listener, hs *http.Server, why string) {
	for _, ln := range lns {
		_ = ln.Close()
	}
	c.srv.DropSessions(why)
	c.srv.SetMode(nfs.Down)
	closeStatus(hs, nil)
}

// closeStatus stops a status page server and its modelled listener (nil
// after power-off, which took every listener of the node away).
func closeStatus(hs *http.Server, ln *fabric.Listener) {
	if ln != nil {
		_ = ln.Close()
	}
	if hs != nil {
		_ = hs.Close()
	}
}

// releaseHangLocked lets hung status page requests go.
func (c *CVM) releaseHangLocked() {
	select {
	case <-c.st.hang:
	default:
		close(c.st.hang)
	}
}

// armHangLocked makes status page requests wait from now on.
func (c *CVM) armHangLocked() {
	select {
	case <-c.st.hang:
		c.st.hang = make(chan struct{})
	default:
	}
}
