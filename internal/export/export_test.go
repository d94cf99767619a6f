package export_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/source/duckdb"
)

// day is the first window of the test table; it has three rows, the next
// day has none.
var day = domain.Window{Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)}

// newJob builds a job over a real embedded DuckDB and a folder archive. Its
// query selects the rows of the unit's window.
func newJob(t *testing.T, cols string) (*export.Job, string) {
	t.Helper()
	dir := t.TempDir()
	initSQL := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initSQL, []byte(`CREATE TABLE T AS SELECT * FROM (VALUES
		(TIMESTAMP '2026-10-01 01:00:00', 'a', 1),
		(TIMESTAMP '2026-10-01 02:00:00', 'b', 2),
		(TIMESTAMP '2026-10-01 23:59:59', 'c', 3)) v(ts, name, n);`), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := duckdb.Open(context.Background(), duckdb.Options{Name: "test", Path: duckdb.MemoryPath, Init: []string{initSQL}, SpoolDir: filepath.Join(dir, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	root := filepath.Join(dir, "archive")
	st, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := domain.ParseFilename(domain.DefaultFilename, true)
	if err != nil {
		t.Fatal(err)
	}
	j := &export.Job{
		Name: "rows", Timezone: "UTC",
		Layout:  domain.Layout{Prefix: "p", Schedule: "rows", Location: time.UTC, Filename: tpl, Ext: ".csv"},
		Archive: &archive.Archive{Store: st, Instance: "test:1"},
		Source:  src,
		Query: func(u domain.Unit) (export.Query, error) {
			return export.Query{
				SQL:  fmt.Sprintf("SELECT %s FROM T WHERE ts >= CAST($1 AS TIMESTAMP) AND ts < CAST($2 AS TIMESTAMP) ORDER BY ts", cols),
				Args: []any{u.Window.Start.Format("2006-01-02 15:04:05"), u.Window.End.Format("2006-01-02 15:04:05")},
				Params: []archive.Param{{Name: "window_start", Type: "timestamp", Value: u.Window.Start.Format(time.DateTime)},
					{Name: "window_end", Type: "timestamp", Value: u.Window.End.Format(time.DateTime)}},
			}, nil
		},
		Condition: export.ConditionAlways, OnSchemaChange: "fail", Version: "test", Logger: zap.NewNop(),
	}
	return j, root
}

func unit(w domain.Window) domain.Unit {
	return domain.Unit{Schedule: "rows", Logical: w.End.Add(time.Hour), Window: w}
}

// TestRunCommitsObjectThenManifestOnce: a run writes the window's rows as
// CSV and a manifest that records them; a second run of the same unit
// writes nothing and says already archived.
func TestRunCommitsObjectThenManifestOnce(t *testing.T) {
	ctx := context.Background()
	j, root := newJob(t, "ts, name, n")
	res, err := j.Run(ctx, unit(day), 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != domain.KindExported || res.Object == nil || res.Object.Rows != 3 {
		t.Fatalf("result %+v", res)
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(res.Object.Key)))
	if err != nil {
		t.Fatal(err)
	}
	want := "ts,name,n\n2026-10-01T01:00:00Z,a,1\n2026-10-01T02:00:00Z,b,2\n2026-10-01T23:59:59Z,c,3\n"
	if string(data) != want {
		t.Errorf("object:\n%s\nwant:\n%s", data, want)
	}
	if got := archive.SHA256Hex(data); got != res.Object.SHA256 {
		t.Errorf("object sha256 %s, result says %s", got, res.Object.SHA256)
	}
	mdata, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(res.ManifestKey)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := archive.ParseManifest(mdata)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != domain.KindExported || m.UnitID != day.ID() || m.Sequence != 1 || len(m.Objects) != 1 || m.Objects[0].SHA256 != res.Object.SHA256 || m.Prev != nil {
		t.Errorf("manifest %+v", m)
	}
	if ok, err := j.Archived(ctx, unit(day)); !ok || err != nil {
		t.Errorf("Archived = %v, %v", ok, err)
	}

	again, err := j.Run(ctx, unit(day), 1)
	if !errors.Is(err, archive.ErrAlreadyArchived) || !again.AlreadyArchived || again.ManifestKey != res.ManifestKey {
		t.Fatalf("second run: %+v, %v", again, err)
	}
}

// TestConditionIfDataSkipsAnEmptyWindow: with if_data, a window without
// rows commits a skipped manifest and no object; the next window's manifest
// links it.
func TestConditionIfDataSkipsAnEmptyWindow(t *testing.T) {
	ctx := context.Background()
	j, root := newJob(t, "ts, name, n")
	j.Condition = export.ConditionIfData
	empty := domain.Window{Start: day.End, End: day.End.AddDate(0, 0, 1)}
	res, err := j.Run(ctx, unit(empty), 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != domain.KindSkipped || res.Object != nil {
		t.Fatalf("result %+v", res)
	}
	objs, _ := filepath.Glob(filepath.Join(root, "p", "rows", "dt=2026-10-02", "*.csv"))
	if len(objs) != 0 {
		t.Errorf("a skipped unit wrote %v", objs)
	}
	next, err := j.Run(ctx, unit(day), 1)
	if err != nil {
		t.Fatal(err)
	}
	mdata, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(next.ManifestKey)))
	m, err := archive.ParseManifest(mdata)
	if err != nil {
		t.Fatal(err)
	}
	if m.Sequence != 2 || m.Prev == nil || m.Prev.Key != res.ManifestKey {
		t.Errorf("second manifest: sequence %d, prev %+v; want 2 and a link to %s", m.Sequence, m.Prev, res.ManifestKey)
	}
}

// TestSchemaChangeFails: when the columns differ from the last manifest's
// and on_schema_change is fail, the run fails and commits nothing.
func TestSchemaChangeFails(t *testing.T) {
	ctx := context.Background()
	j, root := newJob(t, "ts, name, n")
	if _, err := j.Run(ctx, unit(day), 1); err != nil {
		t.Fatal(err)
	}
	j2, _ := newJob(t, "ts, name")
	j2.Archive = j.Archive
	next := domain.Window{Start: day.End, End: day.End.AddDate(0, 0, 1)}
	_, err := j2.Run(ctx, unit(next), 1)
	if !errors.Is(err, export.ErrSchemaChanged) {
		t.Fatalf("err = %v, want ErrSchemaChanged", err)
	}
	ms, _ := filepath.Glob(filepath.Join(root, "p", "rows", "dt=2026-10-02", "*"))
	if len(ms) != 0 {
		t.Errorf("a failed run left %v", ms)
	}
}

// TestWindowLogicalTimeIsTheWindowEnd: a window exported or marked lost
// long after it closed (a catch-up at process start) records the window's
// end as its logical time, not the instant of the run.
func TestWindowLogicalTimeIsTheWindowEnd(t *testing.T) {
	ctx := context.Background()
	j, root := newJob(t, "ts, name, n")
	processStart := time.Date(2026, 12, 7, 2, 9, 13, 0, time.UTC)
	next := domain.Window{Start: day.End, End: day.End.AddDate(0, 0, 1)}
	res, err := j.Run(ctx, domain.Unit{Schedule: "rows", Logical: processStart, Window: day}, 1)
	if err != nil {
		t.Fatal(err)
	}
	lost, err := j.MarkLost(ctx, domain.Unit{Schedule: "rows", Logical: processStart, Window: next}, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		want time.Time
	}{{res.ManifestKey, day.End}, {lost.ManifestKey, next.End}} {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(c.key)))
		if err != nil {
			t.Fatal(err)
		}
		m, err := archive.ParseManifest(data)
		if err != nil {
			t.Fatal(err)
		}
		if !m.LogicalTime.Equal(c.want) {
			t.Errorf("%s: logical_time %s, want the window end %s", c.key, m.LogicalTime, c.want)
		}
	}
}
