package workbook

import (
	"fmt"
	"strconv"
	"strings"
)

// expr is a compiled, type-checked formula fragment.
type expr struct {
	sql string
	t   Type
	// zone tells how a Datetime's SQL value is represented: the IANA zone
	// whose wall clock the zone-less timestamp shows, or "" for an instant
	// (TIMESTAMPTZ / TIMESTAMP_TZ). Conversions are written only where the
	// representation changes, so a UTC column in a UTC schedule costs none.
	zone string
	agg  bool // contains an aggregate
	// rowPos is the position of the first source column read outside an
	// aggregate (and not a grouping key); rowName is its name.
	rowPos  int
	rowName string
	null    bool    // the Null literal
	lit     *string // the value of a string literal (units)
	intLit  bool    // an integer literal (emitted without casts)
	cycle   bool
}

// fctx is the context of one formula being compiled.
type fctx struct {
	field   string
	self    *elemCol // the column being defined: [Its Name] means the source column
	rowOnly bool     // group_by: no aggregates
	inAgg   string   // name of the enclosing aggregate, "" outside
}

func (c *compiler) fail(fc *fctx, pos int, format string, args ...any) expr {
	c.errorf(fc.field, pos, format, args...)
	return expr{t: Invalid}
}

func merge(res expr, args ...expr) expr {
	for _, a := range args {
		res.agg = res.agg || a.agg
		if res.rowPos == 0 && a.rowPos > 0 {
			res.rowPos, res.rowName = a.rowPos, a.rowName
		}
	}
	return res
}

func (c *compiler) compile(n node, fc *fctx) expr {
	switch n := n.(type) {
	case *numLit:
		text := n.text
		if strings.HasPrefix(text, ".") {
			text = "0" + text
		}
		if _, err := strconv.ParseInt(text, 10, 64); err == nil {
			return expr{sql: text, t: Integer, intLit: true}
		}
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return c.fail(fc, n.pos, "number %s is out of range", n.text)
		}
		return expr{sql: text, t: Number}
	case *strLit:
		v := n.val
		return expr{sql: c.quoteString(v), t: Text, lit: &v}
	case *boolLit:
		if n.val {
			return expr{sql: "TRUE", t: Logical}
		}
		return expr{sql: "FALSE", t: Logical}
	case *nullLit:
		return expr{sql: "NULL", t: Null, null: true}
	case *refNode:
		return c.ref(n, fc)
	case *unaryNode:
		x := c.compile(n.x, fc)
		if x.t == Invalid {
			return x
		}
		if n.op == "not" {
			if x.t != Logical && x.t != Null {
				return c.fail(fc, n.pos, "Not needs a Logical value, got %s", x.t)
			}
			return merge(expr{sql: "(NOT " + c.cast(x, Logical) + ")", t: Logical}, x)
		}
		if !x.t.numeric() && x.t != Null {
			return c.fail(fc, n.pos, "unary - needs a Number, got %s", x.t)
		}
		t := x.t
		if t == Null {
			t = Number
		}
		return merge(expr{sql: "(-" + c.cast(x, t) + ")", t: t}, x)
	case *binaryNode:
		return c.binary(n, fc)
	case *callNode:
		return c.call(n, fc)
	}
	panic(fmt.Sprintf("workbook: unknown node %T", n))
}

func (c *compiler) ref(n *refNode, fc *fctx) expr {
	if ec, ok := c.byName[strings.ToLower(n.name)]; ok && ec != fc.self {
		e := c.compileCol(ec)
		if e.cycle {
			return c.fail(fc, n.pos, "circular reference: [%s] depends on itself", n.name)
		}
		if e.t == Invalid {
			// Its own errors are reported under its field.
			return e
		}
		if fc.rowOnly && e.agg {
			return c.fail(fc, n.pos, "[%s] is an aggregate; group_by needs a row-level formula", n.name)
		}
		if fc.inAgg != "" && e.agg {
			return c.fail(fc, n.pos, "[%s] is an aggregate and cannot be used inside %s: an aggregate cannot contain another aggregate", n.name, fc.inAgg)
		}
		e.lit, e.intLit, e.null = nil, false, false
		if ec.isKey {
			e.rowPos, e.rowName = 0, ""
		} else if e.rowPos > 0 {
			e.rowPos = n.pos
			if fc.inAgg != "" {
				e.rowPos, e.rowName = 0, ""
			}
		}
		if !strings.HasPrefix(e.sql, "(") || !strings.HasSuffix(e.sql, ")") {
			e.sql = "(" + e.sql + ")"
		}
		return e
	}
	col := c.source(n.name)
	if col == nil {
		return c.fail(fc, n.pos, "unknown column [%s]%s", n.name, c.suggest(n.name, true))
	}
	if fc.inAgg == "" && !fc.rowOnly {
		// A grouping on the bare column stands for it.
		for _, k := range c.keys {
			if k.truncate == "" && k != fc.self {
				if r := singleRef(k.formula); r != "" && c.source(r) == col && (c.byName[strings.ToLower(r)] == nil || c.byName[strings.ToLower(r)] == k) {
					e := c.compileCol(k)
					if e.t != Invalid {
						return e
					}
				}
			}
		}
	}
	e := c.sourceExpr(col)
	if fc.inAgg == "" {
		e.rowPos, e.rowName = n.pos, n.name
	}
	return e
}

