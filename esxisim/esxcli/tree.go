package esxcli

import "github.com/autopathlab/autopathlab/esxisim/vmkernel"

// tree builds the command tree of one host. It is built per host (no
// package-level state): the commands close over h.
//
// Storage commands (`storage nfs list/add/remove`, a later issue) belong in
// a cmd_storage.go whose storageNamespace(h) is added to the list below; the
// framework needs nothing else.
func tree(h *vmkernel.Host) *namespace {
	return ns("", "",
		ns("network", "Operations that pertain to the maintenance of networking on an ESX host. This includes a wide variety of commands to manipulate virtual networking components (vswitch, portgroup, etc) as well as local host IP, DNS and general host networking settings.",
			ns("ip", "Operations that can be performed on vmknics",
				interfaceNamespace(h),
				neighborNamespace(h),
				routeNamespace(h),
			),
			vswitchNamespace(h),
			nicNamespace(h),
		),
		storageNamespace(h),
		systemNamespace(h),
	)
}

// netstackOpt is the -N option most network commands share.
func netstackOpt() option {
	return strOpt('N', "netstack", "The network stack instance; if unspecified, use the default netstack instance")
}

// netstack resolves -N against the model: the default stack when absent,
// an error when the host has no such stack.
func netstack(h *vmkernel.Host, c *call) (string, error) {
	name := c.str("netstack")
	if !c.has("netstack") {
		name = vmkernel.DefaultNetstack
	}
	if _, err := h.Netstack(name); err != nil {
		return "", plainErr("Invalid netstack instance '" + name + "'. " + vmkStatus(err))
	}
	return name, nil
}
