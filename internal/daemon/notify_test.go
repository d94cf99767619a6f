package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/notify"
)

// TestMissingWindowsNotifiedOnce: with nothing archived, the windows of
// audit-log-rows closed past their lag are missing; the check sends one
// event for the backlog (not one per window), and a second check within
// the rate limit sends nothing more.
func TestMissingWindowsNotifiedOnce(t *testing.T) {
	const secret = "missing-webhook-secret"
	var (
		mu     sync.Mutex
		events []notify.Event
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Verify([]byte(secret), r.Header.Get(notify.SignatureHeader), r.Header.Get(notify.TimestampHeader), body, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var e notify.Event
		_ = json.Unmarshal(body, &e)
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	defer srv.Close()

	wd, _ := os.Getwd()
	root := filepath.Join(wd, "..", "..")
	dir := t.TempDir()
	for _, sub := range []string{"config", "schedules"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(root, sub))); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(dir, "schedules", "daily-login-activity.yaml"))
	cfg := filepath.Join(dir, "config", "exportd.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`demo_seed: "42"`), []byte(`demo_seed: "42"`+"\n      demo_end: \"2026-11-01T00:00:00Z\""), 1)
	data = append(data, []byte("\nnotify:\n  ops:\n    type: webhook\n    url: "+srv.URL+"\n    secret: ${EXPORTD_TEST_HOOK_SECRET}\n")...)
	data = bytes.Replace(data, []byte("defaults:\n"), []byte("defaults:\n  notify: [ops]\n"), 1)
	if !bytes.Contains(data, []byte("notify: [ops]")) {
		data = append(data, []byte("defaults:\n  notify: [ops]\n")...)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXPORTD_TEST_HOOK_SECRET", secret)
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := app.NewDaemon(a, app.DaemonOptions{WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.CheckMissing(context.Background())
	d.CheckMissing(context.Background())
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no window_missing event")
		}
	}
	time.Sleep(200 * time.Millisecond) // a wrong second event would be here by now
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 {
		t.Fatalf("events = %+v, want one", events)
	}
	e := events[0]
	// The window of 2026-10-31 closes at 2026-11-01T00:00 + 2h lag; with
	// the 15 minute grace it is missing at 03:00.
	if e.Kind != notify.KindWindowMissing || e.Schedule != "audit-log-rows" || !strings.Contains(e.Summary, "window(s) missing") ||
		!strings.Contains(e.Summary, "89 window(s)") || !strings.Contains(e.Summary, "newest 20261031T000000Z-20261101T000000Z") {
		t.Fatalf("event = %+v", e)
	}
}
