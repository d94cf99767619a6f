package workbook

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// handDaily is what one would write by hand for Daily Login Activity in the
// given schedule zone (REQUEST_TIME holds UTC wall clock).
func handDaily(zone string) string {
	day := "CAST(REQUEST_TIME AS DATE)"
	if zone != "UTC" {
		day = "CAST((REQUEST_TIME AT TIME ZONE 'UTC') AT TIME ZONE '" + zone + "' AS DATE)"
	}
	return `SELECT ` + day + ` AS day,
  count(*) FILTER (WHERE EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'SUCCESS') AS success,
  count(*) FILTER (WHERE EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'FAILURE') AS failure
FROM AUDIT_LOGS GROUP BY day ORDER BY day`
}

// timeQuery runs q, reads every row and returns the elapsed time.
func timeQuery(b *testing.B, db *sql.DB, q string, args ...any) time.Duration {
	start := time.Now()
	rows, err := db.Query(q, args...)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	rows.Close()
	if n == 0 {
		b.Fatal("no rows")
	}
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// compareDaily times the compiled QuickStart against handDaily, interleaved
// (alternating which goes first), and reports the ratio of the medians.
func compareDaily(b *testing.B, db *sql.DB, zone *time.Location) {
	c, err := Compile(quickStart(), auditSchema(), Options{Dialect: DuckDB, Timezone: zone})
	if err != nil {
		b.Fatal(err)
	}
	hand := handDaily(zone.String())
	if g, w := joinRows(query(b, db, c.SQL)), joinRows(query(b, db, hand)); g != w {
		b.Fatalf("compiled and hand-written results differ\n%s", c.SQL)
	}
	timeQuery(b, db, c.SQL) // warm up
	timeQuery(b, db, hand)
	var comp, manual []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			comp = append(comp, timeQuery(b, db, c.SQL))
			manual = append(manual, timeQuery(b, db, hand))
		} else {
			manual = append(manual, timeQuery(b, db, hand))
			comp = append(comp, timeQuery(b, db, c.SQL))
		}
	}
	ratio := float64(median(comp)) / float64(median(manual))
	b.ReportMetric(ratio, "compiled/hand")
	b.ReportMetric(float64(median(comp).Microseconds())/1000, "compiled-ms")
	b.ReportMetric(float64(median(manual).Microseconds())/1000, "hand-ms")
	b.Logf("%s: %d interleaved runs, median compiled %v, hand-written %v, ratio %.3f (target <= 1.1)",
		zone, len(comp), median(comp), median(manual), ratio)
}

// BenchmarkDailyLoginActivity compares the compiled QuickStart with a
// hand-written equivalent over 5M generated audit rows:
//
//	go test ./internal/workbook/ -run XXX -bench DailyLoginActivity -benchtime 15x
func BenchmarkDailyLoginActivity(b *testing.B) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(b, db, auditDDL)
	rows := 5_000_000
	if testing.Short() { // the test command's smoke run
		rows = 200_000
	}
	mustExec(b, db, genAudit(rows, "TIMESTAMP '2026-01-01 00:00:00'", 4))
	for _, zone := range []string{"UTC", "America/Los_Angeles"} {
		b.Run(filepath.Base(zone), func(b *testing.B) { compareDaily(b, db, mustLoad(b, zone)) })
	}
}

// BenchmarkDemoDailyLoginActivity does the same on the project's demo audit
// log (config/demo/audit_logs.sql, ~200k rows), after checking that both
// queries give the same numbers there.
func BenchmarkDemoDailyLoginActivity(b *testing.B) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "demo", "audit_logs.sql"))
	if err != nil {
		b.Fatalf("demo data: %v", err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(b, db, "SET VARIABLE demo_end = TIMESTAMP '2026-11-01 00:00:00'; SET VARIABLE demo_seed = 42;")
	mustExec(b, db, string(script))
	var n int
	if err := db.QueryRow("SELECT count(*) FROM AUDIT_LOGS").Scan(&n); err != nil {
		b.Fatal(err)
	}
	b.Logf("demo AUDIT_LOGS: %s rows", fmt.Sprint(n))
	compareDaily(b, db, time.UTC)
}
