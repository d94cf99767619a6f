package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/notify"
)

// TestWindowLostNotified: windows the catch-up records as lost (older than
// the source's retention) are each told to the schedule's webhook, signed,
// as window_lost with the window's unit; the windows it exports are not.
func TestWindowLostNotified(t *testing.T) {
	const secret = "lost-webhook-secret"
	rcv := newSignedReceiver(t, secret)
	cfg := demoWithWebhook(t, secret, rcv.url)
	dir := filepath.Dir(filepath.Dir(cfg))
	sched := filepath.Join(dir, "schedules", "audit-log-rows.yaml")
	// The source keeps 20 days; the schedule starts earlier, so its first
	// windows are past retention.
	edit(t, sched, "  every: day\n", "  every: day\n  start: 2026-10-07T00:00:00Z\n")
	edit(t, cfg, "retention: 90d", "retention: 20d")
	data, err := os.ReadFile(sched)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sched, append(data, []byte("notify: [ops]\n")...), 0o644); err != nil {
		t.Fatal(err)
	}

	url := runningDaemon(t, cfg, time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}

	// The catch-up is over when the newest closed window is archived.
	lastEnd := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	waitFor(t, "the catch-up", func() bool {
		var s app.ScheduleStatus
		get("/api/v1/schedules/audit-log-rows", &s)
		return s.Freshness.Equal(lastEnd)
	})
	var runs struct {
		Runs []app.RunRecord `json:"runs"`
	}
	get("/api/v1/runs?schedule=audit-log-rows&limit=1000", &runs)
	var lost, exported []string
	for _, r := range runs.Runs {
		switch r.Outcome {
		case domain.OutcomeLost:
			lost = append(lost, r.Unit)
		case domain.OutcomeExported:
			exported = append(exported, r.Unit)
		}
	}
	if len(lost) == 0 || len(exported) == 0 {
		t.Fatalf("the catch-up recorded %d lost and %d exported windows, want some of each", len(lost), len(exported))
	}
	waitFor(t, "a notification per lost window", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.events) >= len(lost) || len(rcv.bad) > 0
	})
	time.Sleep(200 * time.Millisecond) // room for a wrong extra event to arrive
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bad) > 0 {
		t.Fatalf("receiver refused: %v", rcv.bad)
	}
	var told []string
	for _, e := range rcv.events {
		if e.Kind != notify.KindWindowLost || e.Schedule != "audit-log-rows" || !strings.Contains(e.Summary, "recorded as lost") ||
			!strings.Contains(e.Summary, e.Key) || e.Window == "" {
			t.Errorf("event = %+v, want window_lost of audit-log-rows with its window", e)
		}
		told = append(told, e.Key)
	}
	sort.Strings(lost)
	sort.Strings(told)
	if strings.Join(told, " ") != strings.Join(lost, " ") {
		t.Errorf("window_lost told for %v, the windows recorded lost are %v", told, lost)
	}
}
