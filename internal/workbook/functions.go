package workbook

import (
	"fmt"
	"sort"
	"strings"
)

// function is one formula function.
type function struct {
	name     string // as Sigma spells it
	min, max int    // argument counts; max -1 is unbounded
	agg      bool
	usage    string
	build    func(c *compiler, fc *fctx, f *function, call *callNode, args []expr) expr
}

// functions is the formula language's function table, by lower-case name.
var functions = func() map[string]*function {
	m := map[string]*function{}
	for _, f := range functionList() {
		m[strings.ToLower(f.name)] = f
	}
	return m
}()

// argErr reports a wrongly typed argument.
func (c *compiler) argErr(fc *fctx, call *callNode, f *function, i int, want string, got Type) expr {
	return c.fail(fc, call.args[i].position(), "%s: argument %d must be %s, got %s", f.name, i+1, want, got)
}

func (c *compiler) call(call *callNode, fc *fctx) expr {
	f, ok := functions[strings.ToLower(call.name)]
	if !ok {
		var names []string
		for _, f := range functions {
			names = append(names, f.name)
		}
		sort.Strings(names)
		return c.fail(fc, call.pos, "unknown function %s%s", call.name, suggestFrom(call.name, names, "%s"))
	}
	n := len(call.args)
	if n < f.min || f.max >= 0 && n > f.max {
		want := fmt.Sprintf("%d", f.min)
		switch {
		case f.max < 0:
			want = fmt.Sprintf("at least %d", f.min)
		case f.max != f.min:
			want = fmt.Sprintf("%d to %d", f.min, f.max)
		}
		plural := "s"
		if want == "1" {
			plural = ""
		}
		return c.fail(fc, call.pos, "%s takes %s argument%s, got %d (usage: %s)", f.name, want, plural, n, f.usage)
	}
	if f.agg {
		if fc.rowOnly {
			return c.fail(fc, call.pos, "aggregate %s is not allowed in group_by", f.name)
		}
		if fc.inAgg != "" {
			return c.fail(fc, call.pos, "%s inside %s: an aggregate cannot contain another aggregate", f.name, fc.inAgg)
		}
	}
	inner := *fc
	if f.agg {
		inner.inAgg = f.name
	}
	args := make([]expr, n)
	bad := false
	for i, a := range call.args {
		args[i] = c.compile(a, &inner)
		if args[i].t == Invalid {
			bad = true
		}
	}
	if bad {
		return expr{t: Invalid}
	}
	out := f.build(c, fc, f, call, args)
	if out.t == Invalid {
		return out
	}
	if f.agg {
		out.agg, out.rowPos, out.rowName = true, 0, ""
		return out
	}
	return merge(out, args...)
}

func (c *compiler) wantLogical(fc *fctx, call *callNode, f *function, args []expr, from int) ([]string, bool) {
	var s []string
	for i := from; i < len(args); i++ {
		if args[i].t != Logical && args[i].t != Null {
			c.argErr(fc, call, f, i, "a condition (Logical)", args[i].t)
			return nil, false
		}
		s = append(s, c.cast(args[i], Logical))
	}
	return s, true
}

func (c *compiler) wantNumber(fc *fctx, call *callNode, f *function, args []expr, idx ...int) bool {
	for _, i := range idx {
		if !args[i].t.numeric() && args[i].t != Null {
			c.argErr(fc, call, f, i, "a Number", args[i].t)
			return false
		}
	}
	return true
}

func (c *compiler) wantText(fc *fctx, call *callNode, f *function, args []expr, idx ...int) bool {
	for _, i := range idx {
		if args[i].t != Text && args[i].t != Null {
			c.argErr(fc, call, f, i, "Text", args[i].t)
			return false
		}
	}
	return true
}

func (c *compiler) wantTemporal(fc *fctx, call *callNode, f *function, args []expr, idx ...int) bool {
	for _, i := range idx {
		if !args[i].t.temporal() && args[i].t != Null {
			c.argErr(fc, call, f, i, "a Date or Datetime", args[i].t)
			return false
		}
	}
	return true
}

