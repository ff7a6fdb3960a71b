package shell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dateDefault is busybox date's default format: Sat Nov 21 05:20:00 UTC 2026.
const dateDefault = "%a %b %e %H:%M:%S %Z %Y"

// dateCmd prints the node's clock, in UTC (emulated hosts keep UTC, and no
// time zone data is read from the host).
func dateCmd(_ context.Context, inv *Invocation) int {
	// -I takes an optional argument in busybox: "-I" alone is a date.
	args := append([]string{}, inv.Args[1:]...)
	for i, a := range args {
		if a == "-I" {
			args[i] = "-Idate"
		}
	}
	o, ok := parseOpts(inv, args, "uRI:d:s:D:r:", false)
	if !ok {
		return 1
	}
	if o.has('s') {
		errorf(inv, "can't set date: Operation not permitted")
		return 1
	}
	t := inv.Clock.Now().UTC()
	if d := o.last('d', ""); d != "" {
		parsed, err := parseDate(d, t)
		if err != nil {
			errorf(inv, "invalid date '%s'", d)
			return 1
		}
		t = parsed
	}
	if r := o.last('r', ""); r != "" {
		fi, err := inv.FS.Stat(inv.Abs(r))
		if err != nil {
			errorf(inv, "can't stat '%s': %s", r, ErrorText(err))
			return 1
		}
		t = fi.ModTime().UTC()
	}
	format := dateDefault
	switch {
	case o.has('R'):
		format = "%a, %d %b %Y %H:%M:%S %z"
	case o.has('I'):
		switch spec := o.last('I', "date"); spec {
		case "date", "":
			format = "%Y-%m-%d"
		case "hours":
			format = "%Y-%m-%dT%H%z"
		case "minutes":
			format = "%Y-%m-%dT%H:%M%z"
		case "seconds":
			format = "%Y-%m-%dT%H:%M:%S%z"
		default:
			errorf(inv, "invalid argument '%s' for '-I'", spec)
			return 1
		}
	}
	for _, a := range o.args {
		if !strings.HasPrefix(a, "+") {
			errorf(inv, "can't set date: Operation not permitted")
			return 1
		}
		format = a[1:]
	}
	fmt.Fprintln(inv.Stdout, strftime(format, t))
	return 0
}

// parseDate understands the -d forms scripts use: @epoch and a few
// numeric layouts.
func parseDate(s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if s == "now" {
		return now, nil
	}
	for _, layout := range []string{
		"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04:05", "2006-01-02", "15:04:05", "15:04",
		"Mon Jan _2 15:04:05 MST 2006", "Mon, 02 Jan 2006 15:04:05 -0700",
	} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			if t.Year() == 0 {
				t = time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date")
}

// strftime formats t with C strftime's % verbs.
func strftime(format string, t time.Time) string {
	var sb strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'a':
			sb.WriteString(t.Format("Mon"))
		case 'A':
			sb.WriteString(t.Format("Monday"))
		case 'b', 'h':
			sb.WriteString(t.Format("Jan"))
		case 'B':
			sb.WriteString(t.Format("January"))
		case 'c':
			sb.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'C':
			fmt.Fprintf(&sb, "%02d", t.Year()/100)
		case 'd':
			fmt.Fprintf(&sb, "%02d", t.Day())
		case 'D':
			sb.WriteString(t.Format("01/02/06"))
		case 'e':
			fmt.Fprintf(&sb, "%2d", t.Day())
		case 'F':
			sb.WriteString(t.Format("2006-01-02"))
		case 'g':
			y, _ := t.ISOWeek()
			fmt.Fprintf(&sb, "%02d", y%100)
		case 'G':
			y, _ := t.ISOWeek()
			fmt.Fprintf(&sb, "%d", y)
		case 'H':
			fmt.Fprintf(&sb, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&sb, "%02d", (t.Hour()+11)%12+1)
		case 'j':
			fmt.Fprintf(&sb, "%03d", t.YearDay())
		case 'k':
			fmt.Fprintf(&sb, "%2d", t.Hour())
		case 'l':
			fmt.Fprintf(&sb, "%2d", (t.Hour()+11)%12+1)
		case 'm':
			fmt.Fprintf(&sb, "%02d", int(t.Month()))
		case 'M':
			fmt.Fprintf(&sb, "%02d", t.Minute())
		case 'n':
			sb.WriteByte('\n')
		case 'N':
			fmt.Fprintf(&sb, "%09d", t.Nanosecond())
		case 'p':
			sb.WriteString(t.Format("PM"))
		case 'P':
			sb.WriteString(strings.ToLower(t.Format("PM")))
		case 'r':
			sb.WriteString(t.Format("03:04:05 PM"))
		case 'R':
			sb.WriteString(t.Format("15:04"))
		case 's':
			fmt.Fprintf(&sb, "%d", t.Unix())
		case 'S':
			fmt.Fprintf(&sb, "%02d", t.Second())
		case 't':
			sb.WriteByte('\t')
		case 'T':
			sb.WriteString(t.Format("15:04:05"))
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			fmt.Fprintf(&sb, "%d", wd)
		case 'U':
			fmt.Fprintf(&sb, "%02d", (t.YearDay()+6-int(t.Weekday()))/7)
		case 'V':
			_, w := t.ISOWeek()
			fmt.Fprintf(&sb, "%02d", w)
		case 'w':
			fmt.Fprintf(&sb, "%d", int(t.Weekday()))
		case 'W':
			fmt.Fprintf(&sb, "%02d", (t.YearDay()+6-(int(t.Weekday())+6)%7)/7)
		case 'x':
			sb.WriteString(t.Format("01/02/06"))
		case 'X':
			sb.WriteString(t.Format("15:04:05"))
		case 'y':
			fmt.Fprintf(&sb, "%02d", t.Year()%100)
		case 'Y':
			fmt.Fprintf(&sb, "%d", t.Year())
		case 'z':
			sb.WriteString(t.Format("-0700"))
		case 'Z':
			sb.WriteString(t.Format("MST"))
		case '%':
			sb.WriteByte('%')
		default:
			sb.WriteByte('%')
			sb.WriteByte(format[i])
		}
	}
	return sb.String()
}
