package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/source"
)

// TestAuditLogRowsDedupesRedeliveries runs the shipped audit-log-rows
// schedule (dedupe_by: [Request Id]) for one day of the demo log, which
// delivers some events twice, and checks the archived CSV against
// independent queries on the same DuckDB data: one row per REQUEST_ID
// (count(DISTINCT REQUEST_ID) rows, fewer than count(*)), no REQUEST_ID
// twice, and exactly the distinct rows of that day.
func TestAuditLogRowsDedupesRedeliveries(t *testing.T) {
	cfg := demoDir(t)
	ctx := context.Background()
	a, err := app.Load(ctx, app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	src, err := a.Source(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	query := func(sql string, args ...any) [][]string {
		t.Helper()
		var buf bytes.Buffer
		if _, err := src.ExportCSV(ctx, source.Query{SQL: sql, Args: args}, &buf); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return readCSV(t, buf.Bytes())[1:]
	}

	// The window: the full UTC day of the demo with the most re-delivered
	// events (the data decides, not this test).
	end, _ := time.Parse(time.RFC3339, demoEnd)
	first := end.AddDate(0, 0, -89) // the first full day
	day := query(`SELECT strftime(date_trunc('day', REQUEST_TIME), '%Y-%m-%d')
		FROM AUDIT_LOGS WHERE REQUEST_TIME >= $1 AND REQUEST_TIME < $2
		GROUP BY 1 ORDER BY count(*) - count(DISTINCT REQUEST_ID) DESC, 1 LIMIT 1`, first, end)
	start, err := time.Parse(time.DateOnly, day[0][0])
	if err != nil {
		t.Fatal(err)
	}
	stop := start.AddDate(0, 0, 1)

	counts := query(`SELECT count(*), count(DISTINCT REQUEST_ID) FROM AUDIT_LOGS
		WHERE REQUEST_TIME >= $1 AND REQUEST_TIME < $2`, start, stop)
	raw, _ := strconv.Atoi(counts[0][0])
	distinct, _ := strconv.Atoi(counts[0][1])
	if distinct == 0 || raw <= distinct {
		t.Fatalf("window %s: %d rows, %d distinct REQUEST_IDs; the demo should deliver some twice", day[0][0], raw, distinct)
	}
	total := query(`SELECT count(*), count(*) - count(DISTINCT REQUEST_ID) FROM AUDIT_LOGS`)
	t.Logf("demo: %s rows, %s delivered twice; window %s: %d rows delivered, %d distinct REQUEST_IDs",
		total[0][0], total[0][1], day[0][0], raw, distinct)

	res, err := a.RunOnce(ctx, app.RunRequest{Schedule: "audit-log-rows", At: at, WindowStart: start})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Unit.Window.Start.Equal(start) || !res.Unit.Window.End.Equal(stop) {
		t.Fatalf("exported window %s, want [%s, %s)", res.Unit.ID(), start, stop)
	}
	archiveDir := filepath.Join(filepath.Dir(cfg), "..", "archive")
	gz, err := os.ReadFile(filepath.Join(archiveDir, res.Object.Key))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, body)
	idCol := slices.Index(recs[0], "Request Id")
	if idCol < 0 {
		t.Fatalf("header %q has no Request Id", recs[0])
	}
	rows := recs[1:]
	if len(rows) != distinct {
		t.Errorf("archived %d rows, want %d (one per REQUEST_ID; the source has %d with re-deliveries)", len(rows), distinct, raw)
	}
	if res.Object.Rows != int64(len(rows)) {
		t.Errorf("manifest says %d rows, the object has %d", res.Object.Rows, len(rows))
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r[idCol]] {
			t.Errorf("REQUEST_ID %s archived twice", r[idCol])
		}
		seen[r[idCol]] = true
	}

	// Row for row, the archive is the day's distinct rows: nothing lost
	// but the second copies (each identical to its first).
	want := query(`SELECT DISTINCT * FROM AUDIT_LOGS WHERE REQUEST_TIME >= $1 AND REQUEST_TIME < $2
		ORDER BY REQUEST_TIME, REQUEST_ID`, start, stop)
	if len(want) != distinct {
		t.Fatalf("%d distinct rows for %d distinct REQUEST_IDs: re-deliveries differ from their originals", len(want), distinct)
	}
	for i := range min(len(rows), len(want)) {
		if strings.Join(rows[i], "\x00") != strings.Join(want[i], "\x00") {
			t.Fatalf("row %d = %q, the source's distinct rows say %q", i+1, rows[i], want[i])
		}
	}
}
