package duckdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/source"
)

func TestOpenOptionsValidation(t *testing.T) {
	base := func(t *testing.T) Options {
		return Options{Name: "demo", Path: MemoryPath, SpoolDir: filepath.Join(t.TempDir(), "spool")}
	}
	cases := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"no name", func(o *Options) { o.Name = "" }, "name: must not be empty"},
		{"no path", func(o *Options) { o.Path = "" }, "path: must not be empty"},
		{"query in path", func(o *Options) { o.Path = "/tmp/x.db?access_mode=read_only" }, "must not contain '?'"},
		{"no spool", func(o *Options) { o.SpoolDir = "" }, "spool_dir: must not be empty"},
		{"quote in spool", func(o *Options) { o.SpoolDir = "/tmp/it's" }, "spool_dir"},
		{"bad variable name", func(o *Options) { o.Vars = map[string]string{"a b": "x"} }, `vars: name "a b"`},
		{"negative threads", func(o *Options) { o.Threads = -1 }, "threads: -1"},
		{"unknown time zone", func(o *Options) { o.TimeZone = "Mars/Olympus_Mons" }, "time zone"},
		{"bad memory limit", func(o *Options) { o.MemoryLimit = "lots" }, "memory limit"},
		{"missing init file", func(o *Options) { o.Init = []string{"/nonexistent/init.sql"} }, "/nonexistent/init.sql"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := base(t)
			tc.mutate(&opts)
			s, err := Open(context.Background(), opts)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open succeeded; want an error mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want it to mention %q", err, tc.want)
			}
			if opts.SpoolDir != "" {
				// A failed Open leaves no spill folder behind.
				entries, _ := os.ReadDir(opts.SpoolDir)
				if len(entries) != 0 {
					t.Errorf("spool not empty after failed Open: %v", entries)
				}
			}
		})
	}
	// The baseline itself opens.
	s, err := Open(context.Background(), base(t))
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInitErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "broken.sql")
	if err := os.WriteFile(file, []byte("CREATE TABLE a AS SELECT 1;\nSELECT * FROM missing_table;"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), Options{Name: "x", Path: MemoryPath, SpoolDir: filepath.Join(dir, "spool"), Init: []string{file}})
	if err == nil || !strings.Contains(err.Error(), "broken.sql") || !strings.Contains(err.Error(), "missing_table") {
		t.Errorf("err = %v; want the file and the problem", err)
	}
}

// TestTimeZonePinned: init files may change the time zone, for their session
// or globally; after Open every pooled connection has the configured one.
func TestTimeZonePinned(t *testing.T) {
	for _, tz := range []string{"", "America/New_York"} {
		t.Run("tz="+tz, func(t *testing.T) {
			s := openTest(t, "SET TimeZone = 'Asia/Tokyo'; SET GLOBAL TimeZone = 'Asia/Kolkata';",
				func(o *Options) { o.TimeZone = tz })
			want := tz
			if want == "" {
				want = "UTC"
			}
			ctx := context.Background()
			for i := range 4 {
				conn, err := s.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				var got string
				if err := conn.QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("connection %d: TimeZone = %q, want %q", i, got, want)
				}
			}
		})
	}
}

func TestVarsOnEveryConnection(t *testing.T) {
	s := openTest(t, "CREATE TABLE seen AS SELECT getvariable('greeting') AS g, getvariable('demo_end')::TIMESTAMPTZ AS e;",
		func(o *Options) {
			o.Vars = map[string]string{"greeting": "it's -- not SQL'); DROP TABLE seen; --", "demo_end": "2026-11-25T10:30:00+02:00"}
		})
	ctx := context.Background()
	var g string
	var e time.Time
	if err := s.db.QueryRowContext(ctx, "SELECT g, e FROM seen").Scan(&g, &e); err != nil {
		t.Fatal(err)
	}
	if g != "it's -- not SQL'); DROP TABLE seen; --" || !e.Equal(time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("init saw %q, %v", g, e)
	}
	for i := range 3 {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var got string
		if err := conn.QueryRowContext(ctx, "SELECT getvariable('greeting')").Scan(&got); err != nil || got != g {
			t.Errorf("connection %d: getvariable = %q, %v", i, got, err)
		}
	}
}

