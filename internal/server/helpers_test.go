package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/exportd/exportd/internal/domain"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testToken = "s3cret-token-0123456789abcdef"
	// secretError is what a failing Trigger says: SQL text and a host
	// name, which must never reach a client that is not authenticated,
	// nor any client in a 500.
	secretError = "query failed: SELECT request_id FROM audit.events WHERE ts >= ? on warehouse.corp.example.com:443: connection reset"
)

var la = mustLoad("America/Los_Angeles")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// fakeTrigger is a daemon with canned state.
type fakeTrigger struct {
	mu        sync.Mutex
	schedules []ScheduleStatus
	runs      []RunRecord

	runErr   error      // RunNow returns it when set
	runOut   RunOutcome // with runErr
	pauseErr error
	readyErr error
	// windows are the canned windows of every windowed schedule.
	windows    []WindowStatus
	windowsErr error

	// block, when set, makes RunNow wait for it (or for ctx); entered is
	// closed when RunNow starts waiting.
	block   chan struct{}
	entered chan struct{}
	// unwind is how long RunNow takes to return once ctx is done, like a
	// daemon that aborts an upload first.
	unwind time.Duration

	inRunNow  int // RunNow calls not returned yet
	lastReq   *RunRequest
	lastRuns  [2]any // schedule, limit of the last Runs call
	runsCalls int
}

var _ Trigger = (*fakeTrigger)(nil)

func newFakeTrigger() *fakeTrigger {
	end := time.Date(2026, 11, 24, 0, 0, 0, 0, la)
	return &fakeTrigger{
		schedules: []ScheduleStatus{
			{
				Name: "daily-logins", Description: "Logins per day for the SOX audit", Cron: "15 2 * * *",
				Timezone: "America/Los_Angeles", Windowed: true,
				NextFire: time.Date(2026, 11, 25, 2, 15, 0, 0, la),
				LastRun: &RunRecord{
					ID: "r-2", Schedule: "daily-logins", Unit: "2026-11-23", Trigger: TriggerCron,
					Window:  &Window{Start: end.AddDate(0, 0, -1), End: end},
					Logical: time.Date(2026, 11, 24, 2, 15, 0, 0, la), Started: time.Date(2026, 11, 24, 2, 15, 1, 0, la),
					Finished: time.Date(2026, 11, 24, 2, 15, 9, 0, la), Outcome: "failed", Attempt: 3, Error: secretError,
				},
				Status: StatusFailing, Freshness: end.AddDate(0, 0, -1), LostWindows: 2, ConsecutiveFailures: 3,
			},
			{
				Name: "user-snapshot", Description: `<script>alert("x")</script>`, Cron: "@daily", Timezone: "UTC",
				Status: StatusIdle,
			},
		},
		runs: []RunRecord{
			{ID: "r-3", Schedule: "user-snapshot", Trigger: TriggerAPI, Outcome: "exported", Rows: 10, Bytes: 300,
				Started: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Key: "user-snapshot/2026/11/24/x.csv.gz", ManifestKey: "m3"},
			{ID: "r-2", Schedule: "daily-logins", Trigger: TriggerCron, Outcome: "failed", Error: secretError,
				Started: time.Date(2026, 11, 24, 2, 15, 1, 0, la)},
			{ID: "r-1", Schedule: "daily-logins", Trigger: TriggerCatchUp, Outcome: "exported", Rows: 5, Bytes: 99,
				Started: time.Date(2026, 11, 23, 2, 15, 1, 0, la)},
		},
	}
}

// set changes the canned state under the lock (the server reads it from
// other goroutines).
func (f *fakeTrigger) set(change func(*fakeTrigger)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// req is the last run request.
func (f *fakeTrigger) req() *RunRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastReq
}

// runsArgs is the schedule and limit of the last Runs call.
func (f *fakeTrigger) runsArgs() [2]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastRuns
}

func (f *fakeTrigger) runsCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runsCalls
}

func (f *fakeTrigger) known(name string) bool {
	return slices.ContainsFunc(f.schedules, func(s ScheduleStatus) bool { return s.Name == name })
}

func (f *fakeTrigger) Schedules(ctx context.Context) []ScheduleStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.schedules)
}

