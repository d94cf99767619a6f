package duckdb

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/source"
)

// TestLockdown runs forbidden statements straight on the database, as an
// attacker who got arbitrary SQL through would, on several pooled connections
// at once: every one of them must fail.
func TestLockdown(t *testing.T) {
	s := openTest(t, "CREATE TABLE t AS SELECT 1 AS x;")
	ctx := context.Background()
	outside := t.TempDir() // a folder next to the spool, not inside it
	// A file the process can read, outside the spool.
	secret := filepath.Join(outside, "secret.csv")
	if err := os.WriteFile(secret, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	forbidden := []struct{ name, stmt string }{
		{"copy to /tmp", "COPY (SELECT 1) TO '/tmp/x.csv'"},
		{"copy next to the spool", "COPY t TO " + quoteLiteral(filepath.Join(outside, "x.csv"))},
		{"copy out of the spool with ..", "COPY t TO " + quoteLiteral(s.spool+"/../x.csv")},
		{"read_csv /etc/passwd", "SELECT * FROM read_csv('/etc/passwd')"},
		{"read_csv a readable file", "SELECT * FROM read_csv(" + quoteLiteral(secret) + ")"},
		{"read_text", "SELECT * FROM read_text('/etc/hostname')"},
		{"glob", "SELECT * FROM glob('/etc/*')"},
		{"attach a file", "ATTACH " + quoteLiteral(filepath.Join(outside, "other.duckdb")) + " AS other"},
		{"export database", "EXPORT DATABASE " + quoteLiteral(filepath.Join(outside, "dump"))},
		{"install", "INSTALL httpfs"},
		{"load", "LOAD httpfs"},
		{"enable external access", "SET enable_external_access = true"},
		{"enable external access globally", "SET GLOBAL enable_external_access = true"},
		{"reset external access", "RESET enable_external_access"},
		{"unlock", "SET lock_configuration = false"},
		{"widen allowed directories", "SET allowed_directories = ['/']"},
		{"move spill folder", "SET temp_directory = '/tmp'"},
		{"change time zone", "SET TimeZone = 'Asia/Tokyo'"},
		{"change time zone globally", "SET GLOBAL TimeZone = 'Asia/Tokyo'"},
		{"pragma", "PRAGMA threads = 1"},
	}

	// Hold several connections so that the statements do not all reuse one.
	const conns = 3
	for c := range conns {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var tz string
		if err := conn.QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&tz); err != nil || tz != "UTC" {
			t.Errorf("connection %d: TimeZone = %q, %v; want UTC", c, tz, err)
		}
		for _, f := range forbidden {
			_, err := conn.ExecContext(ctx, f.stmt)
			switch {
			case err == nil:
				t.Errorf("connection %d: %s: %q succeeded", c, f.name, f.stmt)
			case !strings.Contains(err.Error(), "disabled by configuration") &&
				!strings.Contains(err.Error(), "disabled through configuration") &&
				!strings.Contains(err.Error(), "configuration has been locked"):
				// Failing for another reason (a typo in the statement) would
				// prove nothing about the lockdown.
				t.Errorf("connection %d: %s: failed, but not because of the lockdown: %v", c, f.name, err)
			}
		}
	}
	for _, f := range []string{"x.csv", "other.duckdb", "dump"} {
		if _, err := os.Stat(filepath.Join(outside, f)); err == nil {
			t.Errorf("%s was created outside the spool", f)
		}
	}

	// The same through the export path: a query error, not retried.
	for _, sql := range []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_csv(" + quoteLiteral(secret) + ")",
	} {
		if _, err := s.ExportCSV(ctx, source.Query{SQL: sql}, io.Discard); !errors.Is(err, source.ErrQuery) {
			t.Errorf("ExportCSV(%s): err = %v; want ErrQuery", sql, err)
		}
	}

	// What stays allowed: reading tables, and files inside the spool (where
	// the export pipes live).
	var x int
	if err := s.db.QueryRowContext(ctx, "SELECT x FROM t").Scan(&x); err != nil || x != 1 {
		t.Errorf("reading a table: %d, %v", x, err)
	}
	inside := filepath.Join(s.spool, "inside.csv")
	if _, err := s.db.ExecContext(ctx, "COPY t TO "+quoteLiteral(inside)); err != nil {
		t.Errorf("COPY inside the spool: %v", err)
	}
	_ = os.Remove(inside)
}

// TestQueryMustBeOneSelect checks that the text wrapped in COPY (...) is one
// SELECT: duckdb-go would run the statements before the last one of a
// multi-statement string while preparing it, so "SELECT 1; DROP TABLE t"
// must be refused before it reaches the driver.
func TestQueryMustBeOneSelect(t *testing.T) {
	s := openTest(t, "CREATE TABLE t AS SELECT range AS x FROM range(3);")
	ctx := context.Background()
	bad := []struct{ name, sql string }{
		{"two statements", "SELECT 1; DROP TABLE t"},
		{"not a select", "DROP TABLE t"},
		{"create as select", "CREATE TABLE u AS SELECT 1"},
		{"escape the wrapper", "SELECT 1) TO '/tmp/x.csv' (FORMAT csv); DROP TABLE t; COPY (SELECT 1"},
		{"escape with a comment", "SELECT 1 FROM t /*"},
		{"empty", "  ;  "},
		{"syntax", "SELEC 1"},
		{"unknown table", "SELECT * FROM no_such_table"},
		{"unknown column", "SELECT no_such_column FROM t"},
		{"missing argument", "SELECT * FROM t WHERE x > $1"},
		{"NUL", "SELECT 1\x00; DROP TABLE t"},
	}
	for _, b := range bad {
		q := source.Query{SQL: b.sql}
		if _, err := s.ExportCSV(ctx, q, io.Discard); !errors.Is(err, source.ErrQuery) {
			t.Errorf("%s: ExportCSV err = %v; want ErrQuery", b.name, err)
		}
		if _, err := s.Describe(ctx, q); !errors.Is(err, source.ErrQuery) {
			t.Errorf("%s: Describe err = %v; want ErrQuery", b.name, err)
		}
		if _, err := s.Count(ctx, q); !errors.Is(err, source.ErrQuery) {
			t.Errorf("%s: Count err = %v; want ErrQuery", b.name, err)
		}
	}
	if n, err := s.Count(ctx, source.Query{SQL: "SELECT * FROM t"}); err != nil || n != 3 {
		t.Fatalf("table t after the attempts: %d rows, %v", n, err)
	}

	good := []struct{ name, sql, want string }{
		{"trailing semicolon", "SELECT x FROM t ORDER BY x;", "x\n0\n1\n2\n"},
		{"trailing line comment", "SELECT x FROM t ORDER BY x -- the end", "x\n0\n1\n2\n"},
		{"CTE", "WITH y AS (SELECT x * 2 AS y FROM t) SELECT y FROM y ORDER BY y", "y\n0\n2\n4\n"},
		{"FROM first", "FROM t SELECT x + 1 AS z ORDER BY z", "z\n1\n2\n3\n"},
		{"semicolon in a string", "SELECT 'a;b' AS s", "s\na;b\n"},
	}
	for _, g := range good {
		var out strings.Builder
		if _, err := s.ExportCSV(ctx, source.Query{SQL: g.sql}, &out); err != nil {
			t.Errorf("%s: %v", g.name, err)
			continue
		}
		if out.String() != g.want {
			t.Errorf("%s: got %q, want %q", g.name, out.String(), g.want)
		}
	}
}
