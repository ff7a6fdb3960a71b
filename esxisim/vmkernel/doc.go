// Package vmkernel models an ESXi host's VMkernel networking: physical NICs
// (vmnics), standard vSwitches and port groups, VMkernel NICs (vmknics),
// netstacks with their routing tables, the host's identity and version, and
// the VMkernel log. It is the one model of the host: every command, the
// control API and the NFS client are views of it.
//
// Errors carry the VMkernel's own status strings, so commands print them as
// ESXi does.
package vmkernel
