// Package duckdb is the embedded DuckDB source: a database file (or memory)
// prepared by SQL init files, then locked down so that export queries can
// read its tables but no other file, and exported with DuckDB's own CSV
// writer through a named pipe.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ddb "github.com/duckdb/duckdb-go/v2"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/source"
)

var _ source.Source = (*Source)(nil)

// MemoryPath opens an in-memory database.
const MemoryPath = ":memory:"

// Options configure Open.
type Options struct {
	// Name identifies the source in logs and errors.
	Name string
	// Path is the database file, or MemoryPath. A file that another Source
	// of this process has open shares its DuckDB instance, whose configuration
	// is locked, so opening the same file twice fails.
	Path string
	// Init lists SQL files run in order, on one connection, before the
	// database is locked down. They may read files; export queries may not.
	Init []string
	// Vars are set as DuckDB variables (SET VARIABLE name = 'value') on every
	// connection, before Init runs; SQL reads them with getvariable('name').
	// Values are strings; SQL casts them (getvariable('demo_end')::TIMESTAMPTZ).
	Vars map[string]string
	// TimeZone is the session time zone of every connection (default "UTC").
	// It decides how TIMESTAMPTZ values are printed and how TIMESTAMP and
	// TIMESTAMPTZ compare.
	TimeZone string
	// SpoolDir is a folder the daemon owns. Export pipes and DuckDB's spill
	// files live there, and it is the only folder queries can touch.
	SpoolDir string
	// Threads limits DuckDB's worker threads. 0 runs the init files on all
	// cores and exports on one thread each (DefaultThreads): with more, an
	// order-preserving COPY buffers every batch that finishes ahead of the
	// one being written, and its memory grows with the result.
	Threads int
	// MemoryLimit is DuckDB's memory_limit ("2GB"), shared by every query
	// of the source. "" sets it, once the init files have run, to what the
	// database holds then plus DefaultMemoryHeadroom: tables the init files
	// built in memory stay resident, and the buffer cache of a database file
	// cannot grow with the tables an export reads.
	MemoryLimit string
	// Logger receives lifecycle logs; nil discards them.
	Logger *zap.Logger
}

// DefaultThreads is the number of DuckDB threads of a source whose Threads
// is 0, from the end of its init files on.
const DefaultThreads = 1

// DefaultMemoryHeadroom is what a source whose MemoryLimit is "" may use
// beyond what its init files left in memory: mostly the buffer cache of a
// database file, which a scan of a large table fills to the limit, so an
// export's peak RSS is this plus 55-65 MiB (the process: DuckDB's code as
// mapped, which depends on the page cache, the Go runtime and buffers):
// 10M wide rows peak at 144-152 MiB (96 MiB gave 153-154). Below about
// 81 MiB a sort of a million wide rows fails to pin its blocks; from 82 MiB
// on it spills to the spool folder instead, so 88 MiB keeps some margin.
const DefaultMemoryHeadroom = 88 << 20

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o *Options) validate() error {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	switch {
	case o.Path == "":
		errs = append(errs, errors.New(`path: must not be empty (use ":memory:" for an in-memory database)`))
	case strings.ContainsAny(o.Path, "?\x00"):
		errs = append(errs, fmt.Errorf("path %q: must not contain '?' or NUL", o.Path))
	}
	if o.SpoolDir == "" {
		errs = append(errs, errors.New("spool_dir: must not be empty"))
	} else if strings.ContainsAny(o.SpoolDir, "'\x00") {
		errs = append(errs, fmt.Errorf("spool_dir %q: must not contain a quote or NUL", o.SpoolDir))
	}
	for name, v := range o.Vars {
		if !identRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("vars: name %q: must be a plain identifier", name))
		}
		if strings.ContainsRune(v, 0) {
			errs = append(errs, fmt.Errorf("vars: %s: value contains NUL", name))
		}
	}
	if strings.ContainsAny(o.TimeZone, "\x00") {
		errs = append(errs, errors.New("time_zone: contains NUL"))
	}
	if o.Threads < 0 {
		errs = append(errs, fmt.Errorf("threads: %d: must be >= 0", o.Threads))
	}
	if strings.ContainsRune(o.MemoryLimit, 0) {
		errs = append(errs, errors.New("memory_limit: contains NUL"))
	}
	return errors.Join(errs...)
}

