package workbook

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// auditRows is a hand-built AUDIT_LOGS around the 2027-03-14 DST change.
// Los Angeles days are given for each row.
const auditRows = `INSERT INTO AUDIT_LOGS (REQUEST_TIME, EVENT_TYPE, EVENT_STATUS, USER_EMAIL) VALUES
 (TIMESTAMP '2027-03-14 07:30:00', 'LOGIN', 'SUCCESS', 'a@x'),        -- LA 03-13 23:30 PST
 (TIMESTAMP '2027-03-14 08:30:00', 'LOGIN', 'SUCCESS', 'b@x'),        -- LA 03-14 00:30 PST
 (TIMESTAMP '2027-03-14 12:00:00', 'LOGIN', 'FAILURE', 'c@x'),        -- LA 03-14 05:00 PDT
 (TIMESTAMP '2027-03-14 23:59:00', 'LOGIN', 'SUCCESS', 'a@x'),        -- LA 03-14 16:59
 (TIMESTAMP '2027-03-15 06:30:00', 'LOGIN', 'FAILURE', 'd@x'),        -- LA 03-14 23:30 PDT
 (TIMESTAMP '2027-03-15 07:30:00', 'LOGIN', 'SUCCESS', 'e@x'),        -- LA 03-15 00:30 PDT
 (TIMESTAMP '2027-03-14 13:00:00', 'VIEW_WORKBOOK', 'SUCCESS', 'a@x'),
 (TIMESTAMP '2027-03-14 14:00:00', 'LOGIN', NULL, 'a@x'),
 (TIMESTAMP '2027-03-14 15:00:00', NULL, 'FAILURE', 'a@x'),
 (TIMESTAMP '2027-03-14 16:00:00', 'login', 'SUCCESS', 'a@x'),
 (TIMESTAMP '2027-03-14 17:00:00', 'LOGIN', '', 'a@x')`

func joinRows(rows [][]string) string {
	var s []string
	for _, r := range rows {
		s = append(s, strings.Join(r, ","))
	}
	return strings.Join(s, ";")
}

func TestQuickStartFixture(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, auditDDL)
	mustExec(t, db, auditRows)
	la := mustLoad(t, "America/Los_Angeles")

	rows, c := run(t, db, quickStart(), auditSchema(), Options{}, Values{})
	if g, w := joinRows(rows), "2027-03-14,3,1;2027-03-15,1,1"; g != w {
		t.Errorf("UTC: got %s want %s\n%s", g, w, c.SQL)
	}
	wantCols := []OutputColumn{{"Day of Request Time", Date}, {"Success", Integer}, {"Failure", Integer}}
	if !reflect.DeepEqual(c.Columns, wantCols) {
		t.Errorf("columns %v, want %v", c.Columns, wantCols)
	}

	rows, c = run(t, db, quickStart(), auditSchema(), Options{Timezone: la}, Values{})
	if g, w := joinRows(rows), "2027-03-13,1,0;2027-03-14,2,2;2027-03-15,1,0"; g != w {
		t.Errorf("LA: got %s want %s\n%s", g, w, c.SQL)
	}

	// The window of the Los Angeles day 2027-03-14 (23 hours long).
	day := time.Date(2027, 3, 14, 0, 0, 0, 0, la)
	v := Values{WindowStart: day, WindowEnd: day.AddDate(0, 0, 1)}
	rows, c = run(t, db, quickStart(), auditSchema(), Options{Timezone: la, Window: &WindowHook{Column: "Request Time"}}, v)
	if g, w := joinRows(rows), "2027-03-14,2,2"; g != w {
		t.Errorf("LA window: got %s want %s\n%s", g, w, c.SQL)
	}
	args, _ := c.Bind(v)
	// REQUEST_TIME is a UTC column: the LA day is 08:00 to 07:00 UTC.
	if want := []any{"2027-03-14 08:00:00.000000", "2027-03-15 07:00:00.000000"}; !reflect.DeepEqual(args, want) {
		t.Errorf("bound %v, want %v", args, want)
	}
	wantParams := []Param{{"window_start", "timestamp"}, {"window_end", "timestamp"}}
	if !reflect.DeepEqual(c.Params, wantParams) {
		t.Errorf("params %v, want %v", c.Params, wantParams)
	}
}

