package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/autopathlab/autopathlab/harness/conform"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

type renderer func(io.Writer, *conform.Report) error

func render(t *testing.T, f renderer, r *conform.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGolden renders the fixture in every format. Run with -update to
// rewrite testdata/; open testdata/fixture.html in a browser to review.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file string
		f    renderer
	}{
		{"fixture.junit.xml", JUnit},
		{"fixture.json", JSON},
		{"fixture.html", HTML},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := render(t, tc.f, fixture())
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (run go test -update and review the diff):\n%s", path, firstDiff(got, want))
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got  " + gl + "\n want " + wl
		}
	}
	return "(lengths differ)"
}

func TestJSONRoundTrip(t *testing.T) {
	r := fixture()
	var back conform.Report
	if err := json.Unmarshal(render(t, JSON, r), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("JSON does not round-trip:\n got %+v\nwant %+v", back, *r)
	}
}

// The JUnit model as a reader sees it, strictly: every attribute CI
// parsers (Jenkins, GitLab, GitHub's test reporters) rely on.
type xTestsuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    string       `xml:"tests,attr"`
	Failures string       `xml:"failures,attr"`
	Errors   string       `xml:"errors,attr"`
	Skipped  string       `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []xTestsuite `xml:"testsuite"`
	Other    []xAny       `xml:",any"`
}

type xTestsuite struct {
	Name       string `xml:"name,attr"`
	Tests      string `xml:"tests,attr"`
	Failures   string `xml:"failures,attr"`
	Errors     string `xml:"errors,attr"`
	Skipped    string `xml:"skipped,attr"`
	Time       string `xml:"time,attr"`
	Timestamp  string `xml:"timestamp,attr"`
	Properties []struct {
		Property []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"property"`
	} `xml:"properties"`
	Cases []xTestcase `xml:"testcase"`
	Other []xAny      `xml:",any"`
}

type xTestcase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	Time      string     `xml:"time,attr"`
	Failure   []xOutcome `xml:"failure"`
	Error     []xOutcome `xml:"error"`
	Skipped   []struct {
		Message *string `xml:"message,attr"`
	} `xml:"skipped"`
	SystemOut []string `xml:"system-out"`
	Other     []xAny   `xml:",any"`
}

type xOutcome struct {
	Message *string `xml:"message,attr"`
	Type    *string `xml:"type,attr"`
	Body    string  `xml:",chardata"`
}

type xAny struct {
	XMLName xml.Name
}

func atoi(t *testing.T, what, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Errorf("%s = %q: not a count", what, s)
	}
	return n
}

var junitTime = regexp.MustCompile(`^[0-9]+\.[0-9]{3}$`)

