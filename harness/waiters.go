package harness

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// Waiters: a condition on the model, re-checked whenever the lab records
// an event (every change worth waiting for is one: routes, power,
// Stargate, datastores, IO outages), so nothing polls and nothing sleeps.
//
// The condition language (labctl wait, POST /v1/wait):
//
//	host REF route NETWORK via GATEWAY
//	host REF no route NETWORK
//	host REF datastore NAME accessible|inaccessible
//	host REF io flowing|stalled
//	cvm REF power on|off|booting
//	cvm REF stargate up|down|hung
//	cvm REF ready
//	event KIND [on NODE]      (an event after the wait began)
//
// REF is a name, a letter (a = first) or a number (1 = first). NODE is a
// name, or a letter or number for a host and its CVM alike (as the events
// API's node filter). NETWORK is a CIDR or an address (a /32).

// ConditionError is a condition that does not parse or names nothing.
type ConditionError struct {
	Cond, Msg string
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("condition %q: %s", e.Cond, e.Msg)
}

// ConditionHelp is the grammar, for usage messages.
const ConditionHelp = `host REF route NETWORK via GATEWAY | host REF no route NETWORK |
host REF datastore NAME accessible|inaccessible | host REF io flowing|stalled |
cvm REF power on|off|booting | cvm REF stargate up|down|hung | cvm REF ready |
event KIND [on NODE]`

// Condition is a parsed condition: Holds reads the model, Matches (for
// event conditions) looks at one event.
type Condition struct {
	text    string
	holds   func() bool
	matches func(Event) bool
}

func (c *Condition) String() string { return c.text }

// ParseCondition parses a condition against this lab's nodes.
func (l *Lab) ParseCondition(cond string) (*Condition, error) {
	f := strings.Fields(cond)
	bad := func(format string, a ...any) (*Condition, error) {
		return nil, &ConditionError{Cond: cond, Msg: fmt.Sprintf(format, a...)}
	}
	if len(f) < 2 {
		return bad("want one of: %s", ConditionHelp)
	}
	c := &Condition{text: strings.Join(f, " ")}
	switch f[0] {
	case "event":
		kind, ref := f[1], ""
		switch {
		case len(f) == 4 && f[2] == "on":
			ref = f[3]
		case len(f) != 2:
			return bad("want: event KIND [on NODE]")
		}
		on := l.EventOn(ref)
		c.matches = func(e Event) bool { return e.Kind == kind && on(e) }
		return c, nil
	case "host":
		h, name, err := l.resolveHost(f[1])
		if err != nil {
			return bad("%v", err)
		}
		rest := f[2:]
		switch {
		case len(rest) == 4 && rest[0] == "route" && rest[2] == "via":
			dst, err := parseNetwork(rest[1])
			if err != nil {
				return bad("%v", err)
			}
			gw, err := netip.ParseAddr(rest[3])
			if err != nil {
				return bad("gateway %q is not an IPv4 address", rest[3])
			}
			c.holds = func() bool { return l.hasRoute(name, dst, gw) }
		case len(rest) == 3 && rest[0] == "no" && rest[1] == "route":
			dst, err := parseNetwork(rest[2])
			if err != nil {
				return bad("%v", err)
			}
			c.holds = func() bool { return !l.hasRoute(name, dst, netip.Addr{}) }
		case len(rest) == 3 && rest[0] == "datastore":
			want := rest[2]
			if want != "accessible" && want != "inaccessible" {
				return bad("datastore state %q: want accessible or inaccessible", want)
			}
			ds := rest[1]
			if _, ok := h.Datastores().Get(ds); !ok {
				return bad("host %s has no datastore %q", name, ds)
			}
			c.holds = func() bool {
				d, ok := h.Datastores().Get(ds)
				return ok && d.Info().Accessible == (want == "accessible")
			}
		case len(rest) == 2 && rest[0] == "io":
			want := rest[1]
			if want != "flowing" && want != "stalled" {
				return bad("io state %q: want flowing or stalled", want)
			}
			if l.Workload(name) == nil {
				return bad("host %s runs no VM IO workload", name)
			}
			c.holds = func() bool {
				v := l.hostView(h, name)
				return v.Workload != nil && v.Workload.Stalled == (want == "stalled")
			}
		default:
			return bad("want: host REF route NETWORK via GATEWAY | host REF no route NETWORK | host REF datastore NAME accessible|inaccessible | host REF io flowing|stalled")
		}
		return c, nil
	case "cvm":
		cv, err := l.resolveCVM(f[1])
		if err != nil {
			return bad("%v", err)
		}
		rest := f[2:]
		switch {
		case len(rest) == 1 && rest[0] == "ready":
			c.holds = cv.Ready
		case len(rest) == 2 && rest[0] == "power":
			want := rest[1]
			if want != "on" && want != "off" && want != "booting" {
				return bad("power state %q: want on, off or booting", want)
			}
			c.holds = func() bool {
				p := cv.Power().String()
				if want == "on" {
					return p == "up"
				}
				return p == want
			}
		case len(rest) == 2 && rest[0] == "stargate":
			want, err := parseStargate(rest[1])
			if err != nil {
				return bad("%v", err)
			}
			c.holds = func() bool { return cv.StargateState() == want }
		default:
			return bad("want: cvm REF power on|off|booting | cvm REF stargate up|down|hung | cvm REF ready")
		}
		return c, nil
	}
	return bad("want one of: %s", ConditionHelp)
}

