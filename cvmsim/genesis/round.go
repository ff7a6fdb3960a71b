package genesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// nfsTarget is the address every host mounts its datastores from: the
// local CVM's eth1, which a forwarding route sends to another CVM's eth0.
func nfsTarget() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, 5, 2}), 32)
}

// ErrNoLeader is Tick's error when no CVM could run the round.
var ErrNoLeader = errors.New("genesis: no CVM can lead")

// Tick runs one round: check the Stargates from the leader, then correct
// every host's route, hosts concurrently. The error joins what went wrong
// (an unreachable host, a failed command); all of it is logged too, and
// the next round tries again.
func (g *Genesis) Tick(ctx context.Context) error {
	g.round.Lock()
	defer g.round.Unlock()
	g.forgetLocked()
	v := g.check(ctx)
	if v == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrNoLeader
	}
	errs := make([]error, len(g.hosts))
	var wg sync.WaitGroup
	for i, hs := range g.hosts {
		wg.Go(func() { errs[i] = safely(func() error { return g.serveHost(ctx, v, hs) }) })
	}
	wg.Wait()
	err := errors.Join(errs...)
	// The round's end, for waiters: a test or a conformance kit knows the
	// host actions of this round are done.
	end := Event{Kind: EventRound, Leader: v.leader.Name()}
	if err != nil {
		end.Err = err.Error()
	}
	g.emit(end)
	return err
}

// view is a round's picture of the cluster.
type view struct {
	now    time.Time
	leader CVM
	cvms   []cvmView // name order
	extra  io.Writer // the leader's own genesis.out
}

type cvmView struct {
	c       CVM
	healthy bool
	stable  bool
	err     error         // why it is unhealthy
	upFor   time.Duration // since it answered again, if not yet stable
}

func (v *view) byIP(a netip.Addr) *cvmView {
	for i := range v.cvms {
		if v.cvms[i].c.PublicIP() == a {
			return &v.cvms[i]
		}
	}
	return nil
}

// local returns the CVM serving host locally and its index, or -1.
func (v *view) local(host string) int {
	for i := range v.cvms {
		if v.cvms[i].c.Host() == host {
			return i
		}
	}
	return -1
}

// target picks the CVM a host whose local CVM (index i) failed forwards
// to: the next healthy CVM after it in name order, so that a host keeps
// its target from round to round and the failed CVM's neighbours do not
// all pile onto the first CVM. A stable CVM is preferred to one that has
// just come back; a dead or booting one is never chosen.
func (v *view) target(i int) *cvmView {
	n := len(v.cvms)
	for _, needStable := range []bool{true, false} {
		for k := 1; k < n; k++ {
			c := &v.cvms[(i+k)%n]
			if c.healthy && (c.stable || !needStable) {
				return c
			}
		}
	}
	return nil
}

// probeAll runs check on every CVM for which want says so, concurrently,
// each bounded by ProbeTimeout.
func (g *Genesis) probeAll(ctx context.Context, want func(int) bool, check func(context.Context, CVM) (bool, error)) ([]bool, []error) {
	ok := make([]bool, len(g.cvms))
	errs := make([]error, len(g.cvms))
	var wg sync.WaitGroup
	for i, c := range g.cvms {
		if !want(i) {
			continue
		}
		wg.Go(func() {
			pctx, cancel := withTimeout(ctx, g.cfg.TimeoutClock, g.cfg.ProbeTimeout, "stargate check")
			defer cancel()
			errs[i] = safely(func() (err error) {
				ok[i], err = check(pctx, c)
				return err
			})
			if !ok[i] && errs[i] == nil {
				errs[i] = errors.New("not serving")
			}
			if pctx.Err() != nil && errs[i] != nil {
				errs[i] = ctxErr(pctx)
			}
		})
	}
	wg.Wait()
	return ok, errs
}

