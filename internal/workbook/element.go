// Package workbook compiles Sigma-style workbook elements (a source table,
// grouping, calculated columns in Sigma's formula language, filters, sort)
// to SQL for a source's dialect.
package workbook

// Element is a workbook element as written in a schedule file under
// `element:`. It is decoded strictly (unknown keys are errors) by config.
type Element struct {
	// From is the element's source: a table, or one SELECT.
	From From `yaml:"from"`
	// Filters are boolean formulas; a row is kept when all are true.
	Filters []string `yaml:"filters,omitempty"`
	// GroupBy makes the element an aggregation; each entry is a grouping
	// column.
	GroupBy []Grouping `yaml:"group_by,omitempty"`
	// Columns are the element's calculated (or, without group_by, listed)
	// columns. Without group_by and without columns, all source columns.
	Columns []CalcColumn `yaml:"columns,omitempty"`
	OrderBy []Order      `yaml:"order_by,omitempty"`
	Limit   int64        `yaml:"limit,omitempty"`
	// WeekStart is the first day of a week for DateTrunc("week", …):
	// "monday" (default) or "sunday".
	WeekStart string `yaml:"week_start,omitempty"`
	// AsOf bounds the element at the run's logical time: rows whose column
	// (a Date or Datetime source column, e.g. "[Request Time]") is after the
	// logical time are left out, so a snapshot taken late (a catch-up, a
	// retry) holds exactly what its logical time says.
	AsOf string `yaml:"as_of,omitempty"`
}

// From names a table or gives a subquery.
type From struct {
	Table string `yaml:"table,omitempty"`
	SQL   string `yaml:"sql,omitempty"`
}

// Grouping is one group_by entry.
type Grouping struct {
	// Name of the output column; default: Sigma's name, e.g.
	// "Day of Request Time" for [Request Time] truncated to day.
	Name    string `yaml:"name,omitempty"`
	Formula string `yaml:"formula"`
	// Truncate a date/timestamp grouping: year, quarter, month, week, day,
	// hour, minute.
	Truncate string `yaml:"truncate,omitempty"`
}

// CalcColumn is one calculated column.
type CalcColumn struct {
	Name    string `yaml:"name"`
	Formula string `yaml:"formula"`
}

// Order is one sort key: an output column name.
type Order struct {
	Column string `yaml:"column"`
	Desc   bool   `yaml:"desc,omitempty"`
}
