package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"

	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/metrics"
)

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(a.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, a.Body, err)
	}
	return v
}

func wantStatus(t *testing.T, a answer, status int) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status %d, want %d; body %s", a.Status, status, a.Body)
	}
	if ct := a.Header.Get("Content-Type"); status != http.StatusOK || !strings.HasPrefix(ct, "text/") {
		if ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
	}
	if a.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id header")
	}
}

func wantError(t *testing.T, a answer, status int, code string) errorBody {
	t.Helper()
	wantStatus(t, a, status)
	e := decode[errorBody](t, a)
	if e.Code != code {
		t.Errorf("code %q, want %q (%s)", e.Code, code, e.Error)
	}
	if e.RequestID != a.Header.Get("X-Request-Id") {
		t.Errorf("request_id %q differs from header %q", e.RequestID, a.Header.Get("X-Request-Id"))
	}
	return e
}

func TestOptionsValidation(t *testing.T) {
	valid := func() Options {
		return Options{Listen: "127.0.0.1:8080", Token: "t0k3n", Loopback: true, Trigger: newFakeTrigger(), Gatherer: prometheus.NewRegistry()}
	}
	if _, err := New(valid()); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"no trigger", func(o *Options) { o.Trigger = nil }, "Options.Trigger"},
		{"no gatherer", func(o *Options) { o.Gatherer = nil }, "Options.Gatherer"},
		{"listen without port", func(o *Options) { o.Listen = "127.0.0.1" }, "Options.Listen"},
		{"token with newline", func(o *Options) { o.Token = "t0k3n\n" }, "Options.Token"},
		{"token with space", func(o *Options) { o.Token = "a b" }, "Options.Token"},
		{"negative read header timeout", func(o *Options) { o.ReadHeaderTimeout = -time.Second }, "Options.ReadHeaderTimeout"},
		{"negative shutdown timeout", func(o *Options) { o.ShutdownTimeout = -1 }, "Options.ShutdownTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.mutate(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "t0k3n") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	o := valid()
	o.Trigger, o.Gatherer = nil, nil
	_, err := New(o)
	if err == nil || !strings.Contains(err.Error(), "Trigger") || !strings.Contains(err.Error(), "Gatherer") {
		t.Errorf("want every problem at once, got %v", err)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ts := start(t)
	a := ts.call(t, "GET", "/healthz", "", "")
	wantStatus(t, a, 200)
	if got := decode[map[string]string](t, a); got["status"] != "ok" {
		t.Errorf("healthz: %v", got)
	}
	wantStatus(t, ts.call(t, "GET", "/readyz", "", ""), 200)

	ts.Trigger.set(func(f *fakeTrigger) {
		f.readyErr = errors.New("source warehouse: dial tcp warehouse.corp.example.com:443: i/o timeout")
	})
	a = ts.call(t, "GET", "/readyz", "", "")
	wantStatus(t, a, 503)
	if strings.Contains(a.Body, "corp.example.com") {
		t.Errorf("readyz leaks the reason to an unauthenticated caller: %s", a.Body)
	}
	a = ts.call(t, "GET", "/readyz", testToken, "")
	wantStatus(t, a, 503)
	if got := decode[map[string]string](t, a); !strings.Contains(got["reason"], "i/o timeout") {
		t.Errorf("authenticated readyz has no reason: %v", got)
	}
	if ts.Logs.FilterMessage("not ready").Len() != 1 {
		t.Errorf("want one 'not ready' log line for two probes, got %d", ts.Logs.FilterMessage("not ready").Len())
	}
	// Health answers while not ready: the process is alive.
	wantStatus(t, ts.call(t, "GET", "/healthz", "", ""), 200)
}

func TestListSchedules(t *testing.T) {
	ts := start(t)
	a := ts.call(t, "GET", "/api/v1/schedules", testToken, "")
	wantStatus(t, a, 200)
	got := decode[struct {
		Schedules []ScheduleStatus `json:"schedules"`
	}](t, a)
	if len(got.Schedules) != 2 || got.Schedules[0].Name != "daily-logins" {
		t.Fatalf("schedules: %+v", got.Schedules)
	}
	s := got.Schedules[0]
	if s.Status != StatusFailing || !s.Windowed || s.LostWindows != 2 || s.ConsecutiveFailures != 3 || s.LastRun == nil || s.LastRun.Attempt != 3 {
		t.Errorf("schedule: %+v", s)
	}
	// Times are RFC 3339 UTC on the wire, whatever zone the daemon used.
	for _, want := range []string{
		`"next_fire":"2026-11-25T10:15:00Z"`,
		`"freshness":"2026-11-23T08:00:00Z"`,
		`"window":{"start":"2026-11-23T08:00:00Z","end":"2026-11-24T08:00:00Z"}`,
		`"logical":"2026-11-24T10:15:00Z"`,
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("answer lacks %s:\n%s", want, a.Body)
		}
	}
	// Zero times are left out rather than sent as year 1.
	if strings.Contains(a.Body, "0001-01-01") {
		t.Errorf("zero time on the wire:\n%s", a.Body)
	}
	if !strings.Contains(s.LastRun.Error, "SELECT") {
		t.Errorf("authenticated caller should see the run's error, got %q", s.LastRun.Error)
	}
}