// check is ha_service.py's part: elect the leader, check every Stargate
// from it, remember who is up and for how long. nil means no round.
func (g *Genesis) check(ctx context.Context) *view {
	now := g.cfg.Clock.Now()
	all := func(int) bool { return true }
	// Every CVM's own view first: a CVM whose Stargate does not answer its
	// own node is down whoever asks, and the election needs it.
	ok, errs := g.probeAll(ctx, all, func(ctx context.Context, c CVM) (bool, error) { return c.Healthy(ctx) })
	if ctx.Err() != nil {
		// Shutting down: every probe failed for that reason, and
		// remembering them as down would restart the stability clocks.
		return nil
	}
	li := -1
	if g.cfg.Leader != nil {
		if l := g.cfg.Leader(); l != nil {
			for i, c := range g.cvms {
				if c.Name() == l.Name() {
					li = i
				}
			}
		}
		if li >= 0 && !ok[li] {
			g.log.line(nil, "WARNING", srcNoLeader, "Genesis leader %s is down: %v", g.cvms[li].PublicIP(), errs[li])
			li = -1
		}
	} else {
		// The leader stays while it is healthy, as a ZooKeeper leadership
		// does: a CVM that has just booted does not take over. Otherwise
		// the lowest-named healthy CVM leads.
		for i, c := range g.cvms {
			if ok[i] && c.Name() == g.leader {
				li = i
			}
		}
		for i := range g.cvms {
			if li < 0 && ok[i] {
				li = i
			}
		}
	}
	if li < 0 {
		g.remember(now, ok, errs, nil)
		if g.leader != "" {
			g.emit(Event{Kind: EventLeader, Detail: "no leader"})
		}
		g.leader = ""
		g.log.line(nil, "WARNING", srcNoLeader, "No CVM with a functioning Stargate can lead; skipping this round")
		return nil
	}
	leader := g.cvms[li]
	var extra io.Writer
	if g.cfg.LeaderLog != nil {
		extra = g.cfg.LeaderLog(leader)
	}
	if g.leader != leader.Name() {
		g.leader = leader.Name()
		g.log.line(extra, "INFO", srcLeader, "This node %s is the HA leader", leader.PublicIP())
		g.emit(Event{Kind: EventLeader, Leader: leader.Name(), CVM: leader.Name()})
	}
	if pc, isPC := leader.(PeerChecker); isPC {
		// Then the leader's view of the others: a Stargate that answers
		// its own node but not the leader is down for the cluster.
		peers := func(i int) bool { return i != li && ok[i] }
		pok, perrs := g.probeAll(ctx, peers, pc.CheckPeer)
		for i := range g.cvms {
			if peers(i) {
				ok[i], errs[i] = pok[i], perrs[i]
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	v := g.remember(now, ok, errs, extra)
	v.leader = leader
	g.logCheck(v)
	return v
}

// remember updates the CVMs' states with a round's results and logs the
// changes.
func (g *Genesis) remember(now time.Time, ok []bool, errs []error, extra io.Writer) *view {
	v := &view{now: now, extra: extra}
	for i, c := range g.cvms {
		st := g.states[c.Name()]
		switch {
		case ok[i] && !st.seen:
			st.upSince = time.Time{} // healthy before we looked
		case ok[i] && !st.healthy:
			st.upSince = now
			g.emit(Event{Kind: EventStargateUp, CVM: c.Name(), Leader: g.leader})
		case !ok[i] && (st.healthy || !st.seen):
			g.emit(Event{Kind: EventStargateDown, CVM: c.Name(), Leader: g.leader, Err: errString(errs[i])})
		}
		st.seen, st.healthy = true, ok[i]
		cv := cvmView{c: c, healthy: ok[i], stable: st.stable(now, g.cfg.StablePeriod), err: errs[i]}
		if cv.healthy && !cv.stable {
			cv.upFor = now.Sub(st.upSince)
		}
		v.cvms = append(v.cvms, cv)
	}
	return v
}

func (g *Genesis) logCheck(v *view) {
	ips := make([]string, len(v.cvms))
	detail := make([]string, len(v.cvms))
	allGood := true
	for i, c := range v.cvms {
		ips[i] = c.c.PublicIP().String()
		state := "up"
		switch {
		case !c.healthy:
			state = "down"
			allGood = false
		case !c.stable:
			state = "starting"
			allGood = false
		}
		detail[i] = c.c.Name() + "=" + state
	}
	g.log.line(v.extra, "INFO", srcCheck, "Checking if all Stargates are alive and functioning on CVMs %s", strings.Join(ips, ", "))
	for _, c := range v.cvms {
		switch {
		case !c.healthy && errors.Is(c.err, ErrNotInitialised):
			g.log.line(v.extra, "INFO", srcStargateInit, "Stargate on CVM %s is alive but the CVM is not fully initialised yet", c.c.PublicIP())
		case !c.healthy:
			g.log.line(v.extra, "WARNING", srcStargateDown, "Stargate on CVM %s is down: %v", c.c.PublicIP(), c.err)
		case !c.stable:
			g.log.line(v.extra, "INFO", srcStargateInit, "Stargate on CVM %s is alive but not fully initialised yet (up for %v, waiting for %v)",
				c.c.PublicIP(), c.upFor.Round(time.Second), g.cfg.StablePeriod)
		}
	}
	if allGood {
		g.log.line(v.extra, "INFO", srcAllAlive, "All %d Stargates are alive and functioning", len(v.cvms))
	}
	g.emit(Event{Kind: EventCheck, Leader: v.leader.Name(), Detail: strings.Join(detail, " ")})
}

// serveHost is hypervisor_ha.py's part for one host: read its routes and
// correct them, within HostTimeout.
func (g *Genesis) serveHost(ctx context.Context, v *view, hs *hostState) error {
	h := hs.h
	ctx, cancel := withTimeout(ctx, g.cfg.TimeoutClock, g.cfg.HostTimeout, "hypervisor "+h.PublicIP.String())
	defer cancel()
	r := &hostRound{g: g, v: v, hs: hs, ctx: ctx}
	li := v.local(h.Name)
	g.log.line(v.extra, "INFO", srcCheckHost, "Checking if hypervisor %s is forwarding %s to a remote CVM", h.PublicIP, nfsTarget().Addr())
	routes, err := r.routes()
	if err != nil {
		return err
	}
	if li < 0 {
		if len(routes) > 0 {
			g.log.line(v.extra, "WARNING", srcNoLocal, "Hypervisor %s has no local CVM; leaving its route to %s via %s",
				h.PublicIP, nfsTarget().Addr(), routes[0].Gateway)
		}
		return nil
	}
	local := &v.cvms[li]
	good := len(routes) == 1 && g.forwardsWell(v, routes[0], local)
	switch {
	case local.stable:
		// The local Stargate is alive and has been for long enough:
		// any forwarding is illegal now.
		for _, rt := range routes {
			if err := r.unforward(rt, local); err != nil {
				return err
			}
		}
	case good && local.healthy:
		g.log.line(v.extra, "INFO", srcWaitStable, "Keeping hypervisor %s forwarding %s via %s until Stargate on its CVM %s has been alive for %v (up for %v)",
			h.PublicIP, nfsTarget().Addr(), routes[0].Gateway, local.c.PublicIP(), g.cfg.StablePeriod, local.upFor.Round(time.Second))
	case good:
		g.log.line(v.extra, "INFO", srcForwarding, "Hypervisor %s forwards %s to healthy CVM %s while Stargate on its CVM %s is down",
			h.PublicIP, nfsTarget().Addr(), routes[0].Gateway, local.c.PublicIP())
	case local.healthy && len(routes) == 0:
		// Just back, not stable yet, and nothing forwards: its traffic
		// already goes to it.
	default:
		// Down (or just back, behind a route that leads nowhere): forward
		// to a healthy CVM.
		return r.forward(routes, li)
	}
	return nil
}

// forwardsWell says whether rt sends the host's NFS to a healthy CVM
// other than its failed local one.
func (g *Genesis) forwardsWell(v *view, rt Route, local *cvmView) bool {
	c := v.byIP(rt.Gateway)
	return c != nil && c.healthy && c != local
}

// hostRound is one host's share of a round.
type hostRound struct {
	g   *Genesis
	v   *view
	hs  *hostState
	ctx context.Context
}

// run runs cmd on the host; a connection failure or a non-zero exit is
// logged, reported and returned.
func (r *hostRound) run(cmd string, kind string, ev Event) (result, error) {
	h := r.hs.h
	res, err := r.hs.conn.run(r.ctx, cmd, func(reconnect bool) {
		verb := "Connected"
		if reconnect {
			verb = "Reconnected"
		}
		r.g.log.line(r.v.extra, "INFO", srcConnect, "%s to hypervisor %s over ssh", verb, h.PublicIP)
	})
	if err != nil {
		r.g.log.line(r.v.extra, "ERROR", srcSSHError, "Failed to run %q on hypervisor %s over ssh: %v", cmd, h.PublicIP, err)
		r.g.emit(Event{Kind: EventSSHError, Leader: r.v.leader.Name(), Host: h.Name, Detail: cmd, Err: err.Error()})
		if kind != "" {
			ev.Kind, ev.Err = kind, err.Error()
			r.g.emit(ev)
		}
		return res, fmt.Errorf("hypervisor %s (%s): %q: %w", h.Name, h.PublicIP, cmd, err)
	}
	if res.exit != 0 {
		r.g.log.line(r.v.extra, "ERROR", srcCommandFailed, "Command %q failed on hypervisor %s: %s", cmd, h.PublicIP, res.failed())
		if kind != "" {
			ev.Kind, ev.Err = kind, res.failed()
			r.g.emit(ev)
		}
		return res, fmt.Errorf("hypervisor %s (%s): %q: %s", h.Name, h.PublicIP, cmd, res.failed())
	}
	if kind != "" {
		ev.Kind = kind
		r.g.emit(ev)
	}
	return res, nil
}

// routes lists the host's routes to 192.168.5.2/32.
func (r *hostRound) routes() ([]Route, error) {
	res, err := r.run("esxcfg-route -l", "", Event{})
	if err != nil {
		return nil, err
	}
	all, err := ParseRoutes(res.stdout)
	if err != nil {
		h := r.hs.h
		r.g.log.line(r.v.extra, "ERROR", srcCommandFailed, "Cannot read the routes of hypervisor %s: %v", h.PublicIP, err)
		return nil, fmt.Errorf("hypervisor %s: %w", h.Name, err)
	}
	var out []Route
	for _, rt := range all {
		if rt.Network == nfsTarget() {
			out = append(out, rt)
		}
	}
	return out, nil
}

func routeCmd(op string, gw netip.Addr) string {
	t := nfsTarget()
	return fmt.Sprintf("esxcfg-route %s %s %s %s", op, t.Addr(), netmask(t.Bits()), gw)
}

func (r *hostRound) event(c CVM, gw netip.Addr) Event {
	e := Event{Leader: r.v.leader.Name(), Host: r.hs.h.Name, Gateway: gw}
	if c != nil {
		e.CVM = c.Name()
	}
	return e
}

func (r *hostRound) deleteRoute(rt Route) error {
	h := r.hs.h
	c := r.v.byIP(rt.Gateway)
	var cvm CVM
	if c != nil {
		cvm = c.c
	}
	r.g.log.line(r.v.extra, "INFO", srcDelRoute, "Removing route to %s via %s on hypervisor %s", nfsTarget().Addr(), rt.Gateway, h.PublicIP)
	_, err := r.run(routeCmd("-d", rt.Gateway), EventRouteDelete, r.event(cvm, rt.Gateway))
	return err
}

func (r *hostRound) addRoute(c *cvmView) error {
	h := r.hs.h
	gw := c.c.PublicIP()
	r.g.log.line(r.v.extra, "INFO", srcAddRoute, "Adding route to %s via %s on hypervisor %s", nfsTarget().Addr(), gw, h.PublicIP)
	_, err := r.run(routeCmd("-a", gw), EventRouteAdd, r.event(c.c, gw))
	return err
}

// forward makes the host whose local CVM (index li) cannot serve it
// forward to a healthy CVM: routes that lead elsewhere go, one to the
// target comes.
func (r *hostRound) forward(routes []Route, li int) error {
	h := r.hs.h
	local := &r.v.cvms[li]
	target := r.v.target(li)
	if target == nil {
		r.g.log.line(r.v.extra, "WARNING", srcNoTarget, "Stargate on CVM %s is down and no other CVM has a functioning Stargate: hypervisor %s cannot be forwarded",
			local.c.PublicIP(), h.PublicIP)
		r.g.emit(Event{Kind: EventNoTarget, Leader: r.v.leader.Name(), Host: h.Name, CVM: local.c.Name()})
		return nil
	}
	why := "is down"
	if local.healthy {
		why = "is not fully initialised yet"
	}
	if len(routes) == 0 {
		r.g.log.line(r.v.extra, "INFO", srcAbsent, "Hypervisor %s is not forwarding %s while Stargate on its CVM %s %s; creating a task to add a route via %s",
			h.PublicIP, nfsTarget().Addr(), local.c.PublicIP(), why, target.c.PublicIP())
	}
	via := false
	for _, rt := range routes {
		if rt.Gateway == target.c.PublicIP() {
			via = true
			continue
		}
		r.g.log.line(r.v.extra, "INFO", srcBadTarget, "Hypervisor %s forwards %s via %s, which is not a healthy CVM, while Stargate on its CVM %s %s; creating a task to forward it via %s",
			h.PublicIP, nfsTarget().Addr(), rt.Gateway, local.c.PublicIP(), why, target.c.PublicIP())
		if err := r.deleteRoute(rt); err != nil {
			return err
		}
	}
	if via {
		return nil
	}
	return r.addRoute(target)
}

// unforward removes a route of a host whose local Stargate is alive and
// functioning. A route to a healthy CVM is taken down gracefully: that
// CVM's Stargate first closes the host's connections
// (NfsTerminateConnection), then the route goes.
func (r *hostRound) unforward(rt Route, local *cvmView) error {
	h := r.hs.h
	c := r.v.byIP(rt.Gateway)
	if c == nil || !c.healthy {
		r.g.log.line(r.v.extra, "INFO", srcIllegal, "Illegal forwarding of %s via %s on hypervisor %s, which is not a healthy CVM; Stargate on its CVM %s is alive and functioning; creating a task to delete the route",
			nfsTarget().Addr(), rt.Gateway, h.PublicIP, local.c.PublicIP())
		return r.deleteRoute(rt)
	}
	r.g.log.line(r.v.extra, "INFO", srcIllegal, "Illegal forwarding of %s via CVM %s on hypervisor %s; Stargate on its CVM %s is alive and functioning; creating a task to delete the route",
		nfsTarget().Addr(), rt.Gateway, h.PublicIP, local.c.PublicIP())
	r.terminate(c)
	return r.deleteRoute(rt)
}

// terminate sends NfsTerminateConnection for the host to c. A failure is
// logged and the route is deleted anyway: the fabric then resets what the
// Stargate did not close.
func (r *hostRound) terminate(c *cvmView) {
	h := r.hs.h
	r.g.log.line(r.v.extra, "INFO", srcTerminate, "Sending NfsTerminateConnection for client %s to Stargate on CVM %s", h.PublicIP, c.c.PublicIP())
	n, err := c.c.TerminateNFS(r.ctx, h.PublicIP)
	ev := r.event(c.c, c.c.PublicIP())
	ev.Kind, ev.Client, ev.Count = EventTerminate, h.PublicIP, n
	if err != nil {
		ev.Err = err.Error()
		r.g.log.line(r.v.extra, "ERROR", srcTerminate, "NfsTerminateConnection for client %s on CVM %s failed: %v", h.PublicIP, c.c.PublicIP(), err)
	} else {
		r.g.log.line(r.v.extra, "INFO", srcTerminate, "NfsTerminateConnection closed %d connection(s) of client %s on CVM %s", n, h.PublicIP, c.c.PublicIP())
	}
	r.g.emit(ev)
}

// safely runs f, turning a panic (in a CVM implementation, say) into an
// error: a round may fail, Genesis must not.
func safely(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("genesis: panic: %v", v)
		}
	}()
	return f()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
