package conform

import (
	"time"

	"github.com/autopathlab/autopathlab/harness"
)

// Beyond seed 001: the cases a careless implementation gets wrong.
var moreScenarios = []Scenario{
	{Name: "h-cvm-flapping", Nodes: 2, Run: cvmFlapping,
		Title:       "CVM A flaps",
		Description: "CVM A powers off, on, off while booting, and on again. The implementation must not chase it: route host A away once, keep the route while CVM A boots (its Stargate answers before it is fully initialised), and switch back once, after CVM A is stable."},
	{Name: "i-two-cvms-down", Nodes: 3, Run: twoCVMsDown,
		Title:       "Two CVMs power off at once",
		Description: "CVMs A and B power off together. The implementation must route hosts A and B via the only healthy CVM, C."},
	{Name: "j-ssh-refused-during-switch", Nodes: 2, Run: sshRefusedDuringSwitch,
		Title:       "Host A's SSH is unreachable when CVM A fails",
		Description: "Host A's SSH server cuts the next session and refuses every connection for 20 s (lab time) while CVM A powers off. The implementation must retry and still route host A; the limits grow by the 20 s."},
	{Name: "k-ssh-slow-during-switch", Nodes: 2, Run: sshSlowDuringSwitch,
		Title:       "Host A's SSH is slow when CVM A fails",
		Description: "Host A's SSH server cuts the next session and delays every handshake by 5 s (lab time) while CVM A powers off. The implementation must wait for it and still route host A; the limits grow by twice the delay."},
	{Name: "l-route-to-dead-cvm", Nodes: 3, Run: routeToDeadCVM,
		Title:       "A route points at a dead CVM",
		Description: "CVMs A and B power off and an operator routes host A via CVM B. The implementation must re-point host A to CVM C, and route host B via C as well."},
}

// sshFaultFor is how long host A's SSH stays unreachable in j, and
// sshSlowDelay each handshake's delay in k, on the lab's clock.
const (
	sshFaultFor  = 20 * time.Second
	sshSlowDelay = 5 * time.Second
)

// (h) Off, on, off while booting, on: one route away, one back.
func cvmFlapping(s *S) {
	a := s.Node(0)
	off := powerOff(s, a.CVM)
	s.Budget(a.Host, 2)
	s.Forwarded(off, a.CVM.Name+" powered off", a.Host)
	powerOn(s, a.CVM)
	// Stargate answers long before the CVM is fully initialised: the
	// moment an implementation that trusts Stargate alone switches back.
	s.mark(s.Event("stargate.up", a.CVM.Name, s.BootTime()), a.CVM.Name+"'s Stargate up, still booting")
	powerOff(s, a.CVM)
	s.Pause(10 * time.Second)
	powerOn(s, a.CVM)
	backLocal(s, a)
}

// (i) Two failures: both hosts go to the one CVM left.
func twoCVMsDown(s *S) {
	a, b := s.Node(0), s.Node(1)
	off := s.Do(a.CVM.Name+" and "+b.CVM.Name+" powered off", func() error {
		if err := s.Lab.PowerOff(a.CVM.Name); err != nil {
			return err
		}
		return s.Lab.PowerOff(b.CVM.Name)
	})
	s.Budget(a.Host, 1)
	s.Budget(b.Host, 1)
	s.Forwarded(off, "the power-off of "+a.CVM.Name+" and "+b.CVM.Name, a.Host, b.Host)
}

// cutSSH drops the implementation's next SSH session on host h: an
// implementation that keeps one connection (Genesis does) must reconnect,
// and meets the fault that follows.
func cutSSH(s *S, h hostInfo) {
	s.Do(h.Name+"'s next SSH session cut", func() error {
		_, err := s.Lab.AddFault(harness.FaultSpec{Kind: harness.FaultSSHDrop, Node: h.Name, Count: 1})
		return err
	})
}

// (j) SSH refused while the failover is due.
func sshRefusedDuringSwitch(s *S) {
	a := s.Node(0)
	cutSSH(s, a.Host)
	s.Do(a.Host.Name+"'s SSH refuses connections for "+sshFaultFor.String(), func() error {
		_, err := s.Lab.AddFault(harness.FaultSpec{Kind: harness.FaultSSHRefuse, Node: a.Host.Name, For: harness.Duration(sshFaultFor)})
		return err
	})
	off := powerOff(s, a.CVM)
	s.Extra(s.Emulated(sshFaultFor))
	s.Budget(a.Host, 1)
	s.Forwarded(off, a.CVM.Name+" powered off", a.Host)
}

// (k) SSH slow while the failover is due.
func sshSlowDuringSwitch(s *S) {
	a := s.Node(0)
	cutSSH(s, a.Host)
	s.Do(a.Host.Name+"'s SSH handshakes delayed by "+sshSlowDelay.String(), func() error {
		_, err := s.Lab.AddFault(harness.FaultSpec{Kind: harness.FaultSSHSlow, Node: a.Host.Name, Delay: harness.Duration(sshSlowDelay)})
		return err
	})
	off := powerOff(s, a.CVM)
	s.Extra(2 * s.Emulated(sshSlowDelay))
	s.Budget(a.Host, 1)
	s.Forwarded(off, a.CVM.Name+" powered off", a.Host)
}

// (l) A wrong route to a dead CVM: not good enough because it exists.
func routeToDeadCVM(s *S) {
	a, b := s.Node(0), s.Node(1)
	at := s.Do(a.CVM.Name+" and "+b.CVM.Name+" powered off, an operator routed "+a.Host.Name+" via "+b.CVM.IP, func() error {
		if err := s.Lab.PowerOff(b.CVM.Name); err != nil {
			return err
		}
		if err := s.Lab.AddRoute(a.Host.Name, "", nfsTarget, b.CVM.IP); err != nil {
			return err
		}
		return s.Lab.PowerOff(a.CVM.Name)
	})
	s.Budget(a.Host, 2) // delete, add
	s.Budget(b.Host, 1)
	s.Forwarded(at, "the power-off of "+a.CVM.Name+" and "+b.CVM.Name+" with "+a.Host.Name+" routed via dead "+b.CVM.Name, a.Host, b.Host)
}
