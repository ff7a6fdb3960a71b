package cvmsim

import "time"

// PowerState is the CVM's power and boot state.
type PowerState int

const (
	// PowerOff: the VM is off; its node answers nothing.
	PowerOff PowerState = iota
	// PowerBooting: powered on, not fully initialised yet. The node
	// answers from Timers.PingAfter, Stargate serves from
	// Timers.StargateAfter.
	PowerBooting
	// PowerUp: fully initialised, every service UP.
	PowerUp
)

func (p PowerState) String() string {
	switch p {
	case PowerOff:
		return "off"
	case PowerBooting:
		return "booting"
	case PowerUp:
		return "up"
	}
	return "unknown"
}

// Power returns the power and boot state.
func (c *CVM) Power() PowerState { return c.snapshot().power }

// Ready reports whether the CVM is fully initialised: booted with every
// service started. A Stargate fault does not change it (cluster status
// shows the fault as Stargate DOWN; the status page shows it too).
func (c *CVM) Ready() bool { return c.snapshot().power == PowerUp }

// Reachable reports whether the node answers on the network (ping, SSH).
func (c *CVM) Reachable() bool { return c.snapshot().netUp }

// Timers returns the boot sequence in effect.
func (c *CVM) Timers() Timers { return c.timers }

// PowerOff cuts the power: abrupt, like pulling the plug. The node's flows
// are blackholed (no FIN, no RST: clients find out by timeout), Stargate's
// sessions are dropped and its listeners vanish. A CVM already off is left
// alone.
func (c *CVM) PowerOff() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.powerOffLocked(reasonPowerOff)
}

// PowerOn starts the boot sequence (see Timers). A CVM already on, booting
// or up, is left alone.
func (c *CVM) PowerOn() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.powerOnLocked("")
}

// Reboot is PowerOff then PowerOn. Rebooting a booting CVM restarts its
// boot sequence from the beginning; rebooting a CVM that is off powers it
// on.
func (c *CVM) Reboot() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.powerOffLocked(reasonReboot)
	c.powerOnLocked(reasonReboot)
}

// powerOffLocked needs opMu.
func (c *CVM) powerOffLocked(why string) {
	c.mu.Lock()
	if c.st.closed || c.st.power == PowerOff {
		c.mu.Unlock()
		return
	}
	wasRunning := c.stargateRunningLocked()
	c.cancelTimerLocked()
	c.st.power = PowerOff
	c.st.netUp = false
	c.st.stargateStarted = false
	lns, hs := c.st.nfsLns, c.st.statusHS
	c.st.nfsLns, c.st.statusHS, c.st.statusLn = nil, nil, nil
	c.releaseHangLocked()
	c.mu.Unlock()

	// The node first: its flows freeze before Stargate forgets them, so
	// the clients see nothing at all, not a FIN.
	c.node.SetPowered(false)
	c.sshPower(false)
	c.stopStargate(lns, hs, "node powered off")
	c.emit(Event{Kind: EventPowerOff, Detail: why})
	if wasRunning {
		c.emit(Event{Kind: EventStargateDown, Detail: why})
	}
}

// powerOnLocked needs opMu.
func (c *CVM) powerOnLocked(why string) {
	c.mu.Lock()
	if c.st.closed || !c.st.started || c.st.power != PowerOff {
		c.mu.Unlock()
		return
	}
	c.st.power = PowerBooting
	c.st.boot++
	c.st.bootAt = c.clock.Now()
	c.st.sgGen = 0
	c.scheduleLocked()
	c.mu.Unlock()
	c.emit(Event{Kind: EventPowerOn, Detail: why})
}

// upNow brings a started CVM up fully initialised at once, as if it had
// booted before the lab began. Needs opMu.
func (c *CVM) upNow() {
	c.mu.Lock()
	now := c.clock.Now()
	c.st.boot++
	// Backdated so that uptimes and counters look like a running system's.
	c.st.bootAt = now.Add(-c.timers.InitAfter)
	c.st.netAt = c.st.bootAt.Add(c.timers.PingAfter)
	c.st.power = PowerBooting
	c.mu.Unlock()
	c.phaseNetwork("")
	c.phaseStargate("")
	c.phaseInit("")
}

// cancelTimerLocked stops the pending boot step; a step already firing
// sees the new generation and does nothing.
func (c *CVM) cancelTimerLocked() {
	c.st.gen++
	if c.st.timer != nil {
		c.st.timer.Stop()
		c.st.timer = nil
	}
}

// scheduleLocked arms the timer for the next boot step. The steps are
// chained, one timer at a time, so that a clock advanced past several of
// them still runs them in order.
func (c *CVM) scheduleLocked() {
	c.cancelTimerLocked()
	var at time.Duration
	var step func()
	switch {
	case c.st.power != PowerBooting:
		return
	case !c.st.netUp:
		at, step = c.timers.PingAfter, func() { c.phaseNetwork("") }
	case !c.st.stargateStarted:
		at, step = c.timers.StargateAfter, func() { c.phaseStargate("") }
	default:
		at, step = c.timers.InitAfter, func() { c.phaseInit("") }
	}
	gen := c.st.gen
	d := c.st.bootAt.Add(at).Sub(c.clock.Now())
	c.st.timer = c.clock.AfterFunc(d, func() {
		c.opMu.Lock()
		defer c.opMu.Unlock()
		c.mu.RLock()
		stale := gen != c.st.gen || c.st.closed
		c.mu.RUnlock()
		if !stale {
			step()
		}
	})
}

// phaseNetwork: the guest OS is up; the node answers. why is the event's
// Detail. Needs opMu.
func (c *CVM) phaseNetwork(why string) {
	c.node.SetPowered(true)
	c.mu.Lock()
	c.st.netUp = true
	c.mu.Unlock()
	c.sshPower(true)
	c.mu.Lock()
	if c.st.netAt.Before(c.st.bootAt) {
		c.st.netAt = c.st.bootAt.Add(c.timers.PingAfter)
	}
	c.scheduleLocked()
	c.mu.Unlock()
	c.emit(Event{Kind: EventNetworkUp, Detail: why})
}

// phaseStargate: Stargate starts, unless a fault keeps it down. Needs
// opMu.
func (c *CVM) phaseStargate(why string) {
	c.mu.Lock()
	c.st.stargateStarted = true
	fault := c.st.fault
	at := c.st.bootAt.Add(c.timers.StargateAfter)
	c.scheduleLocked()
	c.mu.Unlock()
	if fault != StargateDown {
		c.startStargate(why, at)
	}
}

// phaseInit: every service is up. Needs opMu.
func (c *CVM) phaseInit(why string) {
	c.mu.Lock()
	c.st.power = PowerUp
	c.cancelTimerLocked()
	c.mu.Unlock()
	c.emit(Event{Kind: EventBooted, Detail: why})
}

// uptime is how long the node has been on the network, zero when off.
func (s state) uptime(now time.Time) time.Duration {
	if !s.netUp {
		return 0
	}
	return max(now.Sub(s.netAt), 0)
}
