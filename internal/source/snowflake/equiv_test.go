package snowflake

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
	"github.com/exportd/exportd/internal/workbook"
)

// demoEnd pins the generated demo log (90 days before it, about 200k rows).
const demoEnd = "2026-11-25T06:00:00Z"

// emulatorDifferences lists the cases where the emulator, not exportd,
// differs from Snowflake, with the reason. Keep it short.
var emulatorDifferences = map[string]string{
	// fakesnow types a column it describes as Snowflake does, except that
	// it reports TIMESTAMP_LTZ as TIMESTAMP_TZ and OBJECT/ARRAY as VARIANT;
	// the CSV bytes do not depend on it.
	"describe LTZ/OBJECT/ARRAY": "fakesnow describes TIMESTAMP_LTZ as TIMESTAMP_TZ and OBJECT/ARRAY as VARIANT",
	// Snowflake's DATE_TRUNC returns the type of its argument (a DATE for a
	// DATE); DuckDB's, which fakesnow runs, returns a TIMESTAMP.
	"DATE_TRUNC of a DATE": "fakesnow returns a TIMESTAMP where Snowflake returns a DATE",
}

// loadDemo generates the demo AUDIT_LOGS in DuckDB (the demo source, as the
// daemon opens it) and loads the same rows into the emulator.
func loadDemo(t testing.TB) (*duckdb.Source, *Source) {
	t.Helper()
	return loadBoth(t, []string{filepath.Join("..", "..", "..", "config", "demo", "audit_logs.sql")},
		map[string]string{"demo_end": demoEnd, "demo_seed": "42"})
}

