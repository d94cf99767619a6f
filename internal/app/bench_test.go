package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/exportd/exportd/internal/domain"
)

// benchInit makes the demo audit log five times bigger (about 1M rows of
// ~200 bytes, every column of a real audit row) as AUDIT_LOGS_BIG.
const benchInit = `CREATE TABLE AUDIT_LOGS_BIG AS
SELECT a.* REPLACE (a.REQUEST_ID || '-' || r.range AS REQUEST_ID)
FROM AUDIT_LOGS a, range(getvariable('bench_copies')::INTEGER) r;
`

const benchSchedule = `name: bench-rows
source: demo
cron: "0 * * * *"
element:
  from: {table: AUDIT_LOGS_BIG}
destination: {integration: local, prefix: bench}
`

// BenchmarkExportRawRows exports the big audit table through the production
// path (claim, compiled element, DuckDB COPY into a FIFO, hashing, the folder
// store's create-only publish, manifest) and, interleaved in the same run,
// DuckDB's own COPY (...) TO 'file.csv' of the same data on its own
// connection. It reports both rates and their ratio (medians).
//
//	go test ./internal/app -run '^$' -bench ExportRawRows -benchtime 1x
func BenchmarkExportRawRows(b *testing.B) {
	copies := "5" // ~1M rows
	if testing.Short() {
		copies = "1"
	}
	cfg := demoDir(b)
	dir := filepath.Dir(cfg)
	if err := os.WriteFile(filepath.Join(dir, "demo", "bench.sql"), []byte(benchInit), 0o644); err != nil {
		b.Fatal(err)
	}
	data, _ := os.ReadFile(cfg)
	patched := replaceOnce(string(data), "init: [demo/audit_logs.sql]", "init: [demo/audit_logs.sql, demo/bench.sql]")
	patched = replaceOnce(patched, `demo_seed: "42"`, `demo_seed: "42"`+"\n      bench_copies: \""+copies+"\"")
	if err := os.WriteFile(cfg, []byte(patched), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "..", "schedules", "bench-rows.yaml"), []byte(benchSchedule), 0o644); err != nil {
		b.Fatal(err)
	}
	a := load(b, cfg)
	ctx := context.Background()

	// The baseline: the same generator on a plain DuckDB connection.
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{
		"SET TimeZone='UTC'",
		"SET VARIABLE demo_seed = '42'",
		"SET VARIABLE demo_end = '" + demoEnd + "'",
		"SET VARIABLE bench_copies = '" + copies + "'",
	} {
		if _, err := db.Exec(stmt); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(dir, "demo", "audit_logs.sql"), filepath.Join(dir, "demo", "bench.sql")} {
		script, _ := os.ReadFile(f)
		if _, err := db.Exec(string(script)); err != nil {
			b.Fatal(err)
		}
	}
	out := filepath.Join(b.TempDir(), "copy.csv")
	copyOnce := func() (int64, time.Duration) {
		os.Remove(out)
		start := time.Now()
		var n int64
		err := db.QueryRow(fmt.Sprintf(`COPY (SELECT * FROM AUDIT_LOGS_BIG) TO '%s' (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"', NULLSTR '', DATEFORMAT '%%Y-%%m-%%d', TIMESTAMPFORMAT '%%Y-%%m-%%dT%%H:%%M:%%SZ', USE_TMP_FILE false)`, out)).Scan(&n)
		if err != nil {
			b.Fatal(err)
		}
		return n, time.Since(start)
	}
	j, _, err := a.Job(ctx, "bench-rows")
	if err != nil {
		b.Fatal(err)
	}
	// A fixed number of interleaved rounds (run it with -benchtime 1x):
	// setting up a million rows is far costlier than one round.
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	var prod, base []float64
	var rows int64
	b.ResetTimer()
	for i := range rounds {
		u := domain.Unit{Schedule: "bench-rows", Logical: at.Add(time.Duration(i) * time.Hour)}
		start := time.Now()
		res, err := j.Run(ctx, u, 1)
		if err != nil {
			b.Fatal(err)
		}
		prod = append(prod, float64(res.Object.Rows)/time.Since(start).Seconds())
		n, d := copyOnce()
		if n != res.Object.Rows {
			b.Fatalf("COPY wrote %d rows, the export %d", n, res.Object.Rows)
		}
		rows = n
		base = append(base, float64(n)/d.Seconds())
	}
	b.StopTimer()
	p, c := median(prod), median(base)
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(p, "export_rows/s")
	b.ReportMetric(c, "copy_rows/s")
	b.ReportMetric(p/c, "ratio")
	b.Logf("%d rows: export %.0f rows/s, DuckDB COPY to file %.0f rows/s, ratio %.2f (median of %d interleaved rounds)", rows, p, c, p/c, rounds)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func replaceOnce(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("replaceOnce: " + old + " not found")
	}
	return strings.Replace(s, old, new, 1)
}
