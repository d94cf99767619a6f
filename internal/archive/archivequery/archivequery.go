// Package archivequery runs an auditor's workbook element over archived
// objects: the read side of the archive, as verify and fetch are, with an
// embedded DuckDB to query the fetched files.
package archivequery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
	"github.com/exportd/exportd/internal/workbook"
)

// Element is an auditor's element: a schedule's element, without from.
type Element = workbook.Element

// DecodeElement reads an element from YAML, strictly (an unknown key is an
// error).
func DecodeElement(data []byte) (*Element, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	el := &Element{}
	if err := dec.Decode(el); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return el, nil
}

// IsElementError reports whether err is a problem of the element (its
// formulas or columns), not of the archive.
func IsElementError(err error) bool {
	var wes workbook.Errors
	return errors.As(err, &wes)
}

// Table is the table an archive query's element reads: the rows of
// the archived objects it picked, with their CSV headers as column names.
const Table = "ARCHIVE"

// Run runs a workbook element over archived objects: it fetches
// them (each sha256 checked against its manifest) into a private folder,
// loads them into an embedded DuckDB as the table ARCHIVE, compiles the
// element against that table and writes its result as CSV to w. A nil
// element returns every row and column. The element's from is ignored: it
// always reads ARCHIVE. Like every query exportd runs, its SQL comes from
// the compiler; the element is the auditor's, not SQL.
func Run(ctx context.Context, log *zap.Logger, r archive.Reader, entries []archive.ChainEntry, el *workbook.Element, zone *time.Location, w io.Writer) (source.Result, error) {
	dir, err := os.MkdirTemp("", "exportd-query-")
	if err != nil {
		return source.Result{}, err
	}
	defer os.RemoveAll(dir)
	var files []string
	for _, e := range entries {
		for _, o := range e.Manifest.Objects {
			f := filepath.Join(dir, fmt.Sprintf("%06d-%s", len(files), path.Base(o.Key)))
			if err := archive.FetchFile(ctx, r, o, f); err != nil {
				return source.Result{}, err
			}
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return source.Result{}, errors.New("no archived object in that range")
	}
	// The files are loaded before the database is locked down; queries
	// then read only the table. The paths are exportd's own.
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	load := filepath.Join(dir, "load.sql")
	sql := fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM read_csv([%s], header = true, union_by_name = true, timestampformat = '%%Y-%%m-%%dT%%H:%%M:%%S%%z');\n",
		Table, strings.Join(quoted, ", "))
	if err := os.WriteFile(load, []byte(sql), 0o600); err != nil {
		return source.Result{}, err
	}
	src, err := duckdb.Open(ctx, duckdb.Options{Name: "archive", Path: duckdb.MemoryPath, Init: []string{load},
		SpoolDir: filepath.Join(dir, "spool"), Logger: log})
	if err != nil {
		return source.Result{}, fmt.Errorf("load the archived objects: %w", err)
	}
	defer src.Close()
	cols, err := src.Columns(ctx, Table)
	if err != nil {
		return source.Result{}, err
	}
	schema := workbook.Schema{Table: Table, Zone: time.UTC}
	for _, c := range cols {
		schema.Columns = append(schema.Columns, workbook.Column{Name: c.Name, Type: workbook.TypeFromSQL(workbook.Dialect(source.DialectDuckDB), c.Type)})
	}
	var q workbook.Element
	if el != nil {
		q = *el
	}
	q.From = workbook.From{Table: Table}
	if zone == nil {
		zone = time.UTC
	}
	c, err := workbook.Compile(&q, schema, workbook.Options{Dialect: workbook.Dialect(source.DialectDuckDB), Timezone: zone})
	if err != nil {
		return source.Result{}, err
	}
	args, err := c.Bind(workbook.Values{Now: time.Now().UTC()})
	if err != nil {
		return source.Result{}, err
	}
	return src.ExportCSV(ctx, source.Query{SQL: c.SQL, Args: args}, w)
}
