package workbook

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// FuzzCompile feeds arbitrary text to the parser and compiler as a formula,
// as a string literal's contents and as a column name. It must never panic,
// and whatever compiles must parse (DuckDB's json_serialize_sql) as exactly
// one SELECT with the expected select list, in both dialects; a string
// literal must come back from DuckDB unchanged.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`'`, `"`, `\`, `\\`, `\"`, `'; DROP TABLE AUDIT_LOGS; --`, `"; DROP TABLE x; --`, `--`, `/*`, `*/`, `;`,
		"\x00", "a\x00b", "ü", "日本語", "\u202e", "\xff", `$1`, `?`, `]`, `[`, `[]`, `[Event Type]`,
		`CountIf([Event Type] = "LOGIN", [Event Status] = "SUCCESS")`, `[A] - -[B]`, `1 / * 2`, `"\\'"`,
		`If([Event Type] = "x'); --", 1, 2)`, `Contains([User Email], "\"\\--/*;")`, `DateTrunc("day", [Request Time])`,
		`Not Not Not True`, `((((((((((1))))))))))`, `1e308 * 1e308`, `99999999999999999999999`, `.5`, `[Request Time] >= Now()`,
	} {
		f.Add(s)
	}
	db := parserDB(f)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS ONE_ROW AS SELECT 1 AS X"); err != nil {
		f.Fatal(err)
	}
	one := Schema{Table: "ONE_ROW", Columns: []Column{{Name: "X", Type: Integer}}}
	f.Fuzz(func(t *testing.T, s string) {
		lit := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
		elems := []struct {
			el     *Element
			schema Schema
		}{
			{&Element{From: From{Table: "AUDIT_LOGS"}, Columns: []CalcColumn{{Name: "V", Formula: s}}, Filters: []string{s}}, auditSchema()},
			{&Element{From: From{Table: "AUDIT_LOGS"}, Columns: []CalcColumn{{Name: "V", Formula: s}}}, auditSchema()},
			{&Element{From: From{Table: "AUDIT_LOGS"}, GroupBy: []Grouping{{Formula: "[Request Time]", Truncate: "day"}},
				Columns: []CalcColumn{{Name: "V", Formula: s}}}, auditSchema()},
			{&Element{From: From{Table: "AUDIT_LOGS"}, GroupBy: []Grouping{{Name: s, Formula: "[Event Type]"}},
				Columns: []CalcColumn{{Name: s + "2", Formula: "CountIf([Event Type] = " + lit + ")"}},
				Filters: []string{"[Event Status] != " + lit}, OrderBy: []Order{{Column: s}}}, auditSchema()},
			{&Element{From: From{Table: "ONE_ROW"}, Columns: []CalcColumn{{Name: "V", Formula: lit}}}, one},
		}
		for i, e := range elems {
			for _, d := range []Dialect{DuckDB, Snowflake} {
				c, err := Compile(e.el, e.schema, Options{Dialect: d, Window: &WindowHook{Column: "Request Time"}})
				if i == 4 {
					c, err = Compile(e.el, e.schema, Options{Dialect: d})
				}
				if err != nil {
					if _, ok := err.(Errors); !ok {
						t.Fatalf("error of type %T: %v", err, err)
					}
					continue
				}
				if n, err := selectListLen(db, c.SQL); err != nil || n != len(c.Columns) {
					t.Fatalf("%s element %d: %v (select list %d, columns %d)\n%s", d, i, err, n, len(c.Columns), c.SQL)
				}
				if i == 4 && d == DuckDB {
					var got string
					if err := db.QueryRow(c.SQL).Scan(&got); err != nil {
						t.Fatalf("%v\n%s", err, c.SQL)
					}
					if got != s {
						t.Fatalf("literal %q came back as %q", s, got)
					}
				}
			}
		}
	})
}

// selectListLen checks that q is exactly one SELECT and returns the length
// of its select list.
func selectListLen(db *sql.DB, q string) (int, error) {
	var out string
	if err := db.QueryRow("SELECT CAST(json_serialize_sql(CAST($1 AS VARCHAR)) AS VARCHAR)", q).Scan(&out); err != nil {
		return 0, err
	}
	var res struct {
		Error      bool   `json:"error"`
		Message    string `json:"error_message"`
		Statements []struct {
			Node struct {
				Type       string            `json:"type"`
				SelectList []json.RawMessage `json:"select_list"`
			} `json:"node"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return 0, err
	}
	if res.Error || len(res.Statements) != 1 || res.Statements[0].Node.Type != "SELECT_NODE" {
		return 0, fmt.Errorf("not exactly one SELECT (%d statements): %s", len(res.Statements), res.Message)
	}
	return len(res.Statements[0].Node.SelectList), nil
}
