package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// specStatuses reads docs/openapi.yaml: the status codes each operation
// ("POST /api/v1/schedules/{name}/run") declares.
func specStatuses(t *testing.T) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &spec); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	out := map[string]map[string]bool{}
	for path, ops := range spec.Paths {
		for method, node := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				Responses map[string]any `yaml:"responses"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("docs/openapi.yaml: %s %s: %v", method, path, err)
			}
			codes := map[string]bool{}
			for c := range op.Responses {
				codes[c] = true
			}
			out[strings.ToUpper(method)+" "+path] = codes
		}
	}
	return out
}

// TestEveryRouteAnswersMistakesAndKnownFailures hits every route of the
// JSON API with each kind of bad request and each failure the daemon
// knows: the caller's mistakes are 4xx, known failures 409 or 503, each a
// JSON error with a code and a message that says what was wrong and what to
// do, and every status is declared for its operation in docs/openapi.yaml.
func TestEveryRouteAnswersMistakesAndKnownFailures(t *testing.T) {
	spec := specStatuses(t)
	notReady := fmt.Errorf("%w: schedule %q: %w", ErrNotReady, "daily-logins",
		&NotReadyError{Component: "destination integration lake (bucket audit)", Err: errors.New("connection refused"),
			Attempts: 3, NextRetry: time.Date(2026, 11, 25, 10, 0, 8, 0, time.UTC)})
	archiveDown := fmt.Errorf("%w: window 2026-11-23: connection refused", ErrArchiveUnavailable)
	misaligned := fmt.Errorf("%w: 2026-11-23T01:00:00Z is not the start of a day window", ErrBadRequest)
	running := fmt.Errorf("schedule daily-logins: %w", ErrRunning)

	type route struct {
		op       string // as in the spec
		path     string // a known schedule filled in
		mutating bool
		named    bool
		limit    bool
	}
	routes := []route{
		{op: "GET /api/v1/schedules", path: "/api/v1/schedules"},
		{op: "GET /api/v1/schedules/{name}", path: "/api/v1/schedules/daily-logins", named: true},
		{op: "POST /api/v1/schedules/{name}/run", path: "/api/v1/schedules/daily-logins/run", mutating: true, named: true},
		{op: "POST /api/v1/schedules/{name}/pause", path: "/api/v1/schedules/daily-logins/pause", mutating: true, named: true},
		{op: "POST /api/v1/schedules/{name}/resume", path: "/api/v1/schedules/daily-logins/resume", mutating: true, named: true},
		{op: "GET /api/v1/schedules/{name}/windows", path: "/api/v1/schedules/daily-logins/windows", named: true, limit: true},
		{op: "GET /api/v1/runs", path: "/api/v1/runs", limit: true},
		{op: "GET /metrics", path: "/metrics"},
	}
	type tc struct {
		name          string
		method, path  string
		token, body   string
		trigger       func(*fakeTrigger)
		status        int
		code          string
		msg           []string // each in the message
		notInSpecOnly bool     // a status about the path, not the operation (405)
	}
	method := func(r route) string { return strings.Fields(r.op)[0] }
	var cases []tc
	for _, r := range routes {
		m := method(r)
		api := strings.HasPrefix(r.path, "/api/")
		cases = append(cases, tc{name: "wrong token", method: m, path: r.path, token: "not-the-token",
			status: 401, code: codeUnauthorized, msg: []string{"invalid token", "Authorization: Bearer"}})
		cases = append(cases, tc{name: "wrong method", method: http.MethodDelete, path: r.path, token: testToken,
			status: 405, code: codeMethodNotAllowed, msg: []string{"DELETE is not allowed", "use " + m}, notInSpecOnly: true})
		if r.mutating {
			cases = append(cases,
				tc{name: "missing token", method: m, path: r.path, status: 401, code: codeUnauthorized, msg: []string{"needs the API token"}},
				tc{name: "bad JSON", method: m, path: r.path, token: testToken, body: `{"adhoc":`, status: 400, code: codeBadRequest, msg: []string{"request body", "send"}},
				tc{name: "unknown field", method: m, path: r.path, token: testToken, body: `{"bogus": 1}`, status: 400, code: codeBadRequest, msg: []string{"bogus", "send"}},
				tc{name: "two JSON values", method: m, path: r.path, token: testToken, body: `{} {}`, status: 400, code: codeBadRequest, msg: []string{"more than one JSON value"}},
				tc{name: "body too large", method: m, path: r.path, token: testToken, body: `{"adhoc": false` + strings.Repeat(" ", maxBodyBytes) + `}`,
					status: 413, code: codeTooLarge, msg: []string{"larger than"}},
			)
		}
		if api {
			cases = append(cases, tc{name: "unknown query parameter", method: m, path: r.path + "?bogus=1", token: testToken,
				status: 400, code: codeBadRequest, msg: []string{`"bogus"`}})
		}
		if r.named {
			cases = append(cases, tc{name: "unknown schedule", method: m, path: strings.Replace(r.path, "daily-logins", "nope", 1), token: testToken,
				status: 404, code: codeUnknownSchedule, msg: []string{`"nope"`, "GET /api/v1/schedules"}})
		}
		if r.limit {
			for _, l := range []string{"0", "-1", "x", strconv.Itoa(1 << 20)} {
				cases = append(cases, tc{name: "limit " + l, method: m, path: r.path + "?limit=" + l, token: testToken,
					status: 400, code: codeBadRequest, msg: []string{"limit: want an integer from 1"}})
			}
		}
	}
	run, pause, resume, windows := "/api/v1/schedules/daily-logins/run", "/api/v1/schedules/daily-logins/pause",
		"/api/v1/schedules/daily-logins/resume", "/api/v1/schedules/daily-logins/windows"
	cases = append(cases,
		tc{name: "unknown schedule", method: "GET", path: "/api/v1/runs?schedule=nope", token: testToken, status: 404, code: codeUnknownSchedule, msg: []string{`"nope"`}},
		tc{name: "bad window", method: "POST", path: run, token: testToken, body: `{"window_start": "yesterday"}`, status: 400, code: codeBadRequest, msg: []string{"RFC 3339", "2026-11-24T00:00:00Z"}},
		tc{name: "zero window", method: "POST", path: run, token: testToken, body: `{"window_start": "0001-01-01T00:00:00Z"}`, status: 400, code: codeBadRequest, msg: []string{"zero time", "leave window_start out"}},
		tc{name: "bad wait", method: "POST", path: run + "?wait=maybe", token: testToken, status: 400, code: codeBadRequest, msg: []string{"want true or false"}},
		tc{name: "misaligned window", method: "POST", path: run, token: testToken, trigger: func(f *fakeTrigger) { f.runErr = misaligned },
			status: 400, code: codeBadRequest, msg: []string{"not the start of a day window"}},
		tc{name: "conflict", method: "POST", path: run, token: testToken, trigger: func(f *fakeTrigger) { f.runErr = running },
			status: 409, code: codeRunning, msg: []string{"in progress", "try again"}},
		tc{name: "not ready", method: "POST", path: run, token: testToken, trigger: func(f *fakeTrigger) { f.runErr = notReady },
			status: 503, code: codeNotReady, msg: []string{"destination integration lake", "connection refused", "next retry at 2026-11-25T10:00:08Z", "try again later"}},
		tc{name: "shutting down", method: "POST", path: run, token: testToken, trigger: func(f *fakeTrigger) { f.runErr = fmt.Errorf("%w: shutting down", ErrUnavailable) },
			status: 503, code: codeUnavailable, msg: []string{"shutting down"}},
		tc{name: "archive unreachable", method: "POST", path: resume, token: testToken, trigger: func(f *fakeTrigger) { f.pauseErr = archiveDown },
			status: 503, code: codeUnavailable, msg: []string{"archive could not be read"}},
		tc{name: "not ready", method: "POST", path: pause, token: testToken, trigger: func(f *fakeTrigger) { f.pauseErr = notReady },
			status: 503, code: codeNotReady, msg: []string{"destination integration lake"}},
		tc{name: "archive unreachable", method: "GET", path: windows, token: testToken, trigger: func(f *fakeTrigger) { f.windowsErr = archiveDown },
			status: 503, code: codeUnavailable, msg: []string{"archive could not be read"}},
		tc{name: "not ready", method: "GET", path: windows, token: testToken, trigger: func(f *fakeTrigger) { f.windowsErr = notReady },
			status: 503, code: codeNotReady, msg: []string{"destination integration lake"}},
		tc{name: "bad window range", method: "GET", path: windows, token: testToken, trigger: func(f *fakeTrigger) { f.windowsErr = misaligned },
			status: 400, code: codeBadRequest, msg: []string{"not the start of a day window"}},
	)

	ts := start(t)
	for _, c := range cases {
		t.Run(c.method+" "+c.path[:min(len(c.path), 60)]+" "+c.name, func(t *testing.T) {
			ts.Trigger.set(func(f *fakeTrigger) { f.runErr, f.pauseErr, f.windowsErr = nil, nil, nil })
			if c.trigger != nil {
				ts.Trigger.set(c.trigger)
			}
			a := ts.call(t, c.method, c.path, c.token, c.body)
			e := wantError(t, a, c.status, c.code)
			for _, m := range c.msg {
				if !strings.Contains(e.Error, m) {
					t.Errorf("message %q lacks %q", e.Error, m)
				}
			}
			if c.status == http.StatusServiceUnavailable && a.Header.Get("Retry-After") == "" {
				t.Error("a 503 without Retry-After")
			}
			if c.notInSpecOnly {
				return
			}
			op := c.method + " " + strings.SplitN(c.path, "?", 2)[0]
			for _, r := range routes {
				if strings.Replace(r.path, "daily-logins", "nope", 1) == strings.SplitN(c.path, "?", 2)[0] || r.path == strings.SplitN(c.path, "?", 2)[0] {
					op = r.op
				}
			}
			codes, ok := spec[op]
			if !ok {
				t.Fatalf("docs/openapi.yaml has no operation %s", op)
			}
			if !codes[strconv.Itoa(c.status)] {
				t.Errorf("docs/openapi.yaml does not declare %d for %s", c.status, op)
			}
		})
	}
}

// TestReadyzNamesWhatTheDaemonWaitsFor: while the daemon waits for a store
// or source, /readyz is 503 with Retry-After and, for trusted callers, the
// component, the error and the next retry; others see only the status.
func TestReadyzNamesWhatTheDaemonWaitsFor(t *testing.T) {
	ts := start(t)
	next := time.Date(2026, 11, 25, 10, 0, 8, 0, time.UTC)
	ts.Trigger.set(func(f *fakeTrigger) {
		f.readyErr = &NotReadyError{Component: "source warehouse", Err: errors.New("dial tcp 127.0.0.1:9: connect: connection refused"),
			Attempts: 2, NextRetry: next}
	})
	a := ts.call(t, "GET", "/readyz", testToken, "")
	wantStatus(t, a, 503)
	got := decode[health](t, a)
	if got.Status != "not ready" || got.Component != "source warehouse" || !strings.Contains(got.Error, "connection refused") ||
		!got.NextRetry.Equal(next) || !strings.Contains(got.Reason, "cannot reach source warehouse") || a.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz: %+v (Retry-After %q)", got, a.Header.Get("Retry-After"))
	}
	a = ts.call(t, "GET", "/readyz", "", "")
	wantStatus(t, a, 503)
	if got := decode[health](t, a); got != (health{Status: "not ready"}) {
		t.Errorf("/readyz without the token: %+v", got)
	}
	ts.Trigger.set(func(f *fakeTrigger) { f.readyErr = nil })
	a = ts.call(t, "GET", "/readyz", "", "")
	wantStatus(t, a, 200)
	if got := decode[health](t, a); got != (health{Status: "ready"}) {
		t.Errorf("/readyz once ready: %+v", got)
	}
}
