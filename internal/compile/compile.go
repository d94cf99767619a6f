// Package compile checks and compiles schedules' elements (workbook) against
// their sources' schemas: live columns for embedded sources (and every
// source online), else the schema cache under state_dir, else the columns
// the config declares. A table's columns are read once per load however
// many schedules use it.
package compile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/workbook"
)

// Options configure a Compiler.
type Options struct {
	// Source opens (once) the named source.
	Source func(ctx context.Context, name string) (source.Source, error)
	// Online reads table columns from the warehouse for every source; by
	// default only embedded sources (DuckDB) are opened, others use the
	// cached or declared columns.
	Online bool
	// StateDir is the state_dir of the config being loaded (the schema
	// cache is under it).
	StateDir func() string
	// Now is the wall clock.
	Now func() time.Time
	// NoRows is for commands that run no export (next, explain, validate):
	// an embedded source is not opened (its init files not run) when the
	// schema cache holds its table's columns from an earlier open of the
	// same database and init files (see embeddedFingerprint). Online wins.
	NoRows bool
}

// Compiler compiles the elements of one load.
type Compiler struct {
	opts Options
	// colMu guards columns, table columns per source and table for one
	// load; it is held while a table's columns are read, so concurrent
	// checks of 10,000 schedules on one table read them once.
	colMu   sync.Mutex
	columns map[string][]source.Column
}

// New returns a Compiler for one load.
func New(o Options) *Compiler {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Compiler{opts: o, columns: map[string][]source.Column{}}
}

// Compiled is a schedule's element compiled for its source.
type Compiled struct {
	Schedule *config.Schedule
	// Full has the window hook when the schedule is windowed.
	Full *workbook.Compiled
	// Snap compiles the element without the window hook (ad-hoc
	// snapshots of a windowed schedule) when first needed: it is rarely
	// used, and compiling it for every schedule at load cost 10,000
	// schedules a fifth of their start-up.
	Snap func() (*workbook.Compiled, error)
	// SQL is the element (with the window hook) compiled for every
	// dialect it compiles in, source's first: what its definition record
	// keeps. Computed when first needed, for the same reason as Snap.
	SQL func() map[string]string
}

// Bind picks the compiled query of unit u (Snap for a snapshot of a
// windowed schedule) and binds its parameters to u's times.
func (c *Compiled) Bind(u domain.Unit) (*workbook.Compiled, []any, error) {
	cq := c.Full
	if u.Window.IsZero() {
		var err error
		if cq, err = c.Snap(); err != nil {
			return nil, nil, err
		}
	}
	args, err := cq.Bind(workbook.Values{Now: u.Logical, WindowStart: u.Window.Start, WindowEnd: u.Window.End})
	return cq, args, err
}

// Query is the query of unit u, with its parameters as the manifest
// records them (export.Job.Query).
func (c *Compiled) Query(u domain.Unit) (export.Query, error) {
	cq, args, err := c.Bind(u)
	if err != nil {
		return export.Query{}, err
	}
	q := export.Query{SQL: cq.SQL, Args: args, Params: []archive.Param{}}
	for i, p := range cq.Params {
		q.Params = append(q.Params, archive.Param{Name: p.Name, Type: p.Type, Value: fmt.Sprint(args[i])})
	}
	return q, nil
}

// ForDialect compiles a schedule's element for another dialect than its
// source's (exportd explain --dialect).
func (cr *Compiler) ForDialect(ctx context.Context, s *config.Schedule, dialect string) (*workbook.Compiled, error) {
	if dialect != string(workbook.DuckDB) && dialect != string(workbook.Snowflake) {
		return nil, fmt.Errorf("unknown dialect %q: use duckdb or snowflake", dialect)
	}
	schema, _, err := cr.Schema(ctx, s)
	if err != nil {
		return nil, err
	}
	return workbook.Compile(&s.Element, schema, WorkbookOptions(s, dialect))
}

