package app_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/domain"
)

// TestRunLogLineCarriesTheRun checks the log line of an exported window
// has what an operator needs to find the run: schedule, window, rows,
// bytes, key, duration and attempt.
func TestRunLogLineCarriesTheRun(t *testing.T) {
	cfg := demoDir(t)
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	core, logs := observer.New(zapcore.InfoLevel)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.New(core), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	start := time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)
	if _, err := a.RunOnce(context.Background(), app.RunRequest{Schedule: "audit-log-rows", WindowStart: start}); err != nil {
		t.Fatal(err)
	}
	d, err := app.NewDaemon(a, app.DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	// The daemon's run of the next window logs it.
	rec, err := d.RunNow(context.Background(), app.RunNowRequest{Schedule: "audit-log-rows", WindowStart: start.AddDate(0, 0, 1), Wait: true})
	if err != nil || rec.Outcome != domain.OutcomeExported {
		t.Fatalf("run now: %+v, %v", rec, err)
	}
	lines := logs.FilterMessage("exported").All()
	if len(lines) != 1 {
		t.Fatalf("%d exported lines, want 1: %v", len(lines), lines)
	}
	f := lines[0].ContextMap()
	want := map[string]any{
		"schedule":     "audit-log-rows",
		"unit":         "20261031T000000Z-20261101T000000Z",
		"window_start": start.AddDate(0, 0, 1),
		"window_end":   start.AddDate(0, 0, 2),
		"attempt":      int64(1),
		"rows":         rec.Rows,
		"key":          rec.Key,
	}
	for k, v := range want {
		got, ok := f[k]
		if tv, isTime := got.(time.Time); isTime {
			got = tv.UTC()
		}
		if !ok || got != v {
			t.Errorf("field %s = %#v, want %#v", k, got, v)
		}
	}
	for _, k := range []string{"bytes", "duration"} {
		if _, ok := f[k]; !ok {
			t.Errorf("no %s field: %v", k, f)
		}
	}
}
