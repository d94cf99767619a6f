package workbook

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SQLParser checks that a piece of SQL is exactly one SELECT statement
// without parameters, using the engine's own parser (for DuckDB:
// json_serialize_sql). It is owned here so that workbook does not link a
// database driver; callers pass one backed by a real connection.
type SQLParser interface {
	CheckSelect(ctx context.Context, sql string) error
}

// WindowHook restricts the element to the run's window.
type WindowHook struct {
	// Column is the display name of a Date or Datetime source column, e.g.
	// "Request Time". The compiled SQL gets
	// `col >= :window_start AND col < :window_end` on the raw column (so a
	// warehouse can prune on it), with bounds bound as typed parameters
	// converted to the column's zone.
	Column string
}

// Options are the compile-time settings that come from the schedule and the
// source rather than from the element.
type Options struct {
	Dialect Dialect
	// Timezone is the schedule's zone: DateTrunc, DatePart, DateDiff,
	// calendar DateAdd, Today() and "Day of" groupings are evaluated there.
	// nil is UTC. It must be an IANA zone (not time.Local).
	Timezone *time.Location
	// Window, when set, adds the run window's bounds; nil exports
	// everything.
	Window *WindowHook
	// DedupeBy lists display names (output columns or source columns); a
	// row export then keeps one row per key: the first by the window
	// column, then by every output column.
	DedupeBy []string
	// Parser checks from.sql; nil skips that check (Check and Compile then
	// only require it to be non-empty).
	Parser SQLParser
}

// Param is one bind parameter of compiled SQL, in positional order.
type Param struct {
	// Name is "now", "today", "window_start" or "window_end".
	Name string
	// Type is "timestamp" (zone-less wall clock), "timestamptz" (instant)
	// or "date". Bind renders every value as text in a fixed format and the
	// SQL converts it explicitly, so no driver or session time zone is
	// involved.
	Type string
}

// Compiled is an element compiled for one dialect.
type Compiled struct {
	// SQL is one SELECT statement; DuckDB placeholders are $1…, Snowflake's
	// are ? (one per occurrence).
	SQL     string
	Params  []Param
	Columns []OutputColumn
	Dialect Dialect

	zones []*time.Location // per Param: the zone its value is rendered in
}

// Values are the run's values for Compiled's parameters.
type Values struct {
	// Now is the run's logical (scheduled) time: Now() and Today().
	Now time.Time
	// WindowStart and WindowEnd bound the window: start <= t < end.
	WindowStart, WindowEnd time.Time
}

// Bind returns the positional arguments for c.SQL, in Params order.
func (c *Compiled) Bind(v Values) ([]any, error) {
	args := make([]any, len(c.Params))
	for i, p := range c.Params {
		var t time.Time
		switch p.Name {
		case "now", "today":
			t = v.Now
		case "window_start":
			t = v.WindowStart
		case "window_end":
			t = v.WindowEnd
		default:
			return nil, fmt.Errorf("bind: unknown parameter %q", p.Name)
		}
		if t.IsZero() {
			return nil, fmt.Errorf("bind %s: %w", p.Name, ErrMissingValue)
		}
		if p.Name == "window_end" && !v.WindowStart.IsZero() && !v.WindowEnd.After(v.WindowStart) {
			return nil, fmt.Errorf("bind: window end %s is not after window start %s", v.WindowEnd, v.WindowStart)
		}
		t = t.In(c.zones[i])
		switch p.Type {
		case "date":
			args[i] = t.Format("2006-01-02")
		case "timestamp":
			args[i] = t.Format("2006-01-02 15:04:05.000000")
		case "timestamptz":
			if c.Dialect == Snowflake {
				args[i] = t.UTC().Format("2006-01-02 15:04:05.000000 -07:00")
			} else {
				args[i] = t.UTC().Format("2006-01-02 15:04:05.000000-07:00")
			}
		default:
			return nil, fmt.Errorf("bind %s: unknown parameter type %q", p.Name, p.Type)
		}
	}
	return args, nil
}

