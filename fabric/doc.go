// Package fabric is the modelled L2/L3 network: segments, interfaces with
// IP, mask and MAC, nodes, routing tables, neighbour (ARP) tables, modelled
// ICMP echo and modelled TCP flows. It knows nothing about ESXi or Nutanix;
// esxisim and cvmsim build their nodes on it.
//
// A flow's path (egress interface, next-hop node, destination node) is fixed
// when it is opened. When a node's routes change the node re-evaluates its
// open flows, and a flow whose path changed is reset, the way a real next
// hop that never saw the connection answers with RST. Powering a node off
// blackholes its flows: no FIN and no RST, peers find out by timeout.
//
// Flows are carried by a Transport. The in-memory transport joins nodes of
// one process; nothing above this package may assume both ends of a flow
// live in one process.
package fabric
