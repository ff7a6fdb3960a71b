// Package esxcfg is ESXi's classic esxcfg-* network tools: esxcfg-route,
// esxcfg-vmknic, esxcfg-vswitch and esxcfg-nics. Each is a view of the one
// host model (esxisim/vmkernel): listings read it, changes go through its
// methods, so a route added here is the route the NFS client, esxcli and
// vmkping use next.
//
// Output follows the reference (/work/shared/reference/esxi-commands.md):
// VERIFIED samples byte for byte, DERIVED column rules, and INFERRED
// choices marked where they are made. Error conventions are in errors.go.
package esxcfg
