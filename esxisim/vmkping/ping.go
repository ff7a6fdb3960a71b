// Package vmkping is ESXi's vmkping, also installed as ping: the two are one
// tool on ESXi, and both send from the VMkernel's stack. Every probe is a
// modelled ICMP echo (fabric.Node.Echo): the routing table of the chosen
// netstack picks the egress vmk unless -I names one, and the reply, its TTL
// and RTT, or the sendto error, come from the model.
package vmkping

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync/atomic"
	"time"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/esxisim/vmkernel"
	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// Exit statuses (INFERRED, FreeBSD ping's meaning; reference §6.3).
const (
	exitReply   = 0 // at least one reply
	exitNoReply = 1 // probes sent, nothing came back
	exitUsage   = 2 // nothing sent: bad usage, unknown host, interface or netstack
)

// Register installs vmkping and ping for host h.
func Register(r *shell.Registry, h *vmkernel.Host) {
	cmd := Command(h)
	r.Register("/bin/vmkping", cmd)
	r.Register("/bin/ping", cmd)
}

// Command returns the vmkping command of host h.
func Command(h *vmkernel.Host) shell.Command {
	// Each run gets its own ICMP identifier, as ping uses its PID: a
	// capture tells two runs apart. Counted, so captures are reproducible.
	var runs atomic.Uint32
	return func(ctx context.Context, inv *shell.Invocation) int {
		prog := "vmkping"
		var argv []string
		if len(inv.Args) > 0 {
			prog, argv = path.Base(inv.Args[0]), inv.Args[1:]
		}
		o, err := parseArgs(prog, argv)
		var herr hostError
		switch {
		case errors.As(err, &herr):
			fmt.Fprintln(inv.Stderr, herr)
			return exitUsage
		case err != nil:
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(inv.Stderr, msg)
			}
			fmt.Fprint(inv.Stderr, helpText)
			return exitUsage
		case o.help:
			fmt.Fprint(inv.Stdout, helpText)
			return exitReply
		}
		clk := inv.Clock
		if clk == nil {
			clk = h.Clock()
		}
		req, err := echoRequest(h, o)
		if err != nil {
			fmt.Fprintln(inv.Stderr, err)
			return exitUsage
		}
		req.ID = uint16(0x4000 + runs.Add(1))
		return run(ctx, clk, h.Node(), req, o, inv)
	}
}

// echoRequest resolves the netstack and the -I interface. An -I vmknic of
// another netstack is unknown there, as on ESXi where interfaces are looked
// up per stack.
func echoRequest(h *vmkernel.Host, o options) (fabric.EchoRequest, error) {
	req := fabric.EchoRequest{Dst: o.dst, Size: o.size, DF: o.df}
	ns, err := h.Netstack(o.netstack)
	if err != nil {
		// INFERRED wording, in the style of the -I error below.
		return req, fmt.Errorf("Unknown netstack '%s': Invalid argument", printable(o.netstack))
	}
	req.Router = ns.Routes
	if o.iface != "" {
		v, err := h.Vmknic(o.iface)
		if err != nil || v.Netstack != ns.Name {
			// INFERRED from memory (reference §6.3).
			return req, fmt.Errorf("Unknown interface '%s': Invalid argument", printable(o.iface))
		}
		req.Iface = v.Iface
	}
	return req, nil
}

// run sends the probes and prints what happened, BSD style (VERIFIED
// shape, reference §6.2/§6.3). Timing, on the session's clock:
//   - probe n+1 leaves one interval after probe n;
//   - a probe that got no answer waits -W for one before the next is due
//     (when -W exceeds the interval the next probe leaves when the wait
//     ends); nothing is waited after the last probe that got an answer or
//     a sendto error;
//   - cancelling ctx (Ctrl-C) stops at once and still prints the
//     statistics, as FreeBSD ping's SIGINT handler does.
func run(ctx context.Context, clk clock.Clock, node *fabric.Node, req fabric.EchoRequest, o options, inv *shell.Invocation) int {
	host := o.dst.String()
	fmt.Fprintf(inv.Stdout, "PING %s (%s): %d data bytes\n", host, host, o.size)
	// FreeBSD prints RTTs only when the payload can carry a timestamp.
	timing := o.size >= 8
	var st stats
probes:
	for seq := 0; seq < o.count; seq++ {
		if ctx.Err() != nil {
			break
		}
		sent := clk.Now()
		st.transmitted++
		req.Seq = uint16(seq)
		reply, err := node.Echo(req)
		switch {
		case err != nil:
			fmt.Fprintf(inv.Stdout, "sendto() failed (%s)\n", err)
		case reply == nil:
			if !sleep(ctx, clk, o.wait) {
				break probes
			}
		default:
			st.add(reply.RTT)
			if timing {
				fmt.Fprintf(inv.Stdout, "%d bytes from %s: icmp_seq=%d ttl=%d time=%.3f ms\n",
					reply.Bytes, reply.From, seq, reply.TTL, ms(reply.RTT))
			} else {
				fmt.Fprintf(inv.Stdout, "%d bytes from %s: icmp_seq=%d ttl=%d\n", reply.Bytes, reply.From, seq, reply.TTL)
			}
		}
		if seq+1 < o.count && !sleep(ctx, clk, sent.Add(o.interval).Sub(clk.Now())) {
			break
		}
	}
	st.print(inv.Stdout, host, timing)
	if st.received > 0 {
		return exitReply
	}
	return exitNoReply
}

// sleep waits d on clk; false if ctx ended first. A non-positive d returns
// at once without arming a timer, so tests can count the waits.
func sleep(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}
