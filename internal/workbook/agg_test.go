package workbook

import (
	"strings"
	"testing"
)

// TestAggregates runs every aggregate on DuckDB, grouped by [B] of the FX
// fixture: false = rows 2 and 5, true = rows 1 and 4, NULL = rows 3 and 6
// (groups sort false, true, NULL). Expectations are written by hand.
func TestAggregates(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, fxDDL)
	cases := []struct {
		formula string
		want    string // false|true|NULL groups
	}{
		{`Count()`, "2|2|2"},
		{`Count([N])`, "2|2|1"},
		{`Count([J])`, "0|2|0"},
		{`CountIf([N] > 0)`, "1|1|1"},
		{`CountIf([N] > 0, [X] > 3)`, "1|0|1"},
		// A NULL condition is not counted: = Null is never true.
		{`CountIf([S] = Null)`, "0|0|0"},
		{`CountIf([S] = "")`, "0|1|0"},
		{`CountIf(IsNull([N]))`, "0|0|1"},
		{`CountDistinct([T])`, "2|2|1"},
		{`Sum([N])`, "4|10|2"},
		{`Sum([X])`, "2.5|2.5|100"},
		{`SumIf([N], [N] > 0)`, "7|10|2"},
		{`SumIf([N], [N] > 100)`, "NULL|NULL|NULL"},
		{`SumIf([X], [N] > 0, [X] > 50)`, "NULL|NULL|100"},
		{`Avg([N])`, "2|5|2"},
		{`AvgIf([X], [N] >= 0)`, "3.75|1.25|100"},
		{`Min([S])`, "a,b,c||  pad  "},
		{`Max([S])`, "héllo wörld|Hello, World|  pad  "},
		{`Max([D])`, "2027-11-07|2027-03-14|2027-03-15"},
		{`Min([TS])`, "2027-03-14 10:30:00|2027-03-14 09:30:00|2027-11-08 07:30:00"},
		{`Max([TZ])`, "2027-11-07 09:30:00|2027-11-07 08:30:00|2027-11-08 07:30:00"},
		{`Median([X])`, "1.25|1.25|100"},
		{`Median([N])`, "2|5|2"},
		{`Count() * 10 + Sum([N])`, "24|30|22"},
		{`If(Count([N]) = 2, "both", "one")`, "both|both|one"},
		{`Round(Avg([X]), 1)`, "1.3|1.3|100"},
	}
	for _, tc := range cases {
		t.Run(tc.formula, func(t *testing.T) {
			el := &Element{From: From{Table: "FX"}, GroupBy: []Grouping{{Formula: "[B]"}},
				Columns: []CalcColumn{{Name: "V", Formula: tc.formula}}}
			rows, c := run(t, db, el, fxSchema(), Options{}, Values{})
			var got []string
			for _, r := range rows {
				got = append(got, r[1])
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("%s\n got: %s\nwant: %s\nSQL:\n%s", tc.formula, g, tc.want, c.SQL)
			}
		})
	}
}

// TestCalculatedColumnReferences checks [Column] references to the
// element's own columns: aggregates combined, a grouping key reused, a
// forward reference, and a summary without group_by.
func TestCalculatedColumnReferences(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, fxDDL)
	el := &Element{From: From{Table: "FX"},
		GroupBy: []Grouping{{Name: "Positive", Formula: "[N] > 0"}},
		Columns: []CalcColumn{
			{Name: "Share", Formula: "[Rows] / [All]"},
			{Name: "Rows", Formula: "Count()"},
			{Name: "All", Formula: "Count() + 0"},
			{Name: "Label", Formula: `If([Positive], "pos", "not pos")`},
		},
		Filters: []string{"IsNotNull([N])", "[Rows] >= 1"},
	}
	rows, c := run(t, db, el, fxSchema(), Options{}, Values{})
	// N: 10 -3 NULL 0 7 2 → not null: positive 10,7,2 (3); not positive -3,0 (2).
	want := "false,1,2,2,not pos;true,1,3,3,pos"
	var got []string
	for _, r := range rows {
		got = append(got, strings.Join(r, ","))
	}
	if g := strings.Join(got, ";"); g != want {
		t.Errorf("got  %s\nwant %s\n%s", g, want, c.SQL)
	}
	if !strings.Contains(c.SQL, "HAVING") {
		t.Errorf("aggregate filter should be in HAVING:\n%s", c.SQL)
	}

	// No group_by, only aggregates: one summary row.
	sum := &Element{From: From{Table: "FX"}, Columns: []CalcColumn{
		{Name: "Rows", Formula: "Count()"}, {Name: "Total", Formula: "Sum([N])"}}}
	rows, c = run(t, db, sum, fxSchema(), Options{}, Values{})
	if len(rows) != 1 || strings.Join(rows[0], ",") != "6,16" {
		t.Errorf("summary got %v\n%s", rows, c.SQL)
	}
}
