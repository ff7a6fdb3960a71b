package report

import (
	"time"

	"github.com/autopathlab/autopathlab/harness/conform"
)

// The fixture is a run of a Python autopath against seed 001's lab at
// time scale 0.05: two scenarios pass, one fails (slow detection, a
// route to the dead CVM's own public address, an outage past the limit).

const (
	hostA, hostB, hostC = "NTNX-BLOCK1-A", "NTNX-BLOCK1-B", "NTNX-BLOCK1-C"
	listRoutes          = "esxcfg-route -l"
)

// polls are the route reads an implementation that polls every second
// runs on every host, the hosts a few milliseconds apart.
func polls(endMS float64) []conform.CommandRecord {
	var out []conform.CommandRecord
	for t := 950.0; t < endMS; t += 1000 {
		for i, h := range []string{hostA, hostB, hostC} {
			out = append(out, conform.CommandRecord{AtMS: t + float64(i)*14, Host: h, User: "root", Command: listRoutes})
		}
	}
	return out
}

// withCommands merges extra commands into the polls, in time order.
func withCommands(endMS float64, extra ...conform.CommandRecord) []conform.CommandRecord {
	all := polls(endMS)
	for _, e := range extra {
		i := 0
		for i < len(all) && all[i].AtMS <= e.AtMS {
			i++
		}
		all = append(all[:i], append([]conform.CommandRecord{e}, all[i:]...)...)
	}
	return all
}

func passCheck(name, reason string) conform.Check {
	return conform.Check{Name: name, Passed: true, Reason: reason}
}

func failCheck(name, reason string) conform.Check {
	return conform.Check{Name: name, Reason: reason}
}

func skipCheck(name, reason string) conform.Check {
	return conform.Check{Name: name, Passed: true, Skipped: true, Reason: reason}
}

func steady(name, kind, state string, endMS float64) conform.Track {
	return conform.Track{Name: name, Kind: kind, Spans: []conform.Span{{FromMS: 0, ToMS: endMS, State: state}}}
}

func fixture() *conform.Report {
	return &conform.Report{
		Implementation: `/usr/bin/python3 examples/autopath-python/autopath.py --note "<lab>"`,
		Lab:            "seed001",
		Started:        time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
		DurationMS:     41230.5,
		TimeScale:      0.05,
		Thresholds:     conform.Thresholds{MaxDetectionMS: 5000, MaxOutageMS: 10000},
		Passed:         false,
		Scenarios:      []conform.ScenarioResult{injectedRoute(), cvmPowerOff(), cvmPowerOn()},
	}
}

func injectedRoute() conform.ScenarioResult {
	const end = 8000
	return conform.ScenarioResult{
		Name:        "a-injected-route",
		Title:       "An operator injects a route to a healthy CVM",
		Description: `On host A, "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28" is typed while every CVM is healthy. The implementation must end host A's session on CVM B gracefully and delete the route.`,
		Passed:      true,
		DurationMS:  end,
		DetectionMS: 2105,
		OutageMS:    48,
		Checks: []conform.Check{
			passCheck(conform.CheckDetection, "the injected route was deleted 2.11 s after it appeared (limit 5.00 s)."),
			passCheck(conform.CheckOutage, "the longest IO outage on host A was 48 ms (limit 10.00 s)."),
			passCheck(conform.CheckFinalRoutes, "no host has a 192.168.5.2/32 route at the end."),
			skipCheck(conform.CheckNoDeadCVM, "no CVM failed in this scenario."),
			passCheck(conform.CheckNoFlapping, "host A's route changed once."),
			passCheck(conform.CheckGraceful, "NfsTerminateConnection for 192.168.1.24 reached CVM B 12 ms before the route was deleted."),
			passCheck(conform.CheckCommands, "only esxcfg-route commands ran, all exited 0."),
		},
		Commands: withCommands(end,
			conform.CommandRecord{AtMS: 3117, Host: hostA, User: "root", Command: "esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.28"},
		),
		FinalRoutes: map[string][]string{hostA: nil, hostB: nil, hostC: nil},
		Timeline: conform.Timeline{
			EndMS: end,
			Tracks: []conform.Track{
				steady("NTNX-BLOCK1-A-CVM power", conform.TrackPower, "up", end),
				steady("NTNX-BLOCK1-A-CVM Stargate", conform.TrackStargate, "up", end),
				{Name: "NTNX-BLOCK1-A route", Kind: conform.TrackRoute, Spans: []conform.Span{
					{FromMS: 0, ToMS: 1012, State: "none"},
					{FromMS: 1012, ToMS: 3117, State: "via 192.168.1.28"},
					{FromMS: 3117, ToMS: end, State: "none"},
				}},
				{Name: "NTNX-BLOCK1-A IO", Kind: conform.TrackIO, Spans: []conform.Span{
					{FromMS: 0, ToMS: 1012, State: "flowing"},
					{FromMS: 1012, ToMS: 1041, State: "outage"},
					{FromMS: 1041, ToMS: 3117, State: "flowing"},
					{FromMS: 3117, ToMS: 3165, State: "outage"},
					{FromMS: 3165, ToMS: end, State: "flowing"},
				}},
			},
			Marks: []conform.Mark{
				{AtMS: 1012, Label: "route injected via 192.168.1.28"},
				{AtMS: 3105, Label: "NfsTerminateConnection"},
				{AtMS: 3117, Label: "route deleted (detection 2.11 s)"},
			},
		},
	}
}

