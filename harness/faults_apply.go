package harness

import (
	"errors"
	"fmt"
	"strings"

	"github.com/autopathlab/autopathlab/cvmsim"
)

// applyFault validates a spec, resolves its references to topology names
// (so the listed fault says exactly what it hit) and applies it.
func (l *Lab) applyFault(id string, spec *FaultSpec) (applied, error) {
	switch spec.Kind {
	case FaultStargateDown, FaultStargateHang:
		c, err := l.resolveCVM(spec.Node)
		if err != nil {
			return applied{}, err
		}
		spec.Node = c.Name()
		st := cvmsim.StargateDown
		if spec.Kind == FaultStargateHang {
			st = cvmsim.StargateHung
		}
		prev := c.StargateFault()
		c.SetStargate(st)
		return applied{revert: func() { c.SetStargate(prev) }}, nil
	case FaultLinkDown, FaultLatency, FaultLoss, FaultPartition:
		return l.applyNetworkFault(spec)
	case FaultSSHRefuse, FaultSSHSlow, FaultSSHDrop, FaultSSHHang:
		return l.applySSHFault(id, spec)
	case "":
		return applied{}, errors.New("fault: kind is missing (want one of " + strings.Join(FaultKinds, ", ") + ")")
	}
	return applied{}, fmt.Errorf("fault kind %q: want one of %s", spec.Kind, strings.Join(FaultKinds, ", "))
}
