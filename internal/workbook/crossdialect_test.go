package workbook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosnowflake "github.com/snowflakedb/gosnowflake/v2"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
	"github.com/exportd/exportd/internal/source/snowflake"
	"github.com/exportd/exportd/internal/testenv"
	"github.com/exportd/exportd/internal/workbook"
)

// Every element the workbook tests run on DuckDB (through run in
// helpers_test.go) also runs here: compiled for DuckDB on the DuckDB
// source and for Snowflake on the fakesnow emulator through the real
// gosnowflake driver, over the same copy of the fixture table, and both must
// give the same CSV bytes.

// emulatorDifferences lists the cases (test names) where the emulator, not
// exportd, differs from Snowflake, with the reason. A listed case must still
// differ, so the list cannot go stale. Keep it short.
var emulatorDifferences = map[string]string{
	`TestScalarFunctions/DateTrunc("year",_[D])@`:                 dateOfDate,
	`TestScalarFunctions/DateTrunc("quarter",_[D])@`:              dateOfDate,
	`TestScalarFunctions/DateTrunc("week",_[D])@`:                 dateOfDate,
	`TestScalarFunctions/DateTrunc("week",_[D])@sunday`:           dateOfDate,
	`TestScalarFunctions/DateAdd("month",_1,_Date(2027,_1,_31))@`: dateOfDate,
	`TestScalarFunctions/DateAdd("year",_[N],_[D])@`:              dateOfDate,
	`TestScalarFunctions/DateAdd("quarter",_1,_[D])@`:             dateOfDate,
	`TestScalarFunctions/DateAdd("week",_1,_[D])@`:                dateOfDate,
	`TestAggregates/Sum([N])`:                                     sumOfInteger,
	`TestAggregates/SumIf([N],_[N]_>_0)`:                          sumOfInteger,
	`TestAggregates/Count()_*_10_+_Sum([N])`:                      sumOfInteger,
	`TestCalculatedColumnReferences#2`:                            sumOfInteger,
}

const (
	dateOfDate   = "fakesnow runs DuckDB's date_trunc/date_add, which return a TIMESTAMP for a DATE; Snowflake's DATE_TRUNC and DATEADD (day or larger) return a DATE"
	sumOfInteger = "fakesnow types SUM of a NUMBER(38,0) column with a scale and prints 4.0; Snowflake's SUM of NUMBER(p,0) is NUMBER(38,0)"
)

var (
	emuOnce sync.Once
	emu     *testenv.Fakesnow
	emuDir  string
	emuErr  error

	fixMu    sync.Mutex
	fixtures = map[string]*fixture{}
	// runs counts the elements each test checked: the second one of a
	// test is named test#2 in emulatorDifferences.
	runs = map[string]int{}
)

func TestMain(m *testing.M) {
	workbook.SetCrossCheck(crossCheck)
	code := m.Run()
	if emu != nil {
		_ = emu.Stop()
		os.RemoveAll(emuDir)
	}
	for _, f := range fixtures {
		f.duck.Close()
		f.sf.Close()
		os.RemoveAll(f.dir)
	}
	os.Exit(code)
}

// emulator starts the package's one emulator on first use; without it the
// test fails (the Snowflake tests never skip).
func emulator(tb testing.TB) *testenv.Fakesnow {
	tb.Helper()
	emuOnce.Do(func() {
		emuDir, emuErr = os.MkdirTemp("", "exportd-fakesnow-")
		if emuErr == nil {
			emu, emuErr = testenv.NewFakesnow(emuDir)
		}
	})
	if emuErr != nil {
		tb.Fatalf("the cross-dialect check needs the fakesnow emulator: %v", emuErr)
	}
	return emu
}

// fixture is one table's content loaded into a DuckDB source and into a
// database of its own on the emulator.
type fixture struct {
	dir  string
	duck *duckdb.Source
	sf   *snowflake.Source
}

// maxFixtureRows bounds the fixtures copied into the emulator.
const maxFixtureRows = 2000

const emuPassword = "wb-cross-pw-4kT9"