func cvmPowerOff() conform.ScenarioResult {
	const end = 20000
	return conform.ScenarioResult{
		Name:        "c-cvm-power-off",
		Title:       "CVM A is powered off",
		Description: "CVM A powers off without warning. Host A's NFS traffic must be sent to a healthy CVM (192.168.5.2/32 via its public address) before the VMs notice.",
		Passed:      false,
		DurationMS:  end,
		DetectionMS: 6412,
		OutageMS:    11630,
		Checks: []conform.Check{
			failCheck(conform.CheckDetection, "host A's first route change came 6.41 s after CVM A powered off (limit 5.00 s)."),
			failCheck(conform.CheckOutage, "host A's VM IO stopped for 11.63 s (limit 10.00 s)."),
			passCheck(conform.CheckFinalRoutes, "NTNX-BLOCK1-A: 192.168.5.2/32 via 192.168.1.28 (CVM B, healthy)."),
			failCheck(conform.CheckNoDeadCVM, `host A routed 192.168.5.2 via 192.168.1.27 (CVM A's own eth0, powered off) for 2.03 s; "never route to an unhealthy CVM".`),
			passCheck(conform.CheckNoFlapping, "host A's route changed twice."),
			skipCheck(conform.CheckGraceful, "no route to a healthy CVM was deleted."),
			failCheck(conform.CheckCommands, `"esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.27" on NTNX-BLOCK1-A exited 1.`),
		},
		Commands: withCommands(end,
			conform.CommandRecord{AtMS: 7412, Host: hostA, User: "root", Command: "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.27"},
			conform.CommandRecord{AtMS: 9440, Host: hostA, User: "root", Command: `esxcfg-route -l | grep "192.168.5.2 " > /tmp/ap.txt 2>&1 && echo '<found>'`},
			conform.CommandRecord{AtMS: 9446, Host: hostA, User: "root", Command: "esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.27", Exit: 1},
			conform.CommandRecord{AtMS: 9447, Host: hostA, User: "root", Command: "esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.27"},
			conform.CommandRecord{AtMS: 9451, Host: hostA, User: "root", Command: "esxcfg-route -a 192.168.5.2 255.255.255.255 192.168.1.28"},
		),
		FinalRoutes: map[string][]string{hostA: {"192.168.5.2/32 via 192.168.1.28"}, hostB: nil, hostC: nil},
		Timeline: conform.Timeline{
			EndMS: end,
			Tracks: []conform.Track{
				{Name: "NTNX-BLOCK1-A-CVM power", Kind: conform.TrackPower, Spans: []conform.Span{
					{FromMS: 0, ToMS: 1000, State: "up"},
					{FromMS: 1000, ToMS: end, State: "off"},
				}},
				{Name: "NTNX-BLOCK1-A-CVM Stargate", Kind: conform.TrackStargate, Spans: []conform.Span{
					{FromMS: 0, ToMS: 1000, State: "up"},
					{FromMS: 1000, ToMS: end, State: "down"},
				}},
				steady("NTNX-BLOCK1-B-CVM Stargate", conform.TrackStargate, "up", end),
				{Name: "NTNX-BLOCK1-A route", Kind: conform.TrackRoute, Spans: []conform.Span{
					{FromMS: 0, ToMS: 7412, State: "none"},
					{FromMS: 7412, ToMS: 9447, State: "via 192.168.1.27", Bad: true},
					{FromMS: 9447, ToMS: 9451, State: "none"},
					{FromMS: 9451, ToMS: end, State: "via 192.168.1.28"},
				}},
				{Name: "NTNX-BLOCK1-A IO", Kind: conform.TrackIO, Spans: []conform.Span{
					{FromMS: 0, ToMS: 1000, State: "flowing"},
					{FromMS: 1000, ToMS: 12630, State: "outage", Bad: true},
					{FromMS: 12630, ToMS: end, State: "flowing"},
				}},
				steady("NTNX-BLOCK1-B route", conform.TrackRoute, "none", end),
				steady("NTNX-BLOCK1-B IO", conform.TrackIO, "flowing", end),
			},
			Marks: []conform.Mark{
				{AtMS: 1000, Label: "CVM A powered off"},
				{AtMS: 6000, Label: "detection limit (5 s)", Bad: true},
				{AtMS: 7412, Label: "route via 192.168.1.27 (dead CVM)", Bad: true},
				{AtMS: 9451, Label: "route via 192.168.1.28"},
				{AtMS: 11000, Label: "outage limit (10 s)", Bad: true},
			},
		},
	}
}

