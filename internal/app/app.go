// Package app wires exportd together: config, sources, stores, compiled
// elements and jobs. The CLI and tests build an App and call its methods;
// main stays thin.
package app

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/workbook"
)

// Options configure Load.
type Options struct {
	// ConfigPath is the daemon config (config/exportd.yaml).
	ConfigPath string
	Logger     *zap.Logger
	Version    string
	// Online reads table columns from the warehouse for every source; by
	// default only embedded sources (DuckDB) are opened to check elements,
	// others use the cached or declared columns.
	Online bool
	// SkipSecrets checks secret references without resolving them.
	SkipSecrets bool
	// Now is the wall clock; nil is time.Now. Tests move it.
	Now func() time.Time
	// ArchiveOnly loads the configuration for the auditor commands: the
	// elements are not compiled and no source is opened (they read only
	// the archive).
	ArchiveOnly bool
	// ConfigCache keeps the decoded schedule files in
	// state_dir/schedules.cache for the next start of the same binary, and
	// in memory for reloads, which then parse only the files that changed
	// (config.DecodedCache). serve sets it; checks are the same with or
	// without it.
	ConfigCache bool
}

func (o *Options) validate() error {
	if o.ConfigPath == "" {
		return errors.New("app: ConfigPath is required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// App is a loaded configuration with its open resources.
type App struct {
	opts Options
	cfg  *config.Config
	log  *zap.Logger

	// loading is the config being loaded, while Load checks elements.
	loading atomic.Pointer[config.Config]

	mu       sync.Mutex
	sources  map[string]source.Source
	stores   map[string]archive.Store
	archives map[string]*archive.Archive
	compiled map[string]*compiled
	// slots bound the exports running at once in this App, whatever
	// started them (cron fires, catch-up, run now, rechecks):
	// runs.max_concurrent.
	slots chan struct{}

	// colMu guards columns, table columns per source and table for one
	// load; it is held while a table's columns are read, so concurrent
	// checks of 10,000 schedules on one table read them once.
	colMu   sync.Mutex
	columns map[string][]source.Column

	// signer signs a digest of every commit (config signing.private_key).
	signer ed25519.PrivateKey
	// notifier is the daemon's (none for a local run): data alerts.
	notifier notifierHolder
}

// compiled is a schedule's element compiled for its source.
type compiled struct {
	sched *config.Schedule
	// full has the window hook when the schedule is windowed.
	full *workbook.Compiled
	// snap compiles the element without the window hook (ad-hoc
	// snapshots of a windowed schedule) when first needed: it is rarely
	// used, and compiling it for every schedule at load cost 10,000
	// schedules a fifth of their start-up.
	snap func() (*workbook.Compiled, error)
}

// Load reads and checks the configuration, opening the sources that are
// needed to check elements. The returned error is a config.Errors when
// the files have problems.
func Load(ctx context.Context, opts Options) (*App, error) {
	return load(ctx, opts, nil)
}

// load is Load reusing the schedule files decoded by the load that made
// prev (a reload), when prev is not nil.
func load(ctx context.Context, opts Options, prev *config.DecodedCache) (*App, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	a := &App{opts: opts, log: opts.Logger,
		sources: map[string]source.Source{}, stores: map[string]archive.Store{},
		archives: map[string]*archive.Archive{}, compiled: map[string]*compiled{},
		columns: map[string][]source.Column{}}
	lo := config.LoadOptions{
		SkipSecrets: opts.SkipSecrets,
		CheckElement: func(cfg *config.Config, s *config.Schedule) []config.ElementError {
			a.loading.Store(cfg)
			return a.checkElement(ctx, s)
		},
	}
	if opts.ArchiveOnly {
		lo.CheckElement = nil
	}
	if opts.ConfigCache {
		lo.DecodedCache = func(cfg *config.Config) *config.DecodedCache {
			if prev == nil {
				prev = a.readDecodedCache(cfg)
			}
			return prev
		}
	}
	cfg, err := config.Load(opts.ConfigPath, lo)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.cfg = cfg
	a.signer = cfg.Signing.Key
	if opts.ConfigCache && !cfg.DecodedCache().Equal(prev) {
		if err := cfg.DecodedCache().WriteFile(decodedCachePath(cfg), buildID()); err != nil {
			a.log.Warn("cannot write the decoded-schedules cache; the next start parses every schedule file", zap.Error(err))
		}
	}
	a.loading.Store(nil)
	a.slots = make(chan struct{}, max(1, cfg.Runs.MaxConcurrent))
	return a, nil
}

// Config returns the loaded configuration.
func (a *App) Config() *config.Config { return a.cfg }

// Close releases sources.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for name, s := range a.sources {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close source %s: %w", name, err))
		}
	}
	a.sources = map[string]source.Source{}
	for id, st := range a.stores {
		if c, ok := st.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close store %s: %w", st.Describe(), err))
			}
		}
		delete(a.stores, id)
		delete(a.archives, id)
	}
	return errors.Join(errs...)
}

