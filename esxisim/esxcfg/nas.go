package esxcfg

import (
	"context"
	"errors"

	"github.com/autopathlab/autopathlab/esxisim/datastore"
)

// esxcfg-nas: the host's NAS (NFSv3) datastores, a view of the host's
// NFS client (package datastore). -a mounts through the client, so the
// mount goes along the host's routes and the server's answer decides.
//
// Texts (reference §5): "-l" lines, "Connecting to NAS volume: X", "X
// created and connected.", the sysinfo failure line and "NAS volume X
// deleted." are VERIFIED; "mounted unavailable" during APD, "unmounted
// unavailable", and the -d failure for an unknown label are INFERRED
// (§5.1, §5.4); so are failures other than a denied mount, which follow
// the VERIFIED template with the VMkernel's status string.

var nasOptions = []option{
	{'a', "add", false},
	{'o', "host", true},
	{'s', "share", true},
	{'y', "readonly", false},
	{'d', "delete", true},
	{'l', "list", false},
	{'r', "restore", false},
	{'v', "version", true},
	{'h', "help", false},
}

func runNas(ctx context.Context, t *tool) int {
	p, err := getopt(t.prog, nasOptions, t.args())
	if err != nil {
		return t.fail(err)
	}
	if p.has("help") {
		return t.help(nasHelp)
	}
	action, err := oneAction(p, "add", "delete", "list", "restore")
	if err != nil {
		return t.fail(err)
	}
	if v, ok := p.value("version"); ok && v != "3" {
		return t.fail(errorf("NFS version %s is not supported by this emulator", quote(v)))
	}
	m := datastore.Of(t.h)
	switch action {
	case "list":
		if len(p.operands) > 0 {
			return t.fail(errorf("Unexpected argument %s", quote(p.operands[0])))
		}
		return t.listNas(m)
	case "delete":
		if len(p.operands) > 0 {
			return t.fail(errorf("Unexpected argument %s", quote(p.operands[0])))
		}
		label, _ := p.value("delete")
		if err := m.Remove(label); err != nil {
			return t.failMsg("Error performing operation: NAS volume " + printableString(label) + " does not exist.")
		}
		t.printf("NAS volume %s deleted.\n", label)
		return 0
	case "add":
		return t.addNas(ctx, m, p)
	case "restore":
		return t.fail(unsupported("-r|--restore"))
	}
	return t.usage(nasHelp)
}

func (t *tool) listNas(m *datastore.Manager) int {
	list := m.List()
	if len(list) == 0 {
		t.printf("No NAS datastore found\n")
		return 0
	}
	for _, d := range list {
		mounted, avail := "mounted", "available"
		if !d.Mounted {
			mounted = "unmounted"
		}
		if !d.Accessible {
			avail = "unavailable"
		}
		t.printf("%s is %s from %s %s %s\n", d.Name, d.Share, d.Host, mounted, avail)
	}
	return 0
}

func (t *tool) addNas(ctx context.Context, m *datastore.Manager, p parsed) int {
	host, hasHost := p.value("host")
	share, hasShare := p.value("share")
	switch {
	case !hasHost || !hasShare:
		return t.fail(errorf("Adding a NAS volume requires --host and --share"))
	case len(p.operands) == 0:
		return t.fail(errorf("Adding a NAS volume requires a volume label"))
	case len(p.operands) > 1:
		return t.fail(errorf("Unexpected argument %s", quote(p.operands[1])))
	}
	label := p.operands[0]
	t.printf("Connecting to NAS volume: %s\n", label)
	if _, err := m.Add(ctx, label, host, share, p.has("readonly")); err != nil {
		return t.failMsg(sysinfoError("Unable to connect to NAS volume "+printableString(label), nasStatus(err)))
	}
	t.printf("%s created and connected.\n", label)
	return 0
}

// nasStatus reduces the NFS client's errors to the VMkernel status the
// sysinfo line carries: a name or export already in use is "Already
// exists" here (esxcli's longer wording comes from hostd, not the
// VMkernel).
func nasStatus(err error) error {
	if errors.Is(err, datastore.ErrExists) {
		return datastore.ErrExists
	}
	var st datastore.Status
	if errors.As(err, &st) {
		return st
	}
	return datastore.Status(err.Error())
}

// nasHelp: the -a, -o and -s lines are VERIFIED (reference §5.2, a 6.x/7.x
// capture); the usage line and the other options are INFERRED.
const nasHelp = `esxcfg-nas <options> [<label>]
-a|--add                Add a new NAS filesystem to /vmfs volumes.
                        Requires --host and --share options.
                        Use --readonly option only for readonly access.
-o|--host <host>        Set the host name or ip address for a NAS mount.
                        For version 4.1, can be a comma-separated list.
-s|--share <share>      Set the name of the NAS share on the remote system.
-y|--readonly           Add the new NAS filesystem with readonly access.
-d|--delete <label>     Unmount and delete a filesystem.
-l|--list               List the currently mounted NAS file systems.
-r|--restore            Restore all NAS mounts from the configuration file.
                        (FOR INTERNAL USE ONLY).
-v|--version <version>  NFS version to use (3 or 4.1); defaults to 3.
-h|--help               Show this message.
`
