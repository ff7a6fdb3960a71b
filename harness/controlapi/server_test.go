package controlapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
)

const (
	hostA = "NTNX-BLOCK1-A"
	hostB = "NTNX-BLOCK1-B"
	hostC = "NTNX-BLOCK1-C"
	cvmA  = "NTNX-BLOCK1-A-CVM"
	cvmB  = "NTNX-BLOCK1-B-CVM"
)

var seedRoute = harness.RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.2/32", Gateway: "192.168.1.28", Interface: "vmk0"}

// Every read route answers the model's view, through the Go client.
func TestViews(t *testing.T) {
	a := startAPI(t, Options{})
	ctx := testCtx(t)
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"lab", func(t *testing.T) {
			v, err := a.c.Lab(ctx)
			require.NoError(t, err)
			assert.Equal(t, "default", v.Name)
			assert.Equal(t, []string{hostA, hostB, "NTNX-BLOCK1-C"}, v.Hosts)
			assert.Equal(t, []string{cvmA, cvmB, "NTNX-BLOCK1-C-CVM"}, v.CVMs)
			sameJSON(t, a.lab.Endpoints(), v.Endpoints)
			assert.Empty(t, v.Faults)
			assert.True(t, v.Time.Equal(a.lab.Clock.Now()))
		}},
		{"endpoints", func(t *testing.T) {
			v, err := a.c.Endpoints(ctx)
			require.NoError(t, err)
			assert.Equal(t, a.lab.Endpoints(), v)
			require.Len(t, v, 7)
			assert.Equal(t, a.lab.Hosts[0].Addr().String(), v[0].Listeners["ssh"])
		}},
		{"hosts", func(t *testing.T) {
			v, err := a.c.Hosts(ctx)
			require.NoError(t, err)
			require.Len(t, v, 3)
			for i, h := range v {
				assert.Equal(t, a.lab.Topology.Hosts[i].Name, h.Name)
				sameJSON(t, a.host(h.Name).Routes, h.Routes)
			}
		}},
		{"host by letter, name and number", func(t *testing.T) {
			for ref, want := range map[string]string{"a": hostA, "ntnx-block1-b": hostB, "3": "NTNX-BLOCK1-C"} {
				v, err := a.c.Host(ctx, ref)
				require.NoError(t, err, ref)
				assert.Equal(t, want, v.Name, ref)
				assert.Equal(t, a.host(want).Vmknics, v.Vmknics, ref)
			}
		}},
		{"routes", func(t *testing.T) {
			v, err := a.c.Routes(ctx, "a")
			require.NoError(t, err)
			assert.Contains(t, v, harness.RouteView{Netstack: "defaultTcpipStack", Network: "0.0.0.0/0", Gateway: "192.168.1.1", Interface: "vmk0", Default: true})
			assert.Contains(t, v, harness.RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.0/24", Interface: "vmk1"})
		}},
		{"vmknics", func(t *testing.T) {
			v, err := a.c.Vmknics(ctx, "b")
			require.NoError(t, err)
			require.Len(t, v, 2)
			assert.Equal(t, "vmk0", v[0].Name)
			assert.Equal(t, "192.168.1.25/24", v[0].IP)
			assert.Equal(t, "vmk-svm-iscsi-pg", v[1].Portgroup)
		}},
		{"neighbors", func(t *testing.T) {
			v, err := a.c.Neighbors(ctx, "a")
			require.NoError(t, err)
			assert.Equal(t, a.host("a").Neighbors, v)
			// The datastore's mount resolved the local CVM's private
			// address on vmk1.
			ips := map[string]string{}
			for _, n := range v {
				ips[n.IP] = n.Interface
			}
			assert.Equal(t, "vmk1", ips["192.168.5.2"], "%+v", v)
		}},
		{"datastores", func(t *testing.T) {
			v, err := a.c.Datastores(ctx, "c")
			require.NoError(t, err)
			require.Len(t, v, 1)
			assert.Equal(t, "ctr1", v[0].Name)
			assert.Equal(t, "192.168.5.2", v[0].Server)
			assert.True(t, v[0].Accessible)
		}},
		{"flows", func(t *testing.T) {
			v, err := a.c.Flows(ctx, "a")
			require.NoError(t, err)
			require.NotEmpty(t, v)
			assert.Equal(t, "vmk1", v[0].Egress)
			assert.Equal(t, cvmA, v[0].Target)
		}},
		{"workload", func(t *testing.T) {
			v, err := a.c.Workload(ctx, "a")
			require.NoError(t, err)
			assert.Equal(t, "vm-"+hostA, v.VM)
			assert.False(t, v.Stalled)
		}},
		{"cvms", func(t *testing.T) {
			v, err := a.c.CVMs(ctx)
			require.NoError(t, err)
			sameJSON(t, a.lab.CVMViews(), v)
			require.Len(t, v, 3)
			assert.Equal(t, "up", v[2].Power)
		}},
		{"cvm", func(t *testing.T) {
			v, err := a.c.CVM(ctx, "b")
			require.NoError(t, err)
			assert.Equal(t, cvmB, v.Name)
			assert.Equal(t, hostB, v.Host)
			assert.Equal(t, "192.168.1.28", v.IP)
			assert.Equal(t, "up", v.Stargate)
			assert.True(t, v.Initialised)
		}},
		{"sessions", func(t *testing.T) {
			v, err := a.c.Sessions(ctx, "a")
			require.NoError(t, err)
			require.Len(t, v, 1)
			assert.True(t, strings.HasPrefix(v[0].Client, "192.168.5.1:"), v[0].Client)
		}},
		{"openapi", func(t *testing.T) {
			v, err := a.c.OpenAPI(ctx)
			require.NoError(t, err)
			assert.Equal(t, openAPISpec, v)
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

func TestWorkloadMissing(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	code, body := a.call("GET", "/v1/hosts/a/workload", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, errorOf(t, body), "runs no VM IO workload")
}

// Each power action changes the CVM in the model and answers the CVM as
// it is after the action.
func TestPower(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	for _, tc := range []struct {
		name string
		act  func() (harness.CVMView, error)
		want string
		kind string
	}{
		// On a fake clock a CVM that powers on stays booting.
		{"off", func() (harness.CVMView, error) { return a.c.PowerOff(ctx, "a") }, "off", "power.off"},
		{"on", func() (harness.CVMView, error) { return a.c.PowerOn(ctx, "a") }, "booting", "power.on"},
		{"reboot", func() (harness.CVMView, error) { return a.c.Reboot(ctx, "1") }, "booting", "power.on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(a.lab.Events.Events())
			v, err := tc.act()
			require.NoError(t, err)
			assert.Equal(t, cvmA, v.Name)
			assert.Equal(t, tc.want, v.Power)
			assert.Equal(t, tc.want, a.cvm("a").Power)
			var kinds []string
			for _, e := range a.lab.Events.Events()[n:] {
				if e.Node == cvmA {
					kinds = append(kinds, e.Kind)
				}
			}
			assert.Contains(t, kinds, tc.kind)
		})
	}
	code, body := a.call("POST", "/v1/cvms/a/power", `{"state":"sideways"}`)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, errorOf(t, body), `power state "sideways"`)
}

func TestStargate(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	for _, tc := range []struct{ state, want, fault string }{
		{"down", "down", "down"},
		{"hung", "hung", "hung"},
		{"hang", "hung", "hung"},
		{"up", "up", ""},
	} {
		t.Run(tc.state, func(t *testing.T) {
			v, err := a.c.SetStargate(ctx, "b", tc.state)
			require.NoError(t, err)
			assert.Equal(t, tc.want, v.Stargate)
			got := a.cvm("b")
			assert.Equal(t, tc.want, got.Stargate)
			assert.Equal(t, tc.fault, got.Fault)
		})
	}
}

// Route changes are the operator's esxcfg-route: the host's routing table
// changes and the answer is the table after the change.
func TestRoutes(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	for _, tc := range []struct {
		name    string
		change  func() ([]harness.RouteView, error)
		present bool
	}{
		{"add", func() ([]harness.RouteView, error) {
			return a.c.AddRoute(ctx, "a", "", "192.168.5.2/32", "192.168.1.28")
		}, true},
		{"delete with gateway", func() ([]harness.RouteView, error) {
			return a.c.DeleteRoute(ctx, "a", "", "192.168.5.2/32", "192.168.1.28")
		}, false},
		{"add with netstack, as an address", func() ([]harness.RouteView, error) {
			return a.c.AddRoute(ctx, hostA, "defaultTcpipStack", "192.168.5.2", "192.168.1.28")
		}, true},
		{"delete without gateway", func() ([]harness.RouteView, error) {
			return a.c.DeleteRoute(ctx, "1", "defaultTcpipStack", "192.168.5.2/32", "")
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.change()
			require.NoError(t, err)
			assert.Equal(t, a.host("a").Routes, v)
			if tc.present {
				assert.Contains(t, a.host("a").Routes, seedRoute)
			} else {
				assert.NotContains(t, a.host("a").Routes, seedRoute)
			}
		})
	}
	ev, err := a.c.Events(ctx, EventQuery{Kind: "operator", Node: "a"})
	require.NoError(t, err)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []string{"operator.route-add", "operator.route-delete", "operator.route-add", "operator.route-delete"}, kinds)
}

