// Package esxcli is the ESXi host's esxcli: a command tree over the
// vmkernel model. Each command returns typed structures (string, integer,
// boolean, string-list fields) and the formatters render them, so every
// layout rule of the reference (/work/shared/reference/esxi-commands.md
// §0.2, §0.3, §2) lives in one place. Commands read the model when they run
// and change it only through vmkernel.Host, so esxcfg-*, the control API
// and traffic see the same state.
//
// Choices the reference leaves open (INFERRED) and what was decided:
//
//   - Errors go to stdout, exit status 1 (§0.3's safest choice); esxcli
//     never writes to stderr. Every failure starts with "Error: ".
//   - Usage errors (type mismatch, VERIFIED; missing required parameter;
//     invalid option; missing value) print the error line, a blank line
//     and the command's usage block. "Missing required parameter -n|--network"
//     and "Invalid option --foo" follow §0.3's inferred shape;
//     "Missing value for option --gateway" and "Option --x does not take a
//     value" are ours.
//   - Operation failures use the sysinfo family without a usage block:
//     "Error: Unable to add IPv4 route. Sysinfo error: Already existsSee
//     VMkernel log for details." (the glued "See" is ESXi's quirk). The
//     status strings are the VMkernel's (§0.3): Already exists, Not found,
//     Network unreachable (fabric says "Network is unreachable"), Bad
//     parameter, Not supported. Argument validation failures name the
//     argument: "Error: Unable to add IPv4 route. Invalid network '...':
//     expected an IPv4 network with a prefix length (a.b.c.d/nn) or
//     'default'". An unknown -N: "Error: Invalid netstack instance 'x'. Not
//     found".
//   - Unknown words: "Error: Unknown command or namespace <words>" names the
//     path up to and including the first unknown word (KB 2150498's shape);
//     a word after a command extends the path the same way. A stray word
//     after a command's options is "Invalid option <word>" with usage.
//   - Options: --long=value, --long value, -s value, -s=value. -svalue is
//     rejected. The word after a value-taking option is always its value.
//     A repeated option keeps its last value. Booleans accept
//     true/false/yes/no/1/0. --help or -? anywhere prints the usage, exit 0.
//   - Global options come before the namespace: --formatter=F or
//     --formatter F (xml, csv, keyvalue, json), --screen-width=N (checked,
//     ignored: nothing wraps), --debug, --log-verbose, --help, -?. An
//     unknown formatter: "Error: Unknown formatter 'x'. Available
//     formatters: xml, csv, keyvalue, json". --formatter after the command
//     is an invalid option.
//   - Listings (`esxcli`, `esxcli network`, `--help`): "Usage: esxcli <path>
//     {cmd} [cmd options]", then "Available Namespaces:" and "Available
//     Commands:" sections, names sorted, descriptions at column 24; the top
//     level prints esxcli 8's option help first (§2.8). Usage blocks keep
//     the trailing space of "Description: " and "Cmd options: " and list
//     options sorted by long name.
//   - Machine formats: fields keyed by the display name without spaces,
//     sorted ASCII (VERIFIED for csv). csv quotes values with commas or
//     quotes and prints its header for an empty list; keyvalue repeats
//     blocks without separators and types lists as string[]; xml puts a
//     list field's <list type="string"> on its own lines; json is one line
//     with Python's separators, keys sorted. typeNames other than
//     VersionGet are ours: IPv4Route, IPv6Route, NetworkInterface,
//     IPv4Interface, Neighbor, VirtualSwitch, PortGroup, Nic, HostnameGet.
//   - Neighbor Expiry is an integer rendered "%4d sec" in the table (DERIVED
//     from the 6.x header's 8-wide column) and bare elsewhere; without -N
//     the default netstack's entries are listed; Type is Dynamic.
//   - ipv4 get shows 0.0.0.0 in every address column of a vmknic without an
//     address (type NONE). -t dhcp is refused (Not supported): DHCP is not
//     modelled. -g must repeat the current gateway: the model cannot change
//     a vmknic's gateway.
//   - route add/remove require a prefix length; host bits are cleared.
//   - system hostname get splits the configured name at its first dot.
//
// Not modelled, rendered as ESXi's defaults: RXDispQueue Size 2, VDS/opaque
// fields N/A/-1, vSwitch beaconing (false, 1, 3, none), NIC admin status Up,
// DHCP DNS false, route Source MANUAL. vSwitch Used Ports is computed here
// (1 + 2 per uplink + clients, DERIVED from three VERIFIED samples) until
// the model has it.
package esxcli
