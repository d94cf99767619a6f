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
)

// TestConfigCacheAcrossStarts: serve keeps the decoded schedule files in
// state_dir/schedules.cache; the next start takes the unchanged ones from
// it and parses the rest, and a damaged cache is logged, ignored and
// rewritten.
func TestConfigCacheAcrossStarts(t *testing.T) {
	cfg := demoDir(t)
	schedDir := filepath.Join(filepath.Dir(cfg), "..", "schedules")
	cachePath := filepath.Join(filepath.Dir(cfg), "..", "state", "schedules.cache")
	start := func() (hits int, warnings []string) {
		t.Helper()
		core, logs := observer.New(zapcore.WarnLevel)
		a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.New(core), ConfigCache: true})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		for _, e := range logs.All() {
			warnings = append(warnings, e.Message)
		}
		return a.Config().DecodedHits(), warnings
	}
	if hits, w := start(); hits != 0 || len(w) != 0 {
		t.Fatalf("first start: %d files from the cache, warnings %q; want 0 and none", hits, w)
	}
	if st, err := os.Stat(cachePath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("state_dir/schedules.cache after the first start: %v, %v; want mode 0600", st, err)
	}
	if hits, _ := start(); hits != 2 {
		t.Fatalf("restart: %d files from the cache, want both", hits)
	}
	// An edit (even a comment) is a different file: parsed again.
	f := filepath.Join(schedDir, "audit-log-rows.yaml")
	data, _ := os.ReadFile(f)
	os.WriteFile(f, append(data, "# edited\n"...), 0o644)
	if hits, _ := start(); hits != 1 {
		t.Fatalf("after an edit: %d files from the cache, want 1", hits)
	}
	if hits, _ := start(); hits != 2 {
		t.Fatalf("after the edit was cached: %d files from the cache, want 2", hits)
	}
	os.WriteFile(cachePath, []byte("garbage"), 0o600)
	if hits, w := start(); hits != 0 || len(w) != 1 || !strings.Contains(w[0], "ignoring the decoded-schedules cache") {
		t.Fatalf("damaged cache: %d files from it, warnings %q; want 0 and one warning", hits, w)
	}
	if hits, w := start(); hits != 2 || len(w) != 0 {
		t.Fatalf("after the damaged cache was rewritten: %d files from it, warnings %q", hits, w)
	}
}

// TestReloadParsesOnlyChangedFiles: a reload takes the files it loaded
// last time from memory.
func TestReloadParsesOnlyChangedFiles(t *testing.T) {
	cfg := demoDir(t)
	core, logs := observer.New(zapcore.InfoLevel)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.New(core), ConfigCache: true, Now: func() time.Time { return time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	d, err := app.NewDaemon(a, app.DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := filepath.Join(filepath.Dir(cfg), "..", "schedules", "daily-login-activity.yaml")
	data, _ := os.ReadFile(f)
	os.WriteFile(f, []byte(strings.Replace(string(data), "description: Daily logins", "description: edited", 1)), 0o644)
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	var unchanged int64 = -1
	for _, e := range logs.FilterMessage("configuration reloaded").All() {
		unchanged = e.ContextMap()["schedule_files_unchanged"].(int64)
	}
	if unchanged != 1 {
		t.Fatalf("reload took %d files from the last load, want 1 (the other was edited)", unchanged)
	}
	for _, s := range d.Schedules() {
		if s.Name == "daily-login-activity" && !strings.HasPrefix(s.Description, "edited") {
			t.Errorf("the edited file was not reloaded: description %q", s.Description)
		}
	}
}