// cast writes e for use where type t is expected: only Null needs one.
func (c *compiler) cast(e expr, t Type) string {
	if e.t == Null || e.null {
		return "CAST(NULL AS " + c.sqlType(t) + ")"
	}
	return e.sql
}

func (c *compiler) sqlType(t Type) string {
	if c.sf {
		switch t {
		case Integer:
			return "NUMBER(38,0)"
		case Number:
			return "FLOAT"
		case Logical:
			return "BOOLEAN"
		case Date:
			return "DATE"
		case Datetime:
			return "TIMESTAMP_NTZ"
		}
		return "VARCHAR"
	}
	switch t {
	case Integer:
		return "BIGINT"
	case Number:
		return "DOUBLE"
	case Logical:
		return "BOOLEAN"
	case Date:
		return "DATE"
	case Datetime:
		return "TIMESTAMP"
	}
	return "VARCHAR"
}

// unify finds the common type of es and rewrites them to it: Integer with
// Number is Number, Date with Datetime is Datetime (a Date is midnight in
// the schedule's zone), Datetimes in different representations meet in UTC.
func (c *compiler) unify(fc *fctx, what string, pos []int, es []expr) (Type, bool) {
	t := Null
	for i, e := range es {
		if e.t == Invalid {
			return Invalid, false
		}
		if e.t == Other {
			c.fail(fc, pos[i], "%s: this value has an unsupported type", what)
			return Invalid, false
		}
		if e.t == Null {
			continue
		}
		switch {
		case t == Null:
			t = e.t
		case t == e.t:
		case t.numeric() && e.t.numeric():
			t = Number
		case t.temporal() && e.t.temporal():
			t = Datetime
		default:
			c.fail(fc, pos[i], "%s: cannot combine %s with %s", what, t, e.t)
			return Invalid, false
		}
	}
	if t == Datetime {
		zone, same := "", true
		for i := range es {
			if es[i].t == Date {
				es[i] = c.dateToDatetime(es[i])
			}
			if es[i].t != Datetime {
				continue
			}
			if zone == "" && i == firstOf(es, Datetime) {
				zone = es[i].zone
			} else if es[i].zone != zone {
				same = false
			}
		}
		for i := range es {
			switch {
			case es[i].t == Null:
				es[i].zone = "UTC"
			case !same:
				es[i].sql, es[i].zone = c.toLocal(es[i], "UTC"), "UTC"
			}
		}
	}
	for i := range es {
		if es[i].t == Null {
			es[i].sql = c.cast(es[i], t)
		}
	}
	return t, true
}

func firstOf(es []expr, t Type) int {
	for i, e := range es {
		if e.t == t {
			return i
		}
	}
	return -1
}

