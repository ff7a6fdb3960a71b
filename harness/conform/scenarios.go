package conform

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The scenario set: seed 001's a–g as e2e/scenarios_test.go defines them,
// then the harder cases (scenarios_more.go). Each is a short script over
// the harness Go API; what the implementation must do is said with
// Forwarded and Local, and Budget bounds its route changes per host.
var scenarios = []Scenario{
	{Name: "a-injected-route-to-cvm", Nodes: 2, Stable: true, Run: injectedRouteToCVM,
		Title:       "An operator routes a host's NFS to a healthy remote CVM",
		Description: "In a healthy cluster an operator types esxcfg-route -a 192.168.5.2 255.255.255.255 <CVM B> on host A. The implementation must delete the route within one loop, gracefully: NfsTerminateConnection to CVM B for host A first."},
	{Name: "b-injected-route-to-nothing", Nodes: 1, Stable: true, Run: injectedRouteToNothing,
		Title:       "An operator routes a host's NFS to an address that is no CVM",
		Description: "In a healthy cluster an operator routes host A's 192.168.5.2 via an address nobody answers. The implementation must delete the route; no NfsTerminateConnection applies."},
	{Name: "c-cvm-power-off", Nodes: 2, Run: cvmPowerOff,
		Title:       "CVM A powers off",
		Description: "CVM A loses power. The implementation must route host A's 192.168.5.2 via a healthy CVM's eth0, once, and leave the other hosts alone."},
	{Name: "d-route-deleted-during-failure", Nodes: 2, Run: routeDeletedDuringFailure,
		Title:       "An operator deletes the route while CVM A is down",
		Description: "CVM A powers off and the implementation routes host A via a healthy CVM; an operator then deletes that route. The implementation must add it again."},
	{Name: "e-cvm-power-on", Nodes: 2, Run: cvmPowerOn,
		Title:       "CVM A comes back",
		Description: "CVM A powers off, host A is routed away, CVM A powers on. The implementation must keep the route while CVM A boots and remove it once CVM A is fully initialised (after its stable period), gracefully."},
	{Name: "f-remote-cvm-fails", Nodes: 3, Run: remoteCVMFails,
		Title:       "The CVM host A is routed to fails too",
		Description: "CVM A powers off and host A is routed via CVM X; then CVM X powers off. The implementation must re-point host A to the remaining healthy CVM, and route X's own host too."},
	{Name: "g-stargate-hung", Nodes: 2, Run: stargateHung,
		Title:       "CVM A's Stargate hangs",
		Description: "CVM A stays up but its Stargate accepts connections and never answers (the status page too). The implementation must treat it as down, with a timeout, and route host A via a healthy CVM."},
}

// All lists every scenario in order, the ones after seed 001's a–g too.
func All() []Scenario { return append(append([]Scenario(nil), scenarios...), moreScenarios...) }

