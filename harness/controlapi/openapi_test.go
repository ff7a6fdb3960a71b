package controlapi

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/autopathlab/autopathlab/harness"
)

// spec is openapi.yaml, parsed.
type spec struct {
	doc map[string]any
	// ops maps "METHOD /path" to the status codes documented for it.
	ops map[string][]string
}

func parseSpec(t *testing.T) spec {
	t.Helper()
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(openAPISpec, &doc))
	assert.Equal(t, "3.0.3", doc["openapi"])
	s := spec{doc: doc, ops: map[string][]string{}}
	paths, ok := doc["paths"].(map[string]any)
	require.True(t, ok, "paths")
	for p, item := range paths {
		for method, op := range item.(map[string]any) {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				continue
			}
			resp, ok := op.(map[string]any)["responses"].(map[string]any)
			require.True(t, ok, "%s %s: no responses", method, p)
			var codes []string
			for code := range resp {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			s.ops[strings.ToUpper(method)+" "+p] = codes
		}
	}
	return s
}

// The spec documents exactly the routes the server registers.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := parseSpec(t)
	var documented, served []string
	for op := range s.ops {
		documented = append(documented, op)
	}
	srv := NewServer(harness.Start(t, harness.Default(), harness.WithFakeClock(), harness.WithoutWorkload()), Options{})
	defer srv.Close()
	for _, r := range srv.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	assert.Equal(t, served, documented)
}

// Every $ref points at something the document defines.
func TestOpenAPIRefs(t *testing.T) {
	s := parseSpec(t)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if r, ok := x.(string); ok && k == "$ref" {
					refs = append(refs, r)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(s.doc)
	require.NotEmpty(t, refs)
	for _, r := range refs {
		parts := strings.Split(strings.TrimPrefix(r, "#/"), "/")
		var node any = s.doc
		for _, p := range parts {
			m, ok := node.(map[string]any)
			require.True(t, ok, "%s: %s is not an object", r, p)
			node, ok = m[p]
			require.True(t, ok, "%s: no %s", r, p)
		}
	}
}

// A real request on every documented route answers a status the spec
// documents for it; without the token every route but the spec is a 401.
func TestOpenAPIStatuses(t *testing.T) {
	s := parseSpec(t)
	a := startAPI(t, Options{Token: "tok"})
	// One request per route, sent in the server's order: DELETE
	// /v1/faults/1 comes after DELETE /v1/faults and finds no fault (a
	// documented 404); TestFaults covers its 204.
	reqs := map[string]struct{ path, body string }{
		"GET /v1/lab":                     {"/v1/lab", ""},
		"GET /v1/endpoints":               {"/v1/endpoints", ""},
		"GET /v1/hosts":                   {"/v1/hosts", ""},
		"GET /v1/hosts/{host}":            {"/v1/hosts/a", ""},
		"GET /v1/hosts/{host}/routes":     {"/v1/hosts/a/routes", ""},
		"POST /v1/hosts/{host}/routes":    {"/v1/hosts/a/routes", `{"network":"192.168.5.2/32","gateway":"192.168.1.28"}`},
		"DELETE /v1/hosts/{host}/routes":  {"/v1/hosts/a/routes?network=192.168.5.2/32&gateway=192.168.1.28", ""},
		"GET /v1/hosts/{host}/vmknics":    {"/v1/hosts/b/vmknics", ""},
		"GET /v1/hosts/{host}/neighbors":  {"/v1/hosts/b/neighbors", ""},
		"GET /v1/hosts/{host}/datastores": {"/v1/hosts/b/datastores", ""},
		"GET /v1/hosts/{host}/flows":      {"/v1/hosts/b/flows", ""},
		"GET /v1/hosts/{host}/workload":   {"/v1/hosts/b/workload", ""},
		"GET /v1/hosts/{host}/files":      {"/v1/hosts/b/files?path=/etc/motd", ""},
		"GET /v1/cvms/{cvm}/files":        {"/v1/cvms/b/files?path=/etc/hostname", ""},
		"POST /v1/captures":               {"/v1/captures", `{"node":"a","interface":"vmk0"}`},
		"GET /v1/captures":                {"/v1/captures", ""},
		"GET /v1/captures/{id}":           {"/v1/captures/1", ""},
		"POST /v1/captures/{id}/stop":     {"/v1/captures/1/stop", ""},
		"GET /v1/captures/{id}/pcap":      {"/v1/captures/1/pcap", ""},
		"DELETE /v1/captures/{id}":        {"/v1/captures/1", ""},
		"GET /v1/cvms":                    {"/v1/cvms", ""},
		"GET /v1/cvms/{cvm}":              {"/v1/cvms/c", ""},
		"GET /v1/cvms/{cvm}/sessions":     {"/v1/cvms/c/sessions", ""},
		"POST /v1/cvms/{cvm}/power":       {"/v1/cvms/c/power", `{"state":"off"}`},
		"POST /v1/cvms/{cvm}/stargate":    {"/v1/cvms/b/stargate", `{"state":"hung"}`},
		"GET /v1/faults":                  {"/v1/faults", ""},
		"POST /v1/faults":                 {"/v1/faults", `{"kind":"stargate-down","node":"a"}`},
		"DELETE /v1/faults":               {"/v1/faults", ""},
		"DELETE /v1/faults/{id}":          {"/v1/faults/1", ""},
		"POST /v1/reset":                  {"/v1/reset", ""},
		"GET /v1/events":                  {"/v1/events?kind=power&node=c&limit=5", ""},
		"GET /v1/events/stream":           {"/v1/events/stream?kind=power", ""},
		"POST /v1/wait":                   {"/v1/wait", `{"condition":"cvm c power off","timeout":"100ms"}`},
		"GET /metrics":                    {"/metrics", ""},
		"GET /openapi.yaml":               {"/openapi.yaml", ""},
	}
	do := func(t *testing.T, method, path, body, token string) int {
		t.Helper()
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel() // ends the event stream once its headers are in
		req, err := http.NewRequestWithContext(ctx, method, a.ts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := a.ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, r := range a.srv.Routes() {
		op := r.Method + " " + r.Path
		t.Run(op, func(t *testing.T) {
			rq, ok := reqs[op]
			require.True(t, ok, "no sample request for %s", op)
			codes := s.ops[op]
			got := do(t, r.Method, rq.path, rq.body, "tok")
			assert.Contains(t, codes, strconv.Itoa(got), "%s answered %d; documented: %v", op, got, codes)
			want := 401
			if op == "GET /openapi.yaml" {
				want = 200
			}
			got = do(t, r.Method, rq.path, rq.body, "")
			assert.Equal(t, want, got)
			assert.Contains(t, codes, strconv.Itoa(want))
		})
	}
}