func TestRunErrorsAreRedactedForUnauthenticatedCallers(t *testing.T) {
	// Token set, loopback: GETs are open, and the pages too.
	ts := start(t, func(o *Options) { o.PageAccess = PageAccessAnyone })
	for _, path := range []string{"/api/v1/schedules", "/api/v1/schedules/daily-logins", "/api/v1/runs", "/", "/schedules/daily-logins"} {
		a := ts.call(t, "GET", path, "", "")
		if a.Status != 200 {
			t.Fatalf("%s: status %d", path, a.Status)
		}
		if strings.Contains(a.Body, "SELECT") || strings.Contains(a.Body, "corp.example.com") {
			t.Errorf("%s leaks the run error to an unauthenticated caller:\n%s", path, a.Body)
		}
	}
	a := ts.call(t, "GET", "/api/v1/runs?schedule=daily-logins", "", "")
	got := decode[struct {
		Runs []RunRecord `json:"runs"`
	}](t, a)
	if got.Runs[0].Error != redactedRunError {
		t.Errorf("error = %q, want the redacted text", got.Runs[0].Error)
	}
}

func TestGetSchedule(t *testing.T) {
	ts := start(t)
	a := ts.call(t, "GET", "/api/v1/schedules/user-snapshot", "", "")
	wantStatus(t, a, 200)
	if got := decode[ScheduleStatus](t, a); got.Name != "user-snapshot" || got.Windowed {
		t.Errorf("got %+v", got)
	}
	e := wantError(t, ts.call(t, "GET", "/api/v1/schedules/nope", "", ""), 404, codeUnknownSchedule)
	if e.Error != `unknown schedule "nope"; GET /api/v1/schedules lists the configured ones` {
		t.Errorf("message %q", e.Error)
	}
}

func TestRunNow(t *testing.T) {
	ts := start(t)
	t.Run("accepted", func(t *testing.T) {
		a := ts.call(t, "POST", "/api/v1/schedules/daily-logins/run", testToken, "")
		wantStatus(t, a, 202)
		out := decode[RunOutcome](t, a)
		if out.Status != domain.OutcomeAccepted || out.Run.ID != "r-9" || out.Run.Outcome != domain.OutcomeRunning {
			t.Errorf("outcome %+v", out)
		}
		if !strings.Contains(a.Body, `"started":"2026-11-25T18:00:00Z"`) {
			t.Errorf("started not in UTC: %s", a.Body)
		}
		if r := ts.Trigger.req(); r.Schedule != "daily-logins" || r.Wait || r.Adhoc || r.WindowStart != nil {
			t.Errorf("request %+v", r)
		}
	})
	t.Run("wait", func(t *testing.T) {
		a := ts.call(t, "POST", "/api/v1/schedules/daily-logins/run?wait=true", testToken, "")
		wantStatus(t, a, 200)
		out := decode[RunOutcome](t, a)
		if out.Status != "exported" || out.Run.Rows != 42 || out.Key != "daily-logins/obj.csv.gz" {
			t.Errorf("outcome %+v", out)
		}
		if !ts.Trigger.req().Wait {
			t.Error("Wait not passed to the trigger")
		}
	})
	t.Run("window and adhoc", func(t *testing.T) {
		body := `{"window_start": "2026-11-23T00:00:00-08:00", "adhoc": false}`
		wantStatus(t, ts.call(t, "POST", "/api/v1/schedules/daily-logins/run", testToken, body), 202)
		r := ts.Trigger.req()
		if r.WindowStart == nil || !r.WindowStart.Equal(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("window start %v", r.WindowStart)
		}
		wantStatus(t, ts.call(t, "POST", "/api/v1/schedules/daily-logins/run", testToken, `{"adhoc":true}`), 202)
		if r := ts.Trigger.req(); !r.Adhoc || r.WindowStart != nil {
			t.Errorf("request %+v", r)
		}
	})
	t.Run("already archived", func(t *testing.T) {
		ts.Trigger.set(func(f *fakeTrigger) {
			f.runErr = fmt.Errorf("window 2026-11-23: %w", ErrAlreadyArchived)
			f.runOut = RunOutcome{Run: RunRecord{ID: "r-10", Schedule: "daily-logins", Key: "k/2026-11-23.csv.gz", ManifestKey: "k/2026-11-23.manifest.json"}}
		})
		defer ts.Trigger.set(func(f *fakeTrigger) { f.runErr = nil })
		a := ts.call(t, "POST", "/api/v1/schedules/daily-logins/run", testToken, "")
		wantStatus(t, a, 200)
		out := decode[RunOutcome](t, a)
		if out.Status != "already_archived" || out.Key != "k/2026-11-23.csv.gz" || out.Manifest != "k/2026-11-23.manifest.json" {
			t.Errorf("outcome %+v", out)
		}
	})
}

