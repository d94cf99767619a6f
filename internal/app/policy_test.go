package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/domain"
)

// TestConditionAndRetention: a window skipped by its condition and windows
// older than the source's retention get manifests saying so, and no object.
func TestConditionAndRetention(t *testing.T) {
	cfg := demoDir(t)
	schedDir := filepath.Join(filepath.Dir(cfg), "..", "schedules")
	end, _ := time.Parse(time.RFC3339, demoEnd)
	// Daily windows from 95 days before the demo data ends: the first five
	// are older than the demo source's 90-day retention.
	start := end.AddDate(0, 0, -95)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(schedDir, name+".yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("no-such-events", `name: no-such-events
source: demo
cron: "0 6 * * *"
condition: if_data
element:
  from: {table: AUDIT_LOGS}
  filters: ['[Event Type] = "NO_SUCH_EVENT"']
destination: {integration: local, prefix: policy}
`)
	write("old-days", fmt.Sprintf(`name: old-days
source: demo
cron: "0 6 * * *"
window: {every: day, column: Request Time, lag: 0s, start: %s}
element:
  from: {table: AUDIT_LOGS}
  columns: [{name: Request Id, formula: "[Request Id]"}]
destination: {integration: local, prefix: policy}
`, start.Format("2006-01-02")))
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()

	res, err := a.RunOnce(ctx, app.RunRequest{Schedule: "no-such-events", At: end})
	if err != nil || res.Kind != domain.KindSkipped || res.Object != nil {
		t.Fatalf("if_data on an empty element: %+v %v", res, err)
	}
	m := readManifest(t, filepath.Join(filepath.Dir(cfg), "..", "archive", res.ManifestKey))
	if m.Kind != domain.KindSkipped || len(m.Objects) != 0 || !strings.Contains(m.Reason, "if_data") {
		t.Fatalf("skipped manifest: %+v", m)
	}

	fr, err := a.Fire(ctx, "old-days", end, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 95 closed days: the 5 entirely older than the cutoff are lost, the
	// 90 others (the first of them partly at risk) are exported.
	if fr.Lost != 5 || fr.Exported != 90 {
		t.Fatalf("fire: %+v, want 5 lost and 90 exported", fr)
	}
	lost := 0
	for _, p := range files(t, filepath.Join(filepath.Dir(cfg), "..", "archive", "policy", "old-days"), ".manifest.json") {
		if m := readManifest(t, p); m.Kind == domain.KindLost {
			lost++
			if len(m.Objects) != 0 || m.Window == nil || !m.Window.End.Before(end.AddDate(0, 0, -89)) {
				t.Errorf("lost manifest %s: %+v", p, m)
			}
		}
	}
	if lost != 5 {
		t.Fatalf("%d lost manifests, want 5", lost)
	}
}