func cvmPowerOn() conform.ScenarioResult {
	const end = 12000
	return conform.ScenarioResult{
		Name:        "e-cvm-power-on",
		Title:       "The failed CVM A is powered on again",
		Description: "CVM A boots while host A is routed via CVM B. Once CVM A is initialised and has stayed healthy for the stable period, the route must go, gracefully.",
		Passed:      true,
		DurationMS:  end,
		DetectionMS: 3135,
		OutageMS:    52,
		Checks: []conform.Check{
			passCheck(conform.CheckDetection, "the route was deleted 3.14 s after CVM A was initialised (stable period 3 s, limit 5.00 s)."),
			passCheck(conform.CheckOutage, "the longest IO outage on host A was 52 ms (limit 10.00 s)."),
			passCheck(conform.CheckFinalRoutes, "no host has a 192.168.5.2/32 route at the end."),
			passCheck(conform.CheckNoDeadCVM, "no route pointed at an unhealthy CVM."),
			passCheck(conform.CheckNoFlapping, "the route was not removed while CVM A was booting."),
			passCheck(conform.CheckGraceful, "NfsTerminateConnection for 192.168.1.24 reached CVM B 9 ms before the route was deleted."),
			passCheck(conform.CheckCommands, "only esxcfg-route commands ran, all exited 0."),
		},
		Commands: withCommands(end,
			conform.CommandRecord{AtMS: 8135, Host: hostA, User: "root", Command: "esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.28"},
		),
		FinalRoutes: map[string][]string{hostA: nil, hostB: nil, hostC: nil},
		Timeline: conform.Timeline{
			EndMS: end,
			Tracks: []conform.Track{
				{Name: "NTNX-BLOCK1-A-CVM power", Kind: conform.TrackPower, Spans: []conform.Span{
					{FromMS: 0, ToMS: 1000, State: "off"},
					{FromMS: 1000, ToMS: 5000, State: "booting"},
					{FromMS: 5000, ToMS: end, State: "up"},
				}},
				{Name: "NTNX-BLOCK1-A-CVM Stargate", Kind: conform.TrackStargate, Spans: []conform.Span{
					{FromMS: 0, ToMS: 3500, State: "down"},
					{FromMS: 3500, ToMS: end, State: "up"},
				}},
				{Name: "NTNX-BLOCK1-A route", Kind: conform.TrackRoute, Spans: []conform.Span{
					{FromMS: 0, ToMS: 8135, State: "via 192.168.1.28"},
					{FromMS: 8135, ToMS: end, State: "none"},
				}},
				{Name: "NTNX-BLOCK1-A IO", Kind: conform.TrackIO, Spans: []conform.Span{
					{FromMS: 0, ToMS: 8135, State: "flowing"},
					{FromMS: 8135, ToMS: 8187, State: "outage"},
					{FromMS: 8187, ToMS: end, State: "flowing"},
				}},
			},
			Marks: []conform.Mark{
				{AtMS: 1000, Label: "CVM A powered on"},
				{AtMS: 5000, Label: "CVM A initialised"},
				{AtMS: 8126, Label: "NfsTerminateConnection"},
				{AtMS: 8135, Label: "route deleted"},
			},
		},
	}
}
