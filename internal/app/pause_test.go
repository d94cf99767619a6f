package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/domain"
)

// TestPauseSurvivesRestart: a schedule paused after consecutive failures
// is still paused when the daemon starts again (a deploy must not quietly
// resume it) and its catch-up at start does not run; a resume survives the
// next restart too. The run history survives the restarts as well.
func TestPauseSurvivesRestart(t *testing.T) {
	cfg := demoDir(t)
	schedDir := filepath.Join(filepath.Dir(cfg), "..", "schedules")
	os.Remove(filepath.Join(schedDir, "audit-log-rows.yaml"))
	// The query compiles and describes, and fails when it runs.
	failing := `name: broken
source: demo
cron: "0 * * * *"
pause_after_failures: 1
retries: {attempts: 1}
element:
  from: {sql: "SELECT REQUEST_ID, error('the warehouse is down') AS BOOM FROM AUDIT_LOGS"}
destination: {integration: local, prefix: pause}
`
	if err := os.WriteFile(filepath.Join(schedDir, "broken.yaml"), []byte(failing), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	brokenRuns := func(d *app.Daemon) int { return len(d.Runs("broken", 1000)) }
	// serve starts a daemon, lets it catch up at start and stops it; ran
	// is how many runs of broken it made.
	serve := func() (d *app.Daemon, ran int) {
		t.Helper()
		core, logs := observer.New(zapcore.InfoLevel)
		a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.New(core), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		d = serving(t, a, app.DaemonOptions{WatchInterval: -1})
		before := brokenRuns(d)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		deadline := time.Now().Add(2 * time.Minute)
		for logs.FilterMessage("catch-up at start finished").Len() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the daemon did not finish its catch-up at start within 2 minutes")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return d, brokenRuns(d) - before
	}
	status := func(d *app.Daemon) app.ScheduleStatus {
		t.Helper()
		for _, s := range d.Schedules() {
			if s.Name == "broken" {
				return s
			}
		}
		t.Fatal("no schedule broken")
		return app.ScheduleStatus{}
	}

	// First start: the catch-up runs it, it fails, and one failure pauses it.
	d, ran := serve()
	if st := status(d); !st.Paused || st.ConsecutiveFailures != 1 || ran != 1 {
		t.Fatalf("first start: %+v, %d runs; want one failed run and paused", st, ran)
	}

	// Restart: still paused, and the catch-up at start leaves it alone.
	d, ran = serve()
	if st := status(d); !st.Paused || st.Status != "paused" || st.ConsecutiveFailures != 1 {
		t.Fatalf("after restart: %+v, want paused with 1 failure", st)
	}
	if ran != 0 {
		t.Errorf("a paused schedule ran at start (%d runs)", ran)
	}
	// The run history survived the restart: the failed run is still there.
	if runs := d.Runs("broken", 10); len(runs) != 1 || runs[0].Outcome != domain.OutcomeFailed || !strings.Contains(runs[0].Error, "the warehouse is down") {
		t.Errorf("restored history of broken: %+v, want its one failed run", runs)
	}
	if st := status(d); st.LastRun == nil || st.LastRun.Outcome != domain.OutcomeFailed {
		t.Errorf("restored last run: %+v", st.LastRun)
	}
	// serve --once leaves it alone too.
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := a.CatchUp(context.Background(), nil)
	a.Close()
	if err != nil || fr.Failed != 0 {
		t.Errorf("serve --once on a paused schedule: %+v, %v; want it skipped", fr, err)
	}

	// Resume, restart: it runs (and fails, and pauses) again.
	if err := d.Resume("broken"); err != nil {
		t.Fatal(err)
	}
	d, ran = serve()
	if ran != 1 {
		t.Errorf("a resumed schedule did not run at start (%d runs)", ran)
	}
	// Run ids go on from the restored history.
	runs := d.Runs("broken", 10)
	if len(runs) != 2 || runs[0].ID == runs[1].ID {
		t.Errorf("history after the third start: %+v", runs)
	}
}
