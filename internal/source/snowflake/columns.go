package snowflake

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/exportd/exportd/internal/source"
)

// quoteIdent quotes a Snowflake identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Columns lists a table's columns from INFORMATION_SCHEMA.COLUMNS. table
// is TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE, each part as stored
// (the compiler quotes identifiers, so AUDIT_LOGS, not audit_logs); missing
// parts come from the source's database and schema (default PUBLIC).
func (s *Source) Columns(ctx context.Context, table string) ([]source.Column, error) {
	parts := strings.Split(table, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"`)
		if parts[i] == "" || len(parts) > 3 {
			return nil, fmt.Errorf("snowflake source %q: table name %q: write TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE", s.name, table)
		}
	}
	db, schema := s.database, s.schema
	if schema == "" {
		schema = "PUBLIC"
	}
	name := parts[len(parts)-1]
	if len(parts) >= 2 {
		schema = parts[len(parts)-2]
	}
	if len(parts) == 3 {
		db = parts[0]
	}
	stmt := "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM " + quoteIdent(db) +
		".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION"
	var cols []source.Column
	err := s.run(ctx, "read columns of "+table, stmt, []any{schema, name}, noCtx, func(rows driver.Rows, qid string) error {
		v := make([]driver.Value, 4)
		for {
			err := rows.Next(v)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				werr, _ := s.classify(ctx, "read columns of "+table, err, qid)
				return werr
			}
			typ := strings.ToUpper(fmt.Sprint(v[1]))
			if typ == "NUMBER" || typ == "DECIMAL" || typ == "NUMERIC" {
				p, sc := toInt(v[2]), toInt(v[3])
				typ = typeName("FIXED", p, sc)
			}
			cols = append(cols, source.Column{Name: fmt.Sprint(v[0]), Type: typ})
		}
	})
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("snowflake source %q: table %s.%s.%s not found (or the role cannot see it): %w", s.name, db, schema, name, source.ErrQuery)
	}
	return cols, nil
}

func toInt(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	case nil:
		return 0
	}
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return n
}