// unit reads a unit argument: a string literal such as "day".
func (c *compiler) unit(fc *fctx, call *callNode, f *function, args []expr, i int, allowed map[string]bool) (string, bool) {
	if args[i].lit == nil {
		c.fail(fc, call.args[i].position(), "%s: argument %d must be a unit in quotes, such as \"day\"", f.name, i+1)
		return "", false
	}
	u := strings.ToLower(strings.TrimSpace(*args[i].lit))
	u = strings.TrimSuffix(u, "s")
	if u == "dayofweek" || u == "day of week" || u == "dow" {
		u = "weekday"
	}
	if u == "day of year" || u == "doy" {
		u = "dayofyear"
	}
	if !allowed[u] {
		var names []string
		for k := range allowed {
			names = append(names, k)
		}
		sort.Strings(names)
		c.fail(fc, call.args[i].position(), "%s: unknown unit %q (want one of %s)", f.name, *args[i].lit, strings.Join(names, ", "))
		return "", false
	}
	return u, true
}

var partUnits = map[string]bool{"year": true, "quarter": true, "month": true, "week": true, "day": true,
	"weekday": true, "dayofyear": true, "hour": true, "minute": true, "second": true}

func clockUnit(u string) bool { return u == "hour" || u == "minute" || u == "second" }

// intArg writes a whole-number argument for DuckDB's INTEGER-taking
// functions.
func (c *compiler) intArg(e expr) string {
	if e.intLit {
		return e.sql
	}
	if c.sf {
		return c.cast(e, Integer)
	}
	return "CAST(" + c.cast(e, Integer) + " AS INTEGER)"
}

func (c *compiler) aggCall(duck, sf string, arg expr, t Type) string {
	s := c.fn(duck, sf, c.cast(arg, t))
	return s
}

// sumOf keeps DuckDB's integer sums BIGINT (it would widen them to HUGEINT).
func (c *compiler) sumOf(inner string, t Type) string {
	if !c.sf && t == Integer {
		return "CAST(" + inner + " AS BIGINT)"
	}
	return inner
}

// filtered writes agg(x) over the rows where all conds hold.
func (c *compiler) filtered(duck, sf string, x string, conds []string) string {
	cond := strings.Join(conds, " AND ")
	if c.sf {
		return sf + "(CASE WHEN " + cond + " THEN " + x + " END)"
	}
	return duck + "(" + x + ") FILTER (WHERE " + cond + ")"
}

func numResult(args []expr, idx ...int) Type {
	for _, i := range idx {
		if args[i].t == Number || args[i].t == Null {
			return Number
		}
	}
	return Integer
}