// checkElement compiles a schedule's element against its source's schema
// and keeps the result for the schedule's runs.
func (a *App) checkElement(ctx context.Context, s *config.Schedule) []config.ElementError {
	schema, parser, err := a.schema(ctx, s)
	if err != nil {
		field := "from"
		var fe *fieldError
		if errors.As(err, &fe) {
			field = fe.field
		}
		return []config.ElementError{{Field: field, Msg: err.Error()}}
	}
	opts := compileOptions(s, dialectOf(s.SourceConfig))
	opts.Parser = parser
	snapOpts := opts
	snapOpts.Window = nil
	full, err := workbook.Compile(&s.Element, schema, opts)
	if err != nil {
		if opts.Window == nil {
			return elementErrors(err)
		}
		// The element's own problems are the element's; what only the
		// window hook brings is the window's.
		if _, serr := workbook.Compile(&s.Element, schema, snapOpts); serr != nil {
			return elementErrors(serr)
		}
		for _, e := range elementErrors(err) {
			return []config.ElementError{{Field: "", Msg: "window.column: " + e.Msg}}
		}
	}
	if errs := a.checkUnload(ctx, s, full); len(errs) > 0 {
		return errs
	}
	if errs := checkAlerts(s, full); len(errs) > 0 {
		return errs
	}
	c := &compiled{sched: s, full: full}
	if opts.Window == nil {
		c.snap = func() (*workbook.Compiled, error) { return full, nil }
	} else {
		c.snap = sync.OnceValues(func() (*workbook.Compiled, error) {
			return workbook.Compile(&s.Element, schema, snapOpts)
		})
	}
	a.mu.Lock()
	a.compiled[s.Name] = c
	a.mu.Unlock()
	return nil
}

// compileOptions are a schedule's compile settings for a dialect, with the
// window hook when the schedule is windowed.
func compileOptions(s *config.Schedule, dialect string) workbook.Options {
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

func dialectOf(s *config.Source) string {
	if s.Type == config.SourceSnowflake {
		return source.DialectSnowflake
	}
	return source.DialectDuckDB
}

// schema finds the columns an element is checked against: live for
// embedded sources (and every source with Online), else the schema cache
// under state_dir, else the columns the config declares.
func (a *App) schema(ctx context.Context, s *config.Schedule) (workbook.Schema, workbook.SQLParser, error) {
	sc := s.SourceConfig
	dialect := workbook.Dialect(dialectOf(sc))
	ws := workbook.Schema{Zone: sc.Location, DisplayNames: map[string]string{}}
	table := s.Element.From.Table
	var cols []source.Column
	var parser workbook.SQLParser
	if sc.Type == config.SourceDuckDB || a.opts.Online {
		src, err := a.Source(ctx, sc.Name)
		if err != nil {
			return ws, nil, err
		}
		if p, ok := src.(workbook.SQLParser); ok {
			parser = p
		}
		if table != "" {
			cols, err = a.tableColumns(ctx, src, sc.Name, table)
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
		cols, _ = a.columnsOnce(sc.Name, table, func() ([]source.Column, error) {
			cols, _ := a.loadSchemaCache(sc.Name, table)
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
func (a *App) tableColumns(ctx context.Context, src source.Source, srcName, table string) ([]source.Column, error) {
	return a.columnsOnce(srcName, table, func() ([]source.Column, error) {
		cols, err := src.Columns(ctx, table)
		if err == nil {
			a.saveSchemaCache(srcName, table, cols)
		}
		return cols, err
	})
}

// columnsOnce returns the columns read reads for a table, calling read at
// most once per load unless it fails.
func (a *App) columnsOnce(srcName, table string, read func() ([]source.Column, error)) ([]source.Column, error) {
	key := srcName + "\x00" + table
	a.colMu.Lock()
	defer a.colMu.Unlock()
	if cols, ok := a.columns[key]; ok {
		return cols, nil
	}
	cols, err := read()
	if err != nil {
		return nil, err
	}
	a.columns[key] = cols
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
}

func (a *App) schemaCachePath(src, table string) string {
	return filepath.Join(a.stateDir(), "schema", src, table+".json")
}

func (a *App) saveSchemaCache(src, table string, cols []source.Column) {
	p := a.schemaCachePath(src, table)
	data, _ := json.MarshalIndent(schemaCache{Source: src, Table: table, Columns: cols, Read: a.opts.Now().UTC()}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
		tmp := p + ".tmp"
		if os.WriteFile(tmp, data, 0o644) == nil {
			_ = os.Rename(tmp, p)
		}
	}
}

func (a *App) loadSchemaCache(src, table string) ([]source.Column, bool) {
	data, err := os.ReadFile(a.schemaCachePath(src, table))
	if err != nil {
		return nil, false
	}
	var c schemaCache
	if json.Unmarshal(data, &c) != nil {
		return nil, false
	}
	return c.Columns, len(c.Columns) > 0
}

// exportSlot waits for one of the runs.max_concurrent export slots; the
// caller runs its export and then calls release. Retries wait for their
// backoff without a slot.
func (a *App) exportSlot(ctx context.Context) (release func(), err error) {
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
