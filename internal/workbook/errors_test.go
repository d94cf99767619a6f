package workbook

import (
	"errors"
	"strings"
	"testing"
)

// TestErrors mutates the valid QuickStart element once per case and checks
// the exact, located message (what validate prints after file:line:col).
func TestErrors(t *testing.T) {
	db := parserDB(t)
	cases := []struct {
		name   string
		mutate func(el *Element, o *Options)
		want   []string
	}{
		{"unknown column with suggestion", func(el *Element, o *Options) {
			el.Columns[0].Formula = `CountIf([Event Type] = "LOGIN", [Event Stauts] = "SUCCESS")`
		}, []string{`columns[0].formula: column 33: unknown column [Event Stauts]; did you mean [Event Status]?`}},
		{"unknown column without suggestion", func(el *Element, o *Options) {
			el.Columns[1].Formula = `Count([Zzzzzzzz])`
		}, []string{`columns[1].formula: column 7: unknown column [Zzzzzzzz]`}},
		{"unknown function with suggestion", func(el *Element, o *Options) {
			el.Columns[0].Formula = `CountIff([Event Type] = "LOGIN")`
		}, []string{`columns[0].formula: column 1: unknown function CountIff; did you mean CountIf?`}},
		{"wrong arity", func(el *Element, o *Options) {
			el.Columns[0].Formula = `Round()`
		}, []string{`columns[0].formula: column 1: Round takes 1 to 2 arguments, got 0 (usage: Round(number, [decimals]))`}},
		{"wrong arity exact", func(el *Element, o *Options) {
			el.Columns[0].Formula = `Count(Contains("a"))`
		}, []string{`columns[0].formula: column 7: Contains takes 2 arguments, got 1 (usage: Contains(text, search))`}},
		{"sum of text", func(el *Element, o *Options) {
			el.Columns[0].Formula = `Sum([User Email])`
		}, []string{`columns[0].formula: column 5: Sum: argument 1 must be a Number, got Text`}},
		{"aggregate inside aggregate", func(el *Element, o *Options) {
			el.Columns[0].Formula = `Sum(Count())`
		}, []string{`columns[0].formula: column 5: Count inside Sum: an aggregate cannot contain another aggregate`}},
		{"aggregate column inside aggregate", func(el *Element, o *Options) {
			el.Columns[1].Formula = `Max([Success])`
		}, []string{`columns[1].formula: column 5: [Success] is an aggregate and cannot be used inside Max: an aggregate cannot contain another aggregate`}},
		{"non-boolean filter", func(el *Element, o *Options) {
			el.Filters = []string{`[Event Type]`}
		}, []string{`filters[0]: column 1: a filter must be Logical (true or false), but this formula is Text`}},
		{"mixing aggregates and row values", func(el *Element, o *Options) {
			el.Columns[0].Formula = `Count() + [Duration Ms]`
		}, []string{`columns[0].formula: column 11: cannot mix aggregates and row values: [Duration Ms] is neither grouped nor inside an aggregate`}},
		{"row value in grouped element", func(el *Element, o *Options) {
			el.Columns[0].Formula = `Upper([Event Type])`
		}, []string{`columns[0].formula: column 7: [Event Type] is neither grouped nor aggregated; wrap it in an aggregate such as Max or Count, or add it to group_by`}},
		{"aggregate in group_by", func(el *Element, o *Options) {
			el.GroupBy = append(el.GroupBy, Grouping{Name: "N", Formula: "Count()"})
		}, []string{`group_by[1].formula: column 1: aggregate Count is not allowed in group_by`}},
		{"syntax error", func(el *Element, o *Options) {
			el.Columns[0].Formula = `CountIf([Event Type] = "LOGIN"`
		}, []string{`columns[0].formula: column 31: expected , or ) in the arguments of CountIf, found end of formula`}},
		{"unclosed string", func(el *Element, o *Options) {
			el.Columns[0].Formula = `CountIf([Event Type] = "LOGIN)`
		}, []string{`columns[0].formula: column 24: unclosed string: missing "`}},
		{"bare name", func(el *Element, o *Options) {
			el.Filters = []string{`Event = "x"`}
		}, []string{`filters[0]: column 1: unexpected name Event; column names go in brackets: [Event]`}},
		{"type mismatch in comparison", func(el *Element, o *Options) {
			el.Filters = []string{`[Duration Ms] = "x"`}
		}, []string{`filters[0]: column 17: comparison =: cannot combine Number with Text`}},
		{"date arithmetic", func(el *Element, o *Options) {
			el.Filters = []string{`[Request Time] + 1 > Now()`}
		}, []string{`filters[0]: column 1: + needs Numbers, got Datetime; use DateAdd or DateDiff for dates`}},
		{"bad unit", func(el *Element, o *Options) {
			el.Filters = []string{`DateTrunc("fortnight", [Request Time]) > Now()`}
		}, []string{`filters[0]: column 11: DateTrunc: unknown unit "fortnight" (want one of day, hour, minute, month, quarter, second, week, year)`}},
		{"unit not literal", func(el *Element, o *Options) {
			el.Filters = []string{`DatePart([Event Type], [Request Time]) > 1`}
		}, []string{`filters[0]: column 10: DatePart: argument 1 must be a unit in quotes, such as "day"`}},
		{"bad truncate", func(el *Element, o *Options) {
			el.GroupBy[0].Truncate = "decade"
		}, []string{`group_by[0].truncate: unknown unit "decade" (want year, quarter, month, week, day, hour, minute or second)`}},
		{"truncate non-date", func(el *Element, o *Options) {
			el.GroupBy[0] = Grouping{Formula: "[Event Type]", Truncate: "day"}
		}, []string{`group_by[0].truncate: only a Date or Datetime can be truncated; this formula is Text`}},
		{"unnamed formula", func(el *Element, o *Options) {
			el.Columns = append(el.Columns, CalcColumn{Formula: "Count() * 2"})
		}, []string{`columns[2].name: required when the formula is not a single column`}},
		{"duplicate name", func(el *Element, o *Options) {
			el.Columns[1].Name = "SUCCESS"
		}, []string{`columns[1].name: duplicate column name "SUCCESS" (also columns[0])`}},
		{"circular reference", func(el *Element, o *Options) {
			el.Columns[0].Formula = "[Failure] + 1"
			el.Columns[1].Formula = "[Success] + 1"
		}, []string{`columns[1].formula: column 1: circular reference: [Success] depends on itself`}},
		{"unknown order_by", func(el *Element, o *Options) {
			el.OrderBy = []Order{{Column: "Sucess"}}
		}, []string{`order_by[0].column: unknown output column "Sucess"; did you mean "Success"?`}},
		{"from.sql not a select", func(el *Element, o *Options) {
			el.From = From{SQL: "DELETE FROM AUDIT_LOGS"}
		}, []string{`from.sql: not one SELECT: Only SELECT statements can be serialized to json!`}},
		{"from.sql two statements", func(el *Element, o *Options) {
			el.From = From{SQL: "SELECT * FROM AUDIT_LOGS; SELECT 1"}
		}, []string{`from.sql: must be exactly one SELECT statement, found 2`}},
		{"from both", func(el *Element, o *Options) {
			el.From = From{Table: "AUDIT_LOGS", SQL: "SELECT 1"}
		}, []string{`from: give either table or sql, not both`}},
		{"week start", func(el *Element, o *Options) {
			el.WeekStart = "friday"
		}, []string{`week_start: must be monday or sunday, not "friday"`}},
		{"negative limit", func(el *Element, o *Options) {
			el.Limit = -1
		}, []string{`limit: must be >= 0`}},
		{"window on text", func(el *Element, o *Options) {
			o.Window = &WindowHook{Column: "Event Type"}
		}, []string{`window.column: [Event Type] is Text; the window needs a Date or Datetime column`}},
		{"dedupe on grouped", func(el *Element, o *Options) {
			o.DedupeBy = []string{"Success"}
		}, []string{`dedupe_by[0]: unknown source column [Success] (a grouped element is de-duplicated on its source rows, before aggregating)`}},
		{"NUL in formula", func(el *Element, o *Options) {
			el.Filters = []string{"[Event Type] = \"a\x00\""}
		}, []string{`filters[0]: column 18: NUL character in formula`}},
		{"errors in field order", func(el *Element, o *Options) {
			// Compiling column 0 compiles column 1 first (through [Failure]).
			el.Columns[0].Formula = "[Failure] + Sum([Event Type])"
			el.Columns[1].Formula = "Sum([User Email])"
		}, []string{
			`columns[0].formula: column 17: Sum: argument 1 must be a Number, got Text`,
			`columns[1].formula: column 5: Sum: argument 1 must be a Number, got Text`,
		}},
		{"several problems at once", func(el *Element, o *Options) {
			el.Columns[0].Formula = `CountIf([Event Stauts] = "SUCCESS")`
			el.Columns[1].Formula = `Sum([User Email])`
			el.Filters = []string{`Len([Event Type])`}
		}, []string{
			`columns[0].formula: column 9: unknown column [Event Stauts]; did you mean [Event Status]?`,
			`columns[1].formula: column 5: Sum: argument 1 must be a Number, got Text`,
			`filters[0]: column 1: a filter must be Logical (true or false), but this formula is Number`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			el := quickStart()
			opts := Options{Dialect: DuckDB, Parser: duckParser{db}}
			tc.mutate(el, &opts)
			err := Check(el, auditSchema(), opts)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var es Errors
			if !errors.As(err, &es) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T is not Errors/ErrInvalid", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestTypeFromSQL covers the spellings DESCRIBE and information_schema use.
func TestTypeFromSQL(t *testing.T) {
	cases := []struct {
		d    Dialect
		in   string
		want Type
	}{
		{DuckDB, "TIMESTAMP", Datetime}, {DuckDB, "TIMESTAMP WITH TIME ZONE", DatetimeTZ}, {DuckDB, "TIMESTAMPTZ", DatetimeTZ},
		{DuckDB, "VARCHAR", Text}, {DuckDB, "BIGINT", Integer}, {DuckDB, "INTEGER", Integer}, {DuckDB, "HUGEINT", Integer},
		{DuckDB, "DOUBLE", Number}, {DuckDB, "DECIMAL(18,3)", Number}, {DuckDB, "DECIMAL(10,0)", Integer},
		{DuckDB, "BOOLEAN", Logical}, {DuckDB, "DATE", Date}, {DuckDB, "JSON", Other}, {DuckDB, "TIME", Other},
		{DuckDB, "TIMESTAMP_NS", Datetime}, {DuckDB, "UUID", Text},
		{Snowflake, "NUMBER(38,0)", Integer}, {Snowflake, "NUMBER(10,2)", Number}, {Snowflake, "NUMBER", Integer},
		{Snowflake, "TIMESTAMP_NTZ", Datetime}, {Snowflake, "TIMESTAMP_NTZ(9)", Datetime}, {Snowflake, "TIMESTAMP_LTZ(9)", DatetimeTZ},
		{Snowflake, "TIMESTAMP_TZ", DatetimeTZ}, {Snowflake, "TEXT", Text}, {Snowflake, "VARCHAR(16777216)", Text},
		{Snowflake, "FLOAT", Number}, {Snowflake, "BOOLEAN", Logical}, {Snowflake, "VARIANT", Other}, {Snowflake, "date", Date},
	}
	for _, tc := range cases {
		if got := TypeFromSQL(tc.d, tc.in); got != tc.want {
			t.Errorf("TypeFromSQL(%s, %q) = %s, want %s", tc.d, tc.in, got.Name(), tc.want.Name())
		}
	}
}
