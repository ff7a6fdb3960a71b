// Package fabric is the modelled L2/L3 network: segments, interfaces with
// IP, mask and MAC, nodes, routing tables, neighbour (ARP) tables, modelled
// ICMP echo and modelled TCP flows. It knows nothing about ESXi or Nutanix;
// esxisim and cvmsim build their nodes on it.
//
// A flow's path (egress interface, source address, next-hop interface,
// target node) is fixed when it is opened. Any route or interface change
// re-evaluates every open flow of the network: a flow whose path changed to
// a live new target is reset, the way a real next hop that never saw the
// connection answers with RST; a flow with no usable path stalls and resumes
// when its original path is back. Powering a node off blackholes its flows:
// no FIN and no RST, peers find out by timeout. Powering it on resets the
// flows it had forgotten.
//
// Faults (fault.go) act as a real network's do: an interface without
// carrier, with 100% loss, or a partition between two nodes blackholes the
// traffic through it without removing a route; injected latency and
// partial loss delay echo replies and flow writes on the network's clock.
//
// Flows are carried by a Transport. The in-memory transport joins nodes of
// one process; nothing above this package may assume both ends of a flow
// live in one process.
//
// Locking: Network's flow lock (reeval) is taken first, by Dial, Reevaluate
// and SetPowered; it is held while Routers are consulted. Every other lock
// of the package is a leaf: none is held while another is taken.
package fabric
