package cvmsim

import (
	"regexp"
	"strings"
	"testing"
)

// The Go commands' argument parsers must never panic, whatever the
// argv; a parsed ping never asks for a zero interval or count.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"-c 3 192.168.5.1", "-c", "-c0 x", "-i 0.2 -W 0 -w 1 -s 65507 -I eth0 1.2.3.4", "-qn4 -t 64 x", "-I",
		"-a", "-antp", "-rn", "--all --tcp", "-z", "eth0 10.0.0.1 netmask 255.0.0.0", "--bogus",
		"status", "--cluster_name=x status extra", "stop stargate", "start", "-n add default gw 1.1.1.1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		if p, err := parsePingArgs(args); err == nil {
			if p.interval < 200e6 || p.count < 0 || p.dst == "" || p.size < 0 {
				t.Fatalf("%q: bad ping args %+v", line, p)
			}
		}
		_, _ = parseNetstatArgs(args)
		_, _ = parseIfconfigArgs(args)
		_, _ = parseRouteArgs(args)
		_, _ = parseClusterArgs(args)
		if g, err := parseGenesisArgs(args); err == nil && g.action == "" {
			t.Fatalf("%q: no action", line)
		}
	})
}

// Whole command lines through the CVM's shell: never a panic, never a
// hang (the clock is advanced for ping), and the model is untouched.
// endingPing is a ping line with a positive count or deadline.
var endingPing = regexp.MustCompile(`-[cw]\s*0*[1-9]`)

func FuzzCommands(f *testing.F) {
	for _, s := range []string{
		"ping -c 2 192.168.5.1", "netstat -an", "ifconfig -a", "route -n", "cluster status", "genesis status",
		"ping -w 2 10.1.1.1", "netstat -rW", "ifconfig lo", "ping -c 1 -I 192.168.5.254 192.168.5.1",
	} {
		f.Add(s)
	}
	l := newLab(f)
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "`$();&|<>\\\"'\n") || len(line) > 200 {
			t.Skip("not one simple command")
		}
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch name {
		case "ping", "netstat", "ifconfig", "route":
		default:
			t.Skip("not a Go command of the CVM")
		}
		if name == "ping" && !endingPing.MatchString(line) {
			// As iputils' ping: without a count or a deadline, or with
			// -w 0 (no deadline), it runs until Ctrl-C.
			t.Skip("ping without a positive -c or -w runs until Ctrl-C")
		}
		runClock(t, l, l.cvms[1], line)
		if l.cvms[1].Power() != PowerUp || l.cvms[1].StargateState() != StargateUp {
			t.Fatalf("%q changed the CVM", line)
		}
	})
}
