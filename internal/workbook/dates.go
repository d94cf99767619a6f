package workbook

import "time"

var utc = time.UTC

// durationFn writes DuckDB's interval constructor for a unit.
func durationFn(u string, n string) string {
	switch u {
	case "year":
		return "to_years(" + n + ")"
	case "quarter":
		return "to_months(3 * " + n + ")"
	case "month":
		return "to_months(" + n + ")"
	case "week":
		return "to_days(7 * " + n + ")"
	case "day":
		return "to_days(" + n + ")"
	case "hour":
		return "to_hours(" + n + ")"
	case "minute":
		return "to_minutes(" + n + ")"
	}
	return "to_seconds(" + n + ")"
}

// dateAdd adds n units to d. Calendar units (day and longer) move the wall
// clock in the schedule's zone, so a day is a calendar day even across a DST
// change; clock units add elapsed time.
func (c *compiler) dateAdd(u string, n, d expr) expr {
	if n.t == Null || d.t == Null {
		t := Datetime
		if d.t == Date && !clockUnit(u) {
			t = Date
		}
		return expr{sql: "CAST(NULL AS " + c.sqlType(t) + ")", t: t, zone: "UTC"}
	}
	amount := c.intArg(n)
	if d.t == Date && !clockUnit(u) {
		if c.sf {
			return expr{sql: "DATEADD(" + u + ", " + amount + ", " + d.sql + ")", t: Date}
		}
		return expr{sql: "CAST(" + d.sql + " + " + durationFn(u, amount) + " AS DATE)", t: Date}
	}
	zone := c.zone
	if clockUnit(u) {
		zone = "UTC"
	}
	base := c.toLocal(d, zone)
	if c.sf {
		return expr{sql: "DATEADD(" + u + ", " + amount + ", " + base + ")", t: Datetime, zone: zone}
	}
	return expr{sql: "(" + base + " + " + durationFn(u, amount) + ")", t: Datetime, zone: zone}
}

// dateDiff counts the unit boundaries crossed from a to b (as Snowflake's
// DATEDIFF does): calendar units between the calendar days in the schedule's
// zone, clock units between UTC instants.
func (c *compiler) dateDiff(u string, a, b expr) expr {
	if a.t == Null || b.t == Null {
		return expr{sql: "CAST(NULL AS " + c.sqlType(Integer) + ")", t: Integer}
	}
	var x, y string
	if clockUnit(u) {
		x, y = c.toLocal(a, "UTC"), c.toLocal(b, "UTC")
	} else {
		x, y = c.dateOf(a).sql, c.dateOf(b).sql
	}
	if u == "week" {
		x, y = c.weekStartSQL(x), c.weekStartSQL(y)
		if c.sf {
			return expr{sql: "CAST(DATEDIFF(day, " + x + ", " + y + ") / 7 AS INTEGER)", t: Integer}
		}
		return expr{sql: "(date_diff('day', " + x + ", " + y + ") // 7)", t: Integer}
	}
	if c.sf {
		return expr{sql: "DATEDIFF(" + u + ", " + x + ", " + y + ")", t: Integer}
	}
	return expr{sql: "date_diff('" + u + "', " + x + ", " + y + ")", t: Integer}
}

// datePart extracts a part of d's wall clock in the schedule's zone.
// "weekday" is 1 for the element's first day of the week (Monday unless
// week_start is sunday); "week" is the ISO week number.
func (c *compiler) datePart(u string, d expr) expr {
	if d.t == Null {
		return expr{sql: "CAST(NULL AS " + c.sqlType(Integer) + ")", t: Integer}
	}
	var x string
	if d.t == Date && !clockUnit(u) {
		x = d.sql
	} else {
		x = c.toLocal(d, c.zone)
	}
	if u == "weekday" {
		dow := c.fn("isodow", "DAYOFWEEKISO", x)
		if c.sunday {
			return expr{sql: "(" + dow + " % 7 + 1)", t: Integer}
		}
		return expr{sql: dow, t: Integer}
	}
	duck := map[string]string{"year": "year", "quarter": "quarter", "month": "month", "week": "week",
		"day": "day", "dayofyear": "dayofyear", "hour": "hour", "minute": "minute", "second": "second"}[u]
	sf := map[string]string{"year": "YEAR", "quarter": "QUARTER", "month": "MONTH", "week": "WEEKISO",
		"day": "DAY", "dayofyear": "DAYOFYEAR", "hour": "HOUR", "minute": "MINUTE", "second": "SECOND"}[u]
	return expr{sql: c.fn(duck, sf, x), t: Integer}
}
