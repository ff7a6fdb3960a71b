package report

import (
	_ "embed"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/autopathlab/autopathlab/harness/conform"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML writes r as one self-contained page: inline CSS, inline SVG, no
// script and no external resource, so it can be archived as a CI
// artifact and opened anywhere. The page has a header with the verdict,
// a summary table, and per scenario its checks, a timeline picture (one
// row per track, coloured per state, marks as vertical lines), the final
// routes and the commands the implementation ran on each host.
func HTML(w io.Writer, r *conform.Report) error {
	return htmlTemplate.Execute(w, newPage(r))
}

type page struct {
	R            *conform.Report
	Class        string // "pass" or "fail": colours the verdict
	Verdict      string
	Passed       int // skipped scenarios included
	Skipped      int
	Started      string
	Duration     string
	TimeScale    string
	MaxDetection string
	MaxOutage    string
	Scenarios    []scenarioView
}

type scenarioView struct {
	S                           *conform.ScenarioResult
	ID                          string
	Class, Verdict              string
	Detection, Outage, Duration string
	DetectionOver, OutageOver   bool
	Failed                      int
	Checks                      []checkView
	Timeline                    *timelineView
	Routes                      []hostRoutes
	Hosts                       []hostCommands
}

type checkView struct {
	Class, Status, Name, Reason string
}

type hostRoutes struct {
	Host   string
	Routes []string
}

type hostCommands struct {
	Host  string
	Total int
	Rows  []commandRow
}

// commandRow is one command, or a run of the same command repeated
// (a poll): Count > 1 and At..Until.
type commandRow struct {
	At, Until string
	User      string
	Command   string
	Exit      int
	Count     int
}

func newPage(r *conform.Report) *page {
	p := &page{
		R:            r,
		Class:        verdictClass(r.Passed),
		Verdict:      verdictWord(r.Passed),
		Duration:     duration(r.DurationMS),
		TimeScale:    strconv.FormatFloat(r.TimeScale, 'g', -1, 64),
		MaxDetection: limit(r.Thresholds.MaxDetectionMS),
		MaxOutage:    limit(r.Thresholds.MaxOutageMS),
	}
	if !r.Started.IsZero() {
		p.Started = r.Started.UTC().Format("2006-01-02 15:04:05 MST")
	}
	colours := newPalette(r)
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if s.Passed || s.Skipped {
			p.Passed++
		}
		if s.Skipped {
			p.Skipped++
		}
		p.Scenarios = append(p.Scenarios, newScenarioView(s, r.Thresholds, colours))
	}
	return p
}

func newScenarioView(s *conform.ScenarioResult, th conform.Thresholds, colours *palette) scenarioView {
	v := scenarioView{
		S:             s,
		ID:            "scenario-" + anchor(s.Name),
		Class:         verdictClass(s.Passed),
		Verdict:       verdictWord(s.Passed),
		Detection:     duration(s.DetectionMS),
		Outage:        duration(s.OutageMS),
		Duration:      duration(s.DurationMS),
		DetectionOver: th.MaxDetectionMS > 0 && s.DetectionMS > th.MaxDetectionMS,
		OutageOver:    th.MaxOutageMS > 0 && s.OutageMS > th.MaxOutageMS,
		Failed:        len(s.FailedChecks()),
	}
	switch {
	case s.Skipped:
		v.Class, v.Verdict = "skip", "SKIP"
	case s.Error != "":
		v.Class, v.Verdict = "fail", "ERROR"
	}
	for _, c := range s.Checks {
		st := checkStatus(c)
		v.Checks = append(v.Checks, checkView{Class: strings.ToLower(st), Status: st, Name: c.Name, Reason: c.Reason})
	}
	if len(s.Timeline.Tracks) > 0 {
		v.Timeline = newTimeline(&s.Timeline, colours)
	}
	for _, h := range sortedKeys(s.FinalRoutes) {
		v.Routes = append(v.Routes, hostRoutes{Host: h, Routes: s.FinalRoutes[h]})
	}
	v.Hosts = commandsByHost(s.Commands)
	return v
}