// Check parses and type-checks el against schema without producing SQL for
// a run; it is what validate uses offline. It returns Errors.
func Check(el *Element, schema Schema, opts Options) error {
	_, err := Compile(el, schema, opts)
	return err
}

// Compile parses, type-checks and compiles el to one SELECT for
// opts.Dialect. A bad element yields Errors listing every problem.
func Compile(el *Element, schema Schema, opts Options) (*Compiled, error) {
	c := newCompiler(el, schema, opts)
	out := c.run()
	if len(c.errs) > 0 {
		// A formula can be compiled early through a reference from another
		// one: list problems in the element's field order.
		sort.SliceStable(c.errs, func(i, j int) bool { return fieldRank(c.errs[i].Field) < fieldRank(c.errs[j].Field) })
		return nil, c.errs
	}
	return out, nil
}

// elemCol is one of the element's own columns: a grouping or a calculated
// column, referable by name from other formulas.
type elemCol struct {
	name     string
	field    string // YAML path of its formula
	formula  string
	isKey    bool
	truncate string
	state    int // 0 not compiled, 1 compiling, 2 done
	e        expr
	out      expr // the output form (grouping keys: after truncation)
}

type compiler struct {
	el     *Element
	schema Schema
	opts   Options
	sf     bool
	loc    *time.Location
	zone   string // schedule zone name
	sunday bool
	errs   Errors

	params []Param
	pzones []*time.Location
	pidx   map[string]int

	cols     []*elemCol
	byName   map[string]*elemCol
	keys     []*elemCol
	calc     []*elemCol
	grouped  bool
	srcZones map[string]string
}

func newCompiler(el *Element, schema Schema, opts Options) *compiler {
	c := &compiler{el: el, schema: schema, opts: opts, pidx: map[string]int{}, byName: map[string]*elemCol{}}
	c.sf = opts.Dialect == Snowflake
	c.loc = opts.Timezone
	if c.loc == nil {
		c.loc = time.UTC
	}
	c.zone = c.loc.String()
	return c
}