// EventOn returns whether an event happened on the node ref names: a name
// is that node; a letter or number names a host and its CVM alike, so that
// "power.off on b" is CVM B's (only CVMs power off) and "route.add on b"
// host B's. "" is every node. Event conditions and the events API's node
// filter take NODE so.
func (l *Lab) EventOn(ref string) func(Event) bool {
	if ref == "" {
		return func(Event) bool { return true }
	}
	nodes := map[string]bool{strings.ToLower(ref): true}
	if n, err := l.ResolveHost(ref); err == nil {
		nodes[strings.ToLower(n)] = true
	}
	if n, err := l.ResolveCVM(ref); err == nil {
		nodes[strings.ToLower(n)] = true
	}
	return func(e Event) bool { return nodes[strings.ToLower(e.Node)] }
}

// hasRoute reports whether a host's defaultTcpipStack has a static route
// to dst (via gw, when gw is valid).
func (l *Lab) hasRoute(host string, dst netip.Prefix, gw netip.Addr) bool {
	h := l.Host(host)
	rs, err := h.VMkernel().Routes("defaultTcpipStack")
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r.Network == dst && r.Gateway.IsValid() && (!gw.IsValid() || r.Gateway == gw) {
			return true
		}
	}
	return false
}

// Wait blocks until the condition holds or ctx ends (ctx.Err()). A bad
// condition is a *ConditionError.
func (l *Lab) Wait(ctx context.Context, cond string) error {
	c, err := l.ParseCondition(cond)
	if err != nil {
		return err
	}
	return l.WaitCondition(ctx, c)
}

// WaitCondition blocks until c holds (or, for an event condition, until a
// matching event) or ctx ends.
func (l *Lab) WaitCondition(ctx context.Context, c *Condition) error {
	if c.matches != nil {
		return l.waitEvent(ctx, c.matches)
	}
	return l.WaitUntil(ctx, c.holds)
}

// WaitUntil blocks until pred holds, re-checking it after every event of
// the lab, or until ctx ends.
func (l *Lab) WaitUntil(ctx context.Context, pred func() bool) error {
	kick := make(chan struct{}, 1)
	cancel := l.Events.Subscribe(func(Event) {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	defer cancel()
	for {
		if pred() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
		}
	}
}

func (l *Lab) waitEvent(ctx context.Context, match func(Event) bool) error {
	hit := make(chan struct{})
	var once sync.Once
	cancel := l.Events.Subscribe(func(e Event) {
		if match(e) {
			once.Do(func() { close(hit) })
		}
	})
	defer cancel()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-hit:
		return nil
	}
}