// commandsByHost groups the commands per host (hosts in name order) and
// folds consecutive repeats of one command into one row, so the polls
// don't bury the commands that changed something.
func commandsByHost(cmds []conform.CommandRecord) []hostCommands {
	byHost := map[string]*hostCommands{}
	for _, c := range cmds {
		h := byHost[c.Host]
		if h == nil {
			h = &hostCommands{Host: c.Host}
			byHost[c.Host] = h
		}
		h.Total++
		at := offset(c.AtMS)
		if n := len(h.Rows); n > 0 {
			last := &h.Rows[n-1]
			if last.Command == c.Command && last.User == c.User && last.Exit == c.Exit {
				last.Count++
				last.Until = at
				continue
			}
		}
		h.Rows = append(h.Rows, commandRow{At: at, User: c.User, Command: c.Command, Exit: c.Exit, Count: 1})
	}
	var out []hostCommands
	for _, h := range sortedKeys(byHost) {
		out = append(out, *byHost[h])
	}
	return out
}

func verdictClass(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

func verdictWord(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// anchor makes a fragment identifier of a scenario name.
func anchor(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// duration formats milliseconds for people; negative means "none".
func duration(ms float64) string {
	switch {
	case ms < 0 || math.IsNaN(ms):
		return "—"
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

func limit(ms float64) string {
	if ms <= 0 {
		return "none"
	}
	return duration(ms)
}

func offset(ms float64) string {
	return fmt.Sprintf("+%.3f s", ms/1000)
}

// The timeline picture.

const (
	svgWidth   = 1100
	labelCharW = 7.0 // a generous average width of a 12 px glyph
	maxLabel   = 40  // longer track names are cut, whole in the tooltip
	plotRight  = svgWidth - 18
	trackH     = 22
	trackGap   = 8
	markRowH   = 15
	charW      = 6.4 // a generous average width of an 11 px sans-serif glyph
	fontSize   = 11
)

type timelineView struct {
	Width, Height int
	Label         string // for screen readers
	Lanes         []svgRect
	Spans         []svgRect
	Grid          []svgLine
	Marks         []svgLine
	Texts         []svgText
	Legend        []legendItem
}

type svgRect struct {
	X, Y, W, H   string
	Fill, Stroke string
	StrokeWidth  string
	Tip          string
}

type svgLine struct {
	X1, Y1, X2, Y2 string
	Stroke         string
	Dash           string
	Width          string
}

type svgText struct {
	X, Y   string
	Anchor string
	Fill   string
	Weight string
	Size   int
	Text   string
	Tip    string // a tooltip
	// Halo outlines the text in white, so the mark lines that cross a
	// label's row don't strike it through.
	Halo bool
}

type legendItem struct {
	Colour string
	Label  string
	Line   bool // a mark, drawn as a line
}

func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

func newTimeline(tl *conform.Timeline, colours *palette) *timelineView {
	end := tl.EndMS
	for _, t := range tl.Tracks {
		for _, s := range t.Spans {
			end = max(end, s.ToMS)
		}
	}
	for _, m := range tl.Marks {
		end = max(end, m.AtMS)
	}
	if end <= 0 {
		end = 1000
	}
	// The names' column is as wide as the longest name needs.
	names := make([]string, len(tl.Tracks))
	longest := 0
	for i, t := range tl.Tracks {
		names[i] = t.Name
		if r := []rune(t.Name); len(r) > maxLabel {
			names[i] = string(r[:maxLabel-1]) + "…"
		}
		longest = max(longest, len([]rune(names[i])))
	}
	labelRight := max(80, float64(longest)*labelCharW+10)
	plotLeft := labelRight + 14
	x := func(ms float64) float64 {
		return plotLeft + max(0, min(ms, end))/end*(plotRight-plotLeft)
	}

	// Mark labels go in rows above the tracks, each in the first row
	// where it overlaps no other label.
	type placed struct {
		m        conform.Mark
		row      int
		tx       float64
		anchor   string
		from, to float64
	}
	var labels []placed
	var rowEnds []float64
	for _, m := range tl.Marks {
		mx := x(m.AtMS)
		w := float64(len([]rune(m.Label)))*charW + 4
		p := placed{m: m, tx: mx + 3, anchor: "start", from: mx, to: mx + 3 + w}
		if p.to > svgWidth {
			p.tx, p.anchor, p.from, p.to = mx-3, "end", mx-3-w, mx
		}
		p.row = -1
		for i, e := range rowEnds {
			if p.from > e+6 {
				p.row = i
				break
			}
		}
		if p.row < 0 {
			p.row = len(rowEnds)
			rowEnds = append(rowEnds, 0)
		}
		rowEnds[p.row] = max(rowEnds[p.row], p.to)
		labels = append(labels, p)
	}
	top := float64(len(rowEnds)*markRowH + 8)
	axisY := top + float64(len(tl.Tracks)*(trackH+trackGap))
	v := &timelineView{Width: svgWidth, Height: int(axisY + 30)}
	v.Label = fmt.Sprintf("Timeline of %d tracks over %s", len(tl.Tracks), duration(end))

	// Time axis: ticks at a round number of seconds, about ten of them.
	step := tickStep(end / 1000)
	for s := 0.0; s*1000 <= end+1e-6; s += step {
		tx := x(s * 1000)
		v.Grid = append(v.Grid, svgLine{X1: num(tx), Y1: num(top - 4), X2: num(tx), Y2: num(axisY + 4), Stroke: gridInk, Width: "1"})
		v.Texts = append(v.Texts, svgText{X: num(tx), Y: num(axisY + 17), Anchor: "middle", Fill: axisInk, Size: fontSize, Text: strconv.FormatFloat(math.Round(s*1000)/1000, 'f', -1, 64) + " s"})
	}
	v.Grid = append(v.Grid, svgLine{X1: num(plotLeft), Y1: num(axisY + 4), X2: num(plotRight), Y2: num(axisY + 4), Stroke: axisInk, Width: "1"})

	legend := map[string]bool{}
	var bad bool
	for i, t := range tl.Tracks {
		y := top + float64(i*(trackH+trackGap))
		v.Texts = append(v.Texts, svgText{X: num(labelRight), Y: num(y + trackH/2 + 4), Anchor: "end", Fill: labelInk, Size: 12, Text: names[i], Tip: t.Name})
		v.Lanes = append(v.Lanes, svgRect{X: num(plotLeft), Y: num(y), W: num(plotRight - plotLeft), H: num(trackH), Fill: laneFill, Stroke: gridInk, StrokeWidth: "1"})
		for _, s := range t.Spans {
			x0, x1 := x(s.FromMS), x(s.ToMS)
			w := max(x1-x0, 1)
			c := colours.of(t.Kind, s.State)
			fill, ink, stroke := c.fill, c.ink, "none"
			tip := fmt.Sprintf("%s: %s, %s → %s (%s)", t.Name, s.State, offset(s.FromMS), offset(s.ToMS), duration(s.ToMS-s.FromMS))
			if s.Bad {
				fill, ink, stroke, bad = badFill, "#ffffff", badStroke, true
				tip += " — graded as bad"
			} else if key := t.Kind + "\x00" + s.State; !legend[key] {
				legend[key] = true
				v.Legend = append(v.Legend, legendItem{Colour: c.fill, Label: kindWord(t.Kind) + s.State})
			}
			r := svgRect{X: num(x0), Y: num(y), W: num(w), H: num(trackH), Fill: fill, Stroke: stroke, Tip: tip}
			if s.Bad {
				r.StrokeWidth = "1.5"
			}
			v.Spans = append(v.Spans, r)
			if text := spanText(s, x1-x0); text != "" {
				v.Texts = append(v.Texts, svgText{X: num((x0 + x1) / 2), Y: num(y + trackH/2 + 4), Anchor: "middle", Fill: ink, Size: fontSize, Text: text})
			}
		}
	}
	if bad {
		v.Legend = append(v.Legend, legendItem{Colour: badFill, Label: "graded as bad"})
	}

	var anyMark, anyBadMark bool
	for _, p := range labels {
		mx := x(p.m.AtMS)
		colour, weight := markInk, "normal"
		if p.m.Bad {
			colour, weight, anyBadMark = badFill, "bold", true
		} else {
			anyMark = true
		}
		ly := float64(p.row*markRowH + 12)
		v.Marks = append(v.Marks, svgLine{X1: num(mx), Y1: num(ly + 3), X2: num(mx), Y2: num(axisY + 4), Stroke: colour, Dash: "4 3", Width: "1.5"})
		v.Texts = append(v.Texts, svgText{X: num(p.tx), Y: num(ly), Anchor: p.anchor, Fill: colour, Weight: weight, Size: fontSize, Text: p.m.Label, Halo: true})
	}
	if anyMark {
		v.Legend = append(v.Legend, legendItem{Colour: markInk, Label: "event", Line: true})
	}
	if anyBadMark {
		v.Legend = append(v.Legend, legendItem{Colour: badFill, Label: "failed check", Line: true})
	}
	return v
}

// spanText is what fits inside a span: its state, shortened to the
// gateway for a route.
func spanText(s conform.Span, width float64) string {
	text := s.State
	if float64(len([]rune(text)))*charW+8 <= width {
		return text
	}
	if gw, ok := strings.CutPrefix(text, "via "); ok && float64(len(gw))*charW+8 <= width {
		return gw
	}
	return ""
}

func kindWord(kind string) string {
	switch kind {
	case conform.TrackPower:
		return "CVM power: "
	case conform.TrackStargate:
		return "Stargate: "
	case conform.TrackRoute:
		return "route: "
	case conform.TrackIO:
		return "IO: "
	case "":
		return ""
	}
	return kind + ": "
}

// tickStep is a round step in seconds giving at most about a dozen ticks.
func tickStep(endS float64) float64 {
	for _, s := range []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600} {
		if endS/s <= 12 {
			return s
		}
	}
	return math.Ceil(endS/12/3600) * 3600
}

// Colours.

// The picture's own colours. The state colours below differ from these
// and from the stylesheet's, so that a screenshot can tell spans apart.
const (
	badFill   = "#dc2626"
	badStroke = "#7f1d1d"
	markInk   = "#1f2937"
	gridInk   = "#e5e7eb"
	axisInk   = "#6b7280"
	labelInk  = "#111827"
	laneFill  = "#f9fafb"
)

type colour struct{ fill, ink string }

var stateColours = map[string]colour{
	conform.TrackPower + "\x00off":     {"#4b5563", "#ffffff"},
	conform.TrackPower + "\x00booting": {"#f59e0b", "#111827"},
	conform.TrackPower + "\x00up":      {"#15803d", "#ffffff"},

	conform.TrackStargate + "\x00up":   {"#4ade80", "#111827"},
	conform.TrackStargate + "\x00down": {"#94a3b8", "#111827"},
	conform.TrackStargate + "\x00hung": {"#a855f7", "#ffffff"},

	conform.TrackRoute + "\x00none": {"#e2e8f0", "#374151"},

	conform.TrackIO + "\x00flowing": {"#5eead4", "#134e4a"},
	conform.TrackIO + "\x00outage":  {"#fb923c", "#111827"},
}

// gatewayColours tell the route states "via X" apart: the same gateway
// has the same colour in every scenario of a report.
var gatewayColours = []colour{
	{"#2563eb", "#ffffff"}, {"#7c3aed", "#ffffff"}, {"#0891b2", "#ffffff"},
	{"#db2777", "#ffffff"}, {"#92400e", "#ffffff"}, {"#4338ca", "#ffffff"},
}

// otherColours serve states nobody told us about, by a hash of the
// state, so they stay stable from run to run.
var otherColours = []colour{
	{"#fde047", "#111827"}, {"#a3e635", "#111827"}, {"#67e8f9", "#111827"},
	{"#f9a8d4", "#111827"}, {"#c4b5fd", "#111827"}, {"#fdba74", "#111827"},
}

type palette struct {
	gateways map[string]colour
}

func newPalette(r *conform.Report) *palette {
	p := &palette{gateways: map[string]colour{}}
	for _, s := range r.Scenarios {
		for _, t := range s.Timeline.Tracks {
			if t.Kind != conform.TrackRoute {
				continue
			}
			for _, sp := range t.Spans {
				if _, ok := p.gateways[sp.State]; !ok && strings.HasPrefix(sp.State, "via ") {
					p.gateways[sp.State] = gatewayColours[len(p.gateways)%len(gatewayColours)]
				}
			}
		}
	}
	return p
}

func (p *palette) of(kind, state string) colour {
	if c, ok := stateColours[kind+"\x00"+state]; ok {
		return c
	}
	if c, ok := p.gateways[state]; ok && kind == conform.TrackRoute {
		return c
	}
	h := fnv.New32a()
	io.WriteString(h, kind+"\x00"+state)
	return otherColours[h.Sum32()%uint32(len(otherColours))]
}
