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
// Capture (capture.go) shows the model as a wire would: every packet that
// crosses an interface as an Ethernet frame with real headers — a flow's
// handshake, segments, ACKs, FIN and RST (wire.go), echo requests and
// replies, ARP when a neighbour is learned — built only while someone
// captures on the interfaces it crosses, and then by the capture pipeline's
// goroutine rather than the sender (pipeline.go).
//
// Flows are carried by a Transport. The in-memory transport joins nodes of
// one process; nothing above this package may assume both ends of a flow
// live in one process.
//
// Nodes in separate processes (remote.go): every process holds the whole
// model and runs some nodes; the others are remote (Node.SetRemote).
// Routing and ARP decide on the sender's model; a flow whose path ends at
// a remote node goes over real TCP to its owner's ServeFabric, a PROXY v2
// header carrying the modelled source and destination, and is framed
// there (bridge.go) so that data, FIN and RST cross faithfully while the
// real connection dying is a blackhole. The receiving process decides
// for its node (powered, its interface, its faults); WatchPeers powers a
// remote node off in this model while its process does not answer.
//
// Locking: Network's flow lock (reeval) is taken first, by Dial, Reevaluate,
// SetPowered and a remote flow's acceptance; it is held while Routers are
// consulted, and never while waiting on a real connection. A flow's wire
// lock comes next, then the capture queue's lock (pipeline.go), where a
// writer may wait for room while holding the first two: the capture
// goroutine that makes the room takes neither, and runs the capture
// callbacks under no lock of the package. Every other lock of the package
// is a leaf: none is held while another is taken.
package fabric
