package cvmsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/autopathlab/autopathlab/fabric"
	"github.com/autopathlab/autopathlab/shell"
)

// ping is CentOS 7's iputils ping over the fabric's modelled ICMP echo.
// Unlike ESXi's BSD-style vmkping it counts from icmp_seq=1, runs until
// Ctrl-C without -c, and prints the Linux statistics lines.

const pingUsage = `Usage: ping [-aAbBdDfhLnOqrRUvV64] [-c count] [-i interval] [-I interface]
            [-m mark] [-M pmtudisc_option] [-l preload] [-p pattern] [-Q tos]
            [-s packetsize] [-S sndbuf] [-t ttl] [-T timestamp_option]
            [-w deadline] [-W timeout] [hop1 ...] destination
`

// pingArgs is a parsed ping command line.
type pingArgs struct {
	count    int // 0: until interrupted
	interval time.Duration
	timeout  time.Duration // -W: wait for the last reply
	deadline time.Duration // -w: stop after
	size     int
	iface    string
	quiet    bool
	dst      string
}

// maxPingCount bounds -c the way iputils does (it rejects what does not
// fit its counter).
const maxPingCount = 1 << 31

func parsePingArgs(args []string) (pingArgs, error) {
	a := pingArgs{interval: time.Second, timeout: 10 * time.Second, size: 56}
	value := func(i *int, flag byte, rest string) (string, error) {
		if rest != "" {
			return rest, nil
		}
		if *i+1 >= len(args) {
			return "", fmt.Errorf("option requires an argument -- '%c'", flag)
		}
		*i++
		return args[*i], nil
	}
	seconds := func(s string, flag byte, min float64) (time.Duration, error) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || f < min || f > 1e6 {
			return 0, fmt.Errorf("bad timing interval: %s", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	for i := 0; i < len(args); i++ {
		s := args[i]
		if len(s) < 2 || s[0] != '-' {
			if a.dst != "" {
				return a, errors.New("usage")
			}
			a.dst = s
			continue
		}
	flags:
		for j := 1; j < len(s); j++ {
			f, rest := s[j], s[j+1:]
			switch f {
			case 'q':
				a.quiet = true
			case 'n', '4', 'v', 'D', 'A', 'a', 'U':
			case 'c', 'i', 'W', 'w', 's', 'I', 't':
				v, err := value(&i, f, rest)
				if err != nil {
					return a, err
				}
				switch f {
				case 'c':
					n, err := strconv.Atoi(v)
					if err != nil || n <= 0 || n >= maxPingCount {
						return a, fmt.Errorf("bad number of packets to transmit.")
					}
					a.count = n
				case 'i':
					d, err := seconds(v, f, 0.2)
					if err != nil {
						return a, errors.New("cannot flood; minimal interval allowed for user is 200ms")
					}
					a.interval = d
				case 'W':
					d, err := seconds(v, f, 0)
					if err != nil {
						return a, fmt.Errorf("bad linger time.")
					}
					a.timeout = d
				case 'w':
					d, err := seconds(v, f, 0)
					if err != nil {
						return a, fmt.Errorf("bad wait time.")
					}
					a.deadline = d
				case 's':
					n, err := strconv.Atoi(v)
					if err != nil || n < 0 || n > 65507 {
						return a, fmt.Errorf("illegal negative packet size %s.", v)
					}
					a.size = n
				case 'I':
					a.iface = v
				case 't':
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 || n > 255 {
						return a, fmt.Errorf("ttl %s out of range", v)
					}
				}
				break flags
			default:
				return a, fmt.Errorf("invalid option -- '%c'", f)
			}
		}
	}
	if a.dst == "" {
		return a, errors.New("usage")
	}
	return a, nil
}

func (c *CVM) cmdPing(ctx context.Context, inv *shell.Invocation) int {
	a, err := parsePingArgs(inv.Args[1:])
	if err != nil {
		if err.Error() != "usage" {
			fmt.Fprintf(inv.Stderr, "ping: %v\n", err)
		}
		fmt.Fprint(inv.Stderr, pingUsage)
		return 2
	}
	dst, err := netip.ParseAddr(a.dst)
	if err != nil || !dst.Is4() {
		fmt.Fprintf(inv.Stderr, "ping: %s: Name or service not known\n", a.dst)
		return 2
	}
	// Linux ping's identifier is its PID; a counter keeps captures
	// reproducible.
	req := fabric.EchoRequest{Dst: dst, Size: a.size, ID: uint16(0x2000 + c.pings.Add(1))}
	var src netip.Addr
	from := ""
	if a.iface != "" {
		if ip, err := netip.ParseAddr(a.iface); err == nil {
			for _, i := range c.node.Interfaces() {
				if i.Addr().Addr() == ip {
					req.Iface = i
				}
			}
			if req.Iface == nil {
				fmt.Fprintln(inv.Stderr, "ping: bind: Cannot assign requested address")
				return 2
			}
		} else if req.Iface = c.node.Interface(a.iface); req.Iface == nil {
			fmt.Fprintln(inv.Stderr, "ping: SO_BINDTODEVICE: No such device")
			return 2
		}
		src = req.Iface.Addr().Addr()
		from = fmt.Sprintf("from %s %s: ", src, a.iface)
	} else {
		r, err := c.routeOf(dst)
		if err != nil {
			fmt.Fprintln(inv.Stderr, "connect: Network is unreachable")
			return 2
		}
		src = r.Iface.Addr().Addr()
	}
	fmt.Fprintf(inv.Stdout, "PING %s (%s) %s%d(%d) bytes of data.\n", dst, dst, from, a.size, a.size+28)

	start := c.clock.Now()
	var sent, received, errs int
	// time in the statistics runs to the last probe sent: the linger
	// for its reply is not counted, as iputils reports it.
	var lastSend time.Time
	var rtts []time.Duration
	wait := func(d time.Duration) bool {
		if a.deadline > 0 {
			d = min(d, max(start.Add(a.deadline).Sub(c.clock.Now()), 0))
		}
		t := c.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.Chan():
			return true
		}
	}
	for seq := 1; a.count == 0 || seq <= a.count; seq++ {
		if ctx.Err() != nil || a.deadline > 0 && c.clock.Since(start) >= a.deadline {
			break
		}
		sent++
		lastSend = c.clock.Now()
		req.Seq = uint16(seq)
		rep, err := c.node.Echo(req)
		switch {
		case err != nil:
			errs++
			if !a.quiet {
				fmt.Fprintf(inv.Stdout, "From %s icmp_seq=%d Destination Host Unreachable\n", src, seq)
			}
		case rep != nil:
			received++
			rtts = append(rtts, rep.RTT)
			if !a.quiet {
				fmt.Fprintf(inv.Stdout, "%d bytes from %s: icmp_seq=%d ttl=%d time=%s ms\n", rep.Bytes, rep.From, seq, rep.TTL, rttString(rep.RTT))
			}
		}
		last := a.count != 0 && seq == a.count
		if !last {
			if !wait(a.interval) {
				break
			}
		} else if rep == nil && err == nil && a.timeout > 0 {
			// The last probe is unanswered: linger for its reply.
			wait(a.timeout)
		}
	}
	elapsed := max(lastSend.Sub(start), 0)
	fmt.Fprintf(inv.Stdout, "\n--- %s ping statistics ---\n", dst)
	loss := 0
	if sent > 0 {
		loss = (sent - received) * 100 / sent
	}
	errText := ""
	if errs > 0 {
		errText = fmt.Sprintf("+%d errors, ", errs)
	}
	fmt.Fprintf(inv.Stdout, "%d packets transmitted, %d received, %s%d%% packet loss, time %dms\n", sent, received, errText, loss, elapsed.Milliseconds())
	if received > 0 {
		var sum, sum2 float64
		lo, hi := rtts[0], rtts[0]
		for _, r := range rtts {
			ms := float64(r) / float64(time.Millisecond)
			sum += ms
			sum2 += ms * ms
			lo, hi = min(lo, r), max(hi, r)
		}
		avg := sum / float64(len(rtts))
		mdev := math.Sqrt(max(sum2/float64(len(rtts))-avg*avg, 0))
		fmt.Fprintf(inv.Stdout, "rtt min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms\n",
			float64(lo)/float64(time.Millisecond), avg, float64(hi)/float64(time.Millisecond), mdev)
	}
	if received == 0 || a.deadline > 0 && a.count > 0 && received < a.count {
		return 1
	}
	return 0
}

// rttString is iputils' precision: three decimals under 1 ms, two under
// 10 ms, one under 100 ms, none above.
func rttString(d time.Duration) string {
	us := d.Microseconds()
	switch {
	case us >= 100000:
		return strconv.FormatInt(us/1000, 10)
	case us >= 10000:
		return fmt.Sprintf("%d.%01d", us/1000, us%1000/100)
	case us >= 1000:
		return fmt.Sprintf("%d.%02d", us/1000, us%1000/10)
	}
	return fmt.Sprintf("%d.%03d", us/1000, us%1000)
}