func TestRunNowErrors(t *testing.T) {
	ts := start(t)
	post := func(path, body string) answer {
		return ts.call(t, "POST", path, testToken, body)
	}
	const run = "/api/v1/schedules/daily-logins/run"
	for _, tc := range []struct {
		name, path, body string
		status           int
		code, msg        string
	}{
		{"unknown schedule", "/api/v1/schedules/nope/run", "", 404, codeUnknownSchedule, `unknown schedule "nope"`},
		{"bad json", run, `{"window_start":`, 400, codeBadRequest, "request body"},
		{"unknown field", run, `{"window": "2026-11-23"}`, 400, codeBadRequest, `unknown field "window"`},
		{"wrong type", run, `{"adhoc": "yes"}`, 400, codeBadRequest, "request body"},
		{"two values", run, `{} {}`, 400, codeBadRequest, "more than one JSON value"},
		{"not rfc3339", run, `{"window_start": "2026-11-23"}`, 400, codeBadRequest, "RFC 3339"},
		{"zero time", run, `{"window_start": "0001-01-01T00:00:00Z"}`, 400, codeBadRequest, "zero time"},
		{"bad wait", run + "?wait=maybe", "", 400, codeBadRequest, "wait"},
		{"unknown parameter", run + "?wiat=true", "", 400, codeBadRequest, `unknown query parameter "wiat"`},
		{"too large", run, `{"adhoc": false` + strings.Repeat(" ", maxBodyBytes) + `}`, 413, codeTooLarge, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, post(tc.path, tc.body), tc.status, tc.code)
			if !strings.Contains(e.Error, tc.msg) {
				t.Errorf("message %q lacks %q", e.Error, tc.msg)
			}
		})
	}

	// Errors from the daemon.
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"misaligned window", fmt.Errorf("%w: 2026-11-23T01:00:00Z is not the start of a day window in America/Los_Angeles", ErrBadRequest),
			400, codeBadRequest, "is not the start of a day window"},
		{"running", fmt.Errorf("schedule daily-logins: %w", ErrRunning), 409, codeRunning, `a run of schedule "daily-logins" is in progress`},
		{"shutting down", fmt.Errorf("%w: shutting down", ErrUnavailable), 503, codeUnavailable, "shutting down"},
		{"internal", errCanned, 500, codeInternal, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.Trigger.set(func(f *fakeTrigger) { f.runErr = tc.err })
			a := post(run, "")
			e := wantError(t, a, tc.status, tc.code)
			if !strings.Contains(e.Error, tc.msg) {
				t.Errorf("message %q lacks %q", e.Error, tc.msg)
			}
		})
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	ts := start(t)
	ts.Trigger.set(func(f *fakeTrigger) {
		f.runErr = errCanned
		f.pauseErr = fmt.Errorf("pause: write state to db.internal.example.net: %w", errCanned)
	})
	for _, path := range []string{"/api/v1/schedules/daily-logins/run", "/api/v1/schedules/daily-logins/pause"} {
		// Even an authenticated caller gets no internals in a 500.
		a := ts.call(t, "POST", path, testToken, "")
		e := wantError(t, a, 500, codeInternal)
		for _, secret := range []string{"SELECT", "warehouse.corp.example.com", "example.net", "audit.events"} {
			if strings.Contains(a.Body, secret) {
				t.Errorf("%s: 500 leaks %q: %s", path, secret, a.Body)
			}
		}
		if !strings.Contains(e.Error, e.RequestID) {
			t.Errorf("message %q does not name the request id", e.Error)
		}
		// The log has the full error under the same request id.
		found := false
		for _, l := range ts.Logs.FilterMessage("api call failed").All() {
			c := l.ContextMap()
			if c["request_id"] == e.RequestID && strings.Contains(fmt.Sprint(c["error"]), "SELECT request_id") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no log line with request id %s and the full error", path, e.RequestID)
		}
	}
}