func (c *compiler) errorf(field string, col int, format string, args ...any) {
	c.errs = append(c.errs, &Error{Field: field, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func zoneName(l *time.Location) (string, bool) {
	if l == nil {
		return "UTC", true
	}
	n := l.String()
	return n, n != "" && n != "Local"
}

func (c *compiler) run() *Compiled {
	el := c.el
	if el == nil {
		c.errorf("element", 0, "missing")
		return nil
	}
	switch c.opts.Dialect {
	case DuckDB, Snowflake:
	default:
		c.errorf("dialect", 0, "unknown dialect %q (want duckdb or snowflake)", c.opts.Dialect)
		return nil
	}
	if _, ok := zoneName(c.opts.Timezone); !ok {
		c.errorf("timezone", 0, "zone %q is not an IANA zone name", c.zone)
	}
	if _, ok := zoneName(c.schema.Zone); !ok {
		c.errorf("source.timezone", 0, "zone %q is not an IANA zone name", c.schema.Zone.String())
	}
	switch strings.ToLower(el.WeekStart) {
	case "", "monday":
	case "sunday":
		c.sunday = true
	default:
		c.errorf("week_start", 0, "must be monday or sunday, not %q", el.WeekStart)
	}
	from := c.from()

	// Register the element's own columns first: formulas may refer to any
	// of them, in any order.
	for i := range el.GroupBy {
		g := &el.GroupBy[i]
		ec := &elemCol{field: fmt.Sprintf("group_by[%d].formula", i), formula: g.Formula, isKey: true,
			truncate: strings.ToLower(strings.TrimSpace(g.Truncate))}
		name := strings.TrimSpace(g.Name)
		if name == "" {
			ref := singleRef(g.Formula)
			switch {
			case ref == "":
				c.errorf(fmt.Sprintf("group_by[%d].name", i), 0, "required when the formula is not a single column")
				name = fmt.Sprintf("group %d", i+1)
			case ec.truncate != "":
				name = unitTitle(ec.truncate) + " of " + ref
			default:
				name = ref
			}
		}
		ec.name = name
		c.addCol(ec, fmt.Sprintf("group_by[%d].name", i))
		c.keys = append(c.keys, ec)
	}
	for i := range el.Columns {
		cc := &el.Columns[i]
		ec := &elemCol{field: fmt.Sprintf("columns[%d].formula", i), formula: cc.Formula}
		name := strings.TrimSpace(cc.Name)
		if name == "" {
			if name = singleRef(cc.Formula); name == "" {
				c.errorf(fmt.Sprintf("columns[%d].name", i), 0, "required when the formula is not a single column")
				name = fmt.Sprintf("column %d", i+1)
			}
		}
		ec.name = name
		c.addCol(ec, fmt.Sprintf("columns[%d].name", i))
		c.calc = append(c.calc, ec)
	}

	for _, k := range c.keys {
		c.compileCol(k)
	}
	for _, cc := range c.calc {
		c.compileCol(cc)
	}
	c.grouped = len(c.keys) > 0
	for _, cc := range c.calc {
		if cc.e.agg {
			c.grouped = true
		}
	}

	// Outputs.
	type output struct {
		name string
		e    expr
	}
	var outs []output
	for _, k := range c.keys {
		outs = append(outs, output{k.name, k.out})
	}
	for _, cc := range c.calc {
		if cc.e.t == Invalid {
			outs = append(outs, output{cc.name, cc.e})
			continue
		}
		if c.grouped && cc.e.rowPos > 0 {
			if cc.e.agg {
				c.errorf(cc.field, cc.e.rowPos, "cannot mix aggregates and row values: [%s] is neither grouped nor inside an aggregate", cc.e.rowName)
			} else {
				c.errorf(cc.field, cc.e.rowPos, "[%s] is neither grouped nor aggregated; wrap it in an aggregate such as Max or Count, or add it to group_by", cc.e.rowName)
			}
		}
		outs = append(outs, output{cc.name, cc.e})
	}
	if len(c.keys) == 0 && len(c.calc) == 0 {
		for i := range c.schema.Columns {
			col := &c.schema.Columns[i]
			outs = append(outs, output{c.displayName(col), c.sourceExpr(col)})
		}
		if len(outs) == 0 {
			c.errorf("columns", 0, "the source has no columns to export")
		}
	}

	// Filters.
	var where, having []string
	for i, f := range el.Filters {
		field := fmt.Sprintf("filters[%d]", i)
		e, ok := c.formula(field, f, nil, false)
		if !ok {
			continue
		}
		if e.t != Logical && e.t != Null {
			c.errorf(field, 1, "a filter must be Logical (true or false), but this formula is %s", e.t)
			continue
		}
		switch {
		case e.agg && !c.grouped:
			c.errorf(field, 1, "a filter with an aggregate needs group_by or aggregated columns")
		case e.agg && e.rowPos > 0:
			c.errorf(field, e.rowPos, "cannot mix aggregates and row values: [%s] is neither grouped nor inside an aggregate", e.rowName)
		case e.agg:
			having = append(having, e.sql)
		default:
			where = append(where, e.sql)
		}
	}

	// Window.
	var window string
	var windowCol *Column
	if w := c.opts.Window; w != nil {
		col := c.source(w.Column)
		switch {
		case col == nil:
			c.errorf("window.column", 0, "unknown column [%s]%s", w.Column, c.suggest(w.Column, false))
		case !col.Type.temporal():
			c.errorf("window.column", 0, "[%s] is %s; the window needs a Date or Datetime column", w.Column, col.Type)
		default:
			windowCol = col
			typ, z := "timestamp", c.colZoneLoc(col)
			switch col.Type {
			case Date:
				typ = "date"
			case DatetimeTZ:
				typ, z = "timestamptz", time.UTC
			}
			ref := "t." + quoteIdent(col.Name)
			window = fmt.Sprintf("%s >= %s AND %s < %s", ref, c.param("window_start", typ, z), ref, c.param("window_end", typ, z))
		}
	}

	// As of: rows after the logical time are left out.
	var asOf string
	if el.AsOf != "" {
		name := strings.TrimSpace(el.AsOf)
		if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
			name = strings.TrimSpace(name[1 : len(name)-1])
		}
		col := c.source(name)
		switch {
		case col == nil:
			c.errorf("as_of", 0, "unknown column [%s]%s", name, c.suggest(name, false))
		case !col.Type.temporal():
			c.errorf("as_of", 0, "[%s] is %s; as_of needs a Date or Datetime column", name, col.Type)
		default:
			typ, z := "timestamp", c.colZoneLoc(col)
			switch col.Type {
			case Date:
				typ = "date"
			case DatetimeTZ:
				typ, z = "timestamptz", time.UTC
			}
			asOf = fmt.Sprintf("t.%s <= %s", quoteIdent(col.Name), c.param("now", typ, z))
		}
	}

	// Dedupe.
	var qualify string
	// dedupeFrom, for a grouped element, is the FROM that keeps one source
	// row per key: rows are de-duplicated first, then aggregated.
	var dedupeFrom string
	if len(c.opts.DedupeBy) > 0 {
		if c.grouped {
			var parts []string
			for i, n := range c.opts.DedupeBy {
				name := strings.TrimSpace(n)
				if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
					name = strings.TrimSpace(name[1 : len(name)-1])
				}
				col := c.source(name)
				if col == nil {
					c.errorf(fmt.Sprintf("dedupe_by[%d]", i), 0, "unknown source column [%s]%s (a grouped element is de-duplicated on its source rows, before aggregating)", n, c.suggest(name, false))
					continue
				}
				parts = append(parts, "t."+quoteIdent(col.Name))
			}
			// The first row of a key: by the window column, then by every
			// comparable source column, so the choice is deterministic.
			var order []string
			seen := map[string]bool{}
			if windowCol != nil {
				w := "t." + quoteIdent(windowCol.Name)
				order, seen[w] = append(order, w), true
			}
			for i := range c.schema.Columns {
				col := &c.schema.Columns[i]
				if r := "t." + quoteIdent(col.Name); col.Type != Other && !seen[r] {
					order, seen[r] = append(order, r), true
				}
			}
			if len(order) == 0 {
				order = parts
			}
			if len(parts) > 0 {
				var inner []string
				if window != "" {
					inner = append(inner, window)
				}
				if asOf != "" {
					inner = append(inner, asOf)
				}
				inner = append(inner, where...)
				cond := ""
				if len(inner) > 0 {
					cond = "\n  WHERE " + strings.Join(inner, "\n    AND ")
				}
				dedupeFrom = fmt.Sprintf("(\n  SELECT t.*\n  FROM %s%s\n  QUALIFY row_number() OVER (PARTITION BY %s ORDER BY %s) = 1\n) AS t",
					from, cond, strings.Join(parts, ", "), strings.Join(order, ", "))
				window, asOf, where = "", "", nil
			}
		} else {
			var parts []string
			for i, n := range c.opts.DedupeBy {
				found := false
				for _, o := range outs {
					if strings.EqualFold(o.name, n) {
						parts, found = append(parts, o.e.sql), true
						break
					}
				}
				if !found {
					if col := c.source(n); col != nil {
						parts, found = append(parts, "t."+quoteIdent(col.Name)), true
					}
				}
				if !found {
					c.errorf(fmt.Sprintf("dedupe_by[%d]", i), 0, "unknown column [%s]%s", n, c.suggest(n, true))
				}
			}
			var order []string
			seen := map[string]bool{}
			if windowCol != nil {
				w := "t." + quoteIdent(windowCol.Name)
				order, seen[w] = append(order, w), true
			}
			for _, o := range outs {
				if o.e.t != Other && !seen[o.e.sql] {
					order, seen[o.e.sql] = append(order, o.e.sql), true
				}
			}
			if len(order) == 0 {
				order = parts
			}
			qualify = fmt.Sprintf("row_number() OVER (PARTITION BY %s ORDER BY %s) = 1", strings.Join(parts, ", "), strings.Join(order, ", "))
		}
	}

	// Sort.
	var orderBy []string
	for i, o := range el.OrderBy {
		idx := -1
		for j, out := range outs {
			if strings.EqualFold(out.name, strings.TrimSpace(o.Column)) {
				idx = j
				break
			}
		}
		if idx < 0 {
			var names []string
			for _, out := range outs {
				names = append(names, out.name)
			}
			c.errorf(fmt.Sprintf("order_by[%d].column", i), 0, "unknown output column %q%s", o.Column, suggestFrom(o.Column, names, "%q"))
			continue
		}
		// NULLS LAST explicitly: the dialects' defaults differ by setting.
		dir := "ASC NULLS LAST"
		if o.Desc {
			dir = "DESC NULLS LAST"
		}
		orderBy = append(orderBy, fmt.Sprintf("%d %s", idx+1, dir))
	}
	if len(el.OrderBy) == 0 && c.grouped {
		// Deterministic files: groups come out in key order.
		for i := range c.keys {
			orderBy = append(orderBy, fmt.Sprintf("%d ASC NULLS LAST", i+1))
		}
	}
	if el.Limit < 0 {
		c.errorf("limit", 0, "must be >= 0")
	}

	if len(c.errs) > 0 {
		return nil
	}

	// Assemble.
	var b strings.Builder
	b.WriteString("SELECT\n")
	cols := make([]OutputColumn, len(outs))
	for i, o := range outs {
		sqlExpr, t := c.outputExpr(o.e)
		cols[i] = OutputColumn{Name: o.name, Type: t}
		sep := ","
		if i == len(outs)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %s AS %s%s\n", sqlExpr, quoteIdent(o.name), sep)
	}
	if dedupeFrom != "" {
		from = dedupeFrom
	}
	b.WriteString("FROM " + from + "\n")
	var conds []string
	if window != "" {
		conds = append(conds, window)
	}
	if asOf != "" {
		conds = append(conds, asOf)
	}
	for _, w := range where {
		conds = append(conds, w)
	}
	if len(conds) > 0 {
		b.WriteString("WHERE " + strings.Join(conds, "\n  AND ") + "\n")
	}
	if c.grouped && len(c.keys) > 0 {
		var g []string
		for _, k := range c.keys {
			g = append(g, k.out.sql)
		}
		b.WriteString("GROUP BY " + strings.Join(g, ", ") + "\n")
	}
	if len(having) > 0 {
		b.WriteString("HAVING " + strings.Join(having, "\n  AND ") + "\n")
	}
	if qualify != "" {
		b.WriteString("QUALIFY " + qualify + "\n")
	}
	if len(orderBy) > 0 {
		b.WriteString("ORDER BY " + strings.Join(orderBy, ", ") + "\n")
	}
	if el.Limit > 0 {
		fmt.Fprintf(&b, "LIMIT %d\n", el.Limit)
	}
	return &Compiled{SQL: strings.TrimSuffix(b.String(), "\n"), Params: c.params, Columns: cols,
		Dialect: c.opts.Dialect, zones: c.pzones}
}

func (c *compiler) addCol(ec *elemCol, nameField string) {
	if bad := badName(ec.name); bad != "" {
		c.errorf(nameField, 0, "%s", bad)
	}
	k := strings.ToLower(ec.name)
	if prev, dup := c.byName[k]; dup {
		c.errorf(nameField, 0, "duplicate column name %q (also %s)", ec.name, strings.TrimSuffix(prev.field, ".formula"))
		return
	}
	c.byName[k] = ec
	c.cols = append(c.cols, ec)
}

func badName(s string) string {
	for _, r := range s {
		if r == 0 || unicode.IsControl(r) {
			return fmt.Sprintf("name %q contains a control character", s)
		}
	}
	if len(s) > 255 {
		return "name is longer than 255 bytes"
	}
	return ""
}

// from returns the FROM clause's source, aliased t.
func (c *compiler) from() string {
	f := c.el.From
	switch {
	case f.Table != "" && f.SQL != "":
		c.errorf("from", 0, "give either table or sql, not both")
	case f.SQL != "":
		sql := strings.TrimSpace(f.SQL)
		if sql == "" {
			c.errorf("from.sql", 0, "empty")
			return ""
		}
		if strings.ContainsRune(sql, 0) {
			c.errorf("from.sql", 0, "contains a NUL character")
			return ""
		}
		if c.opts.Parser != nil {
			if err := c.opts.Parser.CheckSelect(context.Background(), sql); err != nil {
				c.errorf("from.sql", 0, "%v", err)
				return ""
			}
		}
		// A trailing semicolon is harmless alone but not inside ( ).
		sql = trimStatementEnd(sql)
		// The newline before ) ends a trailing -- comment.
		return "(\n" + sql + "\n) AS t"
	default:
		table := c.schema.Table
		if table == "" {
			table = strings.TrimSpace(f.Table)
		}
		if table == "" {
			c.errorf("from", 0, "needs table or sql")
			return ""
		}
		parts := strings.Split(table, ".")
		for i, p := range parts {
			if p == "" || badName(p) != "" {
				c.errorf("from.table", 0, "bad table name %q", table)
				return ""
			}
			parts[i] = quoteIdent(p)
		}
		return strings.Join(parts, ".") + " AS t"
	}
	return ""
}

// compileCol compiles an element column once; references to it reuse the
// result.
func (c *compiler) compileCol(ec *elemCol) expr {
	switch ec.state {
	case 2:
		return ec.e
	case 1:
		return expr{t: Invalid, cycle: true}
	}
	ec.state = 1
	e, ok := c.formula(ec.field, ec.formula, ec, ec.isKey)
	if !ok {
		e = expr{t: Invalid}
	}
	ec.e, ec.out = e, e
	if ok && ec.isKey {
		if e.agg {
			c.errorf(ec.field, 1, "group_by needs a row-level formula, not an aggregate")
			ec.e, ec.out = expr{t: Invalid}, expr{t: Invalid}
		} else if ec.truncate != "" {
			tf := strings.TrimSuffix(ec.field, ".formula") + ".truncate"
			switch {
			case !truncUnits[ec.truncate]:
				c.errorf(tf, 0, "unknown unit %q (want year, quarter, month, week, day, hour, minute or second)", ec.truncate)
				ec.e, ec.out = expr{t: Invalid}, expr{t: Invalid}
			case !e.t.temporal():
				c.errorf(tf, 0, "only a Date or Datetime can be truncated; this formula is %s", e.t)
				ec.e, ec.out = expr{t: Invalid}, expr{t: Invalid}
			default:
				ec.out = c.truncGroup(e, ec.truncate)
				ec.e = ec.out
			}
		}
	}
	ec.state = 2
	return ec.e
}

// formula parses and compiles one formula, reporting errors under field.
func (c *compiler) formula(field, src string, self *elemCol, rowOnly bool) (expr, bool) {
	n, perr := parseFormula(src)
	if perr != nil {
		c.errorf(field, perr.pos, "%s", perr.msg)
		return expr{}, false
	}
	fc := &fctx{field: field, self: self, rowOnly: rowOnly}
	before := len(c.errs)
	e := c.compile(n, fc)
	if len(c.errs) > before || e.t == Invalid {
		return expr{}, false
	}
	return e, true
}

// singleRef returns the name in a formula that is only a column reference.
func singleRef(src string) string {
	n, err := parseFormula(src)
	if err != nil {
		return ""
	}
	if r, ok := n.(*refNode); ok {
		return r.name
	}
	return ""
}

// normName applies Sigma's display-name rule: case-insensitive, spaces and
// underscores alike.
func normName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	prevSep := false
	for _, r := range s {
		if r == ' ' || r == '_' {
			if !prevSep {
				b.WriteByte('_')
			}
			prevSep = true
			continue
		}
		prevSep = false
		b.WriteRune(r)
	}
	return b.String()
}

