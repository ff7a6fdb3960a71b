// Package conform is the autopath conformance kit: it runs an autopath
// implementation (any program, or the built-in Genesis) against a lab,
// drives seed 001's failure scenarios and more, and grades each one on
// detection time, IO outage, final routes and behaviour.
package conform

import "time"

// Report is the outcome of one conformance run: what every output (JUnit,
// JSON, HTML) is rendered from.
type Report struct {
	// Implementation is the command graded ("builtin:genesis" for the
	// reference).
	Implementation string    `json:"implementation"`
	Lab            string    `json:"lab"`
	Started        time.Time `json:"started"`
	// DurationMS is the whole run's wall time.
	DurationMS float64 `json:"duration_ms"`
	// TimeScale is the emulator's clock factor (the implementation runs
	// on real time).
	TimeScale  float64          `json:"time_scale"`
	Thresholds Thresholds       `json:"thresholds"`
	Scenarios  []ScenarioResult `json:"scenarios"`
	Passed     bool             `json:"passed"`
}

// Thresholds are the graded limits, in real (wall) milliseconds: what
// the implementation, which runs on real time, experiences.
type Thresholds struct {
	MaxDetectionMS float64 `json:"max_detection_ms"`
	MaxOutageMS    float64 `json:"max_outage_ms"`
}

// ScenarioResult is one graded scenario.
type ScenarioResult struct {
	// Name is a stable identifier ("c-cvm-power-off"); Title and
	// Description say what happens, for people.
	Name        string  `json:"name"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Passed      bool    `json:"passed"`
	DurationMS  float64 `json:"duration_ms"`
	// DetectionMS is from the fault to the implementation's first route
	// change that answers it; -1 when the scenario has no such moment or
	// it never came.
	DetectionMS float64 `json:"detection_ms"`
	// OutageMS is the longest VM IO outage on an affected host; -1 when
	// there was nothing to measure (no workload, or the scenario did not
	// run).
	OutageMS float64 `json:"outage_ms"`
	// Checks are the graded criteria, in order; a scenario passes when
	// none failed.
	Checks []Check `json:"checks"`
	// Commands are what the implementation ran on each host over SSH.
	Commands []CommandRecord `json:"commands"`
	// FinalRoutes are each host's static routes at the end
	// ("192.168.5.2/32 via 192.168.1.28").
	FinalRoutes map[string][]string `json:"final_routes"`
	Timeline    Timeline            `json:"timeline"`
	// Error is set when the scenario could not be run at all.
	Error string `json:"error,omitempty"`
	// Skipped marks a scenario the lab cannot run (a topology with too
	// few CVMs); it counts as passed and Error says why.
	Skipped bool `json:"skipped,omitempty"`
}

// FailedChecks are the criteria the scenario failed, in order (a skipped
// one counts as passed).
func (s *ScenarioResult) FailedChecks() []Check {
	var out []Check
	for _, c := range s.Checks {
		if !c.Passed && !c.Skipped {
			out = append(out, c)
		}
	}
	return out
}

// Check is one graded criterion of a scenario.
type Check struct {
	// Name is one of the Check* constants.
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Skipped marks a criterion that does not apply to the scenario
	// (it counts as passed).
	Skipped bool `json:"skipped,omitempty"`
	// Reason says why it failed (or what was measured when it passed),
	// in one sentence a person can act on.
	Reason string `json:"reason"`
}

// The graded criteria.
const (
	CheckDetection   = "detection-time"
	CheckOutage      = "io-outage"
	CheckFinalRoutes = "final-routes"
	CheckNoDeadCVM   = "never-routes-to-dead-cvm"
	CheckNoFlapping  = "no-flapping"
	CheckGraceful    = "graceful-termination"
	CheckCommands    = "commands"
)

// CommandRecord is one command the implementation ran on a host.
type CommandRecord struct {
	// AtMS is from the scenario's start.
	AtMS    float64 `json:"at_ms"`
	Host    string  `json:"host"`
	User    string  `json:"user"`
	Command string  `json:"command"`
	Exit    int     `json:"exit"`
}

// Timeline is what the HTML report draws: one track per thing that has
// a state, against time from the scenario's start.
type Timeline struct {
	EndMS  float64 `json:"end_ms"`
	Tracks []Track `json:"tracks"`
	// Marks are instants: the fault injected, the detection, a check
	// that failed.
	Marks []Mark `json:"marks"`
}

// Track kinds.
const (
	TrackPower    = "power"    // states: off, booting, up
	TrackStargate = "stargate" // states: up, down, hung
	TrackRoute    = "route"    // states: none, or "via <gateway>"
	TrackIO       = "io"       // states: flowing, outage
)

// Track is one row of the timeline ("CVM A power", "host A route").
type Track struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Spans []Span `json:"spans"`
}

// Span is a state held from FromMS to ToMS.
type Span struct {
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
	State  string  `json:"state"`
	// Bad marks a state the grading objects to (a route to a dead CVM,
	// an outage past the threshold): drawn in red.
	Bad bool `json:"bad,omitempty"`
}

// Mark is an instant on the timeline.
type Mark struct {
	AtMS  float64 `json:"at_ms"`
	Label string  `json:"label"`
	Bad   bool    `json:"bad,omitempty"`
}
