package export_test

import (
	"context"
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

type progressLog struct{ rows, bytes []int64 }

func (p *progressLog) Update(rows, bytes int64) {
	p.rows = append(p.rows, rows)
	p.bytes = append(p.bytes, bytes)
}

// TestProgressReportsTheStreamsRowsAndBytes: an export run with a Progress
// reports rows and stored bytes that only grow and end at the manifest's
// figures (a newline inside a quoted field is not a row; with gzip the
// bytes are the compressed ones), and the object is byte for byte the one
// an export without a Progress writes.
func TestProgressReportsTheStreamsRowsAndBytes(t *testing.T) {
	cols := "ts, name || chr(10) || '\"quoted\"' AS name, n"
	for _, gz := range []bool{false, true} {
		plain, _ := newJob(t, cols)
		plain.Gzip = gz
		want, err := plain.Run(context.Background(), unit(day), 1)
		if err != nil {
			t.Fatal(err)
		}

		j, _ := newJob(t, cols)
		j.Gzip = gz
		var p progressLog
		res, err := j.Run(export.WithProgress(context.Background(), &p), unit(day), 1)
		if err != nil {
			t.Fatal(err)
		}
		o := res.Object
		if o.Rows != 3 || o.SHA256 != want.Object.SHA256 || o.Bytes != want.Object.Bytes {
			t.Fatalf("gzip %v: object with progress %d rows %d bytes %s, without %d rows %d bytes %s",
				gz, o.Rows, o.Bytes, o.SHA256, want.Object.Rows, want.Object.Bytes, want.Object.SHA256)
		}
		n := len(p.rows)
		if n == 0 {
			t.Fatalf("gzip %v: no progress reported", gz)
		}
		for i := 1; i < n; i++ {
			if p.rows[i] < p.rows[i-1] || p.bytes[i] < p.bytes[i-1] {
				t.Fatalf("gzip %v: progress went back at update %d: rows %v bytes %v", gz, i, p.rows, p.bytes)
			}
		}
		if p.rows[n-1] != o.Rows || p.bytes[n-1] != o.Bytes {
			t.Errorf("gzip %v: last progress %d rows %d bytes, manifest %d rows %d bytes", gz, p.rows[n-1], p.bytes[n-1], o.Rows, o.Bytes)
		}
	}
}

type nopProgress struct{}

func (nopProgress) Update(rows, bytes int64) {}

// BenchmarkExportProgress exports 200,000 rows (~7 MB of CSV) to a folder
// archive, alternately without and with a Progress, and reports both
// times per export and their ratio (progress/plain): the row count scans
// the CSV once more at memchr speed, the byte count is an addition.
func BenchmarkExportProgress(b *testing.B) {
	rows := 200000
	if testing.Short() {
		rows = 20000
	}
	dir := b.TempDir()
	initSQL := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initSQL, []byte(fmt.Sprintf(`CREATE TABLE T AS SELECT TIMESTAMP '2026-10-01' + to_seconds(i) AS ts,
		'name "' || i || '"' AS name, i AS n FROM range(%d) t(i);`, rows)), 0o644); err != nil {
		b.Fatal(err)
	}
	src, err := duckdb.Open(context.Background(), duckdb.Options{Name: "bench", Path: duckdb.MemoryPath, Init: []string{initSQL}, SpoolDir: filepath.Join(dir, "spool")})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	st, err := folderstore.New(filepath.Join(dir, "archive"))
	if err != nil {
		b.Fatal(err)
	}
	tpl, err := domain.ParseFilename(domain.DefaultFilename, false)
	if err != nil {
		b.Fatal(err)
	}
	j := &export.Job{
		Name: "rows", Timezone: "UTC",
		Layout:  domain.Layout{Prefix: "p", Schedule: "rows", Location: time.UTC, Filename: tpl, Ext: ".csv"},
		Archive: &archive.Archive{Store: st, Instance: "bench:1"},
		Source:  src,
		Query: func(u domain.Unit) (export.Query, error) {
			return export.Query{SQL: "SELECT ts, name, n FROM T", Params: []archive.Param{}}, nil
		},
		Condition: export.ConditionAlways, OnSchemaChange: "warn", Version: "bench", Logger: zap.NewNop(),
	}
	base := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	var plain, withProgress time.Duration
	b.ResetTimer()
	for i := range b.N {
		for k, ctx := range []context.Context{context.Background(), export.WithProgress(context.Background(), nopProgress{})} {
			u := domain.Unit{Schedule: "rows", Logical: base.Add(time.Duration(2*i+k) * time.Minute)}
			start := time.Now()
			res, err := j.Run(ctx, u, 1)
			if err != nil || res.Object == nil || res.Object.Rows != int64(rows) {
				b.Fatalf("run: %+v, %v", res, err)
			}
			if k == 0 {
				plain += time.Since(start)
			} else {
				withProgress += time.Since(start)
			}
		}
	}
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "plain-ns/export")
	b.ReportMetric(float64(withProgress.Nanoseconds())/float64(b.N), "progress-ns/export")
	b.ReportMetric(float64(withProgress)/float64(plain), "progress/plain")
}
