package esxisim

import (
	"github.com/autopathlab/autopathlab/esxisim/esxcfg"
	"github.com/autopathlab/autopathlab/esxisim/esxcli"
	"github.com/autopathlab/autopathlab/esxisim/vmkping"
	"github.com/autopathlab/autopathlab/shell"
)

// registerCommands fills the host's registry: busybox, then the ESXi
// tools, each a view of the one VMkernel model.
func (h *Host) registerCommands() {
	r := h.reg
	shell.RegisterBusybox(r)
	esxcli.Register(r, h.vm)
	esxcfg.Register(r, h.vm)
	vmkping.Register(r, h.vm)
	r.Register("/bin/tcpdump-uw", tcpdumpUW(h.vm))
	r.Register("/bin/vmware", h.cmdVmware)
	r.Register("/bin/hostname", h.cmdHostname)
}