// Element compiles a schedule's element against its source's schema; the
// problems are located in the element for config.Load.
func (c *Compiler) Element(ctx context.Context, s *config.Schedule) (*Compiled, []config.ElementError) {
	schema, parser, err := c.Schema(ctx, s)
	if err != nil {
		field := "from"
		var fe *fieldError
		if errors.As(err, &fe) {
			field = fe.field
		}
		return nil, []config.ElementError{{Field: field, Msg: err.Error()}}
	}
	opts := WorkbookOptions(s, Dialect(s.SourceConfig))
	opts.Parser = parser
	snapOpts := opts
	snapOpts.Window = nil
	full, err := workbook.Compile(&s.Element, schema, opts)
	if err != nil {
		if opts.Window == nil {
			return nil, elementErrors(err)
		}
		// The element's own problems are the element's; what only the
		// window hook brings is the window's.
		if _, serr := workbook.Compile(&s.Element, schema, snapOpts); serr != nil {
			return nil, elementErrors(serr)
		}
		for _, e := range elementErrors(err) {
			return nil, []config.ElementError{{Field: "", Msg: "window.column: " + e.Msg}}
		}
	}
	if errs := c.checkUnload(ctx, s, full); len(errs) > 0 {
		return nil, errs
	}
	out := &Compiled{Schedule: s, Full: full}
	out.SQL = sync.OnceValue(func() map[string]string {
		m := map[string]string{string(opts.Dialect): full.SQL}
		for _, d := range []workbook.Dialect{workbook.DuckDB, workbook.Snowflake} {
			if d == opts.Dialect {
				continue
			}
			o := WorkbookOptions(s, string(d))
			o.Parser = parser
			if other, err := workbook.Compile(&s.Element, schema, o); err == nil {
				m[string(d)] = other.SQL
			}
		}
		return m
	})
	if opts.Window == nil {
		out.Snap = func() (*workbook.Compiled, error) { return full, nil }
	} else {
		out.Snap = sync.OnceValues(func() (*workbook.Compiled, error) {
			return workbook.Compile(&s.Element, schema, snapOpts)
		})
	}
	return out, nil
}

// WorkbookOptions are a schedule's compile settings for a dialect, with the
// window hook when the schedule is windowed.
func WorkbookOptions(s *config.Schedule, dialect string) workbook.Options {
	o := workbook.Options{Dialect: workbook.Dialect(dialect), Timezone: s.Location, DedupeBy: s.DedupeBy}
	if s.Window != nil {
		o.Window = &workbook.WindowHook{Column: s.Window.Column}
	}
	return o
}

func elementErrors(err error) []config.ElementError {
	var wes workbook.Errors
	if errors.As(err, &wes) {
		out := make([]config.ElementError, 0, len(wes))
		for _, e := range wes {
			msg := e.Msg
			if e.Col > 0 {
				msg = fmt.Sprintf("column %d: %s", e.Col, e.Msg)
			}
			out = append(out, config.ElementError{Field: e.Field, Msg: msg})
		}
		return out
	}
	return []config.ElementError{{Msg: err.Error()}}
}

// Dialect is the SQL dialect of a source.
func Dialect(s *config.Source) string {
	if s.Type == config.SourceSnowflake {
		return source.DialectSnowflake
	}
	return source.DialectDuckDB
}

// Schema finds the columns an element is checked against: live for
// embedded sources (and every source with Online), else the schema cache
// under state_dir, else the columns the config declares.
func (cr *Compiler) Schema(ctx context.Context, s *config.Schedule) (workbook.Schema, workbook.SQLParser, error) {
	sc := s.SourceConfig
	dialect := workbook.Dialect(Dialect(sc))
	ws := workbook.Schema{Zone: sc.Location, DisplayNames: map[string]string{}}
	table := s.Element.From.Table
	var cols []source.Column
	var parser workbook.SQLParser
	var cached []source.Column
	if sc.Type == config.SourceDuckDB && cr.opts.NoRows && !cr.opts.Online && table != "" {
		cached, _ = cr.columnsOnce(sc.Name, table, func() ([]source.Column, error) {
			cols, _ := cr.loadSchemaCache(sc.Name, table, embeddedFingerprint(sc))
			if len(cols) == 0 {
				// Not cached for this database: read live below, once.
				return nil, errNotCached
			}
			return cols, nil
		})
	}
	if len(cached) > 0 {
		cols = cached
	} else if sc.Type == config.SourceDuckDB || cr.opts.Online {
		src, err := cr.opts.Source(ctx, sc.Name)
		if err != nil {
			return ws, nil, err
		}
		if p, ok := src.(workbook.SQLParser); ok {
			parser = p
		}
		if table != "" {
			cols, err = cr.tableColumns(ctx, src, sc, table)
		} else {
			if parser != nil {
				if err := parser.CheckSelect(ctx, s.Element.From.SQL); err != nil {
					return ws, nil, &fieldError{field: "from.sql", err: err}
				}
			}
			cols, err = src.Describe(ctx, source.Query{SQL: s.Element.From.SQL})
		}
		if err != nil {
			return ws, nil, fmt.Errorf("read columns of source %q: %w", sc.Name, err)
		}
	} else if table != "" {
		cols, _ = cr.columnsOnce(sc.Name, table, func() ([]source.Column, error) {
			cols, _ := cr.loadSchemaCache(sc.Name, table)
			return cols, nil
		})
		if len(cols) == 0 {
			for name, co := range sc.Columns[table] {
				if co.Type != "" {
					cols = append(cols, source.Column{Name: name, Type: co.Type})
				}
			}
			sort.Slice(cols, func(i, j int) bool { return cols[i].Name < cols[j].Name })
		}
		if len(cols) == 0 {
			return ws, nil, fmt.Errorf("no known columns for table %q of source %q: run `exportd validate --online` once (it caches them under state_dir) or declare them under sources.%s.columns", table, sc.Name, sc.Name)
		}
	} else {
		return ws, nil, fmt.Errorf("from.sql on source %q needs the live warehouse to check: run `exportd validate --online`", sc.Name)
	}
	for _, c := range cols {
		wc := workbook.Column{Name: c.Name, Type: workbook.TypeFromSQL(dialect, c.Type)}
		if co := sc.Columns[table][c.Name]; co != nil {
			wc.Zone = co.Location
			if co.DisplayName != "" {
				ws.DisplayNames[co.DisplayName] = c.Name
			}
		}
		ws.Columns = append(ws.Columns, wc)
	}
	return ws, parser, nil
}