// source resolves a display name to a source column.
func (c *compiler) source(name string) *Column {
	name = strings.TrimSpace(name)
	for k, v := range c.schema.DisplayNames {
		if strings.EqualFold(k, name) {
			for i := range c.schema.Columns {
				if c.schema.Columns[i].Name == v {
					return &c.schema.Columns[i]
				}
			}
		}
	}
	for i := range c.schema.Columns {
		if sameName(c.schema.Columns[i].Name, name) {
			return &c.schema.Columns[i]
		}
	}
	return nil
}

// sameName reports whether normName(a) == normName(b) without building
// either: source runs it for every column of the schema on every
// reference, which made it a third of compiling an element.
func sameName(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	for {
		ra, na := nextNormRune(a)
		rb, nb := nextNormRune(b)
		if na == 0 || nb == 0 {
			return na == nb
		}
		if ra != rb {
			return false
		}
		a, b = a[na:], b[nb:]
	}
}

// nextNormRune is the first rune of s as normName writes it: lower case,
// a run of spaces and underscores as one '_'; n is the bytes it covers.
func nextNormRune(s string) (r rune, n int) {
	if s == "" {
		return 0, 0
	}
	if s[0] == ' ' || s[0] == '_' {
		for n < len(s) && (s[n] == ' ' || s[n] == '_') {
			n++
		}
		return '_', n
	}
	r, n = utf8.DecodeRuneInString(s)
	return unicode.ToLower(r), n
}

