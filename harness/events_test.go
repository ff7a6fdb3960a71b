package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/clock"
	"github.com/autopathlab/autopathlab/topology"
)

// The event log sees every host's datastore mount from the host's side and
// from the serving CVM's, with the modelled client address; the JSON-lines
// copy holds the same events.
func TestEventLogRecordsMounts(t *testing.T) {
	var jsonl bytes.Buffer
	lab := Start(t, topology.Default(), Options{Clock: clock.NewFake(), NoWorkload: true, EventsTo: &jsonl})

	mounted := map[string]bool{}
	served := map[string]string{}
	for _, e := range lab.Events.Events() {
		switch e.Kind {
		case "datastore.accessible":
			mounted[e.Node+" "+e.Datastore] = true
		case "nfs.mount":
			served[e.Node] = e.Client
		}
	}
	assert.Equal(t, map[string]bool{"NTNX-BLOCK1-A ctr1": true, "NTNX-BLOCK1-B ctr1": true, "NTNX-BLOCK1-C ctr1": true}, mounted)
	require.Len(t, served, 3)
	for cvm, client := range served {
		assert.Regexp(t, `^192\.168\.5\.1:\d+$`, client, "%s served its own host over the private network", cvm)
	}

	var lines []Event
	sc := bufio.NewScanner(&jsonl)
	for sc.Scan() {
		var e Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		lines = append(lines, e)
	}
	assert.Equal(t, len(lab.Events.Events()), len(lines))
}

func TestEventLogRing(t *testing.T) {
	l := NewEventLog(nil)
	var seen int
	cancel := l.Subscribe(func(Event) { seen++ })
	for i := range eventRing + 5 {
		l.Add(Event{Kind: "x", Detail: string(rune('a' + i%26))})
	}
	cancel()
	l.Add(Event{Kind: "after"})
	assert.Equal(t, eventRing+5, seen)
	ev := l.Events()
	require.Len(t, ev, eventRing)
	assert.Equal(t, "after", ev[len(ev)-1].Kind)
	assert.Equal(t, string(rune('a'+6%26)), ev[0].Detail)
}

// Route changes reach the log from the model, whichever view made them.
func TestEventLogRecordsRouteChanges(t *testing.T) {
	lab := Start(t, topology.Default(), Options{Clock: clock.NewFake(), NoWorkload: true})
	a := lab.Host("NTNX-BLOCK1-A").VMkernel()
	var got []Event
	cancel := lab.Events.Subscribe(func(e Event) {
		if strings.HasPrefix(e.Kind, "route.") {
			got = append(got, e)
		}
	})
	defer cancel()
	dst, gw := netip.MustParsePrefix("192.168.5.2/32"), netip.MustParseAddr("192.168.1.28")
	require.NoError(t, a.AddRoute("", dst, gw))
	require.NoError(t, a.DeleteRoute("", dst, gw))
	require.Len(t, got, 2)
	assert.Equal(t, Event{Time: got[0].Time, Kind: "route.add", Node: "NTNX-BLOCK1-A", Netstack: "defaultTcpipStack",
		Network: "192.168.5.2/32", Gateway: "192.168.1.28"}, got[0])
	assert.Equal(t, "route.delete", got[1].Kind)
}
