package genesis_test

import (
	"slices"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/cvmsim/genesis"
)

// After Reset the next round is a first round: CVM A, back from a failure
// and not stable yet, counts as stable at once (as a CVM healthy when
// Genesis first sees it does), so host A's route goes now, gracefully;
// the leader is elected and announced afresh; the permanent SSH
// connections stay.
func TestResetForgetsHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tick()
	e.power(cvmA, false)
	e.tick()
	e.wantVia(hostA, ipCVMB)
	e.power(cvmA, true)
	e.advance(30 * time.Second)
	e.tick() // A answers again: not yet stable, the route stays
	e.wantVia(hostA, ipCVMB)

	e.g.Reset()
	mark := e.events.mark()
	e.tick()
	e.wantVia(hostA)
	evs, _ := e.events.since(mark)
	want := []string{
		"genesis.terminate NTNX-BLOCK1-B-CVM NTNX-BLOCK1-A 192.168.1.24",
		"genesis.route_delete NTNX-BLOCK1-A 192.168.1.28",
	}
	if got := changes(evs); !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	var leaders []string
	for _, ev := range evs {
		switch ev.Kind {
		case genesis.EventLeader:
			leaders = append(leaders, ev.Leader)
		case genesis.EventStargateUp, genesis.EventStargateDown:
			t.Errorf("a first round reports no transition: %+v", ev)
		}
	}
	if !slices.Equal(leaders, []string{cvmA}) {
		t.Errorf("leader announcements %v, want [%s]", leaders, cvmA)
	}
	for _, h := range []string{hostA, hostB, hostC} {
		if n := len(e.labEvents("ssh.login", h)); n != 1 {
			t.Errorf("%s: %d SSH logins, want 1: Reset keeps the connections", h, n)
		}
	}

	// A Reset with nothing to forget changes nothing.
	e.g.Reset()
	mark = e.events.mark()
	e.tick()
	evs, _ = e.events.since(mark)
	if c := changes(evs); len(c) != 0 {
		t.Errorf("changes after a reset of a healthy cluster: %v", c)
	}
}