func (c *compiler) binary(n *binaryNode, fc *fctx) expr {
	l := c.compile(n.l, fc)
	r := c.compile(n.r, fc)
	if l.t == Invalid || r.t == Invalid {
		return expr{t: Invalid}
	}
	pos := []int{n.l.position(), n.r.position()}
	switch n.op {
	case "and", "or":
		for i, e := range []expr{l, r} {
			if e.t != Logical && e.t != Null {
				return c.fail(fc, pos[i], "%s needs Logical values, got %s", opTitle(n.op), e.t)
			}
		}
		return merge(expr{sql: "(" + c.cast(l, Logical) + " " + strings.ToUpper(n.op) + " " + c.cast(r, Logical) + ")", t: Logical}, l, r)
	case "=", "!=", "<", "<=", ">", ">=":
		es := []expr{l, r}
		if _, ok := c.unify(fc, "comparison "+n.op, pos, es); !ok {
			return expr{t: Invalid}
		}
		op := n.op
		if op == "!=" {
			op = "<>"
		}
		return merge(expr{sql: "(" + es[0].sql + " " + op + " " + es[1].sql + ")", t: Logical}, l, r)
	case "&":
		return merge(expr{sql: c.concat(l, r), t: Text}, l, r)
	}
	// Arithmetic.
	for i, e := range []expr{l, r} {
		if !e.t.numeric() && e.t != Null {
			hint := ""
			if e.t.temporal() {
				hint = "; use DateAdd or DateDiff for dates"
			}
			return c.fail(fc, pos[i], "%s needs Numbers, got %s%s", n.op, e.t, hint)
		}
	}
	t := Integer
	if l.t == Number || r.t == Number {
		t = Number
	}
	ls, rs := c.cast(l, t), c.cast(r, t)
	var sql string
	switch n.op {
	case "/":
		// Sigma gives Null for a division by zero; DuckDB would give
		// infinity and Snowflake an error.
		sql, t = "("+ls+" / NULLIF("+rs+", 0))", Number
	case "^":
		sql, t = c.fn("power", "POWER", ls, rs), Number
	default:
		sql = "(" + ls + " " + n.op + " " + rs + ")"
	}
	return merge(expr{sql: sql, t: t}, l, r)
}

func opTitle(op string) string {
	if op == "and" {
		return "And"
	}
	return "Or"
}

// concat implements &: text concatenation where Null counts as empty text,
// as in a spreadsheet. Non-text values are converted to text (a Datetime as
// its wall clock in the schedule's zone).
func (c *compiler) concat(es ...expr) string {
	var parts []string
	for _, e := range es {
		// Flatten a & b & c into one call (a concat is never Null).
		prefix := "concat("
		if c.sf {
			prefix = "CONCAT("
		}
		if e.t == Text && e.lit == nil && strings.HasPrefix(e.sql, prefix) && isFlatConcat(e.sql) {
			parts = append(parts, strings.TrimSuffix(strings.TrimPrefix(e.sql, prefix), ")"))
			continue
		}
		s := e.sql
		switch e.t {
		case Null:
			s = "CAST(NULL AS VARCHAR)"
		case Datetime:
			s = c.toLocal(e, c.zone)
		}
		if c.sf {
			if e.t != Text {
				s = "TO_VARCHAR(" + s + ")"
			}
			s = "COALESCE(" + s + ", '')"
		} else if e.t != Text {
			s = "CAST(" + s + " AS VARCHAR)"
		}
		parts = append(parts, s)
	}
	if c.sf {
		return "CONCAT(" + strings.Join(parts, ", ") + ")"
	}
	return "concat(" + strings.Join(parts, ", ") + ")"
}

// isFlatConcat reports whether s is exactly one concat( … ) call, so that
// its arguments can be spliced into an enclosing one.
func isFlatConcat(s string) bool {
	depth := 0
	inStr := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if inStr {
			if ch == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
				} else {
					inStr = false
				}
			}
			continue
		}
		switch ch {
		case '\'':
			inStr = true
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(s)-1 {
				return false
			}
		}
	}
	return depth == 0
}

// fn writes a function call with the dialect's name for it.
func (c *compiler) fn(duck, sf string, args ...string) string {
	name := duck
	if c.sf {
		name = sf
	}
	return name + "(" + strings.Join(args, ", ") + ")"
}

// Time zone handling.

// toLocal returns SQL for e's wall clock in zone z, as a zone-less
// timestamp. e is a Date (midnight in the schedule's zone), a Datetime or
// Null.
func (c *compiler) toLocal(e expr, z string) string {
	switch e.t {
	case Null:
		return "CAST(NULL AS " + c.sqlType(Datetime) + ")"
	case Date:
		e = c.dateToDatetime(e)
	}
	switch {
	case e.zone == z:
		return e.sql
	case e.zone == "":
		if c.sf {
			return "CAST(CONVERT_TIMEZONE(" + c.quoteString(z) + ", " + e.sql + ") AS TIMESTAMP_NTZ)"
		}
		return "timezone(" + c.quoteString(z) + ", " + e.sql + ")"
	}
	if c.sf {
		return "CONVERT_TIMEZONE(" + c.quoteString(e.zone) + ", " + c.quoteString(z) + ", " + e.sql + ")"
	}
	return "timezone(" + c.quoteString(z) + ", timezone(" + c.quoteString(e.zone) + ", " + e.sql + "))"
}

