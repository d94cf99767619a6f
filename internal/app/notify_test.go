package app_test

import (
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

// TestDataAlertOnTheDemo: a data alert on Daily Login Activity fires on
// the demo's failed-login spike day (2026-10-10, 260+ failures) and a
// stricter one does not; the webhook receiver checks each signature.
func TestDataAlertOnTheDemo(t *testing.T) {
	const secret = "demo-webhook-secret"
	rcv := newSignedReceiver(t, secret)
	cfg := demoWithWebhook(t, secret, rcv.url)
	mu, events, bad := &rcv.mu, &rcv.events, &rcv.bad
	sched := filepath.Join(filepath.Dir(cfg), "..", "schedules", "daily-login-activity.yaml")
	sdata, err := os.ReadFile(sched)
	if err != nil {
		t.Fatal(err)
	}
	sdata = append(sdata, []byte(`notify: [ops]
alerts:
  - name: failed-login spike
    when: "[Failure] > 100"
  - name: impossible
    when: "[Failure] > 100000 Or IsNull([Day of Request Time])"
`)...)
	if err := os.WriteFile(sched, sdata, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	d := serving(t, a, app.DaemonOptions{WatchInterval: -1})
	rec, err := d.RunNow(context.Background(), app.RunNowRequest{Schedule: "daily-login-activity", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Rows < 80 {
		t.Fatalf("run = %+v, want ~90 daily rows", rec)
	}
	waitFor(t, "the data alert", func() bool { mu.Lock(); defer mu.Unlock(); return len(*events) > 0 || len(*bad) > 0 })
	// Give a wrongly firing second alert the time to arrive too.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(*bad) > 0 {
		t.Fatalf("receiver refused: %v", *bad)
	}
	if len(*events) != 1 {
		t.Fatalf("events = %+v, want only the spike alert", *events)
	}
	e := (*events)[0]
	if e.Kind != notify.KindDataAlert || e.Schedule != "daily-login-activity" || e.Rows != 1 ||
		!strings.Contains(e.Summary, `"failed-login spike"`) || !strings.Contains(e.Summary, "Day of Request Time=2026-10-10") {
		t.Fatalf("event = %+v", e)
	}
}

// TestDataAlertBadConditionIsLocated: a condition on an unknown column or
// of the wrong type stops the load with the file, line and column.
func TestDataAlertBadConditionIsLocated(t *testing.T) {
	cfg := demoDir(t)
	sched := filepath.Join(filepath.Dir(cfg), "..", "schedules", "daily-login-activity.yaml")
	sdata, err := os.ReadFile(sched)
	if err != nil {
		t.Fatal(err)
	}
	sdata = append(sdata, []byte("alerts:\n  - when: \"[Failures] > 100\"\n  - when: \"[Failure] + 1\"\n")...)
	if err := os.WriteFile(sched, sdata, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop()})
	if err == nil {
		t.Fatal("loaded a schedule with bad data alerts")
	}
	msg := err.Error()
	for _, want := range []string{"daily-login-activity.yaml:", "alerts[0].when", "unknown column [Failures]", "[Failure]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// TestPauseAndFailureNotified: a schedule that fails after its retries
// tells its webhook each time, and once paused after
// pause_after_failures consecutive failures tells it that too.
func TestPauseAndFailureNotified(t *testing.T) {
	const secret = "pause-webhook-secret"
	rcv := newSignedReceiver(t, secret)
	cfg := demoWithWebhook(t, secret, rcv.url)
	mu, events, bad := &rcv.mu, &rcv.events, &rcv.bad
	schedDir := filepath.Join(filepath.Dir(cfg), "..", "schedules")
	failing := `name: broken
source: demo
cron: "0 * * * *"
pause_after_failures: 2
retries: {attempts: 1}
notify: [ops]
element:
  from: {sql: "SELECT REQUEST_ID, error('the warehouse is down') AS BOOM FROM AUDIT_LOGS"}
destination: {integration: local, prefix: pause}
`
	if err := os.WriteFile(filepath.Join(schedDir, "broken.yaml"), []byte(failing), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	d := serving(t, a, app.DaemonOptions{WatchInterval: -1})
	for range 2 {
		if _, err := d.RunNow(context.Background(), app.RunNowRequest{Schedule: "broken", Wait: true}); err == nil {
			t.Fatal("the broken schedule ran")
		}
		now = now.Add(time.Hour)
	}
	waitFor(t, "the pause notification", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(*events) >= 3 || len(*bad) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(*bad) > 0 {
		t.Fatalf("receiver refused: %v", *bad)
	}
	kinds := map[string]int{}
	for _, e := range *events {
		kinds[e.Kind]++
		if e.Schedule != "broken" {
			t.Errorf("event of %q", e.Schedule)
		}
		if e.Kind == notify.KindRunFailed && !strings.Contains(e.Error, "the warehouse is down") {
			t.Errorf("failure event without the error: %+v", e)
		}
		if e.Kind == notify.KindPaused && e.Failures != 2 {
			t.Errorf("pause event = %+v", e)
		}
	}
	if kinds[notify.KindPaused] != 1 || kinds[notify.KindRunFailed] != 2 {
		t.Errorf("events by kind = %v", kinds)
	}
}

// signedReceiver is a webhook receiver on 127.0.0.1 that keeps the events
// whose HMAC signature checks out and the reasons it refused the others.
type signedReceiver struct {
	url    string
	mu     sync.Mutex
	events []notify.Event
	bad    []string
}

func newSignedReceiver(t *testing.T, secret string) *signedReceiver {
	t.Helper()
	rcv := &signedReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if err := notify.Verify([]byte(secret), r.Header.Get(notify.SignatureHeader), r.Header.Get(notify.TimestampHeader), body, time.Now(), time.Minute); err != nil {
			rcv.bad = append(rcv.bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var e notify.Event
		if err := json.Unmarshal(body, &e); err != nil {
			rcv.bad = append(rcv.bad, err.Error())
		}
		rcv.events = append(rcv.events, e)
	}))
	t.Cleanup(srv.Close)
	rcv.url = srv.URL + "/exportd"
	return rcv
}

// demoWithWebhook is a demo config whose notifier ops posts to url,
// signed with secret (given as an environment reference).
func demoWithWebhook(t *testing.T, secret, url string) string {
	t.Helper()
	cfg := demoDir(t)
	t.Setenv("EXPORTD_TEST_HOOK_SECRET", secret)
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte("\nnotify:\n  ops:\n    type: webhook\n    url: "+url+"\n    secret: ${EXPORTD_TEST_HOOK_SECRET}\n")...)
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}
