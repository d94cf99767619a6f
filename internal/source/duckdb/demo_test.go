package duckdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/source"
)

// demoSQL is the demo init file, relative to this package.
var demoSQL = filepath.Join("..", "..", "..", "config", "demo", "audit_logs.sql")

func openDemo(t testing.TB, end, seed string, mutate ...func(*Options)) *Source {
	t.Helper()
	return openTest(t, "", append([]func(*Options){func(o *Options) {
		o.Init = []string{demoSQL}
		o.Vars = map[string]string{"demo_end": end, "demo_seed": seed}
	}}, mutate...)...)
}

// demoChecksum is the sha256 of the whole table exported in a fixed order.
func demoChecksum(t testing.TB, s *Source) string {
	t.Helper()
	h := sha256.New()
	if _, err := s.ExportCSV(context.Background(), source.Query{SQL: "SELECT * FROM AUDIT_LOGS ORDER BY REQUEST_ID"}, h); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func queryInt(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestDemoAuditLogs(t *testing.T) {
	const endText = "2026-11-25T10:30:00Z"
	end := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -90)
	s := openDemo(t, endText, "42")
	ctx := context.Background()
	db := s.db

	t.Run("columns", func(t *testing.T) {
		got, err := s.Columns(ctx, "AUDIT_LOGS")
		if err != nil {
			t.Fatal(err)
		}
		var want []source.Column
		for _, name := range []string{"REQUEST_TIME", "EVENT_CATEGORY", "EVENT_TYPE", "EVENT_STATUS", "EVENT_STATUS_REASON_CODE",
			"USER_ID", "USER_EMAIL", "USER_ROLE", "OBJECT_ID", "OBJECT_NAME", "IP_ADDRESS", "USER_AGENT", "REQUEST_ID", "SESSION_ID"} {
			typ := "VARCHAR"
			if name == "REQUEST_TIME" {
				typ = "TIMESTAMP"
			}
			want = append(want, source.Column{Name: name, Type: typ})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("columns = %v\nwant %v", got, want)
		}
	})

	t.Run("size and window", func(t *testing.T) {
		n := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS")
		if n < 170000 || n > 240000 {
			t.Errorf("%d rows; want about 200k", n)
		}
		var lo, hi time.Time
		if err := db.QueryRowContext(ctx, "SELECT min(REQUEST_TIME), max(REQUEST_TIME) FROM AUDIT_LOGS").Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
		if lo.Before(start) || !hi.Before(end) {
			t.Errorf("events span [%v, %v]; want inside [%v, %v)", lo, hi, start, end)
		}
		if lo.After(start.Add(time.Hour)) || hi.Before(end.Add(-time.Hour)) {
			t.Errorf("events span [%v, %v]; want the whole window [%v, %v)", lo, hi, start, end)
		}
		// 10:30 to 10:30 over 90 days touches 91 calendar days.
		if days := queryInt(t, db, "SELECT count(DISTINCT REQUEST_TIME::DATE) FROM AUDIT_LOGS"); days != 91 {
			t.Errorf("%d distinct days, want 91", days)
		}
		// At-least-once delivery: a few events arrive twice, each copy the
		// same row (so dedupe by REQUEST_ID loses nothing), never more.
		ids := queryInt(t, db, "SELECT count(DISTINCT REQUEST_ID) FROM AUDIT_LOGS")
		dup := n - ids
		if dup*1000 < n || dup*1000 > 4*n {
			t.Errorf("%d re-delivered rows of %d; want about 0.2%%", dup, n)
		}
		if distinct := queryInt(t, db, "SELECT count(*) FROM (SELECT DISTINCT * FROM AUDIT_LOGS)"); distinct != ids {
			t.Errorf("%d distinct rows for %d REQUEST_IDs: a re-delivery differs from its original", distinct, ids)
		}
		if most := queryInt(t, db, "SELECT max(c) FROM (SELECT count(*) AS c FROM AUDIT_LOGS GROUP BY REQUEST_ID)"); most != 2 {
			t.Errorf("an event is delivered up to %d times, want 2", most)
		}
		t.Logf("%d rows, %d events, %d delivered twice", n, ids, dup)
	})

	t.Run("logins every day", func(t *testing.T) {
		rows, err := db.QueryContext(ctx, `
			SELECT REQUEST_TIME::DATE AS day,
			       count(*) FILTER (EVENT_STATUS = 'SUCCESS'),
			       count(*) FILTER (EVENT_STATUS = 'FAILURE')
			FROM AUDIT_LOGS WHERE EVENT_TYPE = 'LOGIN' GROUP BY 1 ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var days int
		for rows.Next() {
			var day time.Time
			var ok, failed int
			if err := rows.Scan(&day, &ok, &failed); err != nil {
				t.Fatal(err)
			}
			days++
			if ok == 0 || failed == 0 {
				t.Errorf("%s: %d successful and %d failed logins; want both", day.Format(time.DateOnly), ok, failed)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if days != 91 {
			t.Errorf("logins on %d days, want 91", days)
		}
	})

	t.Run("failure spike", func(t *testing.T) {
		// 68 days after the first (partial) day: about three quarters in.
		wantDay := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 68)
		rows, err := db.QueryContext(ctx, `
			SELECT REQUEST_TIME::DATE AS day, count(*) AS failures
			FROM AUDIT_LOGS WHERE EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'FAILURE'
			GROUP BY 1 ORDER BY failures DESC, day LIMIT 2`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var days []time.Time
		var counts []int
		for rows.Next() {
			var d time.Time
			var c int
			if err := rows.Scan(&d, &c); err != nil {
				t.Fatal(err)
			}
			days, counts = append(days, d), append(counts, c)
		}
		if err := rows.Err(); err != nil || len(days) != 2 {
			t.Fatalf("%v, %d days", err, len(days))
		}
		if !days[0].Equal(wantDay) {
			t.Errorf("most failed logins on %s, want %s", days[0].Format(time.DateOnly), wantDay.Format(time.DateOnly))
		}
		if counts[0] < 3*counts[1] {
			t.Errorf("spike of %d failures is not clearly above the next day's %d", counts[0], counts[1])
		}
		if frac := wantDay.Sub(start).Hours() / (90 * 24); frac < 0.7 || frac > 0.8 {
			t.Errorf("spike at %.2f of the window, want about 3/4", frac)
		}
	})

	t.Run("null pattern", func(t *testing.T) {
		for _, c := range []struct{ what, query string }{
			{"reason code exactly on failures", "SELECT count(*) FROM AUDIT_LOGS WHERE (EVENT_STATUS = 'FAILURE') <> (EVENT_STATUS_REASON_CODE IS NOT NULL)"},
			{"status is SUCCESS or FAILURE", "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_STATUS IS DISTINCT FROM 'SUCCESS' AND EVENT_STATUS IS DISTINCT FROM 'FAILURE'"},
			{"no object on logins and logouts", "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_TYPE IN ('LOGIN', 'LOGOUT') AND (OBJECT_ID IS NOT NULL OR OBJECT_NAME IS NOT NULL)"},
			{"object id and name together", "SELECT count(*) FROM AUDIT_LOGS WHERE (OBJECT_ID IS NULL) <> (OBJECT_NAME IS NULL)"},
			{"an object for object interactions", "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_CATEGORY = 'OBJECT_INTERACTION' AND OBJECT_ID IS NULL"},
			{"a session for successful logins", "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'SUCCESS' AND SESSION_ID IS NULL"},
			{"no session for failed logins", "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'FAILURE' AND SESSION_ID IS NOT NULL"},
			{"no session for API calls", "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_CATEGORY = 'PUBLIC_API' AND EVENT_TYPE LIKE 'API_%' AND SESSION_ID IS NOT NULL"},
			{"user unknown only for failed logins", "SELECT count(*) FROM AUDIT_LOGS WHERE USER_ID IS NULL AND NOT (EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'FAILURE')"},
			{"base columns always set", "SELECT count(*) FROM AUDIT_LOGS WHERE REQUEST_TIME IS NULL OR EVENT_CATEGORY IS NULL OR EVENT_TYPE IS NULL OR REQUEST_ID IS NULL OR USER_EMAIL IS NULL OR USER_AGENT IS NULL"},
		} {
			if n := queryInt(t, db, c.query); n != 0 {
				t.Errorf("%s: %d rows break it", c.what, n)
			}
		}
		// Every nullable column does have NULLs and values.
		for _, col := range []string{"EVENT_STATUS_REASON_CODE", "USER_ID", "USER_ROLE", "OBJECT_ID", "OBJECT_NAME", "IP_ADDRESS", "SESSION_ID"} {
			nulls := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS WHERE "+col+" IS NULL")
			values := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS WHERE "+col+" IS NOT NULL")
			if nulls == 0 || values == 0 {
				t.Errorf("%s: %d NULLs and %d values; want both", col, nulls, values)
			}
		}
	})

	t.Run("vocabulary", func(t *testing.T) {
		var cats string
		if err := db.QueryRowContext(ctx, "SELECT string_agg(DISTINCT EVENT_CATEGORY, ',' ORDER BY EVENT_CATEGORY) FROM AUDIT_LOGS").Scan(&cats); err != nil {
			t.Fatal(err)
		}
		if want := "ACCESS_SIGMA,CONNECTION,EXPORTS,OBJECT_INTERACTION,PUBLIC_API,QUERY_EXECUTIONS,TEAMS,USER_ACCOUNT"; cats != want {
			t.Errorf("categories %s, want %s", cats, want)
		}
		for _, typ := range []string{"LOGIN", "LOGOUT", "SEND_INVITE", "CREATE_WORKBOOK", "RUN_QUERY", "EXPORT"} {
			if n := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_TYPE = $1", typ); n == 0 {
				t.Errorf("no %s events", typ)
			}
		}
		for _, reason := range []string{"INVALID_PASSWORD", "MFA_FAILED", "ACCOUNT_LOCKED", "USER_NOT_FOUND"} {
			if n := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_TYPE = 'LOGIN' AND EVENT_STATUS_REASON_CODE = $1", reason); n == 0 {
				t.Errorf("no failed logins for %s", reason)
			}
		}
		if n := queryInt(t, db, "SELECT count(DISTINCT USER_ID) FROM AUDIT_LOGS"); n < 110 || n > 130 {
			t.Errorf("%d users, want about 120", n)
		}
		if n := queryInt(t, db, "SELECT count(*) FROM (SELECT USER_ID FROM AUDIT_LOGS WHERE USER_ID IS NOT NULL GROUP BY 1 HAVING count(DISTINCT USER_EMAIL) > 1 OR count(DISTINCT USER_ROLE) > 1)"); n != 0 {
			t.Errorf("%d users with several emails or roles", n)
		}
		var roles string
		if err := db.QueryRowContext(ctx, "SELECT string_agg(DISTINCT USER_ROLE, ',' ORDER BY USER_ROLE) FROM AUDIT_LOGS").Scan(&roles); err != nil || roles != "Admin,Creator,Explorer,Viewer" {
			t.Errorf("roles %q, %v", roles, err)
		}
		// Only admins manage accounts, teams and connections.
		if n := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS WHERE EVENT_CATEGORY IN ('USER_ACCOUNT', 'TEAMS') AND USER_ROLE <> 'Admin'"); n != 0 {
			t.Errorf("%d account or team changes by non-admins", n)
		}
	})

	t.Run("rhythm", func(t *testing.T) {
		// Average events per full weekday versus weekend day, and per hour at
		// the afternoon peak versus the small hours (UTC).
		weekday := queryInt(t, db, "SELECT count(*) // count(DISTINCT REQUEST_TIME::DATE) FROM AUDIT_LOGS WHERE isodow(REQUEST_TIME) <= 5 AND REQUEST_TIME::DATE > $1::DATE AND REQUEST_TIME::DATE < $2::DATE", start, end)
		weekend := queryInt(t, db, "SELECT count(*) // count(DISTINCT REQUEST_TIME::DATE) FROM AUDIT_LOGS WHERE isodow(REQUEST_TIME) > 5 AND REQUEST_TIME::DATE > $1::DATE AND REQUEST_TIME::DATE < $2::DATE", start, end)
		if weekday < 3*weekend {
			t.Errorf("%d events per weekday vs %d per weekend day; want a clear weekly rhythm", weekday, weekend)
		}
		peak := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS WHERE hour(REQUEST_TIME) BETWEEN 14 AND 19")
		night := queryInt(t, db, "SELECT count(*) FROM AUDIT_LOGS WHERE hour(REQUEST_TIME) BETWEEN 3 AND 8")
		if peak < 4*night {
			t.Errorf("%d events at 14-19h vs %d at 03-08h; want a clear daily rhythm", peak, night)
		}
	})

	t.Run("quickstart chart", func(t *testing.T) {
		// The QuickStart's Daily Login Activity: CountIf([Event Type] = "LOGIN", [Event Status] = ...) per day.
		var out strings.Builder
		res, err := s.ExportCSV(ctx, source.Query{
			SQL: `SELECT date_trunc('day', REQUEST_TIME) AS "Day of Request Time",
			             count(*) FILTER (EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'SUCCESS') AS "Success",
			             count(*) FILTER (EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'FAILURE') AS "Failure"
			      FROM AUDIT_LOGS WHERE REQUEST_TIME >= $1 AND REQUEST_TIME < $2 GROUP BY 1 ORDER BY 1`,
			Args: []any{start, end},
		}, &out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if res.Rows != 91 || len(lines) != 92 || lines[0] != "Day of Request Time,Success,Failure" {
			t.Errorf("%d rows, %d lines, header %q", res.Rows, len(lines), lines[0])
		}
		if !strings.HasPrefix(lines[1], "2026-08-27T00:00:00Z,") {
			t.Errorf("first day %q", lines[1])
		}
	})
}

func TestDemoDeterministic(t *testing.T) {
	const end = "2026-11-25T10:30:00Z"
	a := demoChecksum(t, openDemo(t, end, "42", func(o *Options) { o.Threads = 1 }))
	b := demoChecksum(t, openDemo(t, end, "42", func(o *Options) { o.Threads = 2 }))
	// The same instant written with an offset.
	c := demoChecksum(t, openDemo(t, "2026-11-25T12:30:00+02:00", "42"))
	other := demoChecksum(t, openDemo(t, end, "43"))
	if a != b {
		t.Errorf("same seed and end, 1 vs 2 threads: %s vs %s", a, b)
	}
	if a != c {
		t.Errorf("same instant with an offset: %s vs %s", a, c)
	}
	if a == other {
		t.Errorf("seeds 42 and 43 give the same table %s", a)
	}
}

func TestDemoNeedsVariables(t *testing.T) {
	for _, vars := range []map[string]string{
		{"demo_seed": "1"},
		{"demo_end": "2026-11-25T00:00:00Z"},
	} {
		_, err := Open(context.Background(), Options{
			Name: "demo", Path: MemoryPath, SpoolDir: filepath.Join(t.TempDir(), "spool"),
			Init: []string{demoSQL}, Vars: vars,
		})
		if err == nil || !strings.Contains(err.Error(), "is not set") {
			t.Errorf("vars %v: err = %v; want a missing variable named", vars, err)
		}
	}
}
