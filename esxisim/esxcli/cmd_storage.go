package esxcli

import (
	"errors"

	"github.com/autopathlab/autopathlab/esxisim/datastore"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

// storage nfs: the host's NFSv3 datastores, a view of its NFS client
// (package datastore). add mounts through the client, along the host's
// routes, and returns when the server has answered.
//
// Texts (reference §2.5): the list table (6.x/7.x layout with isPE) and the
// duplicate-add message are VERIFIED; the NAS plugin prints its messages
// without "Error: " (the duplicate-add capture), so its other failures do
// too: a mount failure ends in the sysinfo text esxcfg-nas shows (VERIFIED
// tail, INFERRED prefix), a name in use and an unknown volume are
// INFERRED. Option help texts follow the vSphere CLI reference (DOC).
func storageNamespace(h *vmkernel.Host) *namespace {
	return ns("storage", "VMware storage commands.",
		ns("nfs", "Operations to create, manage, and remove Network Attached Storage filesystems.",
			&command{name: "add", desc: "Add a new NAS volume to the ESX Host and mount it with the given volume name.",
				opts: []option{
					strOpt('H', "host", "The hostname or IP address of the NAS volume to add and mount on the system.").req(),
					strOpt('s', "share", "The share name on the remote system to use for this NAS mount point.").req(),
					strOpt('v', "volume-name", "The volume name to use for the NAS mount. This must be a unique volume name and cannot conflict with existing NAS, VMFS or other volume names.").req(),
					flagOpt('r', "readonly", "If set, this flag will set the mount point to be read-only."),
				},
				run: func(c *call) (*result, error) { return nfsAdd(h, c) }},
			&command{name: "list", desc: "List the NAS volumes currently known to the ESX host.",
				run: func(c *call) (*result, error) { return nfsList(h), nil }},
			&command{name: "remove", desc: "Remove an existing NAS volume from the ESX host.",
				opts: []option{strOpt('v', "volume-name", "The volume name of the NAS volume to remove from the ESX host.").req()},
				run:  func(c *call) (*result, error) { return nfsRemove(h, c) }},
		),
	)
}

var nfsCols = []column{
	{name: "Volume Name"}, {name: "Host"}, {name: "Share"},
	{name: "Accessible", kind: kindBoolean}, {name: "Mounted", kind: kindBoolean},
	{name: "Read-Only", kind: kindBoolean}, {name: "isPE", kind: kindBoolean},
	{name: "Hardware Acceleration"},
}

// nfsList renders the datastores in mount order. isPE is always false (no
// VVols); Hardware Acceleration is "Not Supported" (no VAAI-NAS plugin),
// "Unknown" while the server cannot be asked (VERIFIED, §2.5).
func nfsList(h *vmkernel.Host) *result {
	res := &result{typeName: "NASVolume", cols: nfsCols}
	for _, d := range datastore.Of(h).List() {
		accel := "Not Supported"
		if !d.Accessible {
			accel = "Unknown"
		}
		res.rows = append(res.rows, []any{d.Name, d.Host, d.Share, d.Accessible, d.Mounted, d.ReadOnly, false, accel})
	}
	return res
}

func nfsAdd(h *vmkernel.Host, c *call) (*result, error) {
	host, share, name := c.str("host"), c.str("share"), c.str("volume-name")
	_, err := datastore.Of(h).Add(c.ctx, name, host, share, c.has("readonly"))
	var dup *datastore.DuplicateError
	var inUse *datastore.NameError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &dup), errors.As(err, &inUse):
		return nil, rawErr("Unable to create new NAS volume.  " + err.Error())
	case errors.Is(err, datastore.ErrExists):
		return nil, rawErr("Unable to create new NAS volume.  " + host + ":" + share + " is already being mounted")
	}
	return nil, rawErr("Unable to complete Sysinfo operation.  Please see the VMkernel log file for more details.: Sysinfo error: " + err.Error() + "See VMkernel log for details.")
}

func nfsRemove(h *vmkernel.Host, c *call) (*result, error) {
	if err := datastore.Of(h).Remove(c.str("volume-name")); err != nil {
		return nil, rawErr("Error performing operation: NFS Error: Unable to Unmount filesystem: " + err.Error() + ".")
	}
	return nil, nil
}
