package conform

import (
	"strings"
	"testing"
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// The grading on hand-made timelines: every rule and the sentence it
// says, without a lab.

const (
	hostA, hostB, hostC = "NTNX-BLOCK1-A", "NTNX-BLOCK1-B", "NTNX-BLOCK1-C"
	cvmA, cvmB, cvmC    = "NTNX-BLOCK1-A-CVM", "NTNX-BLOCK1-B-CVM", "NTNX-BLOCK1-C-CVM"
	gwB, gwC            = "192.168.1.28", "192.168.1.29"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func defaultInfo() labInfo {
	return labInfo{
		hosts: []hostInfo{{hostA, "192.168.1.24", cvmA}, {hostB, "192.168.1.25", cvmB}, {hostC, "192.168.1.26", cvmC}},
		cvms:  []cvmInfo{{cvmA, hostA, "192.168.1.27"}, {cvmB, hostB, gwB}, {cvmC, hostC, gwC}},
	}
}

// timeline is a test's scenario: events in order, the final routes.
type tl struct {
	in gradeInput
}

func newTL() *tl {
	w := newWorld()
	for _, c := range []string{cvmA, cvmB, cvmC} {
		w.cvm[c] = cvmState{Power: stUp, Stargate: sgUp}
	}
	return &tl{in: gradeInput{
		li: defaultInfo(), start: t0, end: at(10000), initial: w, budget: map[string]int{},
		maxDetection: 3 * time.Second, maxOutage: 4 * time.Second, repoint: time.Second, scale: 0.05,
		finalStatic: map[string][]string{}, initialStatic: map[string][]string{},
		finalCVMs: map[string]cvmState{}, workloads: map[string]bool{hostA: true, hostB: true, hostC: true},
	}}
}

func (t *tl) ev(ms int, e harness.Event) *tl {
	t.in.events = append(t.in.events, stamped{At: at(ms), Event: e})
	return t
}

func (t *tl) cvm(ms int, kind, name string) *tl {
	return t.ev(ms, harness.Event{Kind: kind, Node: name})
}

func (t *tl) route(ms int, kind, host, gw string) *tl {
	return t.ev(ms, harness.Event{Kind: kind, Node: host, Netstack: defaultNetstack, Network: nfsTarget, Gateway: gw})
}

func (t *tl) operatorRoute(ms int, kind, host, gw string) *tl {
	t.route(ms, kind, host, gw)
	t.in.events[len(t.in.events)-1].Operator = true
	return t
}

func (t *tl) expect(host, want string, ms int, label string) *tl {
	t.in.exps = append(t.in.exps, expectation{Host: host, Want: want, Trigger: at(ms), Label: label})
	return t
}

// final sets the end state: CVM states by name (default healthy) and the
// NFS routes left per host.
func (t *tl) final(cvms map[string]cvmState, routes map[string]string) *tl {
	for _, c := range []string{cvmA, cvmB, cvmC} {
		t.in.finalCVMs[c] = cvmState{Power: stUp, Stargate: sgUp}
	}
	for k, v := range cvms {
		t.in.finalCVMs[k] = v
	}
	for h, gw := range routes {
		t.in.finalStatic[h] = []string{nfsTarget + " via " + gw}
	}
	return t
}

func (t *tl) grade() map[string]Check {
	g := grade(t.in)
	out := map[string]Check{}
	for _, c := range g.checks {
		out[c.Name] = c
	}
	return out
}

var off = cvmState{Power: stOff, Stargate: sgDown}

func wantCheck(t *testing.T, checks map[string]Check, name string, passed bool, reason ...string) {
	t.Helper()
	c, ok := checks[name]
	if !ok {
		t.Fatalf("no check %s", name)
	}
	if c.Passed != passed {
		t.Errorf("%s: passed %v, want %v: %s", name, c.Passed, passed, c.Reason)
	}
	for _, r := range reason {
		if !strings.Contains(c.Reason, r) {
			t.Errorf("%s: reason %q does not say %q", name, c.Reason, r)
		}
	}
}

func TestGradeRouteLeftInPlace(t *testing.T) {
	checks := newTL().
		operatorRoute(100, "route.add", hostA, gwB).
		expect(hostA, wantLocal, 100, "the operator's route via "+gwB).
		final(nil, map[string]string{hostA: gwB}).grade()
	wantCheck(t, checks, CheckFinalRoutes, false,
		"host NTNX-BLOCK1-A still routes 192.168.5.2/32 via 192.168.1.28 at the end; want no such route (NTNX-BLOCK1-A-CVM is healthy)")
	wantCheck(t, checks, CheckDetection, false, "had not removed its route", "9.90 s after the operator's route via 192.168.1.28", "within 3.00 s")
	wantCheck(t, checks, CheckNoFlapping, true)
	if c := checks[CheckGraceful]; !c.Skipped {
		t.Errorf("graceful-termination applies with no removal: %+v", c)
	}
}

func TestGradeFailover(t *testing.T) {
	g := newTL().
		cvm(1000, "power.off", cvmA).cvm(1000, "stargate.down", cvmA).
		expect(hostA, wantForwarded, 1000, cvmA+" powered off").
		route(2500, "route.add", hostA, gwB).
		final(map[string]cvmState{cvmA: off}, map[string]string{hostA: gwB})
	g.in.budget[hostA] = 1
	checks := g.grade()
	for _, name := range []string{CheckDetection, CheckFinalRoutes, CheckNoDeadCVM, CheckNoFlapping, CheckGraceful, CheckCommands, CheckOutage} {
		wantCheck(t, checks, name, true)
	}
	wantCheck(t, checks, CheckDetection, true, "host NTNX-BLOCK1-A in 1.50 s")
	if d := grade(g.in).detectionMS; d != 1500 {
		t.Errorf("detection %v ms, want 1500", d)
	}
}

func TestGradeLateAnswer(t *testing.T) {
	checks := newTL().
		cvm(1000, "power.off", cvmA).
		expect(hostA, wantForwarded, 1000, cvmA+" powered off").
		route(5000, "route.add", hostA, gwB).
		final(map[string]cvmState{cvmA: off}, map[string]string{hostA: gwB}).grade()
	wantCheck(t, checks, CheckDetection, false, "4.00 s after NTNX-BLOCK1-A-CVM powered off; the limit is 3.00 s")
}

func TestGradeRouteToDeadCVM(t *testing.T) {
	checks := newTL().
		cvm(1000, "power.off", cvmA).cvm(1000, "power.off", cvmB).
		route(1500, "route.add", hostA, gwB).
		final(map[string]cvmState{cvmA: off, cvmB: off}, map[string]string{hostA: gwB}).grade()
	wantCheck(t, checks, CheckNoDeadCVM, false, "host NTNX-BLOCK1-A was routed 192.168.5.2/32 via 192.168.1.28 at 1.50 s while NTNX-BLOCK1-B-CVM was off")
	wantCheck(t, checks, CheckFinalRoutes, false, "via 192.168.1.28 at the end, but NTNX-BLOCK1-B-CVM is off")
}

func TestGradeRouteToNothing(t *testing.T) {
	checks := newTL().
		cvm(1000, "power.off", cvmA).
		route(1500, "route.add", hostA, "192.168.1.99").
		final(map[string]cvmState{cvmA: off}, map[string]string{hostA: "192.168.1.99"}).grade()
	wantCheck(t, checks, CheckNoDeadCVM, false, "via 192.168.1.99 at 1.50 s, which is no CVM's address")
	wantCheck(t, checks, CheckFinalRoutes, false, "which is no CVM's address")
}

func TestGradeRepoint(t *testing.T) {
	base := func() *tl {
		return newTL().
			cvm(1000, "power.off", cvmA).
			route(2000, "route.add", hostA, gwB).
			cvm(3000, "power.off", cvmB).
			route(4000, "route.delete", hostA, gwB)
	}
	// Delete then add at once: one re-point, not a trip to dead CVM A.
	checks := base().route(4050, "route.add", hostA, gwC).
		final(map[string]cvmState{cvmA: off, cvmB: off}, map[string]string{hostA: gwC}).grade()
	wantCheck(t, checks, CheckNoDeadCVM, true)
	wantCheck(t, checks, CheckGraceful, true) // B was dead: nothing to terminate
	// Delete, and nothing after it: host A is left on its dead CVM.
	checks = base().final(map[string]cvmState{cvmA: off, cvmB: off}, nil).grade()
	wantCheck(t, checks, CheckNoDeadCVM, false, "host NTNX-BLOCK1-A's route via 192.168.1.28 was removed at 4.00 s while its own NTNX-BLOCK1-A-CVM was off")
	// Delete, and the add only after the re-point window.
	checks = base().route(6000, "route.add", hostA, gwC).
		final(map[string]cvmState{cvmA: off, cvmB: off}, map[string]string{hostA: gwC}).grade()
	wantCheck(t, checks, CheckNoDeadCVM, false, "removed at 4.00 s")
}

func TestGradeSwitchBack(t *testing.T) {
	base := func() *tl {
		return newTL().
			cvm(1000, "power.off", cvmA).
			route(2000, "route.add", hostA, gwB).
			cvm(3000, "power.on", cvmA).
			cvm(4000, "stargate.up", cvmA)
	}
	// Too early: CVM A's Stargate answers but it is still booting.
	checks := base().route(4500, "route.delete", hostA, gwB).final(nil, nil).grade()
	wantCheck(t, checks, CheckNoDeadCVM, false, "while its own NTNX-BLOCK1-A-CVM was booting (Stargate up, not fully initialised)")
	wantCheck(t, checks, CheckGraceful, false,
		"host NTNX-BLOCK1-A's route via 192.168.1.28 was removed at 4.50 s without an NfsTerminateConnection for 192.168.1.24 on NTNX-BLOCK1-B-CVM first")
	// In time, gracefully.
	checks = base().cvm(5000, "booted", cvmA).
		ev(6000, harness.Event{Kind: "nfs.terminate", Node: cvmB, Client: "192.168.1.24:0"}).
		route(6010, "route.delete", hostA, gwB).final(nil, nil).grade()
	wantCheck(t, checks, CheckNoDeadCVM, true)
	wantCheck(t, checks, CheckGraceful, true, "1 route(s)")
	// A terminate for another client does not count.
	checks = base().cvm(5000, "booted", cvmA).
		ev(6000, harness.Event{Kind: "nfs.terminate", Node: cvmB, Client: "192.168.1.26:0"}).
		route(6010, "route.delete", hostA, gwB).final(nil, nil).grade()
	wantCheck(t, checks, CheckGraceful, false)
}

func TestGradeFlapping(t *testing.T) {
	g := newTL().
		cvm(1000, "power.off", cvmA).
		route(2000, "route.add", hostA, gwB).
		route(3000, "route.delete", hostA, gwB).
		route(3500, "route.add", hostA, gwC).
		route(4000, "route.add", hostB, gwC).
		final(map[string]cvmState{cvmA: off}, map[string]string{hostA: gwC, hostB: gwC})
	g.in.budget[hostA] = 1
	checks := g.grade()
	wantCheck(t, checks, CheckNoFlapping, false,
		"host NTNX-BLOCK1-A's route to 192.168.5.2/32 changed 3 times (add via 192.168.1.28 at 2.00 s, delete via 192.168.1.28 at 3.00 s, add via 192.168.1.29 at 3.50 s); the scenario needs at most 1",
		"host NTNX-BLOCK1-B's route to 192.168.5.2/32 changed 1 times")
	wantCheck(t, checks, CheckFinalRoutes, false, "host NTNX-BLOCK1-B still routes 192.168.5.2/32 via 192.168.1.29 at the end")
}

func TestGradeOutage(t *testing.T) {
	g := newTL().
		cvm(1000, "power.off", cvmA).
		expect(hostA, wantForwarded, 1000, "x").
		// Noticed 1 s (lab time, 50 ms real) after it began.
		ev(1100, harness.Event{Kind: "io.outage.start", Node: hostA, DurationMS: 1000}).
		route(1500, "route.add", hostA, gwB).
		ev(6050, harness.Event{Kind: "io.outage.end", Node: hostA}).
		final(map[string]cvmState{cvmA: off}, map[string]string{hostA: gwB})
	checks := g.grade()
	wantCheck(t, checks, CheckOutage, false, "host NTNX-BLOCK1-A's VM had no IO for 5.00 s; the limit is 4.00 s")
	if o := grade(g.in).outageMS; o != 5000 {
		t.Errorf("outage %v ms, want 5000", o)
	}
	g.ev(7000, harness.Event{Kind: "io.corruption", Node: hostA, Detail: "block 3: lost-write: want gen 5, got gen 4"})
	wantCheck(t, g.grade(), CheckOutage, false, "a write was lost: host NTNX-BLOCK1-A's VM read back block 3: lost-write")
}

func TestGradeCommands(t *testing.T) {
	zero, missing := 0, 127
	g := newTL().
		ev(100, harness.Event{Kind: "ssh.command", Node: hostA, User: "root", Command: "esxcfg-route -l", Exit: &zero}).
		ev(200, harness.Event{Kind: "ssh.command", Node: hostA, User: "root", Command: "route -n", Exit: &missing}).
		final(nil, nil)
	checks := g.grade()
	wantCheck(t, checks, CheckCommands, false, `"route -n" on NTNX-BLOCK1-A (exit 127)`)
	if cmds := grade(g.in).commands; len(cmds) != 2 || cmds[1].AtMS != 200 || cmds[1].Exit != 127 {
		t.Errorf("commands %+v", cmds)
	}
}

func TestTimeline(t *testing.T) {
	g := newTL().
		cvm(1000, "power.off", cvmA).cvm(1000, "stargate.down", cvmA).
		cvm(1500, "power.off", cvmB).
		route(2000, "route.add", hostA, gwB).
		final(map[string]cvmState{cvmA: off, cvmB: off}, map[string]string{hostA: gwB})
	gr := grade(g.in)
	tlv := timeline(g.in, gr, []mark{{At: at(1000), Label: "CVM A powered off"}})
	find := func(name string) Track {
		for _, tr := range tlv.Tracks {
			if tr.Name == name {
				return tr
			}
		}
		t.Fatalf("no track %q", name)
		return Track{}
	}
	if p := find(cvmA + " power"); len(p.Spans) != 2 || p.Spans[1].State != "off" || p.Spans[1].FromMS != 1000 {
		t.Errorf("CVM A power %+v", p.Spans)
	}
	r := find(hostA + " route")
	if len(r.Spans) != 2 || r.Spans[1].State != "via "+gwB || !r.Spans[1].Bad || r.Spans[0].Bad {
		t.Errorf("host A route %+v", r.Spans)
	}
	if tlv.EndMS != 10000 || len(tlv.Marks) < 2 || tlv.Marks[0].Label != "CVM A powered off" {
		t.Errorf("timeline end %v marks %+v", tlv.EndMS, tlv.Marks)
	}
}
