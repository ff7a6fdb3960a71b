package esxcfg

import (
	"context"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
)

// esxcfg-vswitch: standard vSwitches and their port groups. Listing and
// the -c/-C/-b queries are views of the model. The model has no vSwitch or
// port group mutations yet (no AddVSwitch, AddPortgroup, Link, SetMTU,
// SetVLAN ...), so the mutating flags answer "not supported by this
// emulator" rather than pretend.

var vswitchOptions = []option{
	{'a', "add", false},
	{'d', "delete", false},
	{'l', "list", false},
	{'L', "link", true},
	{'U', "unlink", true},
	{'M', "add-pg-uplink", true},
	{'N', "del-pg-uplink", true},
	{'P', "add-dvp-uplink", true},
	{'Q', "del-dvp-uplink", true},
	{'V', "dvp", true},
	{'p', "pg", true},
	{'v', "vlan", true},
	{'c', "check", false},
	{'C', "check-pg", false},
	{'A', "add-pg", true},
	{'D', "del-pg", true},
	{'m', "mtu", true},
	{'B', "set-cdp", true},
	{'b', "get-cdp", false},
	{'r', "restore", false},
	{'h', "help", false},
}

// vswitchMutations are the flags that would change the model.
var vswitchMutations = []struct{ name, flag string }{
	{"add", "-a|--add"}, {"delete", "-d|--delete"}, {"link", "-L|--link"},
	{"unlink", "-U|--unlink"}, {"add-pg-uplink", "-M|--add-pg-uplink"},
	{"del-pg-uplink", "-N|--del-pg-uplink"}, {"add-dvp-uplink", "-P|--add-dvp-uplink"},
	{"del-dvp-uplink", "-Q|--del-dvp-uplink"}, {"dvp", "-V|--dvp"}, {"vlan", "-v|--vlan"},
	{"add-pg", "-A|--add-pg"}, {"del-pg", "-D|--del-pg"}, {"mtu", "-m|--mtu"},
	{"set-cdp", "-B|--set-cdp"}, {"restore", "-r|--restore"},
}

func runVswitch(_ context.Context, t *tool) int {
	p, err := getopt(t.prog, vswitchOptions, t.args())
	if err != nil {
		return t.fail(err)
	}
	if p.has("help") {
		return t.help(vswitchHelp)
	}
	for _, m := range vswitchMutations {
		if p.has(m.name) {
			return t.fail(unsupported(m.flag))
		}
	}
	action, err := oneAction(p, "list", "check", "check-pg", "get-cdp")
	if err != nil {
		return t.fail(err)
	}
	if len(p.operands) > 1 {
		return t.fail(errorf("Unexpected argument %s", quote(p.operands[1])))
	}
	operand := ""
	if len(p.operands) == 1 {
		operand = p.operands[0]
	}
	switch action {
	case "list":
		if operand != "" {
			return t.fail(errorf("Unexpected argument %s", quote(operand)))
		}
		return t.listVswitches()
	case "check":
		if operand == "" {
			return t.fail(errorf("A virtual switch name is required"))
		}
		return t.printBool(t.vswitch(vswitchName(operand)) != nil)
	case "check-pg":
		// "-C <pg>" or "-C -p <pg> [<vswitch>]".
		pg, byFlag := p.value("pg")
		vs := ""
		if byFlag {
			vs = operand
		} else {
			pg = operand
		}
		if pg == "" {
			return t.fail(errorf("A portgroup name is required"))
		}
		return t.printBool(t.hasPortgroup(pg, vswitchName(vs)))
	case "get-cdp":
		if operand == "" {
			return t.fail(errorf("A virtual switch name is required"))
		}
		vs := t.vswitch(vswitchName(operand))
		if vs == nil {
			return t.failMsg(sysinfoError("Unable to get CDP status of virtual switch "+printableString(operand), fabric.ErrNotFound))
		}
		t.printf("%s\n", vs.CDP)
		return 0
	}
	return t.usage(vswitchHelp)
}

// vswitchName drops the ":ports" suffix the usage line allows.
func vswitchName(s string) string {
	name, _, _ := strings.Cut(s, ":")
	return name
}

// printBool prints -c/-C's answer. The exit status is 0 either way: the
// answer is the output (INFERRED; scripts test the printed digit).
func (t *tool) printBool(b bool) int {
	if b {
		t.printf("1\n")
	} else {
		t.printf("0\n")
	}
	return 0
}

func (t *tool) vswitch(name string) *vmkernel.VSwitch {
	for _, vs := range t.h.VSwitches() {
		if vs.Name == name {
			return &vs
		}
	}
	return nil
}

// hasPortgroup looks for a port group, on one vSwitch if vs is not "".
func (t *tool) hasPortgroup(pg, vs string) bool {
	for _, p := range t.h.Portgroups() {
		if p.Name == pg && (vs == "" || p.VSwitch == vs) {
			return true
		}
	}
	return false
}

// Layout (VERIFIED sample, DERIVED offsets, reference §4.1): switch rows at
// 0/17/29/41/59/67, port-group rows indented two spaces at 2/44/53/65, the
// header repeated per switch, uplinks comma-joined without spaces.
const (
	switchHeader    = "Switch Name      Num Ports   Used Ports  Configured Ports  MTU     Uplinks\n"
	portgroupHeader = "  PortGroup Name                            VLAN ID  Used Ports  Uplinks\n"
)

// listVswitches prints every switch, its port groups newest first. Each
// switch block ends with a blank line, the last one too (INFERRED: the
// VERIFIED sample is cut at the last row).
func (t *tool) listVswitches() int {
	var b strings.Builder
	for _, vs := range t.h.VSwitches() {
		uplinks := strings.Join(vs.Uplinks, ",")
		b.WriteString(switchHeader)
		b.WriteString(pad(vs.Name, 17) + pad(strconv.Itoa(vs.NumPorts), 12) +
			pad(strconv.Itoa(t.h.UsedPorts(vs.Name)), 12) +
			pad(strconv.Itoa(vs.ConfiguredPorts), 18) + pad(strconv.Itoa(vs.MTU), 8) + uplinks + "\n")
		b.WriteString("\n")
		b.WriteString(portgroupHeader)
		for i := len(vs.Portgroups) - 1; i >= 0; i-- {
			pg := vs.Portgroups[i]
			b.WriteString("  " + pad(pg.Name, 42) + pad(strconv.Itoa(pg.VLAN), 9) +
				pad(strconv.Itoa(t.h.PortgroupClients(pg.Name)), 12) + uplinks + "\n")
		}
		b.WriteString("\n")
	}
	t.printf("%s", b.String())
	return 0
}
