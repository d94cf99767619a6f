package compile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/exportd/exportd/internal/compile"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
)

// setup writes a config with an embedded source (local, DuckDB) and a
// warehouse source (wh, Snowflake, never reachable here) with one declared
// column type, and the given schedule files; it returns the config path.
func setup(t *testing.T, schedules map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"config", "schedules", "state", "archive"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config/init.sql", `CREATE TABLE EVENTS AS SELECT TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (i) HOUR AS REQUEST_TIME,
  CASE WHEN i % 2 = 0 THEN 'LOGIN' ELSE 'LOGOUT' END AS EVENT_TYPE, 'u' || (i % 3) AS ACTOR FROM range(48) t(i);
`)
	write("config/exportd.yaml", `state_dir: ../state
schedules_dir: ../schedules
sources:
  local:
    type: duckdb
    path: ":memory:"
    init: [init.sql]
  wh:
    type: snowflake
    account: myorg-acct
    user: EXPORTD
    password: ${SNOWFLAKE_PASSWORD}
    database: SIGMA
    schema: AUDIT
    warehouse: EXPORT_WH
    columns:
      EVENTS:
        REQUEST_TIME: {type: TIMESTAMP, zone: UTC}
        EVENT_TYPE: {type: VARCHAR}
integrations:
  local: {type: folder, path: ../archive}
`)
	for name, body := range schedules {
		write("schedules/"+name+".yaml", "name: "+name+"\n"+body)
	}
	return filepath.Join(dir, "config", "exportd.yaml")
}

func schedule(src, formula string) string {
	return `source: ` + src + `
cron: "@daily"
element:
  from: {table: EVENTS}
  group_by:
    - {formula: "[Request Time]", truncate: day}
  columns:
    - {name: N, formula: '` + formula + `'}
destination: {integration: local}
`
}

// load loads the config, compiling every element with a Compiler whose
// sources are opened by open; it returns the compiled elements by schedule.
func load(t *testing.T, path string, open func(ctx context.Context, name string) (source.Source, error)) (map[string]*compile.Compiled, error) {
	t.Helper()
	var stateDir atomic.Value
	c := compile.New(compile.Options{Source: open, StateDir: func() string { return stateDir.Load().(string) }})
	var mu sync.Mutex
	out := map[string]*compile.Compiled{}
	_, err := config.Load(path, config.LoadOptions{SkipSecrets: true,
		CheckElement: func(cfg *config.Config, s *config.Schedule) []config.ElementError {
			stateDir.Store(cfg.StateDir)
			cs, errs := c.Element(context.Background(), s)
			if cs != nil {
				mu.Lock()
				out[s.Name] = cs
				mu.Unlock()
			}
			return errs
		}})
	return out, err
}

// countingSource counts the reads of a table's columns.
type countingSource struct {
	source.Source
	reads atomic.Int32
}

func (c *countingSource) Columns(ctx context.Context, table string) ([]source.Column, error) {
	c.reads.Add(1)
	return c.Source.Columns(ctx, table)
}

// TestLiveColumnsReadOncePerLoad: schedules on one table of an embedded
// source read its columns once per load, and the columns are kept in the
// schema cache under state_dir for the sources that are not opened.
func TestLiveColumnsReadOncePerLoad(t *testing.T) {
	path := setup(t, map[string]string{
		"logins":  schedule("local", `CountIf([Event Type] = "LOGIN")`),
		"actors":  schedule("local", `CountDistinct([Actor])`),
		"logouts": schedule("local", `CountIf([Event Type] = "LOGOUT")`),
	})
	dir := filepath.Dir(filepath.Dir(path))
	var opened *countingSource
	var mu sync.Mutex
	open := func(ctx context.Context, name string) (source.Source, error) {
		mu.Lock()
		defer mu.Unlock()
		if opened != nil {
			return opened, nil
		}
		if name != "local" {
			t.Errorf("opened source %q: only the embedded one is opened offline", name)
		}
		src, err := duckdb.Open(ctx, duckdb.Options{Name: name, Path: duckdb.MemoryPath,
			Init: []string{filepath.Join(dir, "config", "init.sql")}, SpoolDir: filepath.Join(dir, "state", "spool")})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { src.Close() })
		opened = &countingSource{Source: src}
		return opened, nil
	}
	got, err := load(t, path, open)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("compiled %d elements, want 3", len(got))
	}
	if n := opened.reads.Load(); n != 1 {
		t.Errorf("the table's columns were read %d times for 3 schedules, want once", n)
	}
	if sql := got["actors"].Full.SQL; !strings.Contains(sql, "ACTOR") {
		t.Errorf("compiled SQL does not read ACTOR:\n%s", sql)
	}
	data, err := os.ReadFile(filepath.Join(dir, "state", "schema", "local", "EVENTS.json"))
	if err != nil {
		t.Fatalf("schema cache not written: %v", err)
	}
	var cached struct{ Columns []source.Column }
	if err := json.Unmarshal(data, &cached); err != nil || len(cached.Columns) != 3 {
		t.Fatalf("schema cache %s: %v", data, err)
	}
}

// TestOfflineColumns: a warehouse source offline is never opened; its
// elements are checked against the schema cache when there is one, else
// against the declared column types, else they fail saying how to get them.
func TestOfflineColumns(t *testing.T) {
	open := func(ctx context.Context, name string) (source.Source, error) {
		t.Errorf("source %q opened offline", name)
		return nil, os.ErrInvalid
	}
	path := setup(t, map[string]string{"logins": schedule("wh", `CountIf([Event Type] = "LOGIN")`)})
	got, err := load(t, path, open)
	if err != nil {
		t.Fatalf("declared columns: %v", err)
	}
	if sql := got["logins"].Full.SQL; !strings.Contains(sql, "EVENT_TYPE") {
		t.Errorf("compiled SQL does not read EVENT_TYPE:\n%s", sql)
	}

	// ACTOR is not declared: only a cache that has it lets the element through.
	path = setup(t, map[string]string{"actors": schedule("wh", `CountDistinct([Actor])`)})
	if _, err := load(t, path, open); err == nil || !strings.Contains(err.Error(), "Actor") {
		t.Fatalf("an undeclared column without a cache: %v", err)
	}
	cache := filepath.Join(filepath.Dir(filepath.Dir(path)), "state", "schema", "wh", "EVENTS.json")
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		t.Fatal(err)
	}
	cols, _ := json.Marshal(map[string]any{"source": "wh", "table": "EVENTS", "columns": []source.Column{
		{Name: "REQUEST_TIME", Type: "TIMESTAMP_NTZ"}, {Name: "EVENT_TYPE", Type: "VARCHAR"}, {Name: "ACTOR", Type: "VARCHAR"}}})
	if err := os.WriteFile(cache, cols, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = load(t, path, open)
	if err != nil {
		t.Fatalf("with the schema cache: %v", err)
	}
	if sql := got["actors"].Full.SQL; !strings.Contains(sql, "ACTOR") {
		t.Errorf("compiled SQL does not read ACTOR:\n%s", sql)
	}

	// No cache and no declared type for the table: the error says what to do.
	path = setup(t, map[string]string{"other": strings.Replace(schedule("wh", `Count()`), "EVENTS", "OTHER", 1)})
	if _, err := load(t, path, open); err == nil || !strings.Contains(err.Error(), "exportd validate --online") {
		t.Fatalf("a table with no known columns: %v", err)
	}
}

// TestDefinitionHoldsEveryDialect: a schedule's definition record keeps its
// element compiled for both dialects, whichever its source's is: the
// source's SQL is the one its runs execute, the other is what the element
// compiles to elsewhere (each the same as compiling for that dialect).
func TestDefinitionHoldsEveryDialect(t *testing.T) {
	path := setup(t, map[string]string{
		"local-logins": schedule("local", `CountIf([Event Type] = "LOGIN")`),
		"wh-logins":    schedule("wh", `CountIf([Event Type] = "LOGIN")`),
	})
	dir := filepath.Dir(filepath.Dir(path))
	open := func(ctx context.Context, name string) (source.Source, error) {
		src, err := duckdb.Open(ctx, duckdb.Options{Name: name, Path: duckdb.MemoryPath,
			Init: []string{filepath.Join(dir, "config", "init.sql")}, SpoolDir: filepath.Join(dir, "state", "spool")})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { src.Close() })
		return src, nil
	}
	got, err := load(t, path, open)
	if err != nil {
		t.Fatal(err)
	}
	for name, dialect := range map[string]string{"local-logins": "duckdb", "wh-logins": "snowflake"} {
		c := got[name]
		sql := c.SQL()
		if len(sql) != 2 || sql[dialect] != c.Full.SQL || sql["duckdb"] == sql["snowflake"] {
			t.Fatalf("%s: SQL per dialect %q, full %q", name, sql, c.Full.SQL)
		}
		def := compile.Definition(c.Schedule, dialect, sql)
		if def.Source.Dialect != dialect || len(def.SQL) != 2 || def.SQL["snowflake"] != sql["snowflake"] {
			t.Fatalf("%s: definition %+v", name, def)
		}
	}
	// The same element compiled for one dialect gives the same SQL from
	// either source.
	a, b := got["local-logins"].SQL(), got["wh-logins"].SQL()
	if a["snowflake"] != b["snowflake"] || a["duckdb"] != b["duckdb"] {
		t.Fatalf("local %q\nwh %q", a, b)
	}
}