func (c *compiler) dateToDatetime(e expr) expr {
	out := e
	out.t, out.zone, out.lit = Datetime, c.zone, nil
	if e.t == Null {
		out.sql = "CAST(NULL AS " + c.sqlType(Datetime) + ")"
		return out
	}
	out.sql = "CAST(" + e.sql + " AS " + c.sqlType(Datetime) + ")"
	return out
}

// dateOf is the calendar day of e in the schedule's zone.
func (c *compiler) dateOf(e expr) expr {
	if e.t == Date {
		return e
	}
	out := e
	out.t, out.lit = Date, nil
	out.sql = "CAST(" + c.toLocal(e, c.zone) + " AS DATE)"
	return out
}

var truncUnits = map[string]bool{"year": true, "quarter": true, "month": true, "week": true, "day": true,
	"hour": true, "minute": true, "second": true}

func unitTitle(u string) string {
	if u == "" {
		return u
	}
	return strings.ToUpper(u[:1]) + u[1:]
}

// weekStartSQL truncates the DATE d to the first day of its week. It is
// computed from the ISO weekday (Monday 1 … Sunday 7) in both dialects so
// that neither DuckDB's ISO weeks nor Snowflake's WEEK_START session
// parameter decide it.
func (c *compiler) weekStartSQL(d string) string {
	if c.sf {
		back := "DAYOFWEEKISO(" + d + ") - 1"
		if c.sunday {
			back = "DAYOFWEEKISO(" + d + ") % 7"
		}
		return "DATEADD(day, -(" + back + "), " + d + ")"
	}
	back := "isodow(" + d + ") - 1"
	if c.sunday {
		back = "isodow(" + d + ") % 7"
	}
	return "(" + d + " - CAST(" + back + " AS INTEGER))"
}

// truncDate truncates a Date to unit, giving a Date.
func (c *compiler) truncDate(e expr, unit string) expr {
	out := e
	out.lit = nil
	switch unit {
	case "year", "quarter", "month":
		if c.sf {
			out.sql = "DATE_TRUNC('" + strings.ToUpper(unit) + "', " + e.sql + ")"
		} else {
			out.sql = "CAST(date_trunc('" + unit + "', " + e.sql + ") AS DATE)"
		}
	case "week":
		out.sql = c.weekStartSQL(e.sql)
	}
	return out
}

// truncDatetime truncates a Datetime to unit in the schedule's zone.
func (c *compiler) truncDatetime(e expr, unit string) expr {
	out := e
	out.lit = nil
	switch unit {
	case "year", "quarter", "month", "day":
		l := c.toLocal(e, c.zone)
		if c.sf {
			out.sql = "DATE_TRUNC('" + strings.ToUpper(unit) + "', " + l + ")"
		} else {
			out.sql = "date_trunc('" + unit + "', " + l + ")"
		}
		out.zone = c.zone
	case "week":
		d := "CAST(" + c.toLocal(e, c.zone) + " AS DATE)"
		out.sql = "CAST(" + c.weekStartSQL(d) + " AS " + c.sqlType(Datetime) + ")"
		out.zone = c.zone
	default:
		u := c.toLocal(e, "UTC")
		out.zone = "UTC"
		if c.zone == "UTC" {
			out.sql = c.fn("date_trunc", "DATE_TRUNC", "'"+unit+"'", u)
			return out
		}
		// Truncate the local wall clock, then move back by the row's own
		// UTC offset: exact in zones with half-hour offsets and in the
		// repeated hour of a DST fall-back, where converting a local time
		// back to an instant would be ambiguous.
		l := c.toLocal(e, c.zone)
		if c.sf {
			out.sql = "DATEADD(second, DATEDIFF(second, " + l + ", " + u + "), DATE_TRUNC('" + strings.ToUpper(unit) + "', " + l + "))"
		} else {
			out.sql = "(date_trunc('" + unit + "', " + l + ") - (" + l + " - " + u + "))"
		}
	}
	return out
}

// truncGroup is a group_by truncate: day and longer units give the Date in
// the schedule's zone ("Day of Request Time" is a calendar day), hour and
// shorter give a Datetime.
func (c *compiler) truncGroup(e expr, unit string) expr {
	switch unit {
	case "hour", "minute", "second":
		if e.t == Date {
			return e
		}
		return c.truncDatetime(e, unit)
	}
	return c.truncDate(c.dateOf(e), unit)
}
