package esxisim

import "github.com/autopathlab/autopathlab/sshd"

// AddSSHFault makes the host's sshd misbehave as f says (refuse, slow,
// drop, hang; see sshd.Fault), alongside any other faults. remove undoes
// it and releases the commands it hangs; hits counts what it has hit.
func (h *Host) AddSSHFault(f sshd.Fault) (remove func(), hits func() int) {
	return h.srv.AddFault(f)
}