func (f *fakeTrigger) RunNow(ctx context.Context, req RunRequest) (RunOutcome, error) {
	f.mu.Lock()
	f.inRunNow++
	defer f.set(func(f *fakeTrigger) { f.inRunNow-- })
	r := req
	f.lastReq = &r
	block, entered, runErr, runOut, unwind := f.block, f.entered, f.runErr, f.runOut, f.unwind
	known := f.known(req.Schedule)
	f.mu.Unlock()
	if !known {
		return RunOutcome{}, fmt.Errorf("run %q: %w", req.Schedule, ErrUnknownSchedule)
	}
	if block != nil {
		close(entered)
		select {
		case <-block:
		case <-ctx.Done():
			time.Sleep(unwind)
			return RunOutcome{}, fmt.Errorf("waiting for run: %w", ctx.Err())
		}
	}
	if runErr != nil {
		return runOut, runErr
	}
	run := RunRecord{ID: "r-9", Schedule: req.Schedule, Trigger: TriggerAPI,
		Started: time.Date(2026, 11, 25, 10, 0, 0, 0, la), Outcome: domain.OutcomeRunning}
	if !req.Wait {
		return RunOutcome{Run: run}, nil
	}
	run.Outcome, run.Rows, run.Bytes = "exported", 42, 4200
	run.Finished = run.Started.Add(3 * time.Second)
	run.Key, run.ManifestKey = req.Schedule+"/obj.csv.gz", req.Schedule+"/obj.manifest.json"
	return RunOutcome{Status: "exported", Key: run.Key, Manifest: run.ManifestKey, Run: run}, nil
}

func (f *fakeTrigger) Runs(ctx context.Context, schedule string, limit int) []RunRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastRuns = [2]any{schedule, limit}
	f.runsCalls++
	var out []RunRecord
	for _, r := range f.runs {
		if schedule == "" || r.Schedule == schedule {
			out = append(out, r)
		}
	}
	// Return more than asked for: the server must still honour limit.
	_ = limit
	return out
}

func (f *fakeTrigger) setPaused(name string, paused bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pauseErr != nil {
		return f.pauseErr
	}
	for i := range f.schedules {
		if f.schedules[i].Name == name {
			f.schedules[i].Paused = paused
			f.schedules[i].Status = StatusIdle
			if paused {
				f.schedules[i].Status = StatusPaused
			}
			return nil
		}
	}
	return fmt.Errorf("pause %q: %w", name, ErrUnknownSchedule)
}

func (f *fakeTrigger) Pause(ctx context.Context, name string) error  { return f.setPaused(name, true) }
func (f *fakeTrigger) Resume(ctx context.Context, name string) error { return f.setPaused(name, false) }

func (f *fakeTrigger) Windows(ctx context.Context, name string, n int) ([]WindowStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.schedules, func(s ScheduleStatus) bool { return s.Name == name })
	switch {
	case i < 0:
		return nil, fmt.Errorf("windows of %q: %w", name, ErrUnknownSchedule)
	case f.windowsErr != nil:
		return nil, f.windowsErr
	case !f.schedules[i].Windowed:
		return nil, nil
	}
	return slices.Clone(f.windows), nil
}

func (f *fakeTrigger) Ready(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readyErr
}

// testServer is a Server serving on 127.0.0.1 through Serve.
type testServer struct {
	URL     string
	Server  *Server
	Trigger *fakeTrigger
	Logs    *observer.ObservedLogs
	Reg     *prometheus.Registry
	client  *http.Client
	stop    func() error
}

// start serves a fake daemon with opts applied to a baseline (token set,
// loopback). Cleanup stops it and checks the shutdown was clean.
func start(t *testing.T, opts ...func(*Options)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	ts := &testServer{Trigger: newFakeTrigger(), Logs: logs, Reg: prometheus.NewRegistry()}
	o := Options{
		Token: testToken, Loopback: true, Trigger: ts.Trigger, Gatherer: ts.Reg,
		Logger: zap.New(core), Version: "v0.0.0-test",
	}
	for _, f := range opts {
		f(&o)
	}
	ts.Server, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Server.Serve(ctx, ln) }()
	ts.URL = "http://" + ln.Addr().String()
	tr := &http.Transport{}
	// Redirects are answers to check (the pages' sign-in), not to follow.
	ts.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var once sync.Once
	stopped := false // by the test, which then checks the error itself
	ts.stop = func() error {
		var err error
		once.Do(func() {
			stopped = true
			cancel()
			err = <-done
			tr.CloseIdleConnections()
		})
		return err
	}
	t.Cleanup(func() {
		if stopped {
			return
		}
		if err := ts.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// answer is an HTTP answer read in full.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

// call sends a request; token "" sends no Authorization header.
func (ts *testServer) call(t *testing.T, method, path, token, body string, header ...string) answer {
	t.Helper()
	a, err := ts.try(method, path, token, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// try is call for goroutines other than the test's.
func (ts *testServer) try(method, path, token, body string, header ...string) (answer, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}, err
}

// clientFor is an API client of ts with token.
func (ts *testServer) clientFor(token string) *Client {
	return &Client{BaseURL: ts.URL, Token: token, HTTP: ts.client}
}

var errCanned = errors.New(secretError)
