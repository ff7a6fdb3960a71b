package cvmsim

import (
	"slices"

	"github.com/autopathlab/autopathlab/nfs"
)

// startBoot is the status page's boot counter on a CVM that Start brought
// up: its first boot.
const startBoot = 1

// Reset brings the CVM back to the state Start leaves it in, at once: a
// lab's reset, not a reboot.
//
//   - Power: on and fully initialised now. A pending boot step is
//     cancelled; the 20/60/120 s boot sequence is not waited for. A CVM
//     that was off or booting gets the uptimes of one Start brought up.
//   - Stargate: a fault (down, hung) is cleared and Stargate serves.
//   - The CVM's own routing table is its configuration again (static
//     routes and default gateway); flows whose path that changes are
//     reset by the fabric, as for any route change.
//   - The status page's boot counter (and the PIDs derived from it) is
//     that of the first boot again.
//
// A CVM that is up with no Stargate fault is not disturbed: its NFS and
// SSH sessions stay and no event is emitted (only the boot counter goes
// back, silently). Otherwise the events of the steps it takes are emitted
// as a boot emits them, with Detail "reset": power.on (if it was off),
// boot.network (if the node was not answering), stargate.up (if Stargate
// was not serving), booted (if it was not fully initialised).
//
// Reset does not touch the real listeners (their ports stay), the event
// subscribers or the shell's files. A CVM not started yet, or closed, is
// left alone.
func (c *CVM) Reset() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.mu.RLock()
	live := c.st.started && !c.st.closed
	c.mu.RUnlock()
	if !live {
		return
	}
	// Compared first: Restore re-evaluates every flow of the network even
	// when nothing changed.
	if !slices.Equal(c.routes.Static(), c.initRoutes) {
		c.routes.Restore(c.initRoutes)
	}

	c.mu.Lock()
	c.st.boot = startBoot
	if c.st.power == PowerUp && c.st.fault == StargateUp {
		// Healthy: the Stargate process that serves now keeps serving;
		// only its PIDs go back to those of the first start.
		c.st.sgGen = min(c.st.sgGen, 1)
		c.mu.Unlock()
		if c.srv.Mode() != nfs.Up {
			// Changed on the nfs.Server behind the CVM's back (a test
			// driving NFS() directly): the CVM says Stargate is up.
			c.srv.SetMode(nfs.Up)
		}
		return
	}
	c.cancelTimerLocked()
	wasOff, wasUp := c.st.power == PowerOff, c.st.power == PowerUp
	netUp, sgStarted := c.st.netUp, c.st.stargateStarted
	running := c.stargateRunningLocked()
	hung := running && c.st.fault == StargateHung
	c.st.fault = StargateUp
	c.releaseHangLocked()
	if !wasUp {
		// As upNow does: backdated, so that uptimes look like those of a
		// CVM that was running when the lab began.
		c.st.power = PowerBooting
		c.st.bootAt = c.clock.Now().Add(-c.timers.InitAfter)
		c.st.netAt = c.st.bootAt.Add(c.timers.PingAfter)
	}
	if running {
		c.st.sgGen = 1
	} else {
		c.st.sgGen = 0 // startStargate makes it the first start
	}
	c.mu.Unlock()

	if wasOff {
		c.emit(Event{Kind: EventPowerOn, Detail: reasonReset})
	}
	if !netUp {
		c.phaseNetwork(reasonReset)
	}
	switch {
	case !sgStarted:
		c.phaseStargate(reasonReset)
	case !running:
		// Started, then stopped by a Down fault: its NFS listeners are
		// still there; the status page comes back.
		c.startStargate(reasonReset, c.clock.Now())
	case hung:
		c.srv.SetMode(nfs.Up)
		c.emit(Event{Kind: EventStargateUp, Detail: reasonReset})
	}
	if !wasUp {
		c.phaseInit(reasonReset)
	}
}
