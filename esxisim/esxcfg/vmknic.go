package esxcfg

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
)

// esxcfg-vmknic: VMkernel NICs. The port group names the vmknic (one per
// port group), as on a real host. Changing an address goes through the
// model, so seed 004's fix (moving vmk1 to its own subnet) re-routes the
// host's traffic at once.

var vmknicOptions = []option{
	{'a', "add", false},
	{'d', "del", false},
	{'e', "enable", false},
	{'D', "disable", false},
	{'l', "list", false},
	{'i', "ip", true},
	{'n', "netmask", true},
	{'m', "mtu", true},
	{'M', "mac", true},
	{'p', "portgroup", true},
	{'s', "dvs-name", true},
	{'v', "dvport-id", true},
	{'o', "opaque-network", true},
	{'t', "type", true},
	{'N', "netstack", true},
	{'P', "enable-ipv6", true},
	{'U', "unset-ip", false},
	{'r', "restore", false},
	{'h', "help", false},
}

// vmknicChange is what -i/-n/-m/-M ask for, validated before the model is
// touched, so that a rejected command changes nothing.
type vmknicChange struct {
	ip  netip.Prefix // invalid: no -i
	mtu int          // 0: no -m
	mac net.HardwareAddr
}

func runVmknic(_ context.Context, t *tool) int {
	p, err := getopt(t.prog, vmknicOptions, t.args())
	if err != nil {
		return t.fail(err)
	}
	if p.has("help") {
		return t.help(vmknicHelp)
	}
	for _, o := range []struct{ name, flag string }{
		{"dvs-name", "-s|--dvs-name"}, {"dvport-id", "-v|--dvport-id"},
		{"opaque-network", "-o|--opaque-network"}, {"type", "-t|--type"},
		{"enable-ipv6", "-P|--enable-ipv6"}, {"restore", "-r|--restore"},
	} {
		if p.has(o.name) {
			return t.fail(unsupported(o.flag))
		}
	}
	action, err := oneAction(p, "add", "del", "enable", "disable", "list", "unset-ip")
	if err != nil {
		return t.fail(err)
	}
	if action == "list" {
		if len(p.operands) > 0 {
			return t.fail(errorf("Unexpected argument %s", quote(p.operands[0])))
		}
		return t.listVmknics()
	}
	ch, err := parseVmknicChange(p, action)
	if err != nil {
		return t.fail(err)
	}
	if action == "" && !ch.ip.IsValid() && ch.mtu == 0 {
		return t.usage(vmknicHelp)
	}
	pg, err := portgroupOperand(p)
	if err != nil {
		return t.fail(err)
	}
	ns, nsGiven := p.value("netstack")
	if action == "add" {
		return t.addVmknic(pg, ns, ch)
	}
	name, ok := t.h.VmknicOnPortgroup(pg)
	if ok && nsGiven {
		if v, err := t.h.Vmknic(name); err == nil && v.Netstack != ns {
			ok = false
		}
	}
	var what string
	switch action {
	case "del":
		what = "delete VMkernel NIC"
	case "enable":
		what = "enable VMkernel NIC"
	case "disable":
		what = "disable VMkernel NIC"
	case "unset-ip":
		what = "unset the IP address of VMkernel NIC"
	default:
		what = "modify VMkernel NIC"
	}
	context := "Unable to " + what + " on portgroup " + printableString(pg)
	if !ok {
		return t.failMsg(sysinfoError(context, vmkernel.ErrNoSuchVmknic))
	}
	switch action {
	case "del":
		err = t.h.RemoveVmknic(name)
	case "enable":
		err = t.h.SetVmknicEnabled(name, true)
	case "disable":
		err = t.h.SetVmknicEnabled(name, false)
	case "unset-ip":
		err = t.h.SetVmknicIPv4(name, netip.Prefix{})
	default:
		// -m first: it is the change the model can still refuse, and a
		// refusal must leave the address alone too.
		if ch.mtu != 0 {
			err = t.h.SetVmknicMTU(name, ch.mtu)
		}
		if err == nil && ch.ip.IsValid() {
			err = t.h.SetVmknicIPv4(name, ch.ip)
		}
	}
	if err != nil {
		return t.failMsg(sysinfoError(context, err))
	}
	return 0
}

