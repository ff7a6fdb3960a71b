package esxcfg

// Help texts. No verbatim capture of any of them exists (reference §1.5,
// §3.3, §4.2, §10): these are the reference's reconstructions (INFERRED),
// reproduced as given so that every view of the emulator agrees. The
// esxcfg-nics text is reconstructed the same way from the 6.x/7.x tool.

const routeHelp = `esxcfg-route <options> [[<network>[/<prefix>] [<netmask>]] <gateway>]
   -a|--add                Add route to the VMkernel,
                           requires network parameter in the form:
                           <network> <netmask> <gateway> or
                           <network>/<prefix length> <gateway> or
                           default <gateway>
   -d|--del                Delete route from the VMkernel,
                           requires network parameter in the same form.
   -l|--list               List configured routes for the VMkernel
   -n|--neighbor-list      List neighbors for the VMkernel
   -f|--family [V4|V6]     Address family to work on; defaults to V4
   -N|--netstack=<name>    Netstack instance (default: defaultTcpipStack)
   -r|--restore            Restore route settings to configuration (internal use)
   -h|--help               Show this message.
If no options are specified, the default gateway is printed.
`

const vmknicHelp = `esxcfg-vmknic <options> [[<portgroup>|<dvsName>|<opaque network>]]
   -a|--add                Add a VMkernel NIC to the system; requires IP parameters and portgroup name
   -d|--del                Delete VMkernel NIC on given portgroup
   -e|--enable             Enable the given NIC if disabled
   -D|--disable            Disable the given NIC if enabled
   -l|--list               List VMkernel NICs
   -i|--ip <X.X.X.X>|<X:X:X::/X>|DHCP|DHCPV6|AUTOCONF
   -n|--netmask <X.X.X.X>  Requires --ip
   -m|--mtu <MTU>
   -M|--mac <xx:xx:xx:xx:xx:xx>
   -p|--portgroup <pg>     Use with -s/-v to address a DVPort
   -s|--dvs-name <dvs>
   -v|--dvport-id <id>
   -o|--opaque-network <id> (6.x+; with -t type)
   -N|--netstack <name>    (5.5+)
   -P|--enable-ipv6 <true|false>
   -U|--unset-ip           Unset the IP address
   -r|--restore            Restore from configuration (internal use)
   -h|--help
`

const vswitchHelp = `esxcfg-vswitch <options> [[<dvsName>|<vswitch>[:ports]]]
  -a|--add                Add a new virtual switch.
  -d|--delete             Delete the virtual switch.
  -l|--list               List all the virtual switches.
  -L|--link=<pnic>        Set pnic as an uplink for the vswitch.
  -U|--unlink=<pnic>      Remove pnic from the uplinks for the vswitch.
  -M|--add-pg-uplink      Add an uplink to the list of uplinks for a portgroup
  -N|--del-pg-uplink      Delete an uplink from the list of uplinks for a portgroup
  -P|--add-dvp-uplink     Add an uplink to a DVPort on a DVSwitch (requires -V)
  -Q|--del-dvp-uplink     Delete an uplink from a DVPort on a DVSwitch (requires -V)
  -V|--dvp=<dvport>       Specify a DVPort Id for the operation.
  -p|--pg=<portgroup>     Specify a portgroup for operation (ALL = all portgroups, with -v)
  -v|--vlan=<id>          Set vlan id for portgroup specified by -p; 0 disables VLAN
  -c|--check              Check to see if a virtual switch exists.
                          Program outputs a 1 if it exists, 0 otherwise.
  -C|--check-pg           Check to see if a portgroup exists.
                          Program outputs a 1 if it exists, 0 otherwise.
  -A|--add-pg=<name>      Add a new portgroup to the virtual switch.
  -D|--del-pg=<name>      Delete the portgroup from the virtual switch.
  -m|--mtu=<mtu>          Set MTU for the virtual switch.
  -B|--set-cdp            Set the CDP status for a given virtual switch (down, listen, advertise, both).
  -b|--get-cdp            Print the current CDP setting for this switch.
  -r|--restore            Restore all vswitches from the configuration file (internal use).
  -h|--help               Show this message.
`

const nicsHelp = `esxcfg-nics <options> [nic]
   -s|--speed <speed>      Set the speed of this NIC to one of 10/100/1000/2500/10000.
                           Requires a NIC parameter.
   -d|--duplex <duplex>    Set the duplex of this NIC to one of 'full' or 'half'.
                           Requires a NIC parameter.
   -a|--auto               Set speed and duplexity automatically.  Requires a NIC parameter.
   -l|--list               Print the list of NICs and their settings.
   -r|--restore            Restore the nics configured speed/duplex settings (INTERNAL ONLY)
   -h|--help               Display this message.
`