// Faults: added with an ID (201), listed, removed one by one or all.
func TestFaults(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)

	f, err := a.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultStargateDown, Node: "a"})
	require.NoError(t, err)
	assert.Equal(t, cvmA, f.Spec.Node, "the reference is resolved")
	assert.Equal(t, "down", a.cvm("a").Stargate)
	code, body := a.call("POST", "/v1/faults", `{"kind":"stargate-hang","node":"b","for":"30s"}`)
	require.Equal(t, http.StatusCreated, code, "%s", body)
	hung := decode[harness.Fault](t, body)
	assert.Equal(t, harness.Duration(30*time.Second), hung.Spec.For)
	assert.Equal(t, "hung", a.cvm("b").Stargate)

	list, err := a.c.Faults(ctx)
	require.NoError(t, err)
	sameJSON(t, a.lab.Faults(), list)
	require.Len(t, list, 2)
	assert.Equal(t, []string{f.ID, hung.ID}, []string{list[0].ID, list[1].ID})

	require.NoError(t, a.c.RemoveFault(ctx, f.ID))
	assert.Equal(t, "up", a.cvm("a").Stargate)
	require.Len(t, a.lab.Faults(), 1)
	err = a.c.RemoveFault(ctx, f.ID)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusNotFound, ae.Status)

	_, err = a.c.AddFault(ctx, harness.FaultSpec{Kind: harness.FaultStargateDown, Node: "c"})
	require.NoError(t, err)
	require.NoError(t, a.c.ClearFaults(ctx))
	assert.Empty(t, a.lab.Faults())
	assert.Equal(t, "up", a.cvm("b").Stargate)
	assert.Equal(t, "up", a.cvm("c").Stargate)
}

