package esxcfg

import (
	"net/netip"
	"slices"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func contains(list []string, s string) bool { return slices.Contains(list, s) }