// displayName is how Sigma shows a source column: REQUEST_TIME is
// "Request Time".
func (c *compiler) displayName(col *Column) string {
	var keys []string
	for k, v := range c.schema.DisplayNames {
		if v == col.Name {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		sort.Strings(keys)
		return keys[0]
	}
	words := strings.FieldsFunc(col.Name, func(r rune) bool { return r == '_' || r == ' ' })
	for i, w := range words {
		rs := []rune(strings.ToLower(w))
		rs[0] = unicode.ToUpper(rs[0])
		words[i] = string(rs)
	}
	if len(words) == 0 {
		return col.Name
	}
	return strings.Join(words, " ")
}

func (c *compiler) colZoneLoc(col *Column) *time.Location {
	if col.Zone != nil {
		return col.Zone
	}
	if c.schema.Zone != nil {
		return c.schema.Zone
	}
	return time.UTC
}

func (c *compiler) sourceExpr(col *Column) expr {
	e := expr{sql: "t." + quoteIdent(col.Name), t: col.Type}
	switch col.Type {
	case Datetime:
		z, ok := zoneName(c.colZoneLoc(col))
		if !ok {
			c.errorf("source.columns", 0, "column %s: zone %q is not an IANA zone name", col.Name, z)
		}
		e.zone = z
	case DatetimeTZ:
		e.t, e.zone = Datetime, ""
	case Invalid, Null:
		e.t = Other
	}
	return e
}

// suggest offers the closest known column name.
func (c *compiler) suggest(name string, withElem bool) string {
	var names []string
	if withElem {
		for _, ec := range c.cols {
			names = append(names, ec.name)
		}
	}
	for i := range c.schema.Columns {
		names = append(names, c.displayName(&c.schema.Columns[i]))
	}
	return suggestFrom(name, names, "[%s]")
}

func suggestFrom(name string, names []string, format string) string {
	best, bestD := "", 1<<30
	ln := strings.ToLower(name)
	for _, n := range names {
		d := editDistance(ln, strings.ToLower(n))
		if d < bestD {
			best, bestD = n, d
		}
	}
	limit := len([]rune(name))/3 + 1
	if best == "" || bestD > limit {
		return ""
	}
	return "; did you mean " + fmt.Sprintf(format, best) + "?"
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString writes a string literal. Snowflake also treats a backslash as
// an escape inside single quotes, so it is doubled there.
func (c *compiler) quoteString(s string) string {
	if c.sf {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// param adds (DuckDB: reuses) a bind parameter and returns its typed SQL.
func (c *compiler) param(name, typ string, zone *time.Location) string {
	if c.sf {
		c.params = append(c.params, Param{name, typ})
		c.pzones = append(c.pzones, zone)
		switch typ {
		case "date":
			return "TO_DATE(?, 'YYYY-MM-DD')"
		case "timestamptz":
			return "TO_TIMESTAMP_TZ(?, 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')"
		}
		return "TO_TIMESTAMP_NTZ(?, 'YYYY-MM-DD HH24:MI:SS.FF6')"
	}
	key := name + "/" + typ + "/" + zone.String()
	i, ok := c.pidx[key]
	if !ok {
		c.params = append(c.params, Param{name, typ})
		c.pzones = append(c.pzones, zone)
		i = len(c.params)
		c.pidx[key] = i
	}
	switch typ {
	case "date":
		return fmt.Sprintf("CAST($%d AS DATE)", i)
	case "timestamptz":
		return fmt.Sprintf("CAST($%d AS TIMESTAMPTZ)", i)
	}
	return fmt.Sprintf("CAST($%d AS TIMESTAMP)", i)
}

// outputExpr is the exported form of an expression: points in time as UTC
// wall clock, so that files do not depend on a session time zone.
func (c *compiler) outputExpr(e expr) (string, Type) {
	switch e.t {
	case Datetime:
		return c.toLocal(e, "UTC"), Datetime
	case Null:
		return "CAST(NULL AS " + c.sqlType(Text) + ")", Text
	}
	return e.sql, e.t
}

// trimStatementEnd removes semicolons that end a statement, skipping
// comments and whitespace after them; quoted text is left alone.
func trimStatementEnd(sql string) string {
	for {
		last := -1 // index of the last byte outside comments and whitespace
		for i := 0; i < len(sql); i++ {
			switch ch := sql[i]; {
			case ch == '-' && i+1 < len(sql) && sql[i+1] == '-':
				for i < len(sql) && sql[i] != '\n' {
					i++
				}
			case ch == '/' && i+1 < len(sql) && sql[i+1] == '*':
				end := strings.Index(sql[i+2:], "*/")
				if end < 0 {
					return sql // unterminated: leave it for the parser
				}
				i += end + 3
			case ch == '\'' || ch == '"':
				j := i + 1
				for j < len(sql) && sql[j] != ch {
					j++
				}
				if j >= len(sql) {
					return sql
				}
				last, i = j, j
			case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			default:
				last = i
			}
		}
		if last < 0 || sql[last] != ';' {
			return sql
		}
		sql = strings.TrimSpace(sql[:last] + sql[last+1:])
	}
}

// fieldRank orders fields as they appear in an element.
func fieldRank(field string) int {
	order := []string{"dialect", "timezone", "source", "week_start", "from", "group_by", "columns", "filters",
		"window", "as_of", "dedupe_by", "order_by", "limit"}
	name, idx := field, 0
	if i := strings.IndexAny(field, ".["); i >= 0 {
		name = field[:i]
		if field[i] == '[' {
			if j := strings.IndexByte(field[i:], ']'); j > 0 {
				fmt.Sscanf(field[i+1:i+j], "%d", &idx)
			}
		}
	}
	for r, n := range order {
		if n == name {
			return r*1_000_000 + idx
		}
	}
	return len(order) * 1_000_000
}
