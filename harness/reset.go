package harness

func (l *Lab) resets() int {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	return l.nreset
}