func TestPauseResume(t *testing.T) {
	ts := start(t)
	a := ts.call(t, "POST", "/api/v1/schedules/user-snapshot/pause", testToken, "")
	wantStatus(t, a, 200)
	if got := decode[ScheduleStatus](t, a); !got.Paused || got.Status != StatusPaused {
		t.Errorf("after pause: %+v", got)
	}
	a = ts.call(t, "POST", "/api/v1/schedules/user-snapshot/resume", testToken, "{}")
	wantStatus(t, a, 200)
	if got := decode[ScheduleStatus](t, a); got.Paused || got.Status != StatusIdle {
		t.Errorf("after resume: %+v", got)
	}
	wantError(t, ts.call(t, "POST", "/api/v1/schedules/nope/pause", testToken, ""), 404, codeUnknownSchedule)
	wantError(t, ts.call(t, "POST", "/api/v1/schedules/user-snapshot/pause", testToken, `{"really":true}`), 400, codeBadRequest)
	ts.Trigger.set(func(f *fakeTrigger) {
		f.pauseErr = fmt.Errorf("%w: schedule user-snapshot is disabled in its file", ErrBadRequest)
	})
	e := wantError(t, ts.call(t, "POST", "/api/v1/schedules/user-snapshot/pause", testToken, ""), 400, codeBadRequest)
	if !strings.Contains(e.Error, "disabled in its file") {
		t.Errorf("message %q", e.Error)
	}
}

func TestListRuns(t *testing.T) {
	ts := start(t)
	runs := func(a answer) []RunRecord {
		return decode[struct {
			Runs []RunRecord `json:"runs"`
		}](t, a).Runs
	}
	a := ts.call(t, "GET", "/api/v1/runs", "", "")
	wantStatus(t, a, 200)
	if got := runs(a); len(got) != 3 || got[0].ID != "r-3" {
		t.Errorf("runs %+v", got)
	}
	if ts.Trigger.runsArgs() != [2]any{"", DefaultRunsLimit} {
		t.Errorf("trigger asked for %v, want the default limit", ts.Trigger.runsArgs())
	}
	a = ts.call(t, "GET", "/api/v1/runs?schedule=daily-logins&limit=1", "", "")
	wantStatus(t, a, 200)
	if got := runs(a); len(got) != 1 || got[0].ID != "r-2" {
		t.Errorf("runs %+v", got)
	}
	if ts.Trigger.runsArgs() != [2]any{"daily-logins", 1} {
		t.Errorf("trigger asked for %v", ts.Trigger.runsArgs())
	}
	wantStatus(t, ts.call(t, "GET", fmt.Sprintf("/api/v1/runs?limit=%d", MaxRunsLimit), "", ""), 200)

	// A known schedule without runs is an empty list, not null.
	ts.Trigger.set(func(f *fakeTrigger) {
		f.schedules = append(f.schedules, ScheduleStatus{Name: "new", Cron: "@hourly", Timezone: "UTC", Status: StatusIdle})
	})
	a = ts.call(t, "GET", "/api/v1/runs?schedule=new", "", "")
	wantStatus(t, a, 200)
	if !strings.Contains(a.Body, `"runs":[]`) {
		t.Errorf("body %s", a.Body)
	}
	wantError(t, ts.call(t, "GET", "/api/v1/runs?schedule=nope", "", ""), 404, codeUnknownSchedule)

	calls := ts.Trigger.runsCount()
	for _, q := range []string{"limit=0", "limit=-1", "limit=1001", "limit=ten", "limit=", "limit=1.5", "schedul=x"} {
		wantError(t, ts.call(t, "GET", "/api/v1/runs?"+q, "", ""), 400, codeBadRequest)
	}
	if ts.Trigger.runsCount() != calls {
		t.Error("a bad request reached the trigger")
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	ts := start(t)
	wantError(t, ts.call(t, "GET", "/api/v1/nothing", "", ""), 404, codeNotFound)
	a := ts.call(t, "GET", "/api/v1/schedules/daily-logins/run", "", "")
	wantError(t, a, 405, codeMethodNotAllowed)
	if a.Header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", a.Header.Get("Allow"))
	}
	wantError(t, ts.call(t, "DELETE", "/api/v1/schedules", testToken, ""), 405, codeMethodNotAllowed)
}

