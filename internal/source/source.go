// Package source defines what exportd needs from a warehouse: describe a
// query, count its rows and stream its result as CSV. The implementations live
// in sub-packages (duckdb, snowflake) so that this package, and everything
// that only consumes the interface, does not link a database driver.
package source

import (
	"context"
	"errors"
	"io"
)

// Dialect names accepted by the workbook compiler and returned by Source.Dialect.
const (
	DialectDuckDB    = "duckdb"
	DialectSnowflake = "snowflake"
)

// ErrQuery marks an error caused by the query itself (syntax, binder, catalog,
// conversion, a failing expression, a forbidden file access): running it again
// gives the same error, so it is not retried.
var ErrQuery = errors.New("query error")

// ErrAuth marks an authentication or authorization failure against the
// warehouse (bad credentials, expired key, missing grant). It is not retried
// either: a person has to act.
var ErrAuth = errors.New("authentication error")

// Column is one output column, with its type as the database names it
// (for example "TIMESTAMP", "VARCHAR", "BIGINT", "DECIMAL(18,3)").
type Column struct {
	Name string
	Type string
}

// Query is a single SELECT statement and its positional bind parameters
// ($1, $2, ... for DuckDB). Values that come from outside the SQL author's
// hands (window bounds, filters) travel as Args, never spliced into SQL.
type Query struct {
	SQL  string
	Args []any
}

// Result describes a finished export.
type Result struct {
	// Rows is the number of data rows written (the header is not counted).
	Rows int64
	// Columns are the output columns in file order.
	Columns []Column
	// QueryID is the warehouse's id of the query that produced the rows
	// (Snowflake's query ID, to find it in QUERY_HISTORY); "" when the
	// warehouse has none.
	QueryID string
}

type queryTagKey struct{}

// WithQueryTag returns a context whose queries a source labels with tag
// where the warehouse keeps such a label (Snowflake's QUERY_TAG), so that an
// auditor finds them: exportd uses "exportd:<schedule>:<unit id>".
func WithQueryTag(ctx context.Context, tag string) context.Context {
	return context.WithValue(ctx, queryTagKey{}, tag)
}

// QueryTag returns the tag set by WithQueryTag, or "".
func QueryTag(ctx context.Context) string {
	s, _ := ctx.Value(queryTagKey{}).(string)
	return s
}

// Source is a warehouse that exportd reads from.
//
// ExportCSV writes RFC 4180 CSV with a header line: comma separated, '"'
// quoting with '"' doubled inside, NULL as an empty field and the empty
// string as "", dates as 2006-01-02, timestamps as 2006-01-02T15:04:05Z in UTC.
// It returns an error rather than a short success whenever the query failed,
// even after some bytes were written to w.
type Source interface {
	Name() string
	// Dialect is DialectDuckDB or DialectSnowflake.
	Dialect() string
	// Columns lists the columns of a table, possibly schema-qualified
	// ("AUDIT_LOGS", "main.AUDIT_LOGS").
	Columns(ctx context.Context, table string) ([]Column, error)
	// Describe returns the output columns of q without running it.
	Describe(ctx context.Context, q Query) ([]Column, error)
	// ExportCSV runs q and streams its result as CSV into w.
	ExportCSV(ctx context.Context, q Query, w io.Writer) (Result, error)
	// Count returns the number of rows q produces.
	Count(ctx context.Context, q Query) (int64, error)
	Close() error
}
