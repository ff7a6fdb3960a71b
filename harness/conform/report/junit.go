package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/autopathlab/autopathlab/harness/conform"
)

// The JUnit dialect is the one Jenkins, GitLab, GitHub's test-report
// actions and most other CI parsers agree on: a <testsuites> root, a
// <testsuite> with counts and <properties>, <testcase> elements with at
// most one <failure> or <error>, times in decimal seconds.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitOutcome `xml:"failure,omitempty"`
	Error     *junitOutcome `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is character data written as CDATA, so the newlines stay
// newlines for a person who opens the file (encoding/xml escapes them in
// plain character data).
type junitText struct {
	Text string `xml:",cdata"`
}

type junitOutcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnitSuiteName is the name of the one <testsuite>.
const JUnitSuiteName = "autopath conformance"

// JUnit writes r as JUnit XML: one <testsuite> with one <testcase> per
// scenario. A failed scenario carries a <failure> whose message is the
// first failed check's reason and whose type is that check's name, with
// every failed check in its body; a scenario that could not run carries an
// <error> instead, and one the lab cannot run (Skipped) a <skipped>. <system-out> holds the checks, the commands the
// implementation ran and the final routes.
func JUnit(w io.Writer, r *conform.Report) error {
	suite := junitSuite{
		Name: JUnitSuiteName,
		Time: seconds(r.DurationMS),
		Properties: []junitProperty{
			{"implementation", r.Implementation},
			{"lab", r.Lab},
			{"time_scale", strconv.FormatFloat(r.TimeScale, 'g', -1, 64)},
			{"max_detection_ms", strconv.FormatFloat(r.Thresholds.MaxDetectionMS, 'f', -1, 64)},
			{"max_outage_ms", strconv.FormatFloat(r.Thresholds.MaxOutageMS, 'f', -1, 64)},
			{"passed", strconv.FormatBool(r.Passed)},
		},
	}
	if !r.Started.IsZero() {
		// xs:dateTime without a zone, as the Ant/Jenkins schema wants.
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	for _, s := range r.Scenarios {
		c := junitCase{
			Name:      s.Name,
			Classname: "conform",
			Time:      seconds(s.DurationMS),
			SystemOut: &junitText{xmlSafe(systemOut(&s))},
		}
		failed := s.FailedChecks()
		var body strings.Builder
		for _, ch := range failed {
			fmt.Fprintf(&body, "%s: %s\n", ch.Name, ch.Reason)
		}
		switch {
		case s.Skipped:
			c.Skipped = &junitSkipped{Message: s.Error}
			suite.Skipped++
		case s.Error != "":
			c.Error = &junitOutcome{Message: s.Error, Type: "error", Body: xmlSafe(strings.TrimRight(s.Error+"\n"+body.String(), "\n") + "\n")}
			suite.Errors++
		case len(failed) > 0:
			c.Failure = &junitOutcome{Message: failed[0].Reason, Type: failed[0].Name, Body: xmlSafe(body.String())}
			suite.Failures++
		case !s.Passed:
			c.Failure = &junitOutcome{Message: "scenario failed without a failed check", Type: "scenario", Body: "the report marks the scenario failed but no check failed\n"}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{
		Name:     JUnitSuiteName,
		Tests:    suite.Tests,
		Failures: suite.Failures,
		Errors:   suite.Errors,
		Skipped:  suite.Skipped,
		Time:     suite.Time,
		Suites:   []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// xmlSafe replaces what XML 1.0 cannot carry at all (control characters
// but tab and newlines, invalid UTF-8) by U+FFFD: a CDATA section has no
// escapes. encoding/xml splits any "]]>" itself.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r == utf8.RuneError:
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

func seconds(ms float64) string {
	return strconv.FormatFloat(ms/1000, 'f', 3, 64)
}

// systemOut is what a person reading the CI page wants next to the
// verdict: every check, then what the implementation did.
func systemOut(s *conform.ScenarioResult) string {
	var b strings.Builder
	if s.Title != "" {
		b.WriteString(s.Title + "\n")
	}
	if s.Description != "" {
		b.WriteString(s.Description + "\n")
	}
	if len(s.Checks) > 0 {
		b.WriteString("\nChecks:\n")
		for _, c := range s.Checks {
			fmt.Fprintf(&b, "  %-4s %s: %s\n", checkStatus(c), c.Name, c.Reason)
		}
	}
	fmt.Fprintf(&b, "\nCommands the implementation ran (%d):\n", len(s.Commands))
	if len(s.Commands) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, c := range s.Commands {
		fmt.Fprintf(&b, "  %9s  %s@%s  %s  [exit %d]\n", fmt.Sprintf("+%.3fs", c.AtMS/1000), c.User, c.Host, c.Command, c.Exit)
	}
	if len(s.FinalRoutes) > 0 {
		b.WriteString("\nFinal static routes:\n")
		for _, h := range sortedKeys(s.FinalRoutes) {
			routes := s.FinalRoutes[h]
			if len(routes) == 0 {
				fmt.Fprintf(&b, "  %s: (none)\n", h)
			}
			for _, rt := range routes {
				fmt.Fprintf(&b, "  %s: %s\n", h, rt)
			}
		}
	}
	return b.String()
}

func checkStatus(c conform.Check) string {
	switch {
	case c.Skipped:
		return "SKIP"
	case c.Passed:
		return "PASS"
	}
	return "FAIL"
}
