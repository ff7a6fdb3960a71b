// Package vmio is the synthetic IO of the virtual machines on an emulated
// ESXi host: what makes an autopath failover visible as the VMs feel it.
//
// A Workload writes checksummed blocks to a file on a datastore (like a
// VM's flat disk) and reads them back at a steady, light rate. It turns
// what happens to that IO into three answers a conformance test grades:
//
//   - outages: when IO stopped (an operation failed, or none completed
//     for Config.StallThreshold) and when it flowed again;
//   - latency: p50, p99 and max of every operation;
//   - integrity: no acknowledged write lost or corrupted. A write whose
//     outcome is unknown (it failed, timed out or was cut off) is
//     "uncertain": either its data or the data before it is acceptable.
//
// Reset starts a fresh account (a lab's reset): counts, latency, outages
// and integrity counts start from zero, while the integrity model (what
// each block must hold) is kept, since the data on the datastore stands.
//
// One goroutine per running Workload does the IO, one operation at a
// time; a single reusable timer watches the operation in flight. Nothing is
// allocated per operation in the steady state, so every host of every lab
// can run one.
package vmio
