package harness

import "errors"

func (l *Lab) applyNetworkFault(spec *FaultSpec) (applied, error) {
	return applied{}, errors.New("network faults: not wired yet")
}

func (l *Lab) applySSHFault(spec *FaultSpec) (applied, error) {
	return applied{}, errors.New("ssh faults: not wired yet")
}