func functionList() []*function {
	return []*function{
		// Aggregates.
		{name: "Count", min: 0, max: 1, agg: true, usage: "Count() or Count([Column])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if len(a) == 0 {
					return expr{sql: c.fn("count", "COUNT", "*"), t: Integer}
				}
				return expr{sql: c.fn("count", "COUNT", a[0].sql), t: Integer}
			}},
		{name: "CountIf", min: 1, max: -1, agg: true, usage: "CountIf(condition, [condition, …])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				conds, ok := c.wantLogical(fc, call, f, a, 0)
				if !ok {
					return expr{t: Invalid}
				}
				if c.sf {
					return expr{sql: "COUNT_IF(" + strings.Join(conds, " AND ") + ")", t: Integer}
				}
				return expr{sql: "count(*) FILTER (WHERE " + strings.Join(conds, " AND ") + ")", t: Integer}
			}},
		{name: "CountDistinct", min: 1, max: 1, agg: true, usage: "CountDistinct([Column])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				return expr{sql: c.fn("count", "COUNT", "DISTINCT "+a[0].sql), t: Integer}
			}},
		{name: "Sum", min: 1, max: 1, agg: true, usage: "Sum([Number])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantNumber(fc, call, f, a, 0) {
					return expr{t: Invalid}
				}
				t := numResult(a, 0)
				return expr{sql: c.sumOf(c.aggCall("sum", "SUM", a[0], t), t), t: t}
			}},
		{name: "SumIf", min: 2, max: -1, agg: true, usage: "SumIf([Number], condition, [condition, …])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantNumber(fc, call, f, a, 0) {
					return expr{t: Invalid}
				}
				conds, ok := c.wantLogical(fc, call, f, a, 1)
				if !ok {
					return expr{t: Invalid}
				}
				t := numResult(a, 0)
				return expr{sql: c.sumOf(c.filtered("sum", "SUM", c.cast(a[0], t), conds), t), t: t}
			}},
		{name: "Avg", min: 1, max: 1, agg: true, usage: "Avg([Number])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantNumber(fc, call, f, a, 0) {
					return expr{t: Invalid}
				}
				return expr{sql: c.aggCall("avg", "AVG", a[0], Number), t: Number}
			}},
		{name: "AvgIf", min: 2, max: -1, agg: true, usage: "AvgIf([Number], condition, [condition, …])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantNumber(fc, call, f, a, 0) {
					return expr{t: Invalid}
				}
				conds, ok := c.wantLogical(fc, call, f, a, 1)
				if !ok {
					return expr{t: Invalid}
				}
				return expr{sql: c.filtered("avg", "AVG", c.cast(a[0], Number), conds), t: Number}
			}},
		{name: "Min", min: 1, max: 1, agg: true, usage: "Min([Column])", build: minMax("min", "MIN")},
		{name: "Max", min: 1, max: 1, agg: true, usage: "Max([Column])", build: minMax("max", "MAX")},
		{name: "Median", min: 1, max: 1, agg: true, usage: "Median([Number])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantNumber(fc, call, f, a, 0) {
					return expr{t: Invalid}
				}
				return expr{sql: c.aggCall("median", "MEDIAN", a[0], Number), t: Number}
			}},

		// Logic.
		{name: "If", min: 2, max: -1, usage: "If(condition, value, [condition, value, …], [else])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				var vals []expr
				var pos []int
				for i := 0; i+1 < len(a); i += 2 {
					if a[i].t != Logical && a[i].t != Null {
						return c.argErr(fc, call, f, i, "a condition (Logical)", a[i].t)
					}
					vals, pos = append(vals, a[i+1]), append(pos, call.args[i+1].position())
				}
				hasElse := len(a)%2 == 1
				if hasElse {
					vals, pos = append(vals, a[len(a)-1]), append(pos, call.args[len(a)-1].position())
				}
				t, ok := c.unify(fc, "If", pos, vals)
				if !ok {
					return expr{t: Invalid}
				}
				var b strings.Builder
				b.WriteString("CASE")
				for i := 0; i+1 < len(a); i += 2 {
					b.WriteString(" WHEN " + c.cast(a[i], Logical) + " THEN " + vals[i/2].sql)
				}
				if hasElse {
					b.WriteString(" ELSE " + vals[len(vals)-1].sql)
				}
				b.WriteString(" END")
				return expr{sql: b.String(), t: t, zone: vals[0].zone}
			}},
		{name: "Switch", min: 3, max: -1, usage: "Switch(value, case, result, [case, result, …], [else])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				keys := []expr{a[0]}
				kpos := []int{call.args[0].position()}
				var vals []expr
				var vpos []int
				for i := 1; i+1 < len(a); i += 2 {
					keys, kpos = append(keys, a[i]), append(kpos, call.args[i].position())
					vals, vpos = append(vals, a[i+1]), append(vpos, call.args[i+1].position())
				}
				hasElse := len(a)%2 == 0
				if hasElse {
					vals, vpos = append(vals, a[len(a)-1]), append(vpos, call.args[len(a)-1].position())
				}
				if _, ok := c.unify(fc, "Switch", kpos, keys); !ok {
					return expr{t: Invalid}
				}
				t, ok := c.unify(fc, "Switch", vpos, vals)
				if !ok {
					return expr{t: Invalid}
				}
				var b strings.Builder
				b.WriteString("CASE " + keys[0].sql)
				for i := 1; i < len(keys); i++ {
					b.WriteString(" WHEN " + keys[i].sql + " THEN " + vals[i-1].sql)
				}
				if hasElse {
					b.WriteString(" ELSE " + vals[len(vals)-1].sql)
				}
				b.WriteString(" END")
				return expr{sql: b.String(), t: t, zone: vals[0].zone}
			}},
		{name: "Coalesce", min: 1, max: -1, usage: "Coalesce(value, [value, …])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				pos := make([]int, len(a))
				for i := range a {
					pos[i] = call.args[i].position()
				}
				t, ok := c.unify(fc, "Coalesce", pos, a)
				if !ok {
					return expr{t: Invalid}
				}
				s := make([]string, len(a))
				for i := range a {
					s[i] = a[i].sql
				}
				return expr{sql: c.fn("coalesce", "COALESCE", s...), t: t, zone: a[0].zone}
			}},
		{name: "IsNull", min: 1, max: 1, usage: "IsNull(value)",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				return expr{sql: "(" + a[0].sql + " IS NULL)", t: Logical}
			}},
		{name: "IsNotNull", min: 1, max: 1, usage: "IsNotNull(value)",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				return expr{sql: "(" + a[0].sql + " IS NOT NULL)", t: Logical}
			}},
		{name: "In", min: 2, max: -1, usage: "In(value, candidate, [candidate, …])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				pos := make([]int, len(a))
				for i := range a {
					pos[i] = call.args[i].position()
				}
				if _, ok := c.unify(fc, "In", pos, a); !ok {
					return expr{t: Invalid}
				}
				s := make([]string, len(a)-1)
				for i := 1; i < len(a); i++ {
					s[i-1] = a[i].sql
				}
				return expr{sql: "(" + a[0].sql + " IN (" + strings.Join(s, ", ") + "))", t: Logical}
			}},
		{name: "Between", min: 3, max: 3, usage: "Between(value, low, high)",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				pos := []int{call.args[0].position(), call.args[1].position(), call.args[2].position()}
				if _, ok := c.unify(fc, "Between", pos, a); !ok {
					return expr{t: Invalid}
				}
				return expr{sql: "(" + a[0].sql + " BETWEEN " + a[1].sql + " AND " + a[2].sql + ")", t: Logical}
			}},

		// Text.
		{name: "Contains", min: 2, max: 2, usage: "Contains(text, search)", build: textPred("contains", "CONTAINS")},
		{name: "StartsWith", min: 2, max: 2, usage: "StartsWith(text, prefix)", build: textPred("starts_with", "STARTSWITH")},
		{name: "EndsWith", min: 2, max: 2, usage: "EndsWith(text, suffix)", build: textPred("ends_with", "ENDSWITH")},
		{name: "Lower", min: 1, max: 1, usage: "Lower(text)", build: textFn("lower", "LOWER", Text)},
		{name: "Upper", min: 1, max: 1, usage: "Upper(text)", build: textFn("upper", "UPPER", Text)},
		{name: "Trim", min: 1, max: 1, usage: "Trim(text)", build: textFn("trim", "TRIM", Text)},
		{name: "Len", min: 1, max: 1, usage: "Len(text)", build: textFn("length", "LENGTH", Integer)},
		{name: "Left", min: 2, max: 2, usage: "Left(text, count)", build: textCount("left", "LEFT")},
		{name: "Right", min: 2, max: 2, usage: "Right(text, count)", build: textCount("right", "RIGHT")},
		{name: "Replace", min: 3, max: 3, usage: "Replace(text, search, replacement)",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantText(fc, call, f, a, 0, 1, 2) {
					return expr{t: Invalid}
				}
				return expr{sql: c.fn("replace", "REPLACE", c.cast(a[0], Text), c.cast(a[1], Text), c.cast(a[2], Text)), t: Text}
			}},
		{name: "SplitPart", min: 3, max: 3, usage: "SplitPart(text, delimiter, part)",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantText(fc, call, f, a, 0, 1) || !c.wantNumber(fc, call, f, a, 2) {
					return expr{t: Invalid}
				}
				if a[2].intLit && a[2].sql == "0" {
					return c.fail(fc, call.args[2].position(), "SplitPart: parts are numbered from 1 (negative numbers count from the end)")
				}
				return expr{sql: c.fn("split_part", "SPLIT_PART", c.cast(a[0], Text), c.cast(a[1], Text), c.intArg(a[2])), t: Text}
			}},

		// Dates.
		{name: "DateTrunc", min: 2, max: 2, usage: `DateTrunc("day", date)`,
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				u, ok := c.unit(fc, call, f, a, 0, truncUnits)
				if !ok || !c.wantTemporal(fc, call, f, a, 1) {
					return expr{t: Invalid}
				}
				switch a[1].t {
				case Null:
					return expr{sql: "CAST(NULL AS " + c.sqlType(Datetime) + ")", t: Datetime, zone: "UTC"}
				case Date:
					if clockUnit(u) {
						return c.truncDatetime(c.dateToDatetime(a[1]), u)
					}
					return c.truncDate(a[1], u)
				}
				return c.truncDatetime(a[1], u)
			}},
		{name: "DateAdd", min: 3, max: 3, usage: `DateAdd("day", amount, date)`,
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				u, ok := c.unit(fc, call, f, a, 0, truncUnits)
				if !ok || !c.wantNumber(fc, call, f, a, 1) || !c.wantTemporal(fc, call, f, a, 2) {
					return expr{t: Invalid}
				}
				return c.dateAdd(u, a[1], a[2])
			}},
		{name: "DateDiff", min: 3, max: 3, usage: `DateDiff("day", start, end)`,
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				u, ok := c.unit(fc, call, f, a, 0, truncUnits)
				if !ok || !c.wantTemporal(fc, call, f, a, 1, 2) {
					return expr{t: Invalid}
				}
				return c.dateDiff(u, a[1], a[2])
			}},
		{name: "DatePart", min: 2, max: 2, usage: `DatePart("month", date)`,
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				u, ok := c.unit(fc, call, f, a, 0, partUnits)
				if !ok || !c.wantTemporal(fc, call, f, a, 1) {
					return expr{t: Invalid}
				}
				return c.datePart(u, a[1])
			}},
		{name: "Today", min: 0, max: 0, usage: "Today()",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				return expr{sql: c.param("today", "date", c.loc), t: Date}
			}},
		{name: "Now", min: 0, max: 0, usage: "Now()",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				return expr{sql: c.param("now", "timestamp", utc), t: Datetime, zone: "UTC"}
			}},
		{name: "Date", min: 1, max: 3, usage: `Date(year, month, day) or Date(value)`,
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				switch len(a) {
				case 2:
					return c.fail(fc, call.pos, "Date takes 1 or 3 arguments, got 2 (usage: %s)", f.usage)
				case 3:
					if !c.wantNumber(fc, call, f, a, 0, 1, 2) {
						return expr{t: Invalid}
					}
					if c.sf {
						return expr{sql: "DATE_FROM_PARTS(" + c.cast(a[0], Integer) + ", " + c.cast(a[1], Integer) + ", " + c.cast(a[2], Integer) + ")", t: Date}
					}
					return expr{sql: "make_date(" + bigint(c, a[0]) + ", " + bigint(c, a[1]) + ", " + bigint(c, a[2]) + ")", t: Date}
				}
				switch a[0].t {
				case Text:
					if c.sf {
						return expr{sql: "TRY_TO_DATE(" + a[0].sql + ")", t: Date}
					}
					return expr{sql: "TRY_CAST(" + a[0].sql + " AS DATE)", t: Date}
				case Null:
					return expr{sql: "CAST(NULL AS DATE)", t: Date}
				case Date, Datetime:
					return c.dateOf(a[0])
				}
				return c.argErr(fc, call, f, 0, "Text, a Date or a Datetime", a[0].t)
			}},

		// Numbers.
		{name: "Round", min: 1, max: 2, usage: "Round(number, [decimals])",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				idx := []int{0}
				if len(a) == 2 {
					idx = append(idx, 1)
				}
				if !c.wantNumber(fc, call, f, a, idx...) {
					return expr{t: Invalid}
				}
				t := numResult(a, 0)
				if len(a) == 1 {
					return expr{sql: c.fn("round", "ROUND", c.cast(a[0], t)), t: t}
				}
				return expr{sql: c.fn("round", "ROUND", c.cast(a[0], t), c.intArg(a[1])), t: t}
			}},
		{name: "Floor", min: 1, max: 1, usage: "Floor(number)", build: numFn("floor", "FLOOR")},
		{name: "Ceiling", min: 1, max: 1, usage: "Ceiling(number)", build: numFn("ceil", "CEIL")},
		{name: "Abs", min: 1, max: 1, usage: "Abs(number)", build: numFn("abs", "ABS")},
		{name: "Power", min: 2, max: 2, usage: "Power(base, exponent)",
			build: func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
				if !c.wantNumber(fc, call, f, a, 0, 1) {
					return expr{t: Invalid}
				}
				return expr{sql: c.fn("power", "POWER", c.cast(a[0], Number), c.cast(a[1], Number)), t: Number}
			}},
	}
}

