package esxcfg

import "testing"

// The VERIFIED samples of the reference, reproduced byte for byte from a
// host shaped like the HPE README's ESXi 7.0.3 host. These are facts, not
// golden files: -update never rewrites them.
func TestVerifiedHPE(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"esxcfg-route", "VMkernel default gateway is 172.26.64.1\n"},
		{"esxcfg-route -l", "" +
			"VMkernel Routes:\n" +
			"Network          Netmask          Gateway          Interface\n" +
			"172.26.64.0      255.255.255.192  Local Subnet     vmk0\n" +
			"default          0.0.0.0          172.26.64.1      vmk0\n"},
		{"esxcfg-vmknic -l", "" +
			"Interface  Port Group/DVPort/Opaque Network        IP Family IP Address                              Netmask         Broadcast       MAC Address       MTU     TSO MSS   Enabled Type                NetStack \n" +
			"vmk0       Management Network                      IPv4      172.26.64.10                            255.255.255.192 172.26.64.63    88:e9:a4:6b:b8:54 1500    65535     true    STATIC              defaultTcpipStack\n" +
			"vmk0       Management Network                      IPv6      fe80::8ae9:a4ff:fe6b:b854               64                              88:e9:a4:6b:b8:54 1500    65535     true    STATIC, PREFERRED   defaultTcpipStack\n"},
		// The sample ends at the last port group; the blank line closing
		// each switch block is INFERRED.
		{"esxcfg-vswitch -l", "" +
			"Switch Name      Num Ports   Used Ports  Configured Ports  MTU     Uplinks\n" +
			"vSwitch0         8960        4           128               1500    vmnic0\n" +
			"\n" +
			"  PortGroup Name                            VLAN ID  Used Ports  Uplinks\n" +
			"  VM Network                                0        0           vmnic0\n" +
			"  Management Network                        0        1           vmnic0\n" +
			"\n"},
		{"esxcfg-nics -l", "" +
			"Name    PCI          Driver      Link Speed      Duplex MAC Address       MTU    Description\n" +
			"vmnic0  0000:0f:00.0 nmlx5_core  Up   25000Mbps  Full   88:e9:a4:6b:b8:54 1500   Mellanox Technologies MT27800 Family [ConnectX-5]\n" +
			"vmnic1  0000:0f:00.1 nmlx5_core  Up   25000Mbps  Full   88:e9:a4:6b:b8:55 1500   Mellanox Technologies MT27800 Family [ConnectX-5]\n"},
	}
	b := hpe(t)
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			out, errs, code := b.run(t, tc.line)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			if out != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", out, tc.want)
			}
		})
	}
}

// The VERIFIED -a/-d progress lines (reference §1.3, §1.4) and the
// no-argument default gateway set (capture #25267182832).
func TestVerifiedRouteMessages(t *testing.T) {
	b := hostA(t)
	for _, tc := range []struct{ line, want string }{
		{"esxcfg-route -a 10.12.10.0/24 192.168.1.2", "Adding static route 10.12.10.0/24 to VMkernel\n"},
		{"esxcfg-route -d 10.12.10.0/24 192.168.1.2", "Deleting static route 10.12.10.0/24 from VMkernel\n"},
		{"esxcfg-route 192.168.1.254", "VMkernel default gateway set to 192.168.1.254\n"},
	} {
		out, errs, code := b.run(t, tc.line)
		if code != 0 || errs != "" || out != tc.want {
			t.Errorf("%s: got %q (stderr %q, exit %d), want %q", tc.line, out, errs, code, tc.want)
		}
	}
}
