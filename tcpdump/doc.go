// Package tcpdump is the packet view of a node: tcpdump 4.9 as ESXi ships
// it (tcpdump-uw, on libpcap 1.8.1) and as a CentOS 7 CVM does (tcpdump,
// on libpcap 1.5.3). It knows nothing about ESXi or Nutanix: a node gives
// it its capture devices and a Flavor (names, versions, libpcap's
// differences), and gets a shell.Command.
//
// Three parts, usable on their own:
//
//   - Compile parses a pcap-filter(7) expression as libpcap does (its
//     scanner's longest-match tokens, its grammar, its qualifier
//     inheritance, its error messages) into a Filter that tests a frame's
//     bytes at the offsets a BPF program reads.
//   - Printer formats frames as tcpdump's printers do: Ethernet (-e),
//     Linux cooked (-i any), ARP, IPv4 (-v), TCP with relative sequence
//     numbers, UDP, ICMP, and NFS over RPC. gopacket decodes the headers.
//   - Command is the program: getopt_long's command line, live capture
//     from a device through a bounded queue (packets beyond it are
//     "dropped by kernel"), -w and -r pcap files in the node's virtual
//     filesystem (pcapgo), the banner and the counters.
//
// What the reference leaves open, and how it is decided here:
//
//   - "and" and "or" have one precedence and associate left to right, as
//     pcap-filter(7) says: "a or b and c" is "(a or b) and c".
//   - Host names come from the node's /etc/hosts only (no DNS); port
//     names from a part of /etc/services (nfs, ssh, sunrpc...): without
//     -n, 2049 prints as "nfs". -n turns both off, as in tcpdump 4.9;
//     -nn is the same.
//   - Ctrl-C (the session's context) stops the capture; as tcpdump does
//     after pcap_breakloop, a newline goes to stdout, then the counters.
//     "received by filter" counts what the filter accepted, including
//     what was dropped or still queued when the capture stopped.
//   - Options tcpdump has but the emulator does not (-X, -A, -C, -G...)
//     are refused by name rather than ignored.
package tcpdump
