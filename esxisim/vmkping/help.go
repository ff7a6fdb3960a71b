package vmkping

// helpText is ESXi's own help, copied verbatim from the tool into an ESXi
// honeypot (reference §6.1, [DOC]): the usage line says "ping" whichever
// name ran it, and an empty line precedes -X.
const helpText = `ping [args] [host]
   args:
      -4               use IPv4 (default)
      -6               use IPv6
      -c <count>       set packet count
      -d               set DF bit (IPv4) or disable fragmentation (IPv6)
      -D               vmkernel TCP stack debug mode
      -i <interval>    set interval (secs)
      -I <interface>   outgoing interface - for IPv6 scope or IPv4
                       bypasses routing lookup
      -N <next_hop>    set IP*_NEXTHOP - bypasses routing lookup
                       for IPv4, -I option is required
      -s <size>        set the number of ICMP data bytes to be sent.
                       The default is 56, which translates to a 64 byte
                       ICMP frame when added to the 8 byte ICMP header.
                       (Note: these sizes does not include the IP header).
      -t <ttl>         set IPv4 Time To Live or IPv6 Hop Limit
      -v               verbose
      -W <timeout>     set timeout to wait if no responses are
                       received (secs)

      -X               XML output format for esxcli framework.
      -S               The network stack instance name. If unspecified
                       the default netstack instance is used.
   NOTE: In vmkernel TCP debug mode, vmkping traverses
         VSI and pings various configured addresses.
`
