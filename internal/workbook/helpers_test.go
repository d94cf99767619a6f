package workbook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// duckParser is the SQLParser the daemon would use: DuckDB's own parser via
// json_serialize_sql, which serialises only SELECT statements.
type duckParser struct{ db *sql.DB }

var _ SQLParser = duckParser{}

func (p duckParser) CheckSelect(ctx context.Context, query string) error {
	var out string
	if err := p.db.QueryRowContext(ctx, "SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)", query).Scan(&out); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	var res struct {
		Error      bool   `json:"error"`
		Message    string `json:"error_message"`
		Statements []struct {
			Params []json.RawMessage `json:"named_param_map"`
			Node   struct {
				Type string `json:"type"`
			} `json:"node"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	switch {
	case res.Error:
		return errors.New("not one SELECT: " + res.Message)
	case len(res.Statements) != 1:
		return fmt.Errorf("must be exactly one SELECT statement, found %d", len(res.Statements))
	case len(res.Statements[0].Params) > 0:
		return errors.New("must not contain parameters")
	}
	return nil
}

var (
	sharedOnce sync.Once
	sharedDB   *sql.DB
	sharedErr  error
)

// parserDB is one in-memory DuckDB shared by the tests that only parse.
func parserDB(tb testing.TB) *sql.DB {
	tb.Helper()
	sharedOnce.Do(func() { sharedDB, sharedErr = sql.Open("duckdb", "") })
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return sharedDB
}

// openDB opens a private in-memory DuckDB on one connection (so SET and
// temporary state apply to every query), with a session time zone that is
// neither UTC nor the schedule's, to catch SQL that leans on it.
func openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	mustExec(tb, db, "SET TimeZone = 'Asia/Tokyo'")
	return db
}

func mustExec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		tb.Fatalf("%v\n%s", err, q)
	}
}

func mustLoad(tb testing.TB, name string) *time.Location {
	tb.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// auditSchema is the shape of Sigma's AUDIT_LOGS table (a subset).
func auditSchema() Schema {
	return Schema{Table: "AUDIT_LOGS", Columns: []Column{
		{Name: "REQUEST_TIME", Type: Datetime},
		{Name: "EVENT_TYPE", Type: Text},
		{Name: "EVENT_STATUS", Type: Text},
		{Name: "EVENT_NAME", Type: Text},
		{Name: "USER_EMAIL", Type: Text},
		{Name: "USER_ID", Type: Text},
		{Name: "REQUEST_ID", Type: Text},
		{Name: "DURATION_MS", Type: Integer},
		{Name: "EVENT_DATA", Type: Other},
	}}
}

const auditDDL = `CREATE TABLE AUDIT_LOGS (REQUEST_TIME TIMESTAMP, EVENT_TYPE VARCHAR, EVENT_STATUS VARCHAR,
	EVENT_NAME VARCHAR, USER_EMAIL VARCHAR, USER_ID VARCHAR, REQUEST_ID VARCHAR, DURATION_MS BIGINT, EVENT_DATA JSON)`

// quickStart is the Daily Login Activity element of Sigma's audit-log
// QuickStart.
func quickStart() *Element {
	return &Element{
		From:    From{Table: "AUDIT_LOGS"},
		GroupBy: []Grouping{{Formula: "[Request Time]", Truncate: "day"}},
		Columns: []CalcColumn{
			{Name: "Success", Formula: `CountIf([Event Type] = "LOGIN", [Event Status] = "SUCCESS")`},
			{Name: "Failure", Formula: `CountIf([Event Type] = "LOGIN", [Event Status] = "FAILURE")`},
		},
	}
}

// fxDDL is the fixture for function tests. TS holds the instants of two DST
// days in Los Angeles (2027-03-14 is 23 hours long, 2027-11-07 is 25), as
// UTC wall clock; TZ holds the same instants as TIMESTAMPTZ.
//
//	ID  TS (UTC)             Los Angeles
//	1   2027-03-14 09:30     2027-03-14 01:30 PST
//	2   2027-03-14 10:30     2027-03-14 03:30 PDT (after the gap)
//	3   NULL
//	4   2027-11-07 08:30     2027-11-07 01:30 PDT (first 01:30)
//	5   2027-11-07 09:30     2027-11-07 01:30 PST (second 01:30)
//	6   2027-11-08 07:30     2027-11-07 23:30 PST
const fxDDL = `CREATE TABLE FX (ID INTEGER, N BIGINT, X DOUBLE, S VARCHAR, T VARCHAR, B BOOLEAN, D DATE,
	TS TIMESTAMP, TZ TIMESTAMPTZ, J JSON);
INSERT INTO FX VALUES
 (1, 10, 2.5, 'Hello, World', 'World', true, DATE '2027-03-14', TIMESTAMP '2027-03-14 09:30:00', TIMESTAMPTZ '2027-03-14 09:30:00+00', '{"a":1}'),
 (2, -3, -1.25, 'a,b,c', ',', false, DATE '2027-11-07', TIMESTAMP '2027-03-14 10:30:00', TIMESTAMPTZ '2027-03-14 10:30:00+00', NULL),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0.0, '', '', true, DATE '2027-01-01', TIMESTAMP '2027-11-07 08:30:00', TIMESTAMPTZ '2027-11-07 08:30:00+00', '[]'),
 (5, 7, 3.75, 'héllo wörld', 'wör', false, DATE '2026-12-31', TIMESTAMP '2027-11-07 09:30:00', TIMESTAMPTZ '2027-11-07 09:30:00+00', NULL),
 (6, 2, 100.0, '  pad  ', 'x', NULL, DATE '2027-03-15', TIMESTAMP '2027-11-08 07:30:00', TIMESTAMPTZ '2027-11-08 07:30:00+00', NULL)`

func fxSchema() Schema {
	return Schema{Table: "FX", Columns: []Column{
		{Name: "ID", Type: Integer}, {Name: "N", Type: Integer}, {Name: "X", Type: Number},
		{Name: "S", Type: Text}, {Name: "T", Type: Text}, {Name: "B", Type: Logical},
		{Name: "D", Type: Date}, {Name: "TS", Type: Datetime}, {Name: "TZ", Type: DatetimeTZ},
		{Name: "J", Type: Other},
	}}
}

// fmtVal renders a scanned value for comparison with hand-written
// expectations: NULL, integers, floats with 10 significant digits, dates as
// 2006-01-02 and timestamps as 2006-01-02 15:04:05.
func fmtVal(v any, typ string) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if typ == "DATE" {
			return x.Format("2006-01-02")
		}
		return x.Format("2006-01-02 15:04:05")
	case float64:
		return strconv.FormatFloat(x, 'g', 10, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', 10, 64)
	case duckdb.Decimal:
		return strconv.FormatFloat(x.Float64(), 'g', 10, 64)
	case *big.Int:
		return x.String()
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// query runs SQL and returns every row rendered by fmtVal.
func query(tb testing.TB, db *sql.DB, q string, args ...any) [][]string {
	tb.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		tb.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	cts, _ := rows.ColumnTypes()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmtVal(v, cts[i].DatabaseTypeName())
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("%v\n%s", err, q)
	}
	return out
}

// run compiles el for DuckDB, checks the SQL with DuckDB's parser, binds
// v and runs it.
func run(tb testing.TB, db *sql.DB, el *Element, schema Schema, opts Options, v Values) ([][]string, *Compiled) {
	tb.Helper()
	opts.Dialect = DuckDB
	c, err := Compile(el, schema, opts)
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	if err := (duckParser{db}).checkCompiled(c.SQL); err != nil {
		tb.Fatalf("%v\n%s", err, c.SQL)
	}
	args, err := c.Bind(v)
	if err != nil {
		tb.Fatal(err)
	}
	rows := query(tb, db, c.SQL, args...)
	if crossCheck != nil {
		crossCheck(tb, db, el, schema, opts, v)
	}
	return rows, c
}

// crossCheck, set by the cross-dialect test (crossdialect_test.go, an
// external test package because it uses the sources, which import this
// package), runs every element run executes on DuckDB through both sources
// as well, the Snowflake dialect on the emulator, over a copy of the
// fixture table, and fails tb unless both give the same CSV bytes.
var crossCheck func(tb testing.TB, db *sql.DB, el *Element, schema Schema, opts Options, v Values)

// checkCompiled is CheckSelect for our own output, which has parameters.
func (p duckParser) checkCompiled(q string) error {
	var out string
	if err := p.db.QueryRow("SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)", q).Scan(&out); err != nil {
		return err
	}
	var res struct {
		Error      bool              `json:"error"`
		Message    string            `json:"error_message"`
		Statements []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return err
	}
	if res.Error || len(res.Statements) != 1 {
		return fmt.Errorf("not exactly one SELECT (%d statements): %s", len(res.Statements), res.Message)
	}
	return nil
}