// Every fault kind is accepted and listed as labctl sends it. (The network
// and SSH kinds are the harness's to implement.)
func TestFaultKinds(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	for _, spec := range []harness.FaultSpec{
		{Kind: harness.FaultLinkDown, Node: hostA, Interface: "vmnic0"},
		{Kind: harness.FaultLinkDown, Node: cvmB, Interface: "eth0"},
		{Kind: harness.FaultLatency, Node: cvmB, Interface: "eth0", Latency: harness.Duration(50 * time.Millisecond)},
		{Kind: harness.FaultLoss, Node: hostA, Interface: "vmnic0", LossPercent: 10},
		{Kind: harness.FaultPartition, Node: cvmA, Peer: cvmB},
		{Kind: harness.FaultSSHHang, Node: hostA, For: harness.Duration(30 * time.Second), Count: 2, Command: "esxcfg-route"},
		{Kind: harness.FaultSSHRefuse, Node: hostA},
		{Kind: harness.FaultSSHSlow, Node: hostA, Delay: harness.Duration(2 * time.Second)},
		{Kind: harness.FaultSSHDrop, Node: hostA},
		{Kind: harness.FaultStargateHang, Node: cvmA},
	} {
		t.Run(spec.Kind+" "+spec.Node, func(t *testing.T) {
			f, err := a.c.AddFault(ctx, spec)
			require.NoError(t, err)
			assert.Equal(t, spec, f.Spec)
			listed := a.lab.Faults()
			require.Len(t, listed, 1)
			assert.Equal(t, f.ID, listed[0].ID)
			assert.Equal(t, spec, listed[0].Spec)
			require.NoError(t, a.c.RemoveFault(ctx, f.ID))
			assert.Empty(t, a.lab.Faults())
		})
	}
}