func crossCheck(tb testing.TB, db *sql.DB, el *workbook.Element, schema workbook.Schema, opts workbook.Options, v workbook.Values) {
	tb.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + schema.Table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	if n > maxFixtureRows {
		// The emulator loads a large fixture as one slow statement; the
		// QuickStart at demo scale runs on both engines in
		// internal/source/snowflake's TestCrossDialect instead.
		return
	}
	f := loadFixture(tb, db, schema)
	var outs [2]bytes.Buffer
	var sqls [2]string
	for i, d := range []workbook.Dialect{workbook.DuckDB, workbook.Snowflake} {
		var src source.Source = f.duck
		if d == workbook.Snowflake {
			src = f.sf
		}
		o := opts
		o.Dialect = d
		c, err := workbook.Compile(el, schema, o)
		if err != nil {
			tb.Fatalf("%s: compile: %v", d, err)
		}
		args, err := c.Bind(v)
		if err != nil {
			tb.Fatalf("%s: bind: %v", d, err)
		}
		sqls[i] = c.SQL
		if _, err := src.ExportCSV(context.Background(), source.Query{SQL: c.SQL, Args: args}, &outs[i]); err != nil {
			tb.Fatalf("%s: %v\n%s", d, err, c.SQL)
		}
	}
	same := bytes.Equal(outs[0].Bytes(), outs[1].Bytes())
	fixMu.Lock()
	runs[tb.Name()]++
	name := tb.Name()
	if runs[name] > 1 {
		name += "#" + strconv.Itoa(runs[name])
	}
	fixMu.Unlock()
	if reason, ok := emulatorDifferences[name]; ok {
		if same {
			tb.Errorf("emulator difference %q (%s) no longer shows: drop it from emulatorDifferences", name, reason)
		}
		return
	}
	if !same {
		tb.Errorf("DuckDB and Snowflake (emulator) CSV differ:\n--- duckdb\n%s--- snowflake\n%s\nDuckDB SQL:\n%s\nSnowflake SQL:\n%s",
			outs[0].String(), outs[1].String(), sqls[0], sqls[1])
	}
}

// loadFixture copies schema.Table's columns from db into both engines,
// once per distinct content.
func loadFixture(tb testing.TB, db *sql.DB, schema workbook.Schema) *fixture {
	tb.Helper()
	duckScript, sfScript := fixtureScripts(tb, db, schema)
	sum := sha256.Sum256([]byte(duckScript))
	key := hex.EncodeToString(sum[:8])
	fixMu.Lock()
	defer fixMu.Unlock()
	if f := fixtures[key]; f != nil {
		return f
	}
	e := emulator(tb)
	dir, err := os.MkdirTemp("", "exportd-wbfix-")
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{dir: dir}
	init := filepath.Join(dir, "fixture.sql")
	if err := os.WriteFile(init, []byte(duckScript), 0o600); err != nil {
		tb.Fatal(err)
	}
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o700); err != nil {
		tb.Fatal(err)
	}
	if f.duck, err = duckdb.Open(context.Background(), duckdb.Options{Name: "duck", Path: duckdb.MemoryPath,
		Init: []string{init}, TimeZone: "Asia/Tokyo", SpoolDir: spool}); err != nil {
		tb.Fatalf("%v\n%s", err, duckScript)
	}
	dbName := "WB_" + strings.ToUpper(key)
	dsn, err := gosnowflake.DSN(&gosnowflake.Config{Account: "acct", User: "admin", Password: emuPassword,
		Host: e.Host, Port: e.Port, Protocol: "http"})
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := sql.Open("snowflake", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	stmts := append([]string{"CREATE DATABASE IF NOT EXISTS " + dbName, "CREATE SCHEMA IF NOT EXISTS " + dbName + ".PUBLIC",
		"USE SCHEMA " + dbName + ".PUBLIC"}, sfScript...)
	conn, err := admin.Conn(context.Background())
	if err != nil {
		tb.Fatalf("%v\n%s", err, e.LogTail())
	}
	defer conn.Close()
	for _, st := range stmts {
		// gosnowflake retries a failed request: bound it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := conn.ExecContext(ctx, st)
		cancel()
		if err != nil {
			tb.Fatalf("%v\n%s\n%s", err, st, e.LogTail())
		}
	}
	if f.sf, err = snowflake.Open(context.Background(), snowflake.Options{Name: "wh", Account: "acct", User: "exportd",
		Database: dbName, Schema: "PUBLIC", Password: emuPassword, Protocol: "http", Host: e.Host, Port: e.Port}); err != nil {
		tb.Fatal(err)
	}
	fixtures[key] = f
	return f
}

