package archivesql_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivesql"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/folderstore"
)

// TestQuery: one table per schedule, the rows of every archived object;
// the database is read only and cannot reach anything outside it; a
// changed object is refused.
func TestQuery(t *testing.T) {
	root := t.TempDir()
	st, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	g, err := archivetest.Generate(t.Context(), st, archivetest.GenOptions{Prefix: "a",
		Schedules: []archivetest.GenSchedule{{Name: "daily-logins", Every: "day"}, {Name: "events", Every: "hour"}},
		Start:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 10, Rows: 6})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := archivesql.Tables(t.Context(), st, "a", []string{"daily-logins", "events"}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	query := func(q, format string) (string, error) {
		var b bytes.Buffer
		_, err := archivesql.Query(t.Context(), st, tables, q, format, &b)
		return b.String(), err
	}
	// Six rows a window, a third of them failed.
	out, err := query(`SELECT (SELECT count(*) FROM "daily-logins") AS days, (SELECT count(*) FROM events WHERE "Status" = 'failed') AS failed`, archivesql.CSV)
	if err != nil || out != "days,failed\n60,480\n" {
		t.Fatalf("%q %v", out, err)
	}
	out, err = query(`SELECT date_trunc('day', "Request Time") AS day, count(*) AS n FROM daily_logins GROUP BY 1 ORDER BY 1 LIMIT 2`, archivesql.JSON)
	if err != nil || !strings.HasPrefix(out, `{"day":"2026-01-01T00:00:00Z","n":6}`) {
		t.Fatalf("%q %v", out, err)
	}
	secret := filepath.Join(t.TempDir(), "secret.csv")
	os.WriteFile(secret, []byte("a\n1\n"), 0o600)
	for _, q := range []string{
		"SELECT * FROM read_csv('" + secret + "')",
		"CREATE TABLE x AS SELECT 1",
		"DELETE FROM events",
		"SET enable_external_access = true",
		"COPY events TO '" + filepath.Join(t.TempDir(), "out.csv") + "'",
	} {
		if out, err := query(q, archivesql.CSV); err == nil {
			t.Fatalf("%s: allowed: %q", q, out)
		}
	}
	// A changed object is not loaded.
	obj := filepath.Join(root, g.Objects["events"][7])
	data, _ := os.ReadFile(obj)
	data[30] ^= 1
	os.Remove(obj)
	os.WriteFile(obj, data, 0o644)
	if _, err := query("SELECT 1", archivesql.CSV); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("changed object: %v", err)
	}
}

// TestQuerySchemaChange: units archived before and after a column was
// added (their manifests list different columns) load as one table, the
// columns matched by name, the older rows NULL in the new column.
func TestQuerySchemaChange(t *testing.T) {
	st, err := folderstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var entries []archive.ChainEntry
	for i, body := range []string{"x,y\n1,a\n2,b\n", "x,y,z\n3,c,true\n"} {
		key := fmt.Sprintf("p/s/dt=2026-01-0%d/u.csv", i+1)
		if _, err := st.Put(t.Context(), key, strings.NewReader(body), archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		m := &archive.Manifest{Objects: []archive.Object{{Key: key, Bytes: int64(len(body)), SHA256: archive.SHA256Hex([]byte(body))}}}
		for _, c := range strings.Split(strings.SplitN(body, "\n", 2)[0], ",") {
			m.Columns = append(m.Columns, archive.Column{Name: c, Type: "VARCHAR"})
		}
		entries = append(entries, archive.ChainEntry{Key: key + ".manifest.json", Manifest: m})
	}
	var b bytes.Buffer
	if _, err := archivesql.Query(t.Context(), st, []archivesql.Table{{Name: "s", Entries: entries}}, `SELECT x, y, z FROM s ORDER BY x`, archivesql.CSV, &b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "x,y,z\n1,a,\n2,b,\n3,c,true\n" {
		t.Fatalf("%q", b.String())
	}
}

// TestQueryLayoutOfFirstFile: the units' columns are the same, but the
// first file's values look like numbers and a later one's do not, one
// object is gzip and the last has no final newline: every row loads, the
// values as text.
func TestQueryLayoutOfFirstFile(t *testing.T) {
	st, err := folderstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var entries []archive.ChainEntry
	for i, body := range []string{"x,y\n1,a\n", "x,y\n2,b\n", "x,y\nthree,c"} {
		key := fmt.Sprintf("p/s/dt=2026-01-0%d/u.csv", i+1)
		data := []byte(body)
		if i == 1 {
			// One gzip object among plain ones.
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			key, data = key+".gz", z.Bytes()
		}
		if _, err := st.Put(t.Context(), key, bytes.NewReader(data), archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, archive.ChainEntry{Key: key + ".manifest.json", Manifest: &archive.Manifest{
			Columns: []archive.Column{{Name: "x", Type: "VARCHAR"}, {Name: "y", Type: "VARCHAR"}},
			Objects: []archive.Object{{Key: key, Bytes: int64(len(data)), SHA256: archive.SHA256Hex(data)}}}})
	}
	var b bytes.Buffer
	if _, err := archivesql.Query(t.Context(), st, []archivesql.Table{{Name: "s", Entries: entries}}, `SELECT x, y FROM s ORDER BY y`, archivesql.CSV, &b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "x,y\n1,a\n2,b\nthree,c\n" {
		t.Fatalf("%q", b.String())
	}
}