func bigint(c *compiler, e expr) string {
	if e.intLit {
		return e.sql
	}
	return "CAST(" + c.cast(e, Integer) + " AS BIGINT)"
}

func minMax(duck, sf string) func(*compiler, *fctx, *function, *callNode, []expr) expr {
	return func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
		if a[0].t == Other {
			return c.fail(fc, call.args[0].position(), "%s: this value has an unsupported type", unitTitle(duck))
		}
		t := a[0].t
		if t == Null {
			t = Number
		}
		return expr{sql: c.fn(duck, sf, c.cast(a[0], t)), t: t, zone: a[0].zone}
	}
}

func textPred(duck, sf string) func(*compiler, *fctx, *function, *callNode, []expr) expr {
	return func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
		if !c.wantText(fc, call, f, a, 0, 1) {
			return expr{t: Invalid}
		}
		return expr{sql: c.fn(duck, sf, c.cast(a[0], Text), c.cast(a[1], Text)), t: Logical}
	}
}

func textFn(duck, sf string, t Type) func(*compiler, *fctx, *function, *callNode, []expr) expr {
	return func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
		if !c.wantText(fc, call, f, a, 0) {
			return expr{t: Invalid}
		}
		return expr{sql: c.fn(duck, sf, c.cast(a[0], Text)), t: t}
	}
}

func textCount(duck, sf string) func(*compiler, *fctx, *function, *callNode, []expr) expr {
	return func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
		if !c.wantText(fc, call, f, a, 0) || !c.wantNumber(fc, call, f, a, 1) {
			return expr{t: Invalid}
		}
		return expr{sql: c.fn(duck, sf, c.cast(a[0], Text), c.intArg(a[1])), t: Text}
	}
}

func numFn(duck, sf string) func(*compiler, *fctx, *function, *callNode, []expr) expr {
	return func(c *compiler, fc *fctx, f *function, call *callNode, a []expr) expr {
		if !c.wantNumber(fc, call, f, a, 0) {
			return expr{t: Invalid}
		}
		t := numResult(a, 0)
		return expr{sql: c.fn(duck, sf, c.cast(a[0], t)), t: t}
	}
}