// loadBoth opens a DuckDB source that runs the init files (which make the
// table AUDIT_LOGS) and loads the same rows into a database of the
// emulator's.
func loadBoth(t testing.TB, init []string, vars map[string]string) (*duckdb.Source, *Source) {
	t.Helper()
	duck, err := duckdb.Open(context.Background(), duckdb.Options{
		Name: "demo", Path: duckdb.MemoryPath, Init: init, Vars: vars, TimeZone: "UTC", SpoolDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { duck.Close() })
	cols, err := duck.Columns(t.Context(), "AUDIT_LOGS")
	if err != nil {
		t.Fatal(err)
	}
	// The rows travel as CSV; the emulator's loader is the one place that
	// uses an emulator-only path (DuckDB's read_csv under fakesnow), since
	// Snowflake itself would load them with PUT and COPY INTO <table>.
	csvPath := filepath.Join(t.TempDir(), "audit_logs.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := duck.ExportCSV(t.Context(), source.Query{SQL: "SELECT * FROM AUDIT_LOGS"}, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var ddl, sel []string
	for _, c := range cols {
		typ := "TEXT"
		if c.Type == "TIMESTAMP" {
			typ = "TIMESTAMP_NTZ"
		} else if c.Type != "VARCHAR" {
			t.Fatalf("demo column %s is %s: teach loadBoth its Snowflake type", c.Name, c.Type)
		}
		ddl = append(ddl, quoteIdent(c.Name)+" "+typ)
		sel = append(sel, quoteIdent(c.Name))
	}
	sf, _ := openTest(t, emu.Host, emu.Port,
		"CREATE TABLE AUDIT_LOGS ("+strings.Join(ddl, ", ")+")",
		"INSERT INTO AUDIT_LOGS SELECT "+strings.Join(sel, ", ")+" FROM read_csv('"+strings.ReplaceAll(csvPath, "'", "''")+
			"', header = true, all_varchar = true)")
	return duck, sf
}

// sameCount requires both sides to hold the same AUDIT_LOGS, of at least
// min rows: the cases compare results over a realistic table.
func sameCount(t *testing.T, duck *duckdb.Source, sf *Source, min int64) {
	t.Helper()
	q := source.Query{SQL: "SELECT * FROM AUDIT_LOGS"}
	nd, err := duck.Count(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := sf.Count(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if nd != ns || nd < min {
		t.Fatalf("AUDIT_LOGS holds %d rows in DuckDB and %d in the emulator; want the same, at least %d", nd, ns, min)
	}
}

// elementCase is one element run on both dialects.
type elementCase struct {
	name   string
	el     *workbook.Element
	window *workbook.WindowHook
	dedupe []string
	zone   string
	// emu names the emulatorDifferences entry the case meets; fix turns
	// the emulator's bytes into Snowflake's for that difference only.
	emu string
	fix func(string) string
}

// TestCrossDialect: the QuickStart element and the row export, and a set of
// workbook formulas, compiled for DuckDB and for Snowflake, give the same
// CSV bytes on the embedded DuckDB and on the emulator over the same rows.
func TestCrossDialect(t *testing.T) {
	duck, sf := loadDemo(t)
	// The QuickStart cases aggregate the whole demo log.
	sameCount(t, duck, sf, 200_000)
	schemaCols, err := duck.Columns(t.Context(), "AUDIT_LOGS")
	if err != nil {
		t.Fatal(err)
	}
	sfCols, err := sf.Columns(t.Context(), "AUDIT_LOGS")
	if err != nil {
		t.Fatal(err)
	}
	if len(sfCols) != len(schemaCols) {
		t.Fatalf("emulator columns %v, DuckDB %v", sfCols, schemaCols)
	}
	quickStart := quickStartElement()
	rows := &workbook.Element{
		From:    workbook.From{Table: "AUDIT_LOGS"},
		OrderBy: []workbook.Order{{Column: "Request Time"}, {Column: "Request Id"}},
	}
	formulas := &workbook.Element{
		From: workbook.From{Table: "AUDIT_LOGS"},
		Columns: []workbook.CalcColumn{
			{Name: "Id", Formula: `[Request Id]`},
			{Name: "Hour", Formula: `DatePart("hour", [Request Time])`},
			{Name: "Week", Formula: `DateTrunc("week", [Request Time])`},
			{Name: "Month", Formula: `DateTrunc("month", [Request Time])`},
			{Name: "Upper", Formula: `Upper([Event Type])`},
			{Name: "Len", Formula: `Len([User Email])`},
			{Name: "Domain", Formula: `SplitPart([User Email], "@", 2)`},
			{Name: "Agent", Formula: `Left(Trim(Lower([User Agent])), 12)`},
			{Name: "Days", Formula: `DateDiff("day", [Request Time], Now())`},
			{Name: "Mobile", Formula: `Contains([User Agent], "Mobile") Or StartsWith([Ip Address], "10.")`},
			{Name: "Status", Formula: `Switch([Event Status], "SUCCESS", 1, "FAILURE", 0, -1)`},
			{Name: "Reason", Formula: `Coalesce([Event Status Reason Code], Replace([Event Type], "_", " "))`},
			{Name: "Day", Formula: `Date(DateTrunc("day", [Request Time]))`},
			{Name: "Login", Formula: `If([Event Type] = "LOGIN", "yes", "no")`},
			{Name: "Plus", Formula: `DateAdd("day", 1, [Request Time])`},
			{Name: "Blank", Formula: `IsNull([Object Id])`},
			{Name: "Joined", Formula: `[Event Type] & "/" & [Event Status]`},
		},
		OrderBy: []workbook.Order{{Column: "Id"}, {Column: "Hour"}},
		Limit:   5000,
	}
	perUser := &workbook.Element{
		From:    workbook.From{Table: "AUDIT_LOGS"},
		Filters: []string{`[Event Status] = "FAILURE"`},
		GroupBy: []workbook.Grouping{{Formula: "[User Email]"}, {Formula: "[Request Time]", Truncate: "month"}},
		Columns: []workbook.CalcColumn{
			{Name: "Failures", Formula: `Count()`},
			{Name: "Distinct Types", Formula: `CountDistinct([Event Type])`},
			{Name: "First", Formula: `Min([Request Time])`},
			{Name: "Last", Formula: `Max([Request Time])`},
		},
		OrderBy: []workbook.Order{{Column: "User Email"}, {Column: "Month of Request Time"}},
	}
	cases := []elementCase{
		{name: "QuickStart UTC", el: quickStart},
		{name: "QuickStart Los Angeles", el: quickStart, zone: "America/Los_Angeles"},
		{name: "QuickStart Tokyo", el: quickStart, zone: "Asia/Tokyo"},
		{name: "rows, windowed, deduped", el: rows, window: &workbook.WindowHook{Column: "Request Time"}, dedupe: []string{"Request Id"}},
		{name: "rows, windowed, Los Angeles", el: rows, window: &workbook.WindowHook{Column: "Request Time"}, zone: "America/Los_Angeles"},
		{name: "formulas", el: formulas, zone: "America/Los_Angeles"},
		{name: "failures per user and month", el: perUser, zone: "Europe/London", emu: "DATE_TRUNC of a DATE",
			fix: func(s string) string { return strings.ReplaceAll(s, "-01T00:00:00Z,", "-01,") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { compareDialects(t, c, duck, sf, schemaCols, sfCols, demoEnd) })
	}
}

// compareDialects compiles c for DuckDB and for Snowflake, runs it on both
// sides for the day ten days before end (in the case's zone) and requires
// the same CSV bytes.
func compareDialects(t *testing.T, c elementCase, duck *duckdb.Source, sf *Source, duckCols, sfCols []source.Column, endAt string) {
	end, _ := time.Parse(time.RFC3339, endAt)
	loc := time.UTC
	if c.zone != "" {
		loc, _ = time.LoadLocation(c.zone)
	}
	day := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -10)
	v := workbook.Values{Now: end, WindowStart: day, WindowEnd: day.AddDate(0, 0, 1)}
	var outs [2]bytes.Buffer
	var sqls [2]string
	for i, d := range []workbook.Dialect{workbook.DuckDB, workbook.Snowflake} {
		var src source.Source = duck
		cols := duckCols
		if d == workbook.Snowflake {
			src, cols = sf, sfCols
		}
		comp, err := workbook.Compile(c.el, schemaFor(d, cols), workbook.Options{Dialect: d, Timezone: loc, Window: c.window, DedupeBy: c.dedupe})
		if err != nil {
			t.Fatalf("%s: compile: %v", d, err)
		}
		args, err := comp.Bind(v)
		if err != nil {
			t.Fatal(err)
		}
		sqls[i] = comp.SQL
		res, err := src.ExportCSV(t.Context(), source.Query{SQL: comp.SQL, Args: args}, &outs[i])
		if err != nil {
			t.Fatalf("%s: %v\n%s", d, err, comp.SQL)
		}
		if res.Rows == 0 {
			t.Fatalf("%s: no rows; the case tests nothing\n%s", d, comp.SQL)
		}
	}
	got := outs[1].Bytes()
	if c.emu != "" {
		if emulatorDifferences[c.emu] == "" {
			t.Fatalf("case names unknown emulator difference %q", c.emu)
		}
		fixed := []byte(c.fix(string(got)))
		if bytes.Equal(fixed, got) {
			t.Errorf("emulator difference %q no longer shows: drop it from the case", c.emu)
		}
		got = fixed
	}
	if d := firstDiff(outs[0].Bytes(), got); d != "" {
		t.Errorf("DuckDB and Snowflake (emulator) differ: %s\nDuckDB SQL:\n%s\nSnowflake SQL:\n%s", d, sqls[0], sqls[1])
	}
}

func schemaFor(d workbook.Dialect, cols []source.Column) workbook.Schema {
	s := workbook.Schema{Table: "AUDIT_LOGS"}
	for _, c := range cols {
		s.Columns = append(s.Columns, workbook.Column{Name: c.Name, Type: workbook.TypeFromSQL(d, c.Type)})
	}
	return s
}

// quickStartElement is the Daily Login Activity element of Sigma's
// audit-log QuickStart.
func quickStartElement() *workbook.Element {
	return &workbook.Element{
		From:    workbook.From{Table: "AUDIT_LOGS"},
		GroupBy: []workbook.Grouping{{Formula: "[Request Time]", Truncate: "day"}},
		Columns: []workbook.CalcColumn{
			{Name: "Success", Formula: `CountIf([Event Type] = "LOGIN", [Event Status] = "SUCCESS")`},
			{Name: "Failure", Formula: `CountIf([Event Type] = "LOGIN", [Event Status] = "FAILURE")`},
		},
		OrderBy: []workbook.Order{{Column: "Day of Request Time"}},
	}
}

// TestCrossDialectQuickStartDST: the QuickStart on 200k generated rows
// (the workbook package's TestQuickStartMatchesHandWritten data: a row
// every 137 s from 2027-03-01, across both 2027 DST changes, NULLs in
// both columns), on DuckDB and on the emulator, per day in UTC, Los
// Angeles and London.
func TestCrossDialectQuickStartDST(t *testing.T) {
	init := filepath.Join(t.TempDir(), "audit_dst.sql")
	if err := os.WriteFile(init, []byte(`CREATE TABLE AUDIT_LOGS AS
SELECT TIMESTAMP '2027-03-01 00:00:00' + to_seconds(i * 137) AS REQUEST_TIME,
  CASE i % 7 WHEN 0 THEN 'VIEW_WORKBOOK' WHEN 1 THEN 'EXPORT' WHEN 2 THEN NULL ELSE 'LOGIN' END AS EVENT_TYPE,
  CASE i % 5 WHEN 0 THEN 'FAILURE' WHEN 1 THEN NULL ELSE 'SUCCESS' END AS EVENT_STATUS
FROM range(200000) r(i);
`), 0o644); err != nil {
		t.Fatal(err)
	}
	duck, sf := loadBoth(t, []string{init}, nil)
	sameCount(t, duck, sf, 200_000)
	duckCols, err := duck.Columns(t.Context(), "AUDIT_LOGS")
	if err != nil {
		t.Fatal(err)
	}
	sfCols, err := sf.Columns(t.Context(), "AUDIT_LOGS")
	if err != nil {
		t.Fatal(err)
	}
	for _, zone := range []string{"UTC", "America/Los_Angeles", "Europe/London"} {
		c := elementCase{name: "QuickStart " + zone, el: quickStartElement(), zone: zone}
		t.Run(c.name, func(t *testing.T) { compareDialects(t, c, duck, sf, duckCols, sfCols, "2027-12-01T00:00:00Z") })
	}
}

func firstDiff(a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n  duckdb    " + x + "\n  snowflake " + y
		}
	}
	return "same lines, different bytes"
}

func itoa(i int) string { return strconv.Itoa(i) }
