package vmkping

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// options is one vmkping command line.
type options struct {
	help     bool
	count    int
	interval time.Duration
	// wait is how long a probe that got no answer waits for one (-W).
	wait     time.Duration
	size     int
	df       bool
	iface    string
	netstack string
	ttl      int
	verbose  bool
	dst      netip.Addr
}

// Defaults: count 3 and a 1 s interval are VERIFIED (reference §6.1/§6.2).
// The 1 s reply wait is INFERRED: a lost probe costs one interval, so three
// lost probes take about as long as three answered ones.
func defaults() options {
	return options{count: 3, interval: time.Second, wait: time.Second, size: 56, ttl: 64}
}

// maxPayload is the largest ICMP payload of an IPv4 datagram (65535 - 20
// - 8), FreeBSD ping's limit.
const maxPayload = 65507

// usageError is a command line vmkping refuses; it prints the message, the
// help text and exits 2.
type usageError string

func (e usageError) Error() string { return string(e) }

// Option letters that take a value.
const withValue = "cisStWIN"

// parseArgs reads a BSD-style command line: single-letter options that may
// cluster ("-dc" "5") or carry their value ("-c5"), the ESXi-wide
// "++netstack=<name>" option, and exactly one host. Options after the host
// are accepted too (INFERRED leniency; BSD getopt would stop there).
func parseArgs(prog string, argv []string) (options, error) {
	o := defaults()
	var hosts []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			hosts = append(hosts, argv[i+1:]...)
			i = len(argv)
		case strings.HasPrefix(a, "++"):
			name, val, ok := strings.Cut(a[2:], "=")
			if name != "netstack" || !ok || val == "" {
				return o, usageError(fmt.Sprintf("%s: illegal option -- %s", prog, printable(a)))
			}
			o.netstack = val
		case len(a) > 1 && a[0] == '-':
			for k := 1; k < len(a); k++ {
				c := a[k]
				var val string
				if strings.IndexByte(withValue, c) >= 0 {
					val = a[k+1:]
					if val == "" {
						if i+1 >= len(argv) {
							return o, usageError(fmt.Sprintf("%s: option requires an argument -- %s", prog, printable(string(c))))
						}
						i++
						val = argv[i]
					}
					k = len(a)
				}
				if err := o.set(prog, c, val); err != nil {
					return o, err
				}
			}
		default:
			hosts = append(hosts, a)
		}
	}
	if o.help {
		return o, nil
	}
	if len(hosts) != 1 {
		return o, usageError("")
	}
	return o, o.setHost(prog, hosts[0])
}

// set applies one option. Messages are FreeBSD ping's (INFERRED: ESXi's
// ping is FreeBSD's).
func (o *options) set(prog string, c byte, val string) error {
	bad := func(what string) error {
		return usageError(fmt.Sprintf("%s: invalid %s: `%s'", prog, what, printable(val)))
	}
	switch c {
	case 'h':
		o.help = true
	case '4':
		// IPv4 is the only family modelled, and the default.
	case 'v':
		o.verbose = true
	case 'd':
		o.df = true
	case '6', 'D', 'X', 'N':
		return usageError(fmt.Sprintf("%s: -%c is not supported by this emulator", prog, c))
	case 'c':
		n, err := strconv.ParseInt(val, 10, 32)
		if err != nil || n <= 0 {
			return bad("count of packets to transmit")
		}
		o.count = int(n)
	case 'i':
		d, ok := seconds(val)
		if !ok || d <= 0 {
			return bad("timing interval")
		}
		o.interval = d
	case 'W':
		d, ok := seconds(val)
		if !ok {
			return bad("timeout")
		}
		o.wait = d
	case 's':
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return bad("packet size")
		}
		if n > maxPayload {
			return usageError(fmt.Sprintf("%s: packet size too large: %d > %d", prog, n, maxPayload))
		}
		o.size = n
	case 't':
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 255 {
			return bad("TTL")
		}
		o.ttl = n
	case 'I':
		o.iface = val
	case 'S':
		o.netstack = val
	default:
		return usageError(fmt.Sprintf("%s: illegal option -- %s", prog, printable(string(c))))
	}
	return nil
}

// seconds parses a non-negative duration in (fractional) seconds, at most
// a day: enough for any test, and no overflow.
func seconds(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 86400 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// setHost takes an IPv4 literal. Names are not resolved: the emulator has
// no resolver (INFERRED text, reference §6.3).
func (o *options) setHost(prog, h string) error {
	a, err := netip.ParseAddr(h)
	switch {
	case err != nil:
		return hostError(fmt.Sprintf("%s: unknown host %s", prog, printable(h)))
	case !a.Is4():
		return hostError(fmt.Sprintf("%s: IPv6 is not supported by this emulator", prog))
	}
	o.dst = a
	return nil
}

// hostError is a destination vmkping cannot use: the message alone, no
// help, exit 2.
type hostError string

func (e hostError) Error() string { return string(e) }

// printable keeps a diagnostic on one line whatever bytes were typed.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