// TestQuickStartMatchesHandWritten compares the compiled QuickStart with a
// hand-written query (a different formulation: AT TIME ZONE and SUM(CASE))
// on 200k generated rows spanning both 2027 DST changes.
func TestQuickStartMatchesHandWritten(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, auditDDL)
	mustExec(t, db, genAudit(200_000, "TIMESTAMP '2027-03-01 00:00:00'", 137))
	la := mustLoad(t, "America/Los_Angeles")
	for _, zone := range []*time.Location{time.UTC, la} {
		got, c := run(t, db, quickStart(), auditSchema(), Options{Timezone: zone}, Values{})
		want := query(t, db, `SELECT CAST((REQUEST_TIME AT TIME ZONE 'UTC') AT TIME ZONE '`+zone.String()+`' AS DATE) AS day,
			SUM(CASE WHEN EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'SUCCESS' THEN 1 ELSE 0 END),
			SUM(CASE WHEN EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'FAILURE' THEN 1 ELSE 0 END)
			FROM AUDIT_LOGS GROUP BY day ORDER BY day`)
		if len(got) < 300 || joinRows(got) != joinRows(want) {
			t.Errorf("%s: compiled and hand-written differ (%d vs %d rows)\n%s", zone, len(got), len(want), c.SQL)
		}
	}
}