// Reset undoes what the tests did: power, routes, faults.
func TestReset(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	require.NoError(t, a.lab.PowerOff("a"))
	require.NoError(t, a.lab.AddRoute("b", "", "192.168.5.2/32", "192.168.1.29"))
	_, err := a.lab.AddFault(harness.FaultSpec{Kind: harness.FaultStargateDown, Node: "c"})
	require.NoError(t, err)

	d, err := a.c.Reset(ctx)
	require.NoError(t, err)
	assert.Positive(t, d)
	assert.Equal(t, "up", a.cvm("a").Power)
	assert.NotContains(t, a.host("b").Routes, harness.RouteView{Netstack: "defaultTcpipStack", Network: "192.168.5.2/32", Gateway: "192.168.1.29", Interface: "vmk0"})
	assert.Empty(t, a.lab.Faults())
	assert.Equal(t, "up", a.cvm("c").Stargate)
	assert.Equal(t, 1, a.lab.View().Resets)
}

func TestWait(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)

	t.Run("already holds", func(t *testing.T) {
		_, err := a.c.Wait(ctx, "cvm a power on", time.Second)
		require.NoError(t, err)
	})
	t.Run("holds after an action", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := a.c.Wait(ctx, "host a route 192.168.5.2/32 via 192.168.1.28", 20*time.Second)
			done <- err
		}()
		require.NoError(t, a.lab.AddRoute("a", "", "192.168.5.2/32", "192.168.1.28"))
		require.NoError(t, <-done)
	})
	t.Run("an event", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := a.c.Wait(ctx, "event test.kick on b", 20*time.Second)
			done <- err
		}()
		// The wait counts only events after it began, and nothing says
		// when the server's waiter subscribed: kick until it answers.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			a.lab.Events.Add(harness.Event{Kind: "test.kick", Node: cvmA}) // not b: never matches
			a.lab.Events.Add(harness.Event{Kind: "test.kick", Node: hostB})
			select {
			case err := <-done:
				require.NoError(t, err)
				return
			case <-tick.C:
			}
		}
	})
	t.Run("timeout is 408", func(t *testing.T) {
		code, body := a.call("POST", "/v1/wait", `{"condition":"cvm a power off","timeout":"30ms"}`)
		assert.Equal(t, http.StatusRequestTimeout, code)
		r := decode[WaitResult](t, body)
		assert.False(t, r.Met)
		assert.GreaterOrEqual(t, r.WaitedMS, 30.0)
		assert.Contains(t, r.Error, "timed out after 30ms")
		_, err := a.c.Wait(ctx, "cvm a power off", 30*time.Millisecond)
		assert.True(t, IsTimeout(err), "%v", err)
	})
	t.Run("met is 200", func(t *testing.T) {
		code, body := a.call("POST", "/v1/wait", `{"condition":"cvm b stargate up","timeout":5}`)
		assert.Equal(t, http.StatusOK, code)
		assert.True(t, decode[WaitResult](t, body).Met)
	})
	t.Run("bad condition is 400", func(t *testing.T) {
		for _, cond := range []string{"cvm a levitating", "host z route 1.2.3.4 via 1.2.3.5", "nonsense"} {
			_, err := a.c.Wait(ctx, cond, time.Second)
			var ae *APIError
			require.ErrorAs(t, err, &ae, cond)
			assert.Equal(t, http.StatusBadRequest, ae.Status, cond)
			assert.Contains(t, ae.Message, "condition", cond)
		}
	})
}