// parseJUnit checks the structure CI parsers expect and returns it.
func parseJUnit(t *testing.T, data []byte) xTestsuites {
	t.Helper()
	if !bytes.HasPrefix(data, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration: %.60q", data)
	}
	var doc xTestsuites
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not well-formed JUnit XML: %v", err)
	}
	if len(doc.Other) > 0 {
		t.Errorf("unexpected elements under <testsuites>: %v", doc.Other)
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Name != JUnitSuiteName {
		t.Fatalf("want one <testsuite name=%q>, got %d", JUnitSuiteName, len(doc.Suites))
	}
	s := doc.Suites[0]
	if len(s.Other) > 0 {
		t.Errorf("unexpected elements under <testsuite>: %v", s.Other)
	}
	for _, tm := range []string{doc.Time, s.Time} {
		if !junitTime.MatchString(tm) {
			t.Errorf("time %q is not decimal seconds", tm)
		}
	}
	if s.Timestamp != "" && !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`).MatchString(s.Timestamp) {
		t.Errorf("timestamp %q is not an xs:dateTime without zone", s.Timestamp)
	}
	var failures, errors, skipped int
	for _, c := range s.Cases {
		if c.Name == "" || c.Classname != "conform" || !junitTime.MatchString(c.Time) {
			t.Errorf("testcase %+v: want a name, classname conform, time in seconds", c)
		}
		if len(c.Other) > 0 {
			t.Errorf("testcase %s: unexpected children %v", c.Name, c.Other)
		}
		if len(c.Failure)+len(c.Error)+len(c.Skipped) > 1 {
			t.Errorf("testcase %s: more than one of failure, error, skipped", c.Name)
		}
		for _, sk := range c.Skipped {
			if sk.Message == nil {
				t.Errorf("testcase %s: skipped without a message", c.Name)
			}
		}
		skipped += len(c.Skipped)
		for _, o := range append(c.Failure, c.Error...) {
			if o.Message == nil || *o.Message == "" || o.Type == nil || *o.Type == "" {
				t.Errorf("testcase %s: failure/error without message and type", c.Name)
			}
		}
		failures += len(c.Failure)
		errors += len(c.Error)
		if len(c.SystemOut) > 1 {
			t.Errorf("testcase %s: %d <system-out>", c.Name, len(c.SystemOut))
		}
	}
	if n := atoi(t, "testsuite tests", s.Tests); n != len(s.Cases) {
		t.Errorf("tests=%d, %d testcases", n, len(s.Cases))
	}
	if atoi(t, "testsuite failures", s.Failures) != failures || atoi(t, "testsuite errors", s.Errors) != errors {
		t.Errorf("testsuite failures=%s errors=%s, counted %d and %d", s.Failures, s.Errors, failures, errors)
	}
	if atoi(t, "testsuite skipped", s.Skipped) != skipped {
		t.Errorf("testsuite skipped=%s, counted %d", s.Skipped, skipped)
	}
	if doc.Tests != s.Tests || doc.Failures != s.Failures || doc.Errors != s.Errors || doc.Skipped != s.Skipped {
		t.Errorf("testsuites counts %s/%s/%s/%s differ from testsuite's", doc.Tests, doc.Failures, doc.Errors, doc.Skipped)
	}
	return doc
}

func TestJUnitStructure(t *testing.T) {
	r := fixture()
	doc := parseJUnit(t, render(t, JUnit, r))
	s := doc.Suites[0]
	if len(s.Cases) != len(r.Scenarios) || s.Failures != "1" || s.Errors != "0" || s.Time != "41.230" {
		t.Fatalf("suite: %d cases, failures %s, errors %s, time %s", len(s.Cases), s.Failures, s.Errors, s.Time)
	}
	props := map[string]string{}
	for _, ps := range s.Properties {
		for _, p := range ps.Property {
			props[p.Name] = p.Value
		}
	}
	for k, v := range map[string]string{
		"implementation":   r.Implementation,
		"time_scale":       "0.05",
		"max_detection_ms": "5000",
		"max_outage_ms":    "10000",
	} {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
	off := s.Cases[1]
	if off.Name != "c-cvm-power-off" || len(off.Failure) != 1 || off.Time != "20.000" {
		t.Fatalf("c-cvm-power-off: %+v", off)
	}
	f := off.Failure[0]
	if *f.Type != conform.CheckDetection || *f.Message != r.Scenarios[1].Checks[0].Reason {
		t.Errorf("failure type %q message %q: want the first failed check", *f.Type, *f.Message)
	}
	for _, name := range []string{conform.CheckDetection, conform.CheckOutage, conform.CheckNoDeadCVM, conform.CheckCommands} {
		if !strings.Contains(f.Body, name+": ") {
			t.Errorf("failure body lacks failed check %s:\n%s", name, f.Body)
		}
	}
	if strings.Contains(f.Body, conform.CheckFinalRoutes) {
		t.Errorf("failure body lists a passed check:\n%s", f.Body)
	}
	out := off.SystemOut[0]
	for _, want := range []string{
		`+9.440s  root@NTNX-BLOCK1-A  esxcfg-route -l | grep "192.168.5.2 " > /tmp/ap.txt 2>&1 && echo '<found>'  [exit 0]`,
		"+9.446s  root@NTNX-BLOCK1-A  esxcfg-route -d 192.168.5.2 255.255.255.255 192.168.1.27  [exit 1]",
		"NTNX-BLOCK1-A: 192.168.5.2/32 via 192.168.1.28",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("system-out lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []xTestcase{s.Cases[0], s.Cases[2]} {
		if len(c.Failure)+len(c.Error) != 0 {
			t.Errorf("%s passed but has a failure", c.Name)
		}
	}
}

// TestJUnitHostile: quotes, markup, a CDATA terminator and control
// characters in every string still make well-formed XML that reads back.
// TestJUnitElementTree reads the fixture's JUnit with a second, unrelated
// XML parser (Python's ElementTree, which junitparser and many CI
// uploaders build on) and checks what it sees.
func TestJUnitElementTree(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	file := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(file, render(t, JUnit, fixture()), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
(suite,) = root.findall("testsuite")
for c in suite.findall("testcase"):
    f = c.find("failure")
    print(c.get("classname"), c.get("name"), c.get("time"), f.get("type") if f is not None else "ok",
          len(c.find("system-out").text.splitlines()))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, file).CombinedOutput()
	if err != nil {
		t.Fatalf("ElementTree: %v\n%s", err, out)
	}
	var want string
	for _, s := range fixture().Scenarios {
		outcome := "ok"
		if f := s.FailedChecks(); len(f) > 0 {
			outcome = f[0].Name
		}
		lines := strings.Count(systemOut(&s), "\n")
		want += fmt.Sprintf("conform %s %s %s %d\n", s.Name, seconds(s.DurationMS), outcome, lines)
	}
	if string(out) != want {
		t.Errorf("ElementTree sees:\n%s\nwant:\n%s", out, want)
	}
}

func TestJUnitHostile(t *testing.T) {
	evil := "a ]]> b <x> & \"q\" \x1b[31m\x00 \xff end"
	r := fixture()
	r.Implementation = evil
	r.Scenarios[1].Checks[0].Reason = evil
	r.Scenarios[1].Commands[0].Command = evil
	doc := parseJUnit(t, render(t, JUnit, r))
	c := doc.Suites[0].Cases[1]
	want := "a ]]> b <x> & \"q\" \uFFFD[31m\uFFFD \uFFFD end"
	if *c.Failure[0].Message != want {
		t.Errorf("message %q, want %q", *c.Failure[0].Message, want)
	}
	if !strings.Contains(c.Failure[0].Body, "detection-time: "+want) {
		t.Errorf("body %q lacks %q", c.Failure[0].Body, want)
	}
	if !strings.Contains(c.SystemOut[0], want) {
		t.Errorf("system-out lacks %q", want)
	}
}

func TestJUnitError(t *testing.T) {
	r := &conform.Report{
		Implementation: "./autopath\x01 & <co>",
		Scenarios: []conform.ScenarioResult{
			{Name: "b-route-deleted", Error: `lab: fault "power-off" failed: <nil>`, Checks: []conform.Check{failCheck(conform.CheckDetection, "never detected")}},
			{Name: "c-cvm-power-off", Passed: false},
			{Name: "d", Passed: true},
			{Name: "f-remote-cvm-fails", Passed: true, Skipped: true, Error: "needs 3 CVMs, the topology has 2"},
		},
	}
	doc := parseJUnit(t, render(t, JUnit, r))
	s := doc.Suites[0]
	if s.Errors != "1" || s.Failures != "1" || s.Skipped != "1" || s.Tests != "4" || s.Timestamp != "" {
		t.Fatalf("errors %s failures %s skipped %s tests %s timestamp %q", s.Errors, s.Failures, s.Skipped, s.Tests, s.Timestamp)
	}
	if sk := s.Cases[3].Skipped; len(sk) != 1 || *sk[0].Message != r.Scenarios[3].Error {
		t.Errorf("skipped scenario: %+v", s.Cases[3])
	}
	e := s.Cases[0].Error[0]
	if *e.Message != r.Scenarios[0].Error || !strings.Contains(e.Body, "detection-time: never detected") {
		t.Errorf("error: %q %q", *e.Message, e.Body)
	}
	if *s.Cases[1].Failure[0].Type != "scenario" {
		t.Errorf("a failed scenario without failed checks: %+v", s.Cases[1].Failure[0])
	}
}

// hostile is a report whose every string tries to break out of its
// context.
func hostile() *conform.Report {
	evil := `<script>alert("x")</script>'&"</code></text></svg>`
	r := fixture()
	r.Implementation = evil
	r.Lab = evil
	s := &r.Scenarios[0]
	s.Name, s.Title, s.Description, s.Error = `a"><b>x`, evil, evil, evil
	s.Checks[0].Reason = evil
	s.Commands[0].Command = evil
	s.FinalRoutes[evil] = []string{evil}
	s.Timeline.Tracks[0].Name = evil
	s.Timeline.Tracks[2].Spans[1].State = "via " + evil
	s.Timeline.Marks[0].Label = evil
	return r
}

