package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/exportd/exportd/internal/app"
)

// TestCatchUpRunsBesideTheScheduler: the catch-up at start does not hold
// the daemon up. While a long one is still going (30 slow windows, one at
// a time), the daemon already watches its files: a schedule added then is
// loaded. (The watcher and the cron fire loop start together.)
func TestCatchUpRunsBesideTheScheduler(t *testing.T) {
	cfg := demoDir(t)
	cfgData, _ := os.ReadFile(cfg)
	one := bytes.Replace(cfgData, []byte("max_concurrent: 4"), []byte("max_concurrent: 1"), 1)
	if bytes.Equal(one, cfgData) {
		t.Fatal("config/exportd.yaml: no max_concurrent: 4 to change")
	}
	os.WriteFile(cfg, one, 0o644)
	end, _ := time.Parse(time.RFC3339, demoEnd)
	schedDir := onlySlowDays(t, cfg, end.AddDate(0, 0, -30), 200, "slow")
	core, logs := observer.New(zapcore.InfoLevel)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.New(core), Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	d := serving(t, a, app.DaemonOptions{WatchInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "the first window of the catch-up", func() bool { return logs.FilterMessage("exported").Len() > 0 })
	extra := "name: extra\nsource: demo\ncron: \"0 * * * *\"\nelement:\n  from: {table: AUDIT_LOGS}\ndestination: {integration: local, prefix: extra}\n"
	if err := os.WriteFile(filepath.Join(schedDir, "extra.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new schedule to be loaded", func() bool {
		for _, s := range d.Schedules() {
			if s.Name == "extra" {
				return true
			}
		}
		return false
	})
	exported := logs.FilterMessage("exported").Len()
	if logs.FilterMessage("catch-up at start finished").Len() > 0 || exported >= 30 {
		t.Fatalf("the new schedule was loaded only after the catch-up at start (%d windows exported)", exported)
	}
	t.Logf("reloaded while the catch-up at start had exported %d of 30 windows", exported)
}