// Source is an open DuckDB database. It is safe for concurrent use.
type Source struct {
	name     string
	timeZone string
	spool    string // absolute, symlinks resolved, no trailing slash
	tmpDir   string // DuckDB's spill folder, inside spool
	vars     map[string]string
	log      *zap.Logger
	db       *sql.DB

	// cache keeps what a query's text always gives: its parse check and
	// its output columns. Every window of a schedule runs the same text.
	cache queryCache

	// locked is set once the lockdown is in place; from then on every new
	// pooled connection is checked rather than configured.
	locked atomic.Bool
}

// Open opens the database, sets the variables, runs the init files, pins the
// time zone and locks the configuration: after Open, queries can reach no
// file outside SpoolDir and cannot change any setting.
func Open(ctx context.Context, opts Options) (*Source, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("duckdb source: %w", err)
	}
	if opts.TimeZone == "" {
		opts.TimeZone = "UTC"
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	spool, err := prepareSpool(opts.SpoolDir)
	if err != nil {
		return nil, fmt.Errorf("duckdb source %q: %w", opts.Name, err)
	}
	tmpDir, err := os.MkdirTemp(spool, "duckdb-tmp-")
	if err != nil {
		return nil, fmt.Errorf("duckdb source %q: spill folder: %w", opts.Name, err)
	}
	s := &Source{
		name:     opts.Name,
		timeZone: opts.TimeZone,
		spool:    spool,
		tmpDir:   tmpDir,
		vars:     opts.Vars,
		log:      opts.Logger.With(zap.String("source", opts.Name)),
	}
	fail := func(err error) (*Source, error) {
		_ = os.RemoveAll(tmpDir)
		return nil, fmt.Errorf("duckdb source %q: %w", opts.Name, err)
	}

	dsn := opts.Path
	if dsn == MemoryPath {
		dsn = ""
	}
	connector, err := ddb.NewConnector(dsn, s.initConn)
	if err != nil {
		return fail(fmt.Errorf("open %s: %w", opts.Path, err))
	}
	if err := s.setup(ctx, connector, opts); err != nil {
		_ = connector.Close()
		return fail(err)
	}
	s.locked.Store(true)
	s.db = sql.OpenDB(connector) // closes the connector on Close
	if err := s.checkPooled(ctx); err != nil {
		_ = s.db.Close()
		return fail(err)
	}
	return s, nil
}

func prepareSpool(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("spool folder %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("spool folder: %w", err)
	}
	// DuckDB compares allowed_directories with the path strings it is given;
	// resolving links once makes the pipe paths we hand it match the allowance.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("spool folder: %w", err)
	}
	return real, nil
}

// initConn runs on every new DuckDB connection, the setup one included.
// Variables and the session time zone are per connection in DuckDB; the time
// zone is set globally during setup (it cannot be set after the lockdown), so
// here it is only checked, and a connection that disagrees is refused.
func (s *Source) initConn(execer driver.ExecerContext) error {
	ctx := context.Background()
	for name, value := range s.vars {
		if _, err := execer.ExecContext(ctx, "SET VARIABLE "+name+" = "+quoteLiteral(value), nil); err != nil {
			return fmt.Errorf("set variable %s: %w", name, err)
		}
	}
	if !s.locked.Load() {
		return nil
	}
	q, ok := execer.(driver.QueryerContext)
	if !ok {
		return errors.New("duckdb connection cannot query")
	}
	tz, err := querySetting(ctx, q, "TimeZone")
	if err != nil {
		return err
	}
	if tz != s.timeZone {
		return fmt.Errorf("connection time zone is %q, want %q", tz, s.timeZone)
	}
	return nil
}

func querySetting(ctx context.Context, q driver.QueryerContext, name string) (string, error) {
	rows, err := q.QueryContext(ctx, "SELECT current_setting("+quoteLiteral(name)+")::VARCHAR", nil)
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	defer rows.Close()
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	v, _ := vals[0].(string)
	return v, nil
}

