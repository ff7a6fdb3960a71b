package harness

import (
	"fmt"
	"time"

	"github.com/autopathlab/autopathlab/sshd"
)

// applySSHFault puts a fault on a host's SSH server. A counted fault that
// has hit Count times leaves the list by itself, as one whose time ran out.
func (l *Lab) applySSHFault(id string, spec *FaultSpec) (applied, error) {
	h, name, err := l.resolveHost(spec.Node)
	if err != nil {
		return applied{}, fmt.Errorf("%s: %w (SSH faults act on ESXi hosts)", spec.Kind, err)
	}
	spec.Node = name
	f := sshd.Fault{Count: spec.Count, Command: spec.Command}
	switch spec.Kind {
	case FaultSSHRefuse:
		f.Kind = sshd.FaultRefuse
	case FaultSSHSlow:
		if spec.Delay <= 0 {
			return applied{}, fmt.Errorf("ssh-slow on %s: delay must be positive (e.g. \"2s\")", name)
		}
		f.Kind, f.Delay = sshd.FaultSlow, time.Duration(spec.Delay)
	case FaultSSHDrop:
		f.Kind = sshd.FaultDrop
	case FaultSSHHang:
		f.Kind = sshd.FaultHang
	}
	if spec.Count > 0 {
		// Spent: the fault leaves the list, as one whose time ran out.
		f.OnExhausted = func() { _ = l.RemoveFault(id) }
	}
	remove, hits := h.AddSSHFault(f)
	return applied{revert: remove, hits: hits}, nil
}
