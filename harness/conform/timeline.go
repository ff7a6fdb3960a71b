package conform

import "time"

// timeline draws the window: one track per CVM's power and Stargate, per
// host's route to 192.168.5.2 and VM IO, in ms from the scenario's start.
func timeline(in gradeInput, g graded, kitMarks []mark) Timeline {
	rel := func(t time.Time) float64 { return max(ms(t.Sub(in.start)), 0) }
	tl := Timeline{EndMS: rel(in.end), Tracks: []Track{}, Marks: []Mark{}}

	type tracker struct {
		track Track
		state func(*world) string
		cur   string
		from  time.Time
	}
	var ts []*tracker
	for _, c := range in.li.cvms {
		name := c.Name
		ts = append(ts,
			&tracker{track: Track{Name: name + " power", Kind: TrackPower}, state: func(w *world) string { return w.cvm[name].Power }},
			&tracker{track: Track{Name: name + " Stargate", Kind: TrackStargate}, state: func(w *world) string { return w.cvm[name].Stargate }})
	}
	for _, h := range in.li.hosts {
		name := h.Name
		ts = append(ts, &tracker{track: Track{Name: name + " route", Kind: TrackRoute}, state: func(w *world) string {
			if gw := w.gateway(name); gw != "" {
				return "via " + gw
			}
			return "none"
		}})
	}
	w := in.initial.clone()
	for _, t := range ts {
		t.cur, t.from = t.state(w), in.start
	}
	flush := func(t *tracker, to time.Time) {
		t.track.Spans = append(t.track.Spans, Span{FromMS: rel(t.from), ToMS: rel(to), State: t.cur})
	}
	for _, ev := range in.events {
		w.apply(ev.Event)
		for _, t := range ts {
			if s := t.state(w); s != t.cur {
				flush(t, ev.At)
				t.cur, t.from = s, ev.At
			}
		}
	}
	for _, t := range ts {
		flush(t, in.end)
		tl.Tracks = append(tl.Tracks, t.track)
	}
	// Route spans a check objects to are drawn red.
	for i := range tl.Tracks {
		tr := &tl.Tracks[i]
		if tr.Kind != TrackRoute {
			continue
		}
		host := tr.Name[:len(tr.Name)-len(" route")]
		for j := range tr.Spans {
			for _, b := range g.bad[host] {
				if b.why != "outage past the limit" && rel(b.from) >= tr.Spans[j].FromMS && rel(b.from) < tr.Spans[j].ToMS {
					tr.Spans[j].Bad = true
				}
			}
		}
	}
	r := &replay{in: in}
	for _, h := range in.li.hosts {
		if !in.workloads[h.Name] {
			continue
		}
		tr := Track{Name: h.Name + " IO", Kind: TrackIO}
		at := in.start
		for _, o := range r.outages(h.Name) {
			if o[0].After(at) {
				tr.Spans = append(tr.Spans, Span{FromMS: rel(at), ToMS: rel(o[0]), State: "flowing"})
			}
			tr.Spans = append(tr.Spans, Span{FromMS: rel(o[0]), ToMS: rel(o[1]), State: "outage", Bad: o[1].Sub(o[0]) > in.outageLimit()})
			at = o[1]
		}
		if in.end.After(at) {
			tr.Spans = append(tr.Spans, Span{FromMS: rel(at), ToMS: rel(in.end), State: "flowing"})
		}
		tl.Tracks = append(tl.Tracks, tr)
	}
	for _, m := range kitMarks {
		tl.Marks = append(tl.Marks, Mark{AtMS: rel(m.At), Label: m.Label})
	}
	tl.Marks = append(tl.Marks, g.marks...)
	return tl
}
