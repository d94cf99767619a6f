package duckdb

import (
	"context"
	"errors"
	"strings"

	"github.com/exportd/exportd/internal/source"
)

// ErrNotOneSelect: a from.sql text is not exactly one SELECT statement.
var ErrNotOneSelect = errors.New("must be exactly one SELECT statement (no other statements, no parameters)")

// CheckSelect checks with DuckDB's own parser that sql is exactly one
// SELECT statement without parameters (workbook.SQLParser).
func (s *Source) CheckSelect(ctx context.Context, sql string) error {
	_, err := s.checkQuery(ctx, source.Query{SQL: sql})
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "Only SELECT statements") || strings.Contains(msg, "statements") || strings.Contains(msg, "parameters") {
		return ErrNotOneSelect
	}
	// A syntax error: DuckDB's message says where.
	if i := strings.Index(msg, "parse query: "); i >= 0 {
		msg = msg[i+len("parse query: "):]
	}
	return errors.New(msg)
}
