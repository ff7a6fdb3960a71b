package harness

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/autopathlab/autopathlab/cvmsim"
)

// Actions happen once; their effects are in the model and the event log.
// Each takes a reference (name, letter or number) like labctl does.

// PowerOff cuts a CVM's power: its flows are blackholed, its Stargate's
// sessions vanish.
func (l *Lab) PowerOff(cvm string) error {
	c, err := l.resolveCVM(cvm)
	if err != nil {
		return err
	}
	c.PowerOff()
	return nil
}

// PowerOn starts a CVM's boot sequence (ping, then Stargate, then fully
// initialised, on the lab's clock).
func (l *Lab) PowerOn(cvm string) error {
	c, err := l.resolveCVM(cvm)
	if err != nil {
		return err
	}
	c.PowerOn()
	return nil
}

// Reboot power-cycles a CVM.
func (l *Lab) Reboot(cvm string) error {
	c, err := l.resolveCVM(cvm)
	if err != nil {
		return err
	}
	c.Reboot()
	return nil
}

// StargateStates are the states SetStargate takes.
var StargateStates = []string{"up", "down", "hung"}

// SetStargate sets a standing Stargate state on a CVM: "down" (refused),
// "hung" (accepts, never answers) or "up" (clears the fault).
func (l *Lab) SetStargate(cvm, state string) error {
	c, err := l.resolveCVM(cvm)
	if err != nil {
		return err
	}
	s, err := parseStargate(state)
	if err != nil {
		return err
	}
	c.SetStargate(s)
	return nil
}

func parseStargate(state string) (cvmsim.StargateState, error) {
	switch strings.ToLower(state) {
	case "up":
		return cvmsim.StargateUp, nil
	case "down":
		return cvmsim.StargateDown, nil
	case "hung", "hang":
		return cvmsim.StargateHung, nil
	}
	return 0, fmt.Errorf("stargate state %q: want one of %s", state, strings.Join(StargateStates, ", "))
}

// AddRoute is an operator typing esxcfg-route -a on a host: network is a
// CIDR ("192.168.5.2/32") or "default"; netstack "" is defaultTcpipStack.
func (l *Lab) AddRoute(host, netstack, network, gateway string) error {
	h, name, err := l.resolveHost(host)
	if err != nil {
		return err
	}
	dst, gw, err := parseRoute(network, gateway)
	if err != nil {
		return err
	}
	if netstack == "" {
		netstack = "defaultTcpipStack"
	}
	if err := h.VMkernel().AddRoute(netstack, dst, gw); err != nil {
		return fmt.Errorf("host %s: %w", name, err)
	}
	l.Events.Add(Event{Time: l.Clock.Now(), Kind: "operator.route-add", Node: name, Netstack: netstack, Network: dst.String(), Gateway: gw.String()})
	return nil
}

// DeleteRoute is an operator typing esxcfg-route -d; gateway "" deletes
// whatever route the network has.
func (l *Lab) DeleteRoute(host, netstack, network, gateway string) error {
	h, name, err := l.resolveHost(host)
	if err != nil {
		return err
	}
	if netstack == "" {
		netstack = "defaultTcpipStack"
	}
	var dst netip.Prefix
	var gw netip.Addr
	if gateway == "" {
		if dst, err = parseNetwork(network); err != nil {
			return err
		}
		rs, err := h.VMkernel().Routes(netstack)
		if err != nil {
			return fmt.Errorf("host %s: %w", name, err)
		}
		for _, r := range rs {
			if r.Network == dst && r.Gateway.IsValid() {
				gw = r.Gateway
			}
		}
		if !gw.IsValid() {
			return fmt.Errorf("host %s: no static route to %s in %s", name, dst, netstack)
		}
	} else if dst, gw, err = parseRoute(network, gateway); err != nil {
		return err
	}
	if err := h.VMkernel().DeleteRoute(netstack, dst, gw); err != nil {
		return fmt.Errorf("host %s: %w", name, err)
	}
	l.Events.Add(Event{Time: l.Clock.Now(), Kind: "operator.route-delete", Node: name, Netstack: netstack, Network: dst.String(), Gateway: gw.String()})
	return nil
}

func parseNetwork(network string) (netip.Prefix, error) {
	if network == "default" {
		return netip.MustParsePrefix("0.0.0.0/0"), nil
	}
	if a, err := netip.ParseAddr(network); err == nil && a.Is4() {
		return netip.PrefixFrom(a, 32), nil
	}
	p, err := netip.ParsePrefix(network)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("network %q: want an IPv4 CIDR like 192.168.5.2/32, an address, or default", network)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("network %q has host bits set (did you mean %s?)", network, p.Masked())
	}
	return p, nil
}

func parseRoute(network, gateway string) (netip.Prefix, netip.Addr, error) {
	dst, err := parseNetwork(network)
	if err != nil {
		return dst, netip.Addr{}, err
	}
	gw, err := netip.ParseAddr(gateway)
	if err != nil || !gw.Is4() {
		return dst, gw, fmt.Errorf("gateway %q: want an IPv4 address", gateway)
	}
	return dst, gw, nil
}