// portgroupOperand returns the port group: -p or the one operand.
func portgroupOperand(p parsed) (string, error) {
	pg, byFlag := p.value("portgroup")
	switch {
	case len(p.operands) > 1:
		return "", errorf("Unexpected argument %s", quote(p.operands[1]))
	case len(p.operands) == 1 && byFlag && p.operands[0] != pg:
		return "", errorf("Unexpected argument %s", quote(p.operands[0]))
	case len(p.operands) == 1:
		pg = p.operands[0]
	case !byFlag:
		return "", errorf("A portgroup name is required")
	}
	if pg == "" {
		return "", errorf("A portgroup name is required")
	}
	return pg, nil
}

// parseVmknicChange validates -i, -n, -m and -M for the action.
func parseVmknicChange(p parsed, action string) (vmknicChange, error) {
	var ch vmknicChange
	ipArg, hasIP := p.value("ip")
	maskArg, hasMask := p.value("netmask")
	mtuArg, hasMTU := p.value("mtu")
	macArg, hasMAC := p.value("mac")
	modifies := action == "" || action == "add"
	if !modifies && (hasIP || hasMask || hasMTU || hasMAC) {
		return ch, errorf("Options -i, -n, -m and -M cannot be combined with --%s", action)
	}
	if hasMAC && action != "add" {
		return ch, errorf("-M|--mac can only be given with -a|--add")
	}
	if hasMask && !hasIP {
		return ch, errorf("-n|--netmask requires -i|--ip")
	}
	if hasIP {
		switch u := strings.ToUpper(ipArg); {
		case u == "DHCP" || u == "DHCPV6" || u == "AUTOCONF":
			return ch, unsupported("-i " + u)
		case strings.Contains(ipArg, ":"):
			return ch, errorf("IPv6 addresses are not supported by this emulator")
		}
		a, ok := parseHostIPv4(ipArg)
		if !ok {
			return ch, errorf("Invalid IP address %s", quote(ipArg))
		}
		if !hasMask {
			return ch, errorf("-i|--ip requires -n|--netmask")
		}
		bits, ok := parseNetmask(maskArg)
		if !ok || bits == 0 {
			return ch, errorf("Invalid netmask %s", quote(maskArg))
		}
		ch.ip = netip.PrefixFrom(a, bits)
		if bits <= 30 && (a == ch.ip.Masked().Addr() || a == broadcast(ch.ip)) {
			return ch, errorf("Invalid IP address %s for netmask %s", quote(ipArg), netmaskString(bits))
		}
	} else if action == "add" {
		return ch, errorf("-a|--add requires -i|--ip and -n|--netmask")
	}
	if hasMTU {
		n, err := strconv.Atoi(mtuArg)
		if err != nil || n < 1280 || n > 9000 {
			return ch, errorf("Invalid MTU %s: must be between 1280 and 9000", quote(mtuArg))
		}
		ch.mtu = n
	}
	if hasMAC {
		m, err := net.ParseMAC(macArg)
		if err != nil || len(m) != 6 || m[0]&1 != 0 {
			return ch, errorf("Invalid MAC address %s", quote(macArg))
		}
		ch.mac = m
	}
	return ch, nil
}

// addVmknic creates the vmknic; the model names it (lowest free vmkN).
func (t *tool) addVmknic(pg, ns string, ch vmknicChange) int {
	_, err := t.h.AddVmknic(vmkernel.VmknicConfig{
		Portgroup: pg, Netstack: ns, IP: ch.ip, MTU: ch.mtu, MAC: ch.mac,
	})
	if err != nil {
		return t.failMsg(sysinfoError("Unable to add VMkernel NIC on portgroup "+printableString(pg), err))
	}
	return 0
}