// fixtureScripts reads schema.Table's columns from db and writes the
// statements that create and fill the same table in each engine, with
// typed literals.
func fixtureScripts(tb testing.TB, db *sql.DB, schema workbook.Schema) (string, []string) {
	tb.Helper()
	var sel, duckCols, sfCols []string
	for _, c := range schema.Columns {
		q := `"` + strings.ReplaceAll(c.Name, `"`, `""`) + `"`
		switch c.Type {
		case workbook.Other:
			sel = append(sel, "CAST("+q+" AS VARCHAR)")
		case workbook.DatetimeTZ:
			sel = append(sel, "CAST(timezone('UTC', "+q+") AS VARCHAR)")
		case workbook.Datetime, workbook.Date, workbook.Number:
			sel = append(sel, "CAST("+q+" AS VARCHAR)")
		default:
			sel = append(sel, q)
		}
		dt, st := engineTypes(tb, c.Type)
		duckCols = append(duckCols, q+" "+dt)
		sfCols = append(sfCols, q+" "+st)
	}
	rows, err := db.Query("SELECT " + strings.Join(sel, ", ") + " FROM " + schema.Table)
	if err != nil {
		tb.Fatalf("fixture %s: %v", schema.Table, err)
	}
	defer rows.Close()
	var duckRows, sfRows []string
	for rows.Next() {
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		var dl, sl []string
		for i, c := range schema.Columns {
			dt, st := engineTypes(tb, c.Type)
			if vals[i] == nil {
				dl = append(dl, "CAST(NULL AS "+dt+")")
				sl = append(sl, "CAST(NULL AS "+st+")")
				continue
			}
			var text string
			switch x := vals[i].(type) {
			case string:
				text = x
			case []byte:
				text = string(x)
			case time.Time:
				tb.Fatalf("fixture %s: unexpected time for %s", schema.Table, c.Name)
			default:
				text = fmt.Sprint(x)
			}
			switch c.Type {
			case workbook.Logical, workbook.Integer:
				dl = append(dl, text)
				sl = append(sl, text)
			case workbook.Other:
				dl = append(dl, "CAST("+duckLit(text)+" AS JSON)")
				sl = append(sl, "PARSE_JSON("+sfLit(text)+")")
			case workbook.DatetimeTZ:
				dl = append(dl, "CAST("+duckLit(text+"+00:00")+" AS TIMESTAMPTZ)")
				sl = append(sl, "CAST("+sfLit(text+" +00:00")+" AS TIMESTAMP_TZ)")
			default:
				dl = append(dl, "CAST("+duckLit(text)+" AS "+dt+")")
				sl = append(sl, "CAST("+sfLit(text)+" AS "+st+")")
			}
		}
		duckRows = append(duckRows, "("+strings.Join(dl, ", ")+")")
		sfRows = append(sfRows, "SELECT "+strings.Join(sl, ", "))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	duckScript := "CREATE TABLE " + schema.Table + " (" + strings.Join(duckCols, ", ") + ");\n"
	sfScript := []string{"CREATE OR REPLACE TABLE " + schema.Table + " (" + strings.Join(sfCols, ", ") + ")"}
	for start := 0; start < len(duckRows); start += 500 {
		end := min(start+500, len(duckRows))
		duckScript += "INSERT INTO " + schema.Table + " VALUES " + strings.Join(duckRows[start:end], ",\n") + ";\n"
		sfScript = append(sfScript, "INSERT INTO "+schema.Table+" "+strings.Join(sfRows[start:end], "\nUNION ALL "))
	}
	return duckScript, sfScript
}

func engineTypes(tb testing.TB, t workbook.Type) (duck, sf string) {
	switch t {
	case workbook.Integer:
		return "BIGINT", "NUMBER(38,0)"
	case workbook.Number:
		return "DOUBLE", "FLOAT"
	case workbook.Text:
		return "VARCHAR", "TEXT"
	case workbook.Logical:
		return "BOOLEAN", "BOOLEAN"
	case workbook.Date:
		return "DATE", "DATE"
	case workbook.Datetime:
		return "TIMESTAMP", "TIMESTAMP_NTZ"
	case workbook.DatetimeTZ:
		return "TIMESTAMPTZ", "TIMESTAMP_TZ"
	case workbook.Other:
		return "JSON", "VARIANT"
	}
	tb.Fatalf("fixture column of type %v: teach engineTypes its types", t)
	return "", ""
}

func duckLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sfLit is a Snowflake string literal: backslash is an escape there.
func sfLit(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}
