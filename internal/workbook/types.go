package workbook

import (
	"strings"
	"time"
)

// Type is the type of a formula value or a source column, in Sigma's terms.
// Integer is kept apart from Number so that counts and BIGINT columns export
// as whole numbers; in formulas the two mix freely.
type Type int

const (
	// Invalid marks an expression that failed to type-check; it never
	// reaches SQL.
	Invalid Type = iota
	// Null is the type of the Null literal: it fits any other type.
	Null
	// Integer is a whole number (BIGINT, NUMBER(p,0)).
	Integer
	// Number is any other number (DOUBLE, DECIMAL(p,s)).
	Number
	// Text is a string.
	Text
	// Logical is a boolean.
	Logical
	// Date is a calendar day without a time.
	Date
	// Datetime is a point in time. A source column of this type is
	// zone-less (TIMESTAMP, TIMESTAMP_NTZ): its wall clock is read in the
	// column's zone. Output columns of this type are UTC wall-clock values.
	Datetime
	// DatetimeTZ is a source column that stores an instant (TIMESTAMPTZ,
	// TIMESTAMP_TZ, TIMESTAMP_LTZ). In formulas it behaves as Datetime.
	DatetimeTZ
	// Other is a column type formulas cannot compute with (JSON, VARIANT,
	// BLOB, TIME, INTERVAL...). Such columns can still be exported, counted
	// and tested with IsNull.
	Other
)

// String names the type as Sigma does in its formula bar.
func (t Type) String() string {
	switch t {
	case Null:
		return "Null"
	case Integer, Number:
		return "Number"
	case Text:
		return "Text"
	case Logical:
		return "Logical"
	case Date:
		return "Date"
	case Datetime, DatetimeTZ:
		return "Datetime"
	case Other:
		return "unsupported type"
	}
	return "invalid"
}

// Name is a precise name of the type (Integer and Number apart), used in
// manifests to record output columns.
func (t Type) Name() string {
	switch t {
	case Integer:
		return "Integer"
	case Number:
		return "Number"
	case DatetimeTZ:
		return "DatetimeTZ"
	case Other:
		return "Other"
	}
	return t.String()
}

func (t Type) numeric() bool  { return t == Integer || t == Number }
func (t Type) temporal() bool { return t == Date || t == Datetime || t == DatetimeTZ }

// Dialect is the SQL dialect of a source.
type Dialect string

// The dialects the compiler writes.
const (
	DuckDB    Dialect = "duckdb"
	Snowflake Dialect = "snowflake"
)

// Column is a source column.
type Column struct {
	// Name is the column's name as the catalog spells it; it is quoted
	// verbatim in SQL.
	Name string
	Type Type
	// Zone is the zone in which a zone-less Datetime column's wall clock
	// is read; nil means the schema's Zone.
	Zone *time.Location
}

// Schema describes the source of an element: a table's (or a from.sql
// query's) columns.
type Schema struct {
	// Table is the table name as the catalog spells it (optionally
	// schema-qualified with dots); when empty, the element's from.table is
	// used.
	Table   string
	Columns []Column
	// Zone is the default zone of zone-less Datetime columns; nil is UTC.
	Zone *time.Location
	// DisplayNames maps a display name (as written in [brackets]) to a
	// column name, for tables whose column names do not follow Sigma's
	// display-name rule. Keys match case-insensitively.
	DisplayNames map[string]string
}

// TypeFromSQL maps a column type as DESCRIBE or information_schema spells it
// in the dialect to a Type.
func TypeFromSQL(dialect Dialect, dbType string) Type {
	t := strings.ToUpper(strings.TrimSpace(dbType))
	base, args := t, ""
	if i := strings.IndexByte(t, '('); i >= 0 {
		base = strings.TrimSpace(t[:i])
		args = strings.Trim(t[i:], "() ")
	}
	switch base {
	case "BOOLEAN", "BOOL", "LOGICAL":
		return Logical
	case "TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
		"UINTEGER", "UBIGINT", "UHUGEINT", "INT1", "INT2", "INT4", "INT8", "SHORT", "LONG", "BYTEINT", "SIGNED":
		return Integer
	case "NUMBER", "DECIMAL", "NUMERIC":
		// Snowflake's NUMBER without precision is NUMBER(38,0); DuckDB's
		// DECIMAL without precision is DECIMAL(18,3).
		scale := ""
		if parts := strings.Split(args, ","); len(parts) == 2 {
			scale = strings.TrimSpace(parts[1])
		}
		switch {
		case scale == "0":
			return Integer
		case scale != "":
			return Number
		case base == "NUMBER" || dialect == Snowflake:
			return Integer
		}
		return Number
	case "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL":
		return Number
	case "VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER", "BPCHAR", "NVARCHAR", "NVARCHAR2", "NCHAR",
		"CHAR VARYING", "CHARACTER VARYING", "UUID":
		return Text
	case "DATE":
		return Date
	case "TIMESTAMP", "DATETIME", "TIMESTAMP_NTZ", "TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP_S",
		"TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMPNTZ":
		if base == "TIMESTAMP" && strings.Contains(t, "WITH TIME ZONE") && !strings.Contains(t, "WITHOUT") {
			return DatetimeTZ
		}
		return Datetime
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_TZ", "TIMESTAMP_LTZ", "TIMESTAMPLTZ",
		"TIMESTAMPTZ_NS":
		return DatetimeTZ
	}
	if strings.HasPrefix(t, "TIMESTAMP") && strings.Contains(t, "WITH TIME ZONE") && !strings.Contains(t, "WITHOUT") {
		return DatetimeTZ
	}
	return Other
}

// OutputColumn is one column of a compiled element's result.
type OutputColumn struct {
	Name string
	// Type is Date for truncated day/week/month/quarter/year groupings and
	// Datetime (UTC wall clock) for every other point in time.
	Type Type
}
