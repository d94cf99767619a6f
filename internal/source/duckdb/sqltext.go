package duckdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ddb "github.com/duckdb/duckdb-go/v2"

	"github.com/exportd/exportd/internal/source"
)

// quoteLiteral renders s as a DuckDB string literal. DuckDB's '...' strings
// have no backslash escapes, so doubling the quote is the whole job; NUL is
// rejected earlier because the C API would cut the statement there.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdent renders s as a DuckDB quoted identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// splitQualifiedName splits "catalog.schema.table" into its parts. A part
// may be double-quoted (with "" for a quote inside), which lets a name hold
// a dot; unquoted parts are taken as written, without surrounding spaces.
func splitQualifiedName(name string) ([]string, error) {
	if strings.ContainsRune(name, 0) {
		return nil, errors.New("table name contains NUL")
	}
	var parts []string
	i := 0
	for {
		for i < len(name) && name[i] == ' ' {
			i++
		}
		var part strings.Builder
		if i < len(name) && name[i] == '"' {
			i++
			closed := false
			for i < len(name) {
				if name[i] == '"' {
					if i+1 < len(name) && name[i+1] == '"' {
						part.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				part.WriteByte(name[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("table name %q: unterminated quote", name)
			}
			for i < len(name) && name[i] == ' ' {
				i++
			}
		} else {
			start := i
			for i < len(name) && name[i] != '.' {
				if name[i] == '"' {
					return nil, fmt.Errorf("table name %q: quote inside an unquoted part", name)
				}
				i++
			}
			part.WriteString(strings.TrimSpace(name[start:i]))
		}
		if part.Len() == 0 {
			return nil, fmt.Errorf("table name %q: empty part", name)
		}
		parts = append(parts, part.String())
		if i == len(name) {
			break
		}
		if name[i] != '.' {
			return nil, fmt.Errorf("table name %q: unexpected %q after a quoted part", name, name[i])
		}
		i++
	}
	if len(parts) > 3 {
		return nil, fmt.Errorf("table name %q: more than catalog.schema.table", name)
	}
	return parts, nil
}

// checkQuery makes sure q.SQL is exactly one SELECT statement and that Args
// fill its parameters, and returns the SQL without trailing semicolons.
//
// This matters because the SQL is wrapped in COPY (...) / DESCRIBE (...) /
// SELECT count(*) FROM (...), and because duckdb-go runs every statement but
// the last of a multi-statement string while preparing it. DuckDB's own parser
// (json_serialize_sql, which serializes SELECT statements only) decides; a
// text that parses alone as one SELECT has balanced parentheses, quotes and
// comments, so it cannot close the wrapper early. The wrapper puts it on
// lines of its own so that a trailing "-- comment" stays inside.
func (s *Source) checkQuery(ctx context.Context, q source.Query) (string, error) {
	text := strings.TrimSpace(q.SQL)
	for strings.HasSuffix(text, ";") {
		text = strings.TrimSpace(strings.TrimSuffix(text, ";"))
	}
	if text == "" {
		return "", fmt.Errorf("%w: empty query", source.ErrQuery)
	}
	if strings.ContainsRune(text, 0) {
		return "", fmt.Errorf("%w: query contains NUL", source.ErrQuery)
	}
	if n, ok := s.cache.params(text); ok {
		if n != len(q.Args) {
			return "", fmt.Errorf("%w: query has %d parameters, got %d arguments", source.ErrQuery, n, len(q.Args))
		}
		return text, nil
	}
	var raw string
	err := s.db.QueryRowContext(ctx, "SELECT json_serialize_sql("+quoteLiteral(text)+")::VARCHAR").Scan(&raw)
	if err != nil {
		return "", fmt.Errorf("parse query: %w", classify(ctx, err))
	}
	var parsed struct {
		Error        bool   `json:"error"`
		ErrorType    string `json:"error_type"`
		ErrorMessage string `json:"error_message"`
		Statements   []struct {
			Params []json.RawMessage `json:"named_param_map"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(raw), &parsed); err != nil {
		return "", fmt.Errorf("parse query: decode parser answer: %w", err)
	}
	switch {
	case parsed.Error:
		return "", fmt.Errorf("%w: parse query: %s (%s)", source.ErrQuery, parsed.ErrorMessage, parsed.ErrorType)
	case len(parsed.Statements) != 1:
		return "", fmt.Errorf("%w: parse query: want one SELECT statement, got %d statements", source.ErrQuery, len(parsed.Statements))
	}
	s.cache.setParams(text, len(parsed.Statements[0].Params))
	if n := len(parsed.Statements[0].Params); n != len(q.Args) {
		return "", fmt.Errorf("%w: query has %d parameters, got %d arguments", source.ErrQuery, n, len(q.Args))
	}
	return text, nil
}

// classify marks errors that come from the query itself with
// source.ErrQuery, and reports a cancelled or expired context as such.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	var de *ddb.Error
	if !errors.As(err, &de) {
		return err
	}
	switch de.Type {
	case ddb.ErrorTypeInterrupt, ddb.ErrorTypeIO, ddb.ErrorTypeOutOfMemory, ddb.ErrorTypeConnection,
		ddb.ErrorTypeNetwork, ddb.ErrorTypeHTTP, ddb.ErrorTypeTransaction, ddb.ErrorTypeFatal,
		ddb.ErrorTypeInternal, ddb.ErrorTypeScheduler:
		return err
	}
	return fmt.Errorf("%w: %w", source.ErrQuery, err)
}

// bindError classifies an error from a step that only binds the query
// (DESCRIBE): whatever fails there, short of a cancelled context, is the
// query's fault, including the driver's own argument errors.
func bindError(ctx context.Context, err error) error {
	err = classify(ctx, err)
	if ctx.Err() != nil || errors.Is(err, source.ErrQuery) {
		return err
	}
	var de *ddb.Error
	if errors.As(err, &de) {
		return err // an IO or memory problem, not the query
	}
	return fmt.Errorf("%w: %w", source.ErrQuery, err)
}
