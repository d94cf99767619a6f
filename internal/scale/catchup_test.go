package scale_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/render"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
)

// catchUpSQL is a small audit table: 20 rows a day.
const catchUpSQL = `CREATE TABLE events AS
SELECT TIMESTAMP '2026-01-01' + to_minutes(i * 72) AS REQUEST_TIME, 'LOGIN' AS EVENT_TYPE,
       'user' || (i % 17) || '@example.com' AS USER_EMAIL, md5(i::VARCHAR) AS REQUEST_ID
FROM range(20 * 400) t(i);`

// BenchmarkCatchUpWindow runs what catch-up does for each missing daily
// window of 20 rows, one after the other, on a folder archive: claim,
// describe, record the pending manifest, export through the store, commit
// (manifest, head, claim done). It reports the fsyncs and the CPU time
// (user + system, this process, DuckDB included) per window.
//
//	go test ./internal/scale -run '^$' -bench CatchUpWindow -benchtime 200x
func BenchmarkCatchUpWindow(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	initFile := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initFile, []byte(catchUpSQL), 0o600); err != nil {
		b.Fatal(err)
	}
	src, err := duckdb.Open(ctx, duckdb.Options{Name: "demo", Path: duckdb.MemoryPath, SpoolDir: filepath.Join(dir, "spool"), Init: []string{initFile}})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	store, err := folderstore.New(filepath.Join(dir, "archive"))
	if err != nil {
		b.Fatal(err)
	}
	a := &archive.Archive{Store: store, Instance: "bench:1"}
	tpl, err := domain.ParseFilename("", true)
	if err != nil {
		b.Fatal(err)
	}
	l := domain.Layout{Schedule: "daily", Location: time.UTC, Filename: tpl, Ext: ".csv"}
	const text = "SELECT * FROM events t WHERE t.REQUEST_TIME >= $1::TIMESTAMP AND t.REQUEST_TIME < $2::TIMESTAMP"
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	window := func(i int) {
		start := day0.AddDate(0, 0, i%400)
		u := domain.Unit{Schedule: l.Schedule, Logical: start.AddDate(0, 0, 1), Window: domain.Window{Start: start, End: start.AddDate(0, 0, 1)}}
		if i >= 400 {
			u.Logical = u.Logical.Add(time.Duration(i/400) * time.Second)
			u.Adhoc = true
		}
		c, err := a.Claim(ctx, l, u, 1)
		if err != nil {
			b.Fatal(err)
		}
		q := source.Query{SQL: text, Args: []any{start.Format(time.DateTime), start.AddDate(0, 0, 1).Format(time.DateTime)}}
		cols, err := src.Describe(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		key, err := l.ObjectKey(u, 1)
		if err != nil {
			b.Fatal(err)
		}
		m := &archive.Manifest{Kind: domain.KindExported, Schedule: l.Schedule, UnitID: u.ID(), LogicalTime: u.Logical,
			Window: &domain.Window{Start: start, End: u.Window.End}, Objects: []archive.Object{{Key: key, ContentType: "text/csv"}},
			Source: archive.Source{Name: "demo", Dialect: "duckdb"}, Query: &archive.Query{SQL: text}}
		for _, col := range cols {
			m.Columns = append(m.Columns, archive.Column{Name: col.Name, Type: col.Type})
		}
		if err := c.Record(ctx, m); err != nil {
			b.Fatal(err)
		}
		var sink *render.Sink
		var rows int64
		if _, err := store.PutStream(ctx, key, archive.PutOptions{ContentType: "text/csv"}, func(w io.Writer) error {
			sink = render.NewSink(w, render.Options{})
			res, err := src.ExportCSV(ctx, q, sink)
			rows = res.Rows
			if err != nil {
				return err
			}
			return sink.Close()
		}); err != nil {
			b.Fatal(err)
		}
		st := sink.Stats()
		m.Objects[0].Bytes, m.Objects[0].SHA256, m.Objects[0].Rows = st.Bytes, st.SHA256, rows
		if _, _, err := a.Commit(ctx, c, m, archive.PutOptions{ContentType: "application/json"}); err != nil {
			b.Fatal(err)
		}
		if rows != 20 {
			b.Fatalf("window %d: %d rows, want 20", i, rows)
		}
	}
	window(0) // warm up: first connection, first head
	syncs0, cpu0 := store.Syncs(), cpuTime()
	start := time.Now()
	n := 0
	for i := 1; b.Loop(); i++ {
		window(i)
		n++
	}
	wall := time.Since(start)
	b.ReportMetric(float64(store.Syncs()-syncs0)/float64(n), "fsyncs/window")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(n), "cpu_ms/window")
	b.ReportMetric(wall.Seconds()*1000/float64(n), "wall_ms/window")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
