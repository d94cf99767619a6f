package app_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// TestRecheckWritesRevisionForLateRows archives two days, lets the source
// receive a late row for the first, and checks that the recheck three days
// later writes revision 2 (kind superseded, linking the original, which
// stays) and only once.
func TestRecheckWritesRevisionForLateRows(t *testing.T) {
	cfg := demoDir(t)
	dir := filepath.Dir(cfg)
	dbPath := filepath.Join(dir, "..", "state", "events.duckdb")
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "demo", "events.sql"), []byte(
		`CREATE TABLE IF NOT EXISTS EVENTS AS
		 SELECT TIMESTAMP '2026-10-01 00:30:00' + to_hours(i) AS EVENT_TIME, 'e' || i AS ID FROM range(48) t(i);`), 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(cfg)
	s := replaceOnce(string(data), "sources:\n", `sources:
  events:
    type: duckdb
    path: ../state/events.duckdb
    init: [demo/events.sql]
`)
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	schedDir := filepath.Join(dir, "..", "schedules")
	for _, f := range []string{"audit-log-rows.yaml", "daily-login-activity.yaml"} {
		os.Remove(filepath.Join(schedDir, f))
	}
	if err := os.WriteFile(filepath.Join(schedDir, "events-daily.yaml"), []byte(`name: events-daily
source: events
cron: "30 0 * * *"
window: {every: day, column: Event Time, lag: 0s, start: 2026-10-01}
recheck: 3d
element:
  from: {table: EVENTS}
  order_by: [{column: Event Time}, {column: Id}]
destination: {integration: local, prefix: late}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fire := func(T time.Time) app.FireResult {
		t.Helper()
		a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return T }})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		fr, err := a.Fire(context.Background(), "events-daily", T, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fr
	}
	if fr := fire(time.Date(2026, 10, 3, 0, 30, 0, 0, time.UTC)); fr.Exported != 2 {
		t.Fatalf("first fire: %+v, want the two closed days exported", fr)
	}
	// A late delivery for Oct 1.
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO EVENTS VALUES (TIMESTAMP '2026-10-01 12:45:00', 'late-1')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	archiveDir := filepath.Join(dir, "..", "archive", "late", "events-daily", "dt=2026-10-01")
	fire(time.Date(2026, 10, 4, 0, 30, 0, 0, time.UTC)) // not yet due (Oct 2 + 3d)
	if m := files(t, archiveDir, ".manifest.json"); len(m) != 1 {
		t.Fatalf("manifests before the recheck is due: %v", m)
	}
	fire(time.Date(2026, 10, 5, 0, 30, 0, 0, time.UTC)) // Oct 1 window: due at Oct 5 00:00
	mans := files(t, archiveDir, ".manifest.json")
	if len(mans) != 2 {
		t.Fatalf("manifests after the recheck: %v, want the original and revision 2", mans)
	}
	orig := readManifest(t, filepath.Join(archiveDir, "20261001T000000Z-20261002T000000Z.manifest.json"))
	rev := readManifest(t, filepath.Join(archiveDir, "20261001T000000Z-20261002T000000Z.r2.manifest.json"))
	origBytes, _ := os.ReadFile(filepath.Join(archiveDir, "20261001T000000Z-20261002T000000Z.manifest.json"))
	if rev.Kind != domain.KindSuperseded || rev.Revision != 2 || rev.Supersedes == nil ||
		rev.Supersedes.SHA256 != archive.SHA256Hex(origBytes) ||
		rev.Supersedes.Key != "late/events-daily/dt=2026-10-01/20261001T000000Z-20261002T000000Z.manifest.json" {
		t.Fatalf("revision manifest: %+v supersedes %+v", rev, rev.Supersedes)
	}
	if orig.Objects[0].Rows != 24 || rev.Objects[0].Rows != 25 {
		t.Fatalf("rows: original %d, revision %d; want 24 and 25", orig.Objects[0].Rows, rev.Objects[0].Rows)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "archive", orig.Objects[0].Key)); err != nil {
		t.Fatalf("the original object is gone: %v", err)
	}
	// Once only: a later fire does not recheck it again.
	fire(time.Date(2026, 10, 5, 6, 30, 0, 0, time.UTC))
	if n := len(files(t, archiveDir, ".manifest.json")); n != 2 {
		t.Fatalf("%d manifests after another fire", n)
	}
}