// genAudit inserts n audit rows every step seconds from start, with event
// types and statuses cycling at co-prime periods (and some NULLs).
func genAudit(n int, start string, step int) string {
	return `INSERT INTO AUDIT_LOGS (REQUEST_TIME, EVENT_TYPE, EVENT_STATUS, USER_EMAIL, DURATION_MS)
SELECT ` + start + ` + to_seconds(i * ` + itoa(step) + `),
  CASE i % 7 WHEN 0 THEN 'VIEW_WORKBOOK' WHEN 1 THEN 'EXPORT' WHEN 2 THEN NULL ELSE 'LOGIN' END,
  CASE i % 5 WHEN 0 THEN 'FAILURE' WHEN 1 THEN NULL ELSE 'SUCCESS' END,
  'user' || (i % 97) || '@example.com', i % 1000
FROM range(` + itoa(n) + `) r(i)`
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestRowExport covers an element without group_by: all columns by display
// name, a window on a column stored as Los Angeles wall clock, dedupe, and
// from.sql.
func TestRowExport(t *testing.T) {
	db := openDB(t)
	la := mustLoad(t, "America/Los_Angeles")
	mustExec(t, db, `CREATE TABLE EVENTS (EVENT_AT TIMESTAMP, REQUEST_ID VARCHAR, NOTE VARCHAR);
INSERT INTO EVENTS VALUES
 (TIMESTAMP '2027-03-14 01:59:00', 'r1', 'before the gap'),
 (TIMESTAMP '2027-03-14 03:00:00', 'r2', 'after the gap'),
 (TIMESTAMP '2027-03-14 03:00:00', 'r2', 'duplicate delivery'),
 (TIMESTAMP '2027-03-14 04:00:00', 'r3', 'outside the window')`)
	schema := Schema{Table: "EVENTS", Zone: la, Columns: []Column{
		{Name: "EVENT_AT", Type: Datetime}, {Name: "REQUEST_ID", Type: Text}, {Name: "NOTE", Type: Text}}}

	// Window 09:00-11:00 UTC is 01:00 PST - 04:00 PDT local.
	v := Values{WindowStart: time.Date(2027, 3, 14, 9, 0, 0, 0, time.UTC), WindowEnd: time.Date(2027, 3, 14, 11, 0, 0, 0, time.UTC)}
	el := &Element{From: From{Table: "EVENTS"}, OrderBy: []Order{{Column: "Event At"}, {Column: "Note", Desc: true}}}
	rows, c := run(t, db, el, schema, Options{Timezone: time.UTC, Window: &WindowHook{Column: "Event At"}}, v)
	want := "2027-03-14 09:59:00,r1,before the gap;2027-03-14 10:00:00,r2,duplicate delivery;2027-03-14 10:00:00,r2,after the gap"
	if g := joinRows(rows); g != want {
		t.Errorf("got  %s\nwant %s\n%s", g, want, c.SQL)
	}
	if names := []string{c.Columns[0].Name, c.Columns[1].Name, c.Columns[2].Name}; strings.Join(names, ",") != "Event At,Request Id,Note" {
		t.Errorf("names %v", names)
	}
	if args, _ := c.Bind(v); !reflect.DeepEqual(args, []any{"2027-03-14 01:00:00.000000", "2027-03-14 04:00:00.000000"}) {
		t.Errorf("window bound in the column's zone: %v", args)
	}

	// Dedupe by Request Id keeps the first row of r2 (by time, then by the
	// output columns: "after the gap" < "duplicate delivery").
	rows, c = run(t, db, el, schema, Options{Timezone: time.UTC, Window: &WindowHook{Column: "Event At"}, DedupeBy: []string{"Request Id"}}, v)
	want = "2027-03-14 09:59:00,r1,before the gap;2027-03-14 10:00:00,r2,after the gap"
	if g := joinRows(rows); g != want {
		t.Errorf("dedupe got  %s\nwant %s\n%s", g, want, c.SQL)
	}

	// from.sql with a trailing comment and semicolon, and a listed column.
	sqlEl := &Element{From: From{SQL: "SELECT * FROM EVENTS WHERE NOTE <> 'outside the window'; -- only three"},
		Columns: []CalcColumn{{Name: "Id", Formula: "[Request Id]"}, {Formula: "[Note]"}},
		Filters: []string{`StartsWith([Note], "after") Or StartsWith([Note], "before")`},
		OrderBy: []Order{{Column: "Id"}}}
	rows, c = run(t, db, sqlEl, schema, Options{Parser: duckParser{db}}, Values{})
	if g := joinRows(rows); g != "r1,before the gap;r2,after the gap" {
		t.Errorf("from.sql got %s\n%s", g, c.SQL)
	}
}

// TestNowIsBound checks that Now() and Today() are parameters: the same SQL
// gives the run's logical time, not the wall clock.
func TestNowIsBound(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, fxDDL)
	la := mustLoad(t, "America/Los_Angeles")
	el := &Element{From: From{Table: "FX"}, Columns: []CalcColumn{{Name: "Now", Formula: "Now()"}, {Name: "Today", Formula: "Today()"},
		{Name: "Again", Formula: "DateAdd(\"day\", 1, Now())"}}, Limit: 1}
	c, err := Compile(el, fxSchema(), Options{Dialect: DuckDB, Timezone: la})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Param{{"now", "timestamp"}, {"today", "date"}}; !reflect.DeepEqual(c.Params, want) {
		t.Errorf("params %v want %v (DuckDB reuses $1)", c.Params, want)
	}
	args, err := c.Bind(Values{Now: runNow})
	if err != nil {
		t.Fatal(err)
	}
	if g := joinRows(query(t, db, c.SQL, args...)); g != "2027-11-08 05:00:00,2027-11-07,2027-11-09 05:00:00" {
		t.Errorf("got %s", g)
	}
	if _, err := c.Bind(Values{}); err == nil {
		t.Error("Bind without Now should fail")
	}
	sf, err := Compile(el, fxSchema(), Options{Dialect: Snowflake, Timezone: la})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Param{{"now", "timestamp"}, {"today", "date"}, {"now", "timestamp"}}; !reflect.DeepEqual(sf.Params, want) {
		t.Errorf("snowflake params %v want %v (one ? per use)", sf.Params, want)
	}
	if args, _ := sf.Bind(Values{Now: runNow}); !reflect.DeepEqual(args, []any{"2027-11-08 05:00:00.000000", "2027-11-07", "2027-11-08 05:00:00.000000"}) {
		t.Errorf("snowflake args %v", args)
	}
}

