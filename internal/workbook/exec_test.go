package workbook

import (
	"strings"
	"testing"
	"time"
)

// runNow is the logical time of test runs: 2027-11-08 05:00 UTC, which is
// still 2027-11-07 (21:00 PST) in Los Angeles.
var runNow = time.Date(2027, 11, 8, 5, 0, 0, 0, time.UTC)

// TestScalarFunctions runs every row-level function and operator on DuckDB
// against the FX fixture. Expected values are written by hand, one per
// fixture row (IDs 1-6), from the table in fxDDL's comment.
func TestScalarFunctions(t *testing.T) {
	db := openDB(t)
	mustExec(t, db, fxDDL)
	la := mustLoad(t, "America/Los_Angeles")

	cases := []struct {
		formula string
		zone    string // schedule zone; "" is Los Angeles
		week    string
		want    string // six values separated by |
	}{
		// Literals and operators.
		{`1 + 2 * 3 ^ 2`, "", "", "19|19|19|19|19|19"},
		{`2 ^ 3 ^ 2`, "", "", "512|512|512|512|512|512"},
		{`-2 ^ 2`, "", "", "4|4|4|4|4|4"},
		{`(1 + 2) * 3 - -1`, "", "", "10|10|10|10|10|10"},
		{`[N] + 1`, "", "", "11|-2|NULL|1|8|3"},
		{`[N] - [X]`, "", "", "7.5|-1.75|NULL|0|3.25|-98"},
		{`[N] * 2`, "", "", "20|-6|NULL|0|14|4"},
		{`[N] / 4`, "", "", "2.5|-0.75|NULL|0|1.75|0.5"},
		{`1 / [N]`, "", "", "0.1|-0.3333333333|NULL|NULL|0.1428571429|0.5"},
		{`-[N]`, "", "", "-10|3|NULL|0|-7|-2"},
		{`[N] ^ 2`, "", "", "100|9|NULL|0|49|4"},
		{`[N] = Null`, "", "", "NULL|NULL|NULL|NULL|NULL|NULL"},
		{`[S] = ""`, "", "", "false|false|NULL|true|false|false"},
		{`[S] != "a,b,c"`, "", "", "true|false|NULL|true|true|true"},
		{`[S] <> "a,b,c"`, "", "", "true|false|NULL|true|true|true"},
		{`[N] < 2`, "", "", "false|true|NULL|true|false|false"},
		{`[N] <= 2`, "", "", "false|true|NULL|true|false|true"},
		{`[N] > 2`, "", "", "true|false|NULL|false|true|false"},
		{`[N] >= 2`, "", "", "true|false|NULL|false|true|true"},
		{`[N] = [X] * 4`, "", "", "true|false|NULL|true|false|false"},
		{`Not [B]`, "", "", "false|true|NULL|false|true|NULL"},
		{`[B] And [N] > 0`, "", "", "true|false|NULL|false|false|NULL"},
		{`[B] Or [N] > 5`, "", "", "true|false|NULL|true|true|NULL"},
		{`not [B] or [N] = 10 and true`, "", "", "true|true|NULL|false|true|NULL"},
		{`True`, "", "", "true|true|true|true|true|true"},
		{`[S] & "!"`, "", "", "Hello, World!|a,b,c!|!|!|héllo wörld!|  pad  !"},
		{`Null & Null`, "", "", "|||||"},
		{`[S] & [N]`, "", "", "Hello, World10|a,b,c-3||0|héllo wörld7|  pad  2"},
		{`"a" & "b" & "c"`, "", "", "abc|abc|abc|abc|abc|abc"},
		{`"It's \"q\" \\ -- /* ; ü"`, "", "", `It's "q" \ -- /* ; ü|It's "q" \ -- /* ; ü|It's "q" \ -- /* ; ü|It's "q" \ -- /* ; ü|It's "q" \ -- /* ; ü|It's "q" \ -- /* ; ü`},

		// Logic.
		{`If([N] > 5, "big", [N] > 0, "small", "other")`, "", "", "big|other|other|other|big|small"},
		{`If([N] > 5, "big")`, "", "", "big|NULL|NULL|NULL|big|NULL"},
		{`If([B], [N], [X])`, "", "", "10|-1.25|NULL|0|3.75|100"},
		{`Switch([N], 10, "ten", 7, "seven", "?")`, "", "", "ten|?|?|?|seven|?"},
		{`Switch([S], "a,b,c", 1, "", 2)`, "", "", "NULL|1|NULL|2|NULL|NULL"},
		{`Coalesce([N], -1)`, "", "", "10|-3|-1|0|7|2"},
		{`Coalesce([S], "none")`, "", "", "Hello, World|a,b,c|none||héllo wörld|  pad  "},
		{`IsNull([S])`, "", "", "false|false|true|false|false|false"},
		{`IsNotNull([S])`, "", "", "true|true|false|true|true|true"},
		{`IsNull([J])`, "", "", "false|true|true|false|true|true"},
		{`In([N], 10, 2, 99)`, "", "", "true|false|NULL|false|false|true"},
		{`In([S], "a,b,c", "")`, "", "", "false|true|NULL|true|false|false"},
		{`Between([N], 0, 7)`, "", "", "false|false|NULL|true|true|true"},
		{`Between([D], Date(2027, 1, 1), Date(2027, 3, 14))`, "", "", "true|false|NULL|true|false|false"},

		// Text.
		{`Contains([S], [T])`, "", "", "true|true|NULL|true|true|false"},
		{`Contains([S], "world")`, "", "", "false|false|NULL|false|false|false"},
		{`StartsWith([S], "He")`, "", "", "true|false|NULL|false|false|false"},
		{`EndsWith([S], "c")`, "", "", "false|true|NULL|false|false|false"},
		{`Lower([S])`, "", "", "hello, world|a,b,c|NULL||héllo wörld|  pad  "},
		{`Upper([S])`, "", "", "HELLO, WORLD|A,B,C|NULL||HÉLLO WÖRLD|  PAD  "},
		{`Trim([S])`, "", "", "Hello, World|a,b,c|NULL||héllo wörld|pad"},
		{`Len([S])`, "", "", "12|5|NULL|0|11|7"},
		{`Left([S], 3)`, "", "", "Hel|a,b|NULL||hél|  p"},
		{`Right([S], 3)`, "", "", "rld|b,c|NULL||rld|d  "},
		{`Replace([S], "l", "L")`, "", "", "HeLLo, WorLd|a,b,c|NULL||héLLo wörLd|  pad  "},
		{`SplitPart([S], ",", 2)`, "", "", " World|b|NULL|||"},
		{`SplitPart([S], ",", -1)`, "", "", " World|c|NULL||héllo wörld|  pad  "},

		// Numbers.
		{`Round([X])`, "", "", "3|-1|NULL|0|4|100"},
		{`Round([X], 1)`, "", "", "2.5|-1.3|NULL|0|3.8|100"},
		{`Round([N])`, "", "", "10|-3|NULL|0|7|2"},
		{`Floor([X])`, "", "", "2|-2|NULL|0|3|100"},
		{`Ceiling([X])`, "", "", "3|-1|NULL|0|4|100"},
		{`Abs([N])`, "", "", "10|3|NULL|0|7|2"},
		{`Abs([X])`, "", "", "2.5|1.25|NULL|0|3.75|100"},
		{`Power([N], 2)`, "", "", "100|9|NULL|0|49|4"},

		// Dates, evaluated in Los Angeles unless the zone says otherwise.
		{`Now()`, "", "", "2027-11-08 05:00:00|2027-11-08 05:00:00|2027-11-08 05:00:00|2027-11-08 05:00:00|2027-11-08 05:00:00|2027-11-08 05:00:00"},
		{`Today()`, "", "", "2027-11-07|2027-11-07|2027-11-07|2027-11-07|2027-11-07|2027-11-07"},
		{`Today()`, "UTC", "", "2027-11-08|2027-11-08|2027-11-08|2027-11-08|2027-11-08|2027-11-08"},
		{`Date(2027, 2, 28)`, "", "", "2027-02-28|2027-02-28|2027-02-28|2027-02-28|2027-02-28|2027-02-28"},
		{`Date("2027-03-14")`, "", "", "2027-03-14|2027-03-14|2027-03-14|2027-03-14|2027-03-14|2027-03-14"},
		{`Date("not a date")`, "", "", "NULL|NULL|NULL|NULL|NULL|NULL"},
		{`Date([TS])`, "", "", "2027-03-14|2027-03-14|NULL|2027-11-07|2027-11-07|2027-11-07"},
		{`Date([TS])`, "UTC", "", "2027-03-14|2027-03-14|NULL|2027-11-07|2027-11-07|2027-11-08"},
		{`[TS]`, "", "", "2027-03-14 09:30:00|2027-03-14 10:30:00|NULL|2027-11-07 08:30:00|2027-11-07 09:30:00|2027-11-08 07:30:00"},
		{`[TZ]`, "", "", "2027-03-14 09:30:00|2027-03-14 10:30:00|NULL|2027-11-07 08:30:00|2027-11-07 09:30:00|2027-11-08 07:30:00"},
		{`[TS] = [TZ]`, "", "", "true|true|NULL|true|true|true"},
		{`[TS] >= [D]`, "", "", "true|false|NULL|true|true|true"},
		{`[D] < Date(2027, 3, 14)`, "", "", "false|false|NULL|true|true|false"},
		{`[TS] < Now()`, "", "", "true|true|NULL|true|true|false"},
		{`DatePart("day", [TS])`, "", "", "14|14|NULL|7|7|7"},
		{`DatePart("day", [TS])`, "UTC", "", "14|14|NULL|7|7|8"},
		{`DatePart("hour", [TS])`, "", "", "1|3|NULL|1|1|23"},
		{`DatePart("hour", [TZ])`, "", "", "1|3|NULL|1|1|23"},
		{`DatePart("minute", [TS])`, "", "", "30|30|NULL|30|30|30"},
		{`DatePart("second", DateAdd("second", 7, [TS]))`, "", "", "7|7|NULL|7|7|7"},
		{`DatePart("year", [D])`, "", "", "2027|2027|NULL|2027|2026|2027"},
		{`DatePart("month", [D])`, "", "", "3|11|NULL|1|12|3"},
		{`DatePart("quarter", [D])`, "", "", "1|4|NULL|1|4|1"},
		{`DatePart("week", [D])`, "", "", "10|44|NULL|53|53|11"},
		{`DatePart("dayofyear", [D])`, "", "", "73|311|NULL|1|365|74"},
		{`DatePart("weekday", [D])`, "", "", "7|7|NULL|5|4|1"},
		{`DatePart("weekday", [D])`, "", "sunday", "1|1|NULL|6|5|2"},
		{`DateTrunc("day", [TS])`, "", "", "2027-03-14 08:00:00|2027-03-14 08:00:00|NULL|2027-11-07 07:00:00|2027-11-07 07:00:00|2027-11-07 07:00:00"},
		{`DateTrunc("day", [TZ])`, "", "", "2027-03-14 08:00:00|2027-03-14 08:00:00|NULL|2027-11-07 07:00:00|2027-11-07 07:00:00|2027-11-07 07:00:00"},
		{`DateTrunc("day", [TS])`, "UTC", "", "2027-03-14 00:00:00|2027-03-14 00:00:00|NULL|2027-11-07 00:00:00|2027-11-07 00:00:00|2027-11-08 00:00:00"},
		{`DateTrunc("hour", [TS])`, "", "", "2027-03-14 09:00:00|2027-03-14 10:00:00|NULL|2027-11-07 08:00:00|2027-11-07 09:00:00|2027-11-08 07:00:00"},
		// 09:40 UTC is 15:10 in Kolkata (+05:30): its hour starts at 09:30 UTC.
		{`DateTrunc("hour", DateAdd("minute", 10, [TS]))`, "Asia/Kolkata", "", "2027-03-14 09:30:00|2027-03-14 10:30:00|NULL|2027-11-07 08:30:00|2027-11-07 09:30:00|2027-11-08 07:30:00"},
		{`DateTrunc("hour", DateAdd("minute", 10, [TS]))`, "", "", "2027-03-14 09:00:00|2027-03-14 10:00:00|NULL|2027-11-07 08:00:00|2027-11-07 09:00:00|2027-11-08 07:00:00"},
		{`DateTrunc("month", [TS])`, "", "", "2027-03-01 08:00:00|2027-03-01 08:00:00|NULL|2027-11-01 07:00:00|2027-11-01 07:00:00|2027-11-01 07:00:00"},
		{`DateTrunc("year", [D])`, "", "", "2027-01-01|2027-01-01|NULL|2027-01-01|2026-01-01|2027-01-01"},
		{`DateTrunc("quarter", [D])`, "", "", "2027-01-01|2027-10-01|NULL|2027-01-01|2026-10-01|2027-01-01"},
		{`DateTrunc("week", [D])`, "", "", "2027-03-08|2027-11-01|NULL|2026-12-28|2026-12-28|2027-03-15"},
		{`DateTrunc("week", [D])`, "", "sunday", "2027-03-14|2027-11-07|NULL|2026-12-27|2026-12-27|2027-03-14"},
		{`DateTrunc("week", [TS])`, "", "", "2027-03-08 08:00:00|2027-03-08 08:00:00|NULL|2027-11-01 07:00:00|2027-11-01 07:00:00|2027-11-01 07:00:00"},
		{`DateAdd("day", 1, [TS])`, "", "", "2027-03-15 08:30:00|2027-03-15 10:30:00|NULL|2027-11-08 09:30:00|2027-11-08 09:30:00|2027-11-09 07:30:00"},
		{`DateAdd("hour", 1, [TS])`, "", "", "2027-03-14 10:30:00|2027-03-14 11:30:00|NULL|2027-11-07 09:30:00|2027-11-07 10:30:00|2027-11-08 08:30:00"},
		{`DateAdd("minute", -90, [TZ])`, "", "", "2027-03-14 08:00:00|2027-03-14 09:00:00|NULL|2027-11-07 07:00:00|2027-11-07 08:00:00|2027-11-08 06:00:00"},
		{`DateAdd("month", 1, Date(2027, 1, 31))`, "", "", "2027-02-28|2027-02-28|2027-02-28|2027-02-28|2027-02-28|2027-02-28"},
		{`DateAdd("year", [N], [D])`, "", "", "2037-03-14|2024-11-07|NULL|2027-01-01|2033-12-31|2029-03-15"},
		{`DateAdd("quarter", 1, [D])`, "", "", "2027-06-14|2028-02-07|NULL|2027-04-01|2027-03-31|2027-06-15"},
		{`DateAdd("week", 1, [D])`, "", "", "2027-03-21|2027-11-14|NULL|2027-01-08|2027-01-07|2027-03-22"},
		{`DateDiff("day", Date(2027, 3, 13), [TS])`, "", "", "1|1|NULL|239|239|239"},
		{`DateDiff("day", Date(2027, 3, 13), [TS])`, "UTC", "", "1|1|NULL|239|239|240"},
		{`DateDiff("hour", [TS], DateAdd("day", 1, [TS]))`, "", "", "23|24|NULL|25|24|24"},
		{`DateDiff("week", Date(2027, 3, 14), [D])`, "", "", "0|34|NULL|-10|-10|1"},
		{`DateDiff("week", Date(2027, 3, 14), [D])`, "", "sunday", "0|34|NULL|-11|-11|0"},
		{`DateDiff("month", [D], Date(2027, 12, 1))`, "", "", "9|1|NULL|11|12|9"},
		{`DateDiff("year", [D], Date(2027, 1, 1))`, "", "", "0|0|NULL|0|1|0"},
		{`DateDiff("day", [D], Today())`, "", "", "238|0|NULL|310|311|237"},
		{`DateDiff("minute", [TS], [TZ])`, "", "", "0|0|NULL|0|0|0"},
	}
	for _, tc := range cases {
		name := tc.formula + "@" + tc.zone + tc.week
		t.Run(name, func(t *testing.T) {
			zone := la
			if tc.zone != "" {
				zone = mustLoad(t, tc.zone)
			}
			el := &Element{From: From{Table: "FX"}, WeekStart: tc.week,
				Columns: []CalcColumn{{Name: "ID", Formula: "[ID]"}, {Name: "V", Formula: tc.formula}},
				OrderBy: []Order{{Column: "ID"}}}
			rows, c := run(t, db, el, fxSchema(), Options{Timezone: zone}, Values{Now: runNow})
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