func TestMetricsEndpoint(t *testing.T) {
	ts := start(t)
	m := metrics.New(ts.Reg, []string{"daily-logins"})
	m.RunFinished("daily-logins", domain.OutcomeExported, 1200, 34567, 2*time.Second, time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))
	a := ts.call(t, "GET", "/metrics", "", "")
	if a.Status != 200 {
		t.Fatalf("status %d", a.Status)
	}
	for _, want := range []string{
		`exportd_runs_total{outcome="exported",schedule="daily-logins"} 1`,
		`exportd_rows_total{schedule="daily-logins"} 1200`,
		`exportd_last_success_window_end_timestamp_seconds{schedule="daily-logins"} 1.7955072e+09`,
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestAccessLog(t *testing.T) {
	ts := start(t)
	ts.call(t, "POST", "/api/v1/schedules/daily-logins/run", testToken, "")
	ts.call(t, "GET", "/api/v1/schedules", "wrong-token", "")
	lines := ts.Logs.FilterMessage("http request").All()
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2", len(lines))
	}
	first := lines[0]
	if first.Level != zapcore.DebugLevel {
		t.Errorf("level %s, want debug", first.Level)
	}
	c := first.ContextMap()
	if c["method"] != "POST" || c["path"] != "/api/v1/schedules/daily-logins/run" || c["status"] != int64(202) {
		t.Errorf("line %v", c)
	}
	if _, ok := c["duration"]; !ok {
		t.Error("no duration")
	}
	if lines[1].ContextMap()["status"] != int64(401) {
		t.Errorf("second line %v", lines[1].ContextMap())
	}
	for _, l := range ts.Logs.All() {
		if strings.Contains(fmt.Sprint(l.Message, l.ContextMap()), testToken[:12]) ||
			strings.Contains(fmt.Sprint(l.ContextMap()), "wrong-token") {
			t.Errorf("a log line holds a token: %s %v", l.Message, l.ContextMap())
		}
	}
}

func TestPanicIsA500(t *testing.T) {
	ts := start(t, func(o *Options) { o.Trigger = panicTrigger{newFakeTrigger()} })
	wantError(t, ts.call(t, "GET", "/api/v1/schedules", "", ""), 500, codeInternal)
	if ts.Logs.FilterMessage("http handler panicked").Len() != 1 {
		t.Error("panic not logged")
	}
}

type panicTrigger struct{ *fakeTrigger }

func (panicTrigger) Schedules(context.Context) []ScheduleStatus { panic("boom") }

func TestBadRequestReasonOnlyForTrustedCallers(t *testing.T) {
	// Through HTTP an untrusted caller never reaches RunNow (POST needs
	// the token); the rule holds anyway, whatever route reaches fail.
	s, err := New(Options{Trigger: newFakeTrigger(), Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	reason := fmt.Errorf("%w: window 2026-11-23 on warehouse.corp.example.com", ErrBadRequest)
	for _, trust := range []bool{false, true} {
		r := httptest.NewRequest("POST", runPath, nil)
		r = r.WithContext(context.WithValue(r.Context(), trustedKey, trust))
		w := httptest.NewRecorder()
		s.fail(w, r, "daily-logins", reason)
		if w.Code != 400 {
			t.Fatalf("status %d", w.Code)
		}
		if leaked := strings.Contains(w.Body.String(), "corp.example.com"); leaked != trust {
			t.Errorf("trusted=%v: reason shown=%v: %s", trust, leaked, w.Body.String())
		}
	}
}