// TestWindowColumnTypes checks the window on a TIMESTAMPTZ column (bound as
// an instant) and on a DATE column (bound as the local date in the
// column's zone), under a session time zone of Asia/Tokyo.
func TestWindowColumnTypes(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, fxDDL)
	la := mustLoad(t, "America/Los_Angeles")
	el := &Element{From: From{Table: "FX"}, Columns: []CalcColumn{{Formula: "[ID]"}}, OrderBy: []Order{{Column: "ID"}}}

	v := Values{WindowStart: time.Date(2027, 3, 14, 10, 0, 0, 0, time.UTC), WindowEnd: time.Date(2027, 11, 7, 9, 0, 0, 0, time.UTC)}
	rows, c := run(t, db, el, fxSchema(), Options{Window: &WindowHook{Column: "TZ"}}, v)
	if g := joinRows(rows); g != "2;4" {
		t.Errorf("TIMESTAMPTZ window got %s\n%s", g, c.SQL)
	}
	if want := []Param{{"window_start", "timestamptz"}, {"window_end", "timestamptz"}}; !reflect.DeepEqual(c.Params, want) {
		t.Errorf("params %v", c.Params)
	}

	// D in [2027-01-01, 2027-03-15): rows 1 and 4. The schema's zone is Los
	// Angeles, so the window's LA midnights are those dates.
	v = Values{WindowStart: time.Date(2027, 1, 1, 0, 0, 0, 0, la), WindowEnd: time.Date(2027, 3, 15, 0, 0, 0, 0, la)}
	schema := fxSchema()
	schema.Zone = la
	rows, c = run(t, db, el, schema, Options{Window: &WindowHook{Column: "D"}}, v)
	if g := joinRows(rows); g != "1;4" {
		t.Errorf("DATE window got %s\n%s", g, c.SQL)
	}
	if args, _ := c.Bind(v); !reflect.DeepEqual(args, []any{"2027-01-01", "2027-03-15"}) {
		t.Errorf("date args %v", args)
	}
}

// TestAsOfLeavesOutLaterRows: the Daily Login Activity snapshot for the
// 06:00 fire of 2026-11-24, taken by a catch-up at 02:09 the day after,
// holds no rows after 06:00 with as_of; without it, it counts the rows
// that arrived since (the day of 2026-11-24 after 06:00, and the 25th).
func TestAsOfLeavesOutLaterRows(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, auditDDL)
	// A login every hour from 2026-11-23 00:00 to 2026-11-25 02:00.
	mustExec(t, db, `INSERT INTO AUDIT_LOGS (REQUEST_TIME, EVENT_TYPE, EVENT_STATUS)
		SELECT TIMESTAMP '2026-11-23 00:00:00' + INTERVAL (i) HOUR, 'LOGIN', 'SUCCESS' FROM range(0, 51) r(i)`)
	fire := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	el := quickStart()
	el.OrderBy = []Order{{Column: "Day of Request Time"}}
	all, _ := run(t, db, el, auditSchema(), Options{}, Values{Now: fire})
	el.AsOf = "[Request Time]"
	bounded, c := run(t, db, el, auditSchema(), Options{}, Values{Now: fire})
	if g, want := joinRows(all), "2026-11-23,24,0;2026-11-24,24,0;2026-11-25,3,0"; g != want {
		t.Errorf("unbounded: %s, want %s", g, want)
	}
	// 2026-11-24 00:00 to 06:00 inclusive: 7 logins; nothing of the 25th.
	if g, want := joinRows(bounded), "2026-11-23,24,0;2026-11-24,7,0"; g != want {
		t.Errorf("as_of: %s, want %s\n%s", g, want, c.SQL)
	}
	for _, d := range []Dialect{Snowflake, DuckDB} {
		if _, err := Compile(&Element{From: From{Table: "AUDIT_LOGS"}, AsOf: "[Event Type]"}, auditSchema(), Options{Dialect: d}); err == nil ||
			!strings.Contains(err.Error(), "as_of") {
			t.Errorf("%s: as_of on a text column: %v", d, err)
		}
	}
}