func TestEvents(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	ctx := testCtx(t)
	require.NoError(t, a.lab.PowerOff("b"))
	// A route that moves no NFS flow: no reconnection's events follow.
	require.NoError(t, a.lab.AddRoute("b", "", "10.1.0.0/16", "192.168.1.1"))

	for _, tc := range []struct {
		q    EventQuery
		want func(harness.Event) bool
		n    int // exact count when > 0
	}{
		{EventQuery{}, func(harness.Event) bool { return true }, 0},
		{EventQuery{Kind: "power.off"}, func(e harness.Event) bool { return e.Kind == "power.off" && e.Node == cvmB }, 1},
		{EventQuery{Kind: "datastore"}, func(e harness.Event) bool { return strings.HasPrefix(e.Kind, "datastore.") }, 0},
		{EventQuery{Node: "b"}, func(e harness.Event) bool { return e.Node == hostB || e.Node == cvmB }, 0},
		{EventQuery{Node: cvmB}, func(e harness.Event) bool { return e.Node == cvmB }, 0},
		{EventQuery{Kind: "route", Node: "b"}, func(e harness.Event) bool {
			return strings.HasPrefix(e.Kind, "route.") && e.Node == hostB
		}, 0},
		{EventQuery{Kind: "operator.route-add"}, func(e harness.Event) bool {
			return e.Node == hostB && e.Network == "10.1.0.0/16" && e.Gateway == "192.168.1.1"
		}, 1},
		// The newest: filtered to the operator's kinds, because start-up's
		// events (a MOUNT connection's disconnect at the server) may still
		// trickle in on a loaded machine.
		{EventQuery{Kind: "operator", Limit: 1}, func(e harness.Event) bool { return e.Kind == "operator.route-add" }, 1},
		{EventQuery{Limit: 2}, func(harness.Event) bool { return true }, 2},
	} {
		ev, err := a.c.Events(ctx, tc.q)
		require.NoError(t, err, "%+v", tc.q)
		require.NotEmpty(t, ev, "%+v", tc.q)
		if tc.n > 0 {
			assert.Len(t, ev, tc.n, "%+v", tc.q)
		}
		for _, e := range ev {
			assert.True(t, tc.want(e), "%+v: %+v", tc.q, e)
		}
	}
	code, body := a.call("GET", "/v1/events?limit=x", "")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, errorOf(t, body), "limit")
}