func TestHTMLEscapes(t *testing.T) {
	out := string(render(t, HTML, hostile()))
	for _, bad := range []string{"<script", "</code></text>", "<b>", `"><b>`, "ZgotmplZ"} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q unescaped", bad)
		}
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&amp;&#34;&lt;/code&gt;") {
		t.Errorf("the hostile string is not shown escaped")
	}
	checkSVGs(t, out, 3)
}

// checkSVGs parses every <svg> of the page as XML (html/template's
// escapes are valid XML too) and wants n of them, each with spans.
func checkSVGs(t *testing.T, page string, n int) {
	t.Helper()
	svgs := regexp.MustCompile(`(?s)<svg\b.*?</svg>`).FindAllString(page, -1)
	if len(svgs) != n {
		t.Fatalf("%d <svg> elements, want %d", len(svgs), n)
	}
	for i, s := range svgs {
		var doc struct {
			Rects []struct {
				Fill  string `xml:"fill,attr"`
				Title string `xml:"title"`
			} `xml:"rect"`
			Texts []string `xml:"text"`
		}
		if err := xml.Unmarshal([]byte(s), &doc); err != nil {
			t.Errorf("svg %d is not well-formed: %v", i, err)
			continue
		}
		if len(doc.Rects) == 0 || len(doc.Texts) == 0 {
			t.Errorf("svg %d: %d rects, %d texts", i, len(doc.Rects), len(doc.Texts))
		}
	}
}