// Select picks scenarios by name or letter ("c" or "c-cvm-power-off"),
// in the given order; none means all.
func Select(names []string) ([]Scenario, error) {
	all := All()
	if len(names) == 0 {
		return all, nil
	}
	var out []Scenario
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		found := false
		for _, sc := range all {
			if sc.Name == n || strings.HasPrefix(sc.Name, n+"-") {
				out = append(out, sc)
				found = true
				break
			}
		}
		if !found {
			var known []string
			for _, sc := range all {
				known = append(known, sc.Name)
			}
			return nil, fmt.Errorf("no scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

func powerOff(s *S, c cvmInfo) time.Time {
	return s.Do(c.Name+" powered off", func() error { return s.Lab.PowerOff(c.Name) })
}

func powerOn(s *S, c cvmInfo) time.Time {
	return s.Do(c.Name+" powered on", func() error { return s.Lab.PowerOn(c.Name) })
}

func operatorRoute(s *S, h hostInfo, gw, what string) time.Time {
	return s.Do(fmt.Sprintf("an operator routed %s via %s (%s)", h.Name, gw, what), func() error {
		return s.Lab.AddRoute(h.Name, "", nfsTarget, gw)
	})
}

// (a) The route is illegal while CVM A is healthy: it goes, gracefully.
func injectedRouteToCVM(s *S) {
	a, b := s.Node(0), s.Node(1)
	at := operatorRoute(s, a.Host, b.CVM.IP, b.CVM.Name)
	s.Budget(a.Host, 1)
	s.Local(at, "the operator's route via "+b.CVM.IP, a.Host)
}

// (b) A route to nothing: it goes too, with nobody to terminate.
func injectedRouteToNothing(s *S) {
	a := s.Node(0)
	gw := unusedAddr(s, a.Host)
	at := operatorRoute(s, a.Host, gw, "no CVM")
	s.Budget(a.Host, 1)
	s.Local(at, "the operator's route via "+gw, a.Host)
}

// unusedAddr is an address on host's management subnet that no node has:
// .99 unless taken.
func unusedAddr(s *S, h hostInfo) string {
	taken := map[string]bool{}
	for _, e := range s.Lab.Endpoints() {
		for _, ip := range e.IPs {
			taken[ip] = true
		}
	}
	a, err := netip.ParseAddr(h.IP)
	if err != nil || !a.Is4() {
		return "192.168.1.99"
	}
	b := a.As4()
	for i := 99; i < 255; i++ {
		b[3] = byte(i)
		if c := netip.AddrFrom4(b).String(); !taken[c] {
			return c
		}
	}
	return "192.168.1.99"
}

// (c) The failover itself.
func cvmPowerOff(s *S) {
	a := s.Node(0)
	off := powerOff(s, a.CVM)
	s.Budget(a.Host, 1)
	s.Forwarded(off, a.CVM.Name+" powered off", a.Host)
}

// (d) The implementation puts back what an operator took away.
func routeDeletedDuringFailure(s *S) {
	a := s.Node(0)
	off := powerOff(s, a.CVM)
	s.Budget(a.Host, 2)
	gw := s.Forwarded(off, a.CVM.Name+" powered off", a.Host)
	del := s.Do("an operator deleted "+a.Host.Name+"'s route via "+gw, func() error {
		return s.Lab.DeleteRoute(a.Host.Name, "", nfsTarget, gw)
	})
	s.Forwarded(del, "the operator's delete", a.Host)
}

// (e) The switch back, after the stable period, gracefully.
func cvmPowerOn(s *S) {
	a := s.Node(0)
	off := powerOff(s, a.CVM)
	s.Budget(a.Host, 2)
	s.Forwarded(off, a.CVM.Name+" powered off", a.Host)
	powerOn(s, a.CVM)
	backLocal(s, a)
}

// backLocal waits for n's CVM to be fully initialised again and expects
// n's host back on it, after seed 001's 30 s of healthy Stargate.
func backLocal(s *S, n node) {
	up := s.Healthy(n.CVM, s.BootTime())
	s.mark(up, n.CVM.Name+" fully initialised")
	s.Extra(s.Emulated(genesisStable))
	s.Local(up, n.CVM.Name+" was fully initialised again", n.Host)
}

// (f) The CVM the host was sent to fails as well.
func remoteCVMFails(s *S) {
	a := s.Node(0)
	off := powerOff(s, a.CVM)
	s.Budget(a.Host, 3) // add, then delete and add
	gw := s.Forwarded(off, a.CVM.Name+" powered off", a.Host)
	x, _ := s.li.cvmByIP(gw)
	xHost, _ := s.li.host(x.Host)
	off2 := powerOff(s, x)
	s.Budget(xHost, 1)
	s.Forwarded(off2, x.Name+" powered off", a.Host, xHost)
}

// (g) A hung Stargate is down: only a probe with a timeout sees it.
func stargateHung(s *S) {
	a := s.Node(0)
	hung := s.Do(a.CVM.Name+"'s Stargate hung", func() error { return s.Lab.SetStargate(a.CVM.Name, "hung") })
	s.Budget(a.Host, 1)
	s.Forwarded(hung, a.CVM.Name+"'s Stargate hung", a.Host)
}