// setup configures the database on a connection of its own, outside the
// pool, so that anything the init files set for their session dies with it.
func (s *Source) setup(ctx context.Context, connector *ddb.Connector, opts Options) (err error) {
	c, err := connector.Connect(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	exec := c.(driver.ExecerContext)
	run := func(what, stmt string) error {
		if _, err := exec.ExecContext(ctx, stmt, nil); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}

	settings := []struct{ what, stmt string }{
		{"time zone", "SET GLOBAL TimeZone = " + quoteLiteral(s.timeZone)},
		{"spill folder", "SET GLOBAL temp_directory = " + quoteLiteral(s.tmpDir)},
	}
	if opts.Threads > 0 {
		settings = append(settings, struct{ what, stmt string }{"threads", fmt.Sprintf("SET GLOBAL threads = %d", opts.Threads)})
	}
	if opts.MemoryLimit != "" {
		settings = append(settings, struct{ what, stmt string }{"memory limit", "SET GLOBAL memory_limit = " + quoteLiteral(opts.MemoryLimit)})
	}
	for _, st := range settings {
		if err := run(st.what, st.stmt); err != nil {
			return err
		}
	}

	for _, file := range opts.Init {
		text, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		start := time.Now()
		if err := run("init "+file, string(text)); err != nil {
			return err
		}
		s.log.Info("init file done", zap.String("file", file), zap.Duration("took", time.Since(start)))
	}

	if err := s.exportSettings(ctx, c, opts); err != nil {
		return err
	}

	// The init files may have changed settings globally; pin the time zone
	// again, then close the door. Order matters: lock_configuration last,
	// since it also freezes the two settings before it.
	lockdown := []struct{ what, stmt string }{
		{"time zone", "SET GLOBAL TimeZone = " + quoteLiteral(s.timeZone)},
		{"lockdown", "SET GLOBAL autoinstall_known_extensions = false"},
		{"lockdown", "SET GLOBAL autoload_known_extensions = false"},
		{"lockdown", "SET GLOBAL allowed_directories = [" + quoteLiteral(s.spool+string(filepath.Separator)) + "]"},
		{"lockdown", "SET GLOBAL enable_external_access = false"},
		{"lockdown", "SET GLOBAL lock_configuration = true"},
	}
	for _, st := range lockdown {
		if err := run(st.what, st.stmt); err != nil {
			return err
		}
	}
	return nil
}

// exportSettings applies the defaults of Threads and MemoryLimit once the
// init files have run, so that building the data keeps every core and the
// memory it needs.
func (s *Source) exportSettings(ctx context.Context, c driver.Conn, opts Options) error {
	exec := c.(driver.ExecerContext)
	if opts.Threads == 0 {
		if _, err := exec.ExecContext(ctx, fmt.Sprintf("SET GLOBAL threads = %d", DefaultThreads), nil); err != nil {
			return fmt.Errorf("threads: %w", err)
		}
	}
	if opts.MemoryLimit != "" {
		return nil
	}
	rows, err := c.(driver.QueryerContext).QueryContext(ctx,
		"SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()", nil)
	if err != nil {
		return fmt.Errorf("memory in use: %w", err)
	}
	vals := make([]driver.Value, 1)
	err = rows.Next(vals)
	_ = rows.Close()
	if err != nil {
		return fmt.Errorf("memory in use: %w", err)
	}
	used, _ := vals[0].(int64)
	limit := fmt.Sprintf("SET GLOBAL memory_limit = '%dB'", used+DefaultMemoryHeadroom)
	if _, err := exec.ExecContext(ctx, limit, nil); err != nil {
		return fmt.Errorf("memory limit: %w", err)
	}
	s.log.Info("memory limit set", zap.Int64("in_use_bytes", used), zap.Int64("memory_limit_bytes", used+DefaultMemoryHeadroom))
	return nil
}

// checkPooled opens a pooled connection (which runs initConn's time zone
// check) and confirms the lockdown is in force.
func (s *Source) checkPooled(ctx context.Context) error {
	var external, locked bool
	err := s.db.QueryRowContext(ctx,
		"SELECT current_setting('enable_external_access'), current_setting('lock_configuration')").Scan(&external, &locked)
	if err != nil {
		return fmt.Errorf("check lockdown: %w", err)
	}
	if external || !locked {
		return fmt.Errorf("check lockdown: enable_external_access=%v lock_configuration=%v", external, locked)
	}
	return nil
}

// Name returns the configured name.
func (s *Source) Name() string { return s.name }

// Dialect returns source.DialectDuckDB.
func (s *Source) Dialect() string { return source.DialectDuckDB }

// Close closes the database and removes the spill folder.
func (s *Source) Close() error {
	err := s.db.Close()
	if rmErr := os.RemoveAll(s.tmpDir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	if err != nil {
		return fmt.Errorf("duckdb source %q: close: %w", s.name, err)
	}
	return nil
}

// Columns lists the columns of a table (or view) by name, with DuckDB's type
// names. table may be qualified ("schema.table", "catalog.schema.table") and
// its parts may be double-quoted.
func (s *Source) Columns(ctx context.Context, table string) ([]source.Column, error) {
	parts, err := splitQualifiedName(table)
	if err != nil {
		return nil, fmt.Errorf("duckdb source %q: columns of %q: %w: %w", s.name, table, source.ErrQuery, err)
	}
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = quoteIdent(p)
	}
	cols, err := s.describeStmt(ctx, "DESCRIBE "+strings.Join(quoted, "."), nil)
	if err != nil {
		return nil, fmt.Errorf("duckdb source %q: columns of %q: %w", s.name, table, classify(ctx, err))
	}
	return cols, nil
}

// Describe returns the output columns of q. DuckDB binds the query to answer
// and does not run it.
func (s *Source) Describe(ctx context.Context, q source.Query) ([]source.Column, error) {
	text, err := s.checkQuery(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("duckdb source %q: describe: %w", s.name, err)
	}
	cols, err := s.describeQuery(ctx, text, q.Args)
	if err != nil {
		return nil, fmt.Errorf("duckdb source %q: describe: %w", s.name, bindError(ctx, err))
	}
	return cols, nil
}

// describeQuery returns the output columns of a checked query text, from
// the cache when the same text with arguments of the same types was
// described before. The answer cannot change while the source is open:
// the init files are the only statements that change the catalog, and
// export queries are single SELECTs that can reach no other database.
func (s *Source) describeQuery(ctx context.Context, text string, args []any) ([]source.Column, error) {
	var key strings.Builder
	key.WriteString(text)
	for _, a := range args {
		fmt.Fprintf(&key, "\x00%T", a)
	}
	if cols, ok := s.cache.columns(key.String()); ok {
		return cols, nil
	}
	cols, err := s.describeStmt(ctx, "DESCRIBE (\n"+text+"\n)", args)
	if err != nil {
		return nil, err
	}
	s.cache.setColumns(key.String(), cols)
	return cols, nil
}

// queryCache holds per query text what is worked out again for every
// window otherwise. It is bounded: a full cache starts over.
type queryCache struct {
	mu      sync.Mutex
	checked map[string]int             // text -> number of parameters
	cols    map[string][]source.Column // text and argument types -> columns
}

const queryCacheSize = 1024

func (c *queryCache) params(text string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.checked[text]
	return n, ok
}

func (c *queryCache) setParams(text string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checked == nil || len(c.checked) >= queryCacheSize {
		c.checked = map[string]int{}
	}
	c.checked[text] = n
}

func (c *queryCache) columns(key string) ([]source.Column, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cols, ok := c.cols[key]
	return slices.Clone(cols), ok
}

func (c *queryCache) setColumns(key string, cols []source.Column) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cols == nil || len(c.cols) >= queryCacheSize {
		c.cols = map[string][]source.Column{}
	}
	c.cols[key] = slices.Clone(cols)
}

func (s *Source) describeStmt(ctx context.Context, stmt string, args []any) ([]source.Column, error) {
	rows, err := s.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var cols []source.Column
	vals := make([]any, len(names))
	for rows.Next() {
		var c source.Column
		ptrs := make([]any, len(names))
		for i := range ptrs {
			ptrs[i] = &vals[i]
		}
		ptrs[0], ptrs[1] = &c.Name, &c.Type // column_name, column_type
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// Count returns the number of rows q produces.
func (s *Source) Count(ctx context.Context, q source.Query) (int64, error) {
	text, err := s.checkQuery(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("duckdb source %q: count: %w", s.name, err)
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM (\n"+text+"\n)", q.Args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("duckdb source %q: count: %w", s.name, classify(ctx, err))
	}
	return n, nil
}
