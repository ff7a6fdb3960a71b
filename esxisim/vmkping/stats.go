package vmkping

import (
	"fmt"
	"io"
	"time"
)

// stats are the run's counters and round-trip extremes.
type stats struct {
	transmitted, received int
	min, max, sum         time.Duration
}

func (s *stats) add(rtt time.Duration) {
	if s.received == 0 || rtt < s.min {
		s.min = rtt
	}
	if rtt > s.max {
		s.max = rtt
	}
	s.sum += rtt
	s.received++
}

// print writes the summary as ESXi does (VERIFIED, reference §6.2): a
// blank line, "packets received", the loss as a whole percentage (the
// older FreeBSD integer form: 1 of 3 lost is 33%), and a round-trip line
// without stddev only when something came back. With nothing transmitted
// (Ctrl-C before the first probe) FreeBSD leaves the loss out.
func (s *stats) print(w io.Writer, host string, timing bool) {
	fmt.Fprintf(w, "\n--- %s ping statistics ---\n", host)
	fmt.Fprintf(w, "%d packets transmitted, %d packets received, ", s.transmitted, s.received)
	if s.transmitted > 0 {
		fmt.Fprintf(w, "%d%% packet loss", (s.transmitted-s.received)*100/s.transmitted)
	}
	fmt.Fprintln(w)
	if s.received > 0 && timing {
		avg := s.sum / time.Duration(s.received)
		fmt.Fprintf(w, "round-trip min/avg/max = %.3f/%.3f/%.3f ms\n", ms(s.min), ms(avg), ms(s.max))
	}
}

// ms renders a duration in milliseconds for the %.3f fields.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