func TestColumnsAndDescribe(t *testing.T) {
	s := openTest(t, `
		CREATE TABLE AUDIT_LOGS (REQUEST_TIME TIMESTAMP, EVENT_TYPE VARCHAR, N BIGINT);
		CREATE SCHEMA odd;
		CREATE TABLE odd."we""ird.name" (a INTEGER, "b c" DECIMAL(18,3), d TIMESTAMPTZ, e DATE);
	`)
	ctx := context.Background()
	audit := []source.Column{{Name: "REQUEST_TIME", Type: "TIMESTAMP"}, {Name: "EVENT_TYPE", Type: "VARCHAR"}, {Name: "N", Type: "BIGINT"}}
	odd := []source.Column{{Name: "a", Type: "INTEGER"}, {Name: "b c", Type: "DECIMAL(18,3)"}, {Name: "d", Type: "TIMESTAMP WITH TIME ZONE"}, {Name: "e", Type: "DATE"}}
	for _, tc := range []struct {
		table string
		want  []source.Column
	}{
		{"AUDIT_LOGS", audit},
		{"audit_logs", audit}, // DuckDB resolves names without regard to case
		{"main.AUDIT_LOGS", audit},
		{`"main"."AUDIT_LOGS"`, audit},
		{`memory.main.AUDIT_LOGS`, audit},
		{`odd."we""ird.name"`, odd},
	} {
		got, err := s.Columns(ctx, tc.table)
		if err != nil {
			t.Errorf("Columns(%s): %v", tc.table, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Columns(%s) = %v, want %v", tc.table, got, tc.want)
		}
	}
	for _, bad := range []string{"no_such_table", "AUDIT_LOGS; DROP TABLE AUDIT_LOGS", `odd."unterminated`, "a..b", "a.b.c.d", ""} {
		if _, err := s.Columns(ctx, bad); !errors.Is(err, source.ErrQuery) {
			t.Errorf("Columns(%q): err = %v; want ErrQuery", bad, err)
		}
	}
	if _, err := s.Columns(ctx, "AUDIT_LOGS"); err != nil {
		t.Errorf("AUDIT_LOGS after the attempts: %v", err)
	}

	got, err := s.Describe(ctx, source.Query{
		SQL:  `SELECT date_trunc('day', REQUEST_TIME) AS "Day", count(*) FILTER (EVENT_TYPE = $1) AS "Success" FROM AUDIT_LOGS WHERE REQUEST_TIME >= $2 GROUP BY 1`,
		Args: []any{"LOGIN", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []source.Column{{Name: "Day", Type: "TIMESTAMP"}, {Name: "Success", Type: "BIGINT"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Describe = %v, want %v", got, want)
	}
}

func TestSplitQualifiedName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"t", []string{"t"}},
		{"s.t", []string{"s", "t"}},
		{" s . t ", []string{"s", "t"}},
		{`"a.b"."c""d"`, []string{"a.b", `c"d`}},
		{`c.s."t"`, []string{"c", "s", "t"}},
	} {
		got, err := splitQualifiedName(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitQualifiedName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", ".", "a.", ".a", `"a`, `a"b`, `"a"b`, "a.b.c.d", "a\x00"} {
		if got, err := splitQualifiedName(bad); err == nil {
			t.Errorf("splitQualifiedName(%q) = %q; want an error", bad, got)
		}
	}
}

// TestFileDatabase: a database file keeps its tables across Open, and
// export queries cannot reach anything but it and the spool.
func TestFileDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warehouse.duckdb")
	initFile := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initFile, []byte("CREATE TABLE IF NOT EXISTS kept AS SELECT range AS x FROM range(5);"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{Name: "file", Path: path, SpoolDir: filepath.Join(dir, "spool"), Init: []string{initFile}}
	ctx := context.Background()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatalf("write to the database file after lockdown: %v", err)
	}
	// duckdb-go shares one DuckDB instance per file within a process, and
	// that instance is locked: a second Open must fail, not half-configure.
	if s2, err := Open(ctx, opts); err == nil {
		_ = s2.Close()
		t.Errorf("second Open of an open database file succeeded")
	}
	if n, err := s.Count(ctx, source.Query{SQL: "SELECT * FROM kept"}); err != nil || n != 6 {
		t.Errorf("first source after the failed second Open: %d rows, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	opts.Init = nil
	s, err = Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Count(ctx, source.Query{SQL: "SELECT * FROM kept"})
	if err != nil || n != 6 {
		t.Errorf("rows after reopening: %d, %v; want 6", n, err)
	}
}

func TestErrorClassification(t *testing.T) {
	s := openTest(t, "")
	ctx := context.Background()
	// In WHERE, not in the select list: count(*) does not evaluate the
	// projection, so an error there would never be raised.
	_, err := s.Count(ctx, source.Query{SQL: "SELECT x FROM range(3) t(x) WHERE error('nope') IS NULL"})
	if !errors.Is(err, source.ErrQuery) {
		t.Errorf("failing expression: %v; want ErrQuery", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Count(cancelled, source.Query{SQL: "SELECT 1"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, source.ErrQuery) {
		t.Errorf("cancelled: %v; want context.Canceled and not ErrQuery", err)
	}
	if got := fmt.Sprint(s.Name(), " ", s.Dialect()); got != "test duckdb" {
		t.Errorf("Name Dialect = %q", got)
	}
}