func TestHTMLSelfContained(t *testing.T) {
	out := string(render(t, HTML, fixture()))
	for _, ext := range []string{"<script", "<link", "<img", "<iframe", " src=", "url(", "@import", "http:", "https:", "//"} {
		if strings.Contains(out, ext) {
			t.Errorf("the page refers to something outside itself: %q", ext)
		}
	}
	for _, want := range []string{
		"<!DOCTYPE html>", `<span class="verdict fail">FAIL</span>`, "2 of 3 scenarios passed.",
		`<a href="#scenario-c-cvm-power-off">`, `id="scenario-c-cvm-power-off"`,
		// the failing scenario's numbers past their limits are flagged
		`<td class="num over">6.41 s</td><td class="num over">11.63 s</td>`,
		// a bad span is red and says why
		`fill="#dc2626" stroke="#7f1d1d" stroke-width="1.5" shape-rendering="crispEdges"><title>NTNX-BLOCK1-A route: via 192.168.1.27, &#43;7.412 s → &#43;9.447 s (2.04 s) — graded as bad</title>`,
		// polls fold into one row (html/template writes + as &#43;)
		`<td class="count">×20, until &#43;19.964 s</td>`,
		`<td class="num exit-bad">1</td>`,
		`<code>esxcfg-route -l | grep &#34;192.168.5.2 &#34; &gt; /tmp/ap.txt 2&gt;&amp;1 &amp;&amp; echo &#39;&lt;found&gt;&#39;</code>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	checkSVGs(t, out, 3)
}

func TestHTMLEdgeCases(t *testing.T) {
	r := &conform.Report{Implementation: "x", Passed: true, Scenarios: []conform.ScenarioResult{
		{Name: "no-timeline", Passed: true, DetectionMS: -1},
		{Name: "skipped", Passed: true, Skipped: true, Error: "needs 3 CVMs"},
		{Name: "empty-spans", Passed: true, Timeline: conform.Timeline{Tracks: []conform.Track{
			{Name: "t", Kind: "weird"},
			{Name: strings.Repeat("NTNX-", 10) + "BLOCK1-A route", Kind: conform.TrackRoute},
		}}},
		{Name: "unknown-states", Error: "could not start", Timeline: conform.Timeline{EndMS: 0, Tracks: []conform.Track{
			{Name: "t", Kind: "temperature", Spans: []conform.Span{{FromMS: 0, ToMS: 250, State: "hot"}, {FromMS: 250, ToMS: 250, State: "cold"}}},
		}, Marks: []conform.Mark{{AtMS: 250, Label: "a very long label at the right edge of the picture"}}}},
	}}
	out := string(render(t, HTML, r))
	for _, want := range []string{"No timeline was recorded.", "The scenario could not run:",
		`<strong>Skipped:</strong> needs 3 CVMs`,
		// a name too long for the column is cut; the tooltip has it whole
		`><title>NTNX-NTNX-NTNX-NTNX-NTNX-NTNX-NTNX-NTNX-NTNX-NTNX-BLOCK1-A route</title>NTNX-NTNX-NTNX-NTNX-NTNX-NTNX-NTNX-NTNX…</text>`, `<span class="badge skip">SKIP</span>`, "3 of 4 scenarios passed (1 skipped: the lab cannot run them).", "The implementation ran no command.", "<td class=\"num\">—</td>", ">temperature: hot</span>"} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	checkSVGs(t, out, 2)
}

func TestTickStep(t *testing.T) {
	for _, tc := range []struct{ end, want float64 }{
		{0.3, 0.1}, {1, 0.1}, {2, 0.2}, {8, 1}, {12, 1}, {20, 2}, {41, 5}, {100, 10}, {3600, 300}, {1e6, 86400},
	} {
		if got := tickStep(tc.end); got != tc.want {
			t.Errorf("tickStep(%v) = %v, want %v", tc.end, got, tc.want)
		}
	}
}

// TestStateColoursDistinct: within a kind every state has its own
// colour, and none is the red of a bad span.
func TestStateColoursDistinct(t *testing.T) {
	seen := map[string]string{}
	for k, c := range stateColours {
		kind, _, _ := strings.Cut(k, "\x00")
		if c.fill == badFill {
			t.Errorf("%q uses the bad red", k)
		}
		if o, ok := seen[kind+c.fill]; ok {
			t.Errorf("%q and %q share %s", k, o, c.fill)
		}
		seen[kind+c.fill] = k
	}
	chrome := map[string]bool{badStroke: true, markInk: true, gridInk: true, axisInk: true, labelInk: true, laneFill: true}
	for _, h := range regexp.MustCompile(`#[0-9a-f]{6}\b`).FindAllString(htmlSource, -1) {
		chrome[h] = true
	}
	var fills []string
	for _, c := range stateColours {
		fills = append(fills, c.fill)
	}
	for _, c := range append(gatewayColours, otherColours...) {
		fills = append(fills, c.fill)
	}
	for _, f := range fills {
		if chrome[f] {
			t.Errorf("state colour %s is also used by the page or the picture's frame", f)
		}
	}
	for _, s := range []string{"off", "booting", "up"} {
		if _, ok := stateColours[conform.TrackPower+"\x00"+s]; !ok {
			t.Errorf("no colour for power %s", s)
		}
	}
	for _, s := range []string{"up", "down", "hung"} {
		if _, ok := stateColours[conform.TrackStargate+"\x00"+s]; !ok {
			t.Errorf("no colour for Stargate %s", s)
		}
	}
}