// tableColumns reads a table's columns once per load (not once per
// schedule, which Load checks concurrently) and refreshes the schema
// cache under state_dir.
func (cr *Compiler) tableColumns(ctx context.Context, src source.Source, sc *config.Source, table string) ([]source.Column, error) {
	return cr.columnsOnce(sc.Name, table, func() ([]source.Column, error) {
		cols, err := src.Columns(ctx, table)
		if err == nil {
			cr.saveSchemaCache(sc.Name, table, cols, embeddedFingerprint(sc))
		}
		return cols, err
	})
}

// columnsOnce returns the columns read reads for a table, calling read at
// most once per load unless it fails.
func (cr *Compiler) columnsOnce(srcName, table string, read func() ([]source.Column, error)) ([]source.Column, error) {
	key := srcName + "\x00" + table
	cr.colMu.Lock()
	defer cr.colMu.Unlock()
	if cols, ok := cr.columns[key]; ok {
		return cols, nil
	}
	cols, err := read()
	if err != nil {
		return nil, err
	}
	cr.columns[key] = cols
	return cols, nil
}

// fieldError places a problem at a field of the element.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

type schemaCache struct {
	Source  string          `json:"source"`
	Table   string          `json:"table"`
	Columns []source.Column `json:"columns"`
	Read    time.Time       `json:"read"`
	// Fingerprint identifies the embedded database the columns were read
	// from (embeddedFingerprint); empty for a warehouse.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// errNotCached: no cached columns to use without opening the source.
var errNotCached = errors.New("no cached columns")

// embeddedFingerprint identifies what an embedded (DuckDB) source's tables
// are made of: its database path (and, for a file, its size and
// modification time, WAL included), the bytes of each init file and the
// configured variables. Columns cached under the same fingerprint are the
// columns an open would read; any change to the files or the config
// makes the next command open the source again. An unreadable file gives
// no fingerprint (always open).
func embeddedFingerprint(sc *config.Source) string {
	if sc == nil || sc.Type != config.SourceDuckDB {
		return ""
	}
	d := sc.DuckDB
	h := sha256.New()
	fmt.Fprintf(h, "exportd embedded schema v1\x00path=%s\x00", d.Path)
	if d.Path != "" && d.Path != ":memory:" {
		for _, p := range []string{d.Path, d.Path + ".wal"} {
			if fi, err := os.Stat(p); err == nil {
				fmt.Fprintf(h, "file=%s size=%d mtime=%d\x00", p, fi.Size(), fi.ModTime().UnixNano())
			}
		}
	}
	for _, f := range d.Init {
		data, err := os.ReadFile(f)
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "init=%s len=%d\x00", f, len(data))
		h.Write(data)
	}
	names := make([]string, 0, len(d.Vars))
	for k := range d.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(h, "var=%q=%q\x00", k, d.Vars[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (cr *Compiler) schemaCachePath(src, table string) string {
	return filepath.Join(cr.opts.StateDir(), "schema", src, table+".json")
}

func (cr *Compiler) saveSchemaCache(src, table string, cols []source.Column, fingerprint string) {
	p := cr.schemaCachePath(src, table)
	data, _ := json.MarshalIndent(schemaCache{Source: src, Table: table, Columns: cols, Read: cr.opts.Now().UTC(), Fingerprint: fingerprint}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
		tmp := p + ".tmp"
		if os.WriteFile(tmp, data, 0o644) == nil {
			_ = os.Rename(tmp, p)
		}
	}
}

// loadSchemaCache reads the cached columns of a table; with a fingerprint
// (an embedded source) only columns cached under the same one count.
func (cr *Compiler) loadSchemaCache(src, table string, fingerprint ...string) ([]source.Column, bool) {
	data, err := os.ReadFile(cr.schemaCachePath(src, table))
	if err != nil {
		return nil, false
	}
	var c schemaCache
	if json.Unmarshal(data, &c) != nil {
		return nil, false
	}
	if len(fingerprint) > 0 && (fingerprint[0] == "" || c.Fingerprint != fingerprint[0]) {
		return nil, false
	}
	return c.Columns, len(c.Columns) > 0
}