// Errors are JSON with the documented status codes.
func TestErrors(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
		allow              string
	}{
		{"GET", "/v1/hosts/z", "", 404, `no host "z"`, ""},
		{"GET", "/v1/hosts/4/routes", "", 404, `no host "4"`, ""},
		{"GET", "/v1/cvms/d", "", 404, `no cvm "d"`, ""},
		{"GET", "/v1/cvms/d/sessions", "", 404, `no cvm "d"`, ""},
		{"POST", "/v1/cvms/z/power", `{"state":"off"}`, 404, `no cvm "z"`, ""},
		{"POST", "/v1/cvms/z/stargate", `{"state":"nope"}`, 404, `no cvm "z"`, ""},
		{"POST", "/v1/hosts/z/routes", `{"network":"192.168.5.2/32","gateway":"192.168.1.28"}`, 404, `no host "z"`, ""},
		{"DELETE", "/v1/faults/42", "", 404, "no such fault", ""},
		{"GET", "/v1/nothing", "", 404, "no route GET /v1/nothing", ""},
		{"POST", "/v1/cvms/a/stargate", `{"state":"sideways"}`, 400, `stargate state "sideways"`, ""},
		{"POST", "/v1/cvms/a/power", `{"state":"off","force":true}`, 400, `unknown field "force"`, ""},
		{"POST", "/v1/cvms/a/power", ``, 400, "empty body", ""},
		{"POST", "/v1/cvms/a/power", `{"state":"off"}{}`, 400, "more than one", ""},
		{"POST", "/v1/hosts/a/routes", `{"network":"192.168.5.2/24","gateway":"192.168.1.28"}`, 400, "host bits", ""},
		{"POST", "/v1/hosts/a/routes", `{"network":"192.168.5.2/32"}`, 400, "gateway are required", ""},
		{"DELETE", "/v1/hosts/a/routes", "", 400, "network query parameter", ""},
		{"DELETE", "/v1/hosts/a/routes?network=10.0.0.0/8", "", 400, "no static route", ""},
		{"POST", "/v1/faults", `{"kind":"meteor","node":"a"}`, 400, `fault kind "meteor"`, ""},
		{"POST", "/v1/faults", `{"kind":"stargate-down","node":"a","for":"soon"}`, 400, `duration "soon"`, ""},
		{"POST", "/v1/faults", `{"kind":"stargate-down","node":"q"}`, 404, `no cvm "q"`, ""},
		{"POST", "/v1/wait", `{"condition":""}`, 400, "condition is required", ""},
		{"POST", "/v1/wait", `{"condition":"cvm a ready","timeout":"-1s"}`, 400, "negative", ""},
		{"PUT", "/v1/lab", "{}", 405, "method not allowed", "GET"},
		{"PATCH", "/v1/faults", "{}", 405, "method not allowed", "GET, POST, DELETE"},
		{"GET", "/v1/reset", "", 405, "method not allowed", "POST"},
		{"POST", "/metrics", "", 405, "method not allowed", "GET"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testCtx(t), tc.method, a.ts.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := a.ts.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode, "%s", b)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Contains(t, errorOf(t, b), tc.msg)
			assert.Equal(t, tc.allow, resp.Header.Get("Allow"))
		})
	}
	// A refused request changes nothing.
	assert.Equal(t, "up", a.cvm("a").Power)
	assert.Empty(t, a.lab.Faults())
}

func TestBearerToken(t *testing.T) {
	a := startAPI(t, Options{Token: "s3cret"}, harness.WithoutWorkload())
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
	}{
		{"no header", "GET", "/v1/lab", "", 401},
		{"wrong token", "GET", "/v1/lab", "Bearer guess", 401},
		{"a prefix of the token", "GET", "/v1/lab", "Bearer s3cre", 401},
		{"not bearer", "GET", "/v1/lab", "Basic czNjcmV0", 401},
		{"right token", "GET", "/v1/lab", "Bearer s3cret", 200},
		{"an action without token", "POST", "/v1/cvms/a/power", "", 401},
		{"metrics without token", "GET", "/metrics", "", 401},
		{"the spec needs none", "GET", "/openapi.yaml", "", 200},
		{"only GET of the spec is open", "POST", "/openapi.yaml", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(testCtx(t), tc.method, a.ts.URL+tc.path, strings.NewReader(`{"state":"off"}`))
			require.NoError(t, err)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := a.ts.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status == 401 {
				assert.Equal(t, `Bearer realm="autopathlab"`, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	assert.Equal(t, "up", a.cvm("a").Power, "an unauthorised action did nothing")

	_, err := NewClient(a.ts.URL, "wrong").Lab(testCtx(t))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, APIError{Status: 401, Message: "wrong bearer token"}, *ae)
	_, err = NewClient(a.ts.URL, "s3cret").PowerOff(testCtx(t), "a")
	require.NoError(t, err)
	assert.Equal(t, "off", a.cvm("a").Power)
}

// A lab that cannot be reached is net/http's error, not an APIError.
func TestClientUnreachable(t *testing.T) {
	a := startAPI(t, Options{}, harness.WithoutWorkload())
	url := a.ts.URL
	a.ts.Close()
	_, err := NewClient(url, "").Lab(context.Background())
	require.Error(t, err)
	var ae *APIError
	assert.NotErrorAs(t, err, &ae)
}
