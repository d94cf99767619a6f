package workbook

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGroupedDedupeMatchesRawArchive runs the demo's two schedules on the
// demo data (which re-delivers about 0.2% of events): the QuickStart chart
// (grouped, dedupe_by: [Request Id]) and the raw rows one window a day
// (dedupe_by: [Request Id]), and compares successful and failed logins day
// by day. Without dedupe_by the chart counts the re-delivered logins, so the
// two disagree on some days: the comparison can fail.
func TestGroupedDedupeMatchesRawArchive(t *testing.T) {
	db := openDB(t)
	init, err := os.ReadFile(filepath.Join("..", "..", "config", "demo", "audit_logs.sql"))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `SET VARIABLE demo_end = '2026-11-25T06:00:00Z'; SET VARIABLE demo_seed = '42'`)
	mustExec(t, db, string(init))
	end := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	start := time.Date(2026, 8, 27, 0, 0, 0, 0, time.UTC) // the first whole day

	chart := func(dedupe bool) map[string]string {
		el := quickStart()
		el.OrderBy = []Order{{Column: "Day of Request Time"}}
		o := Options{}
		if dedupe {
			o.DedupeBy = []string{"Request Id"}
		}
		rows, _ := run(t, db, el, demoSchema(), o, Values{Now: end})
		m := map[string]string{}
		for _, r := range rows {
			m[r[0]] = r[1] + "," + r[2]
		}
		return m
	}
	deduped, counted := chart(true), chart(false)

	raw := &Element{From: From{Table: "AUDIT_LOGS"}, Columns: []CalcColumn{
		{Name: "Request Time", Formula: "[Request Time]"}, {Name: "Event Type", Formula: "[Event Type]"},
		{Name: "Event Status", Formula: "[Event Status]"}, {Name: "Request Id", Formula: "[Request Id]"}}}
	opts := Options{Window: &WindowHook{Column: "Request Time"}, DedupeBy: []string{"Request Id"}}
	days, differ := 0, 0
	for d := start; d.AddDate(0, 0, 1).Before(end); d = d.AddDate(0, 0, 1) {
		rows, _ := run(t, db, raw, demoSchema(), opts, Values{Now: end, WindowStart: d, WindowEnd: d.AddDate(0, 0, 1)})
		ok, failed := 0, 0
		for _, r := range rows {
			if r[1] == "LOGIN" && r[2] == "SUCCESS" {
				ok++
			} else if r[1] == "LOGIN" && r[2] == "FAILURE" {
				failed++
			}
		}
		day := d.Format(time.DateOnly)
		want := strconv.Itoa(ok) + "," + strconv.Itoa(failed)
		if deduped[day] != want {
			t.Errorf("%s: chart with dedupe_by says %s, the raw archive %s", day, deduped[day], want)
		}
		if counted[day] != want {
			differ++
		}
		days++
	}
	if days < 85 {
		t.Fatalf("compared %d days, want about 89", days)
	}
	if differ == 0 {
		t.Error("without dedupe_by the chart agrees with the raw archive on every day: the demo re-delivers no login, so this test proves nothing")
	}
	t.Logf("%d days compared; without dedupe_by the chart disagrees on %d", days, differ)

	// Snowflake gets the same shape: de-duplicate in FROM, then aggregate.
	el := quickStart()
	sf, err := Compile(el, demoSchema(), Options{Dialect: Snowflake, DedupeBy: []string{"Request Id"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sf.SQL, "QUALIFY row_number() OVER (PARTITION BY t.\"REQUEST_ID\"") || !strings.Contains(sf.SQL, "GROUP BY") {
		t.Errorf("snowflake SQL does not de-duplicate before grouping:\n%s", sf.SQL)
	}
}

// demoSchema is the part of the demo's AUDIT_LOGS table these tests read.
func demoSchema() Schema {
	return Schema{Table: "AUDIT_LOGS", Columns: []Column{
		{Name: "REQUEST_TIME", Type: Datetime},
		{Name: "EVENT_TYPE", Type: Text},
		{Name: "EVENT_STATUS", Type: Text},
		{Name: "USER_EMAIL", Type: Text},
		{Name: "USER_ID", Type: Text},
		{Name: "REQUEST_ID", Type: Text},
	}}
}
