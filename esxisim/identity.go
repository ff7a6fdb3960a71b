package esxisim

import (
	"context"
	"fmt"
	"strings"

	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/shell"
)

// The host's identity commands: vmware, uname and hostname. They read the
// VMkernel model at every call, so a renamed host shows its new name.

// versionLine is `vmware -v`: "VMware ESXi 8.0.3 build-24022510".
func versionLine(v vmkernel.Version) string {
	return fmt.Sprintf("%s %s build-%s", product(v), v.Version, v.Build)
}

// levelLine is `vmware -l`: "VMware ESXi 8.0 Update 3". 6.x prints the
// three-part version ("VMware ESXi 6.7.0 Update 3"), 7.x and later only
// major.minor (reference §8.1).
func levelLine(v vmkernel.Version) string {
	ver := v.Version
	if parts := strings.Split(ver, "."); len(parts) >= 2 && parts[0] >= "7" && len(parts[0]) == 1 {
		ver = parts[0] + "." + parts[1]
	}
	if v.Update == "" || v.Update == "0" {
		// INFERRED: an initial release reports GA.
		return fmt.Sprintf("%s %s GA", product(v), ver)
	}
	return fmt.Sprintf("%s %s Update %s", product(v), ver, v.Update)
}

func product(v vmkernel.Version) string {
	if v.Product == "" {
		return "VMware ESXi"
	}
	return v.Product
}

// vmwareUsage is argparse's usage line of ESXi's /bin/vmware (a Python
// script). INFERRED: not a verbatim capture.
const vmwareUsage = "usage: vmware [-h] [-l] [-v]\n"

const vmwareHelp = vmwareUsage + `
optional arguments:
  -h, --help     show this help message and exit
  -l, --level    Display the update level
  -v, --version  Display the version
`

func (h *Host) cmdVmware(_ context.Context, inv *shell.Invocation) int {
	var version, level bool
	for _, a := range inv.Args[1:] {
		switch {
		case a == "--version":
			version = true
		case a == "--level":
			level = true
		case a == "-h" || a == "--help":
			fmt.Fprint(inv.Stdout, vmwareHelp)
			return 0
		case len(a) > 1 && a[0] == '-' && a[1] != '-':
			for _, c := range a[1:] {
				switch c {
				case 'v':
					version = true
				case 'l':
					level = true
				case 'h':
					fmt.Fprint(inv.Stdout, vmwareHelp)
					return 0
				default:
					fmt.Fprintf(inv.Stderr, "%svmware: error: unrecognized arguments: %s\n", vmwareUsage, a)
					return 2
				}
			}
		default:
			fmt.Fprintf(inv.Stderr, "%svmware: error: unrecognized arguments: %s\n", vmwareUsage, a)
			return 2
		}
	}
	v := h.vm.Version()
	if !version && !level {
		fmt.Fprint(inv.Stdout, vmwareUsage)
		return 0
	}
	// Version first, then level, whatever the flags' order (as -vl shows).
	if version {
		fmt.Fprintln(inv.Stdout, versionLine(v))
	}
	if level {
		fmt.Fprintln(inv.Stdout, levelLine(v))
	}
	return 0
}

// uname is what `uname` prints on ESXi 7.x+: "VMkernel esxi.esxi.localdomain
// 7.0.3 #1 SMP Release build-22348816 Aug 30 2023 04:36:58 x86_64 x86_64
// x86_64 ESXi" (reference §8.2).
func (h *Host) uname() shell.Uname {
	v := h.vm.Version()
	release := fmt.Sprintf("#1 SMP Release build-%s", v.Build)
	if v.BuildDate != "" {
		release += " " + v.BuildDate
	}
	return shell.Uname{
		Sysname:   "VMkernel",
		Nodename:  h.vm.Hostname(),
		Release:   v.Version,
		Version:   release,
		Machine:   "x86_64",
		Processor: "x86_64",
		Platform:  "x86_64",
		OS:        "ESXi",
	}
}

func (h *Host) cmdHostname(_ context.Context, inv *shell.Invocation) int {
	name := h.vm.Hostname()
	short, domain, _ := strings.Cut(name, ".")
	args := inv.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(inv.Stdout, name)
		return 0
	}
	switch args[0] {
	case "-s":
		fmt.Fprintln(inv.Stdout, short)
	case "-d":
		fmt.Fprintln(inv.Stdout, domain)
	case "-f":
		fmt.Fprintln(inv.Stdout, name)
	case "-i":
		var ips []string
		for _, v := range h.vm.Vmknics() {
			if a := v.Addr(); a.IsValid() {
				ips = append(ips, a.Addr().String())
			}
		}
		fmt.Fprintln(inv.Stdout, strings.Join(ips, " "))
	default:
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(inv.Stderr, "hostname: invalid option -- '%s'\n", strings.TrimLeft(args[0], "-"))
			return 1
		}
		// Setting the name changes the one model: the prompt, uname and
		// esxcli all follow.
		h.vm.SetHostname(args[0])
	}
	return 0
}
