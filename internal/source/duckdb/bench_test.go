package duckdb

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/source"
)

// benchRowsSQL makes a million wide audit rows out of the demo table: five
// copies shifted by 90 days each, in time order.
const benchRowsSQL = `
CREATE TABLE bench AS
SELECT REQUEST_TIME - to_days(90 * k) AS REQUEST_TIME, EVENT_CATEGORY, EVENT_TYPE, EVENT_STATUS,
       EVENT_STATUS_REASON_CODE, USER_ID, USER_EMAIL, USER_ROLE, OBJECT_ID, OBJECT_NAME, IP_ADDRESS,
       USER_AGENT, REQUEST_ID || '-' || k AS REQUEST_ID, SESSION_ID
FROM AUDIT_LOGS, range(5) r(k)
ORDER BY REQUEST_TIME, REQUEST_ID
LIMIT 1000000;
`

// BenchmarkExportCSV compares ExportCSV (COPY into a named pipe, read and
// hashed in Go) with DuckDB's COPY into a regular file, on the same data in
// the same run. "ratio" is pipe rows/s over file rows/s; the target is >= 0.8.
// "file+hash" adds reading the file back through sha256, which is what
// exportd would have to do with the file.
func BenchmarkExportCSV(b *testing.B) {
	dir := b.TempDir()
	extra := filepath.Join(dir, "bench.sql")
	if err := os.WriteFile(extra, []byte(benchRowsSQL), 0o600); err != nil {
		b.Fatal(err)
	}
	s := openDemo(b, "2026-11-25T10:30:00Z", "bench", func(o *Options) { o.Init = append(o.Init, extra) })
	ctx := context.Background()
	q := source.Query{SQL: "SELECT * FROM bench"}
	file := filepath.Join(s.spool, "bench.csv")
	fileStmt := "COPY (\n" + q.SQL + "\n) TO " + quoteLiteral(file) + " " + copyOptions

	var rows int64
	var bytes int64
	var pipeTime, fileTime, hashTime time.Duration
	pipe := func() {
		h := &countingHash{h: sha256.New()}
		start := time.Now()
		res, err := s.ExportCSV(ctx, q, h)
		pipeTime += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		rows, bytes = res.Rows, h.n
	}
	toFile := func() {
		start := time.Now()
		if _, err := s.db.ExecContext(ctx, fileStmt); err != nil {
			b.Fatal(err)
		}
		fileTime += time.Since(start)
		start = time.Now()
		f, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(sha256.New(), f); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
		hashTime += time.Since(start)
		if err := os.Remove(file); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Alternate the order so that neither side always runs on a warm cache.
		if i%2 == 0 {
			pipe()
			toFile()
		} else {
			toFile()
			pipe()
		}
	}
	n := float64(b.N)
	pipeRate := float64(rows) * n / pipeTime.Seconds()
	fileRate := float64(rows) * n / fileTime.Seconds()
	b.ReportMetric(pipeRate, "pipe_rows/s")
	b.ReportMetric(fileRate, "file_rows/s")
	b.ReportMetric(float64(rows)*n/(fileTime+hashTime).Seconds(), "file+hash_rows/s")
	b.ReportMetric(pipeRate/fileRate, "ratio")
	b.ReportMetric(float64(bytes)/float64(rows), "B/row")
}

// BenchmarkDemoInit measures Open with the demo audit log init file.
func BenchmarkDemoInit(b *testing.B) {
	var rows int64
	for b.Loop() {
		s, err := Open(context.Background(), Options{
			Name: "demo", Path: MemoryPath, SpoolDir: filepath.Join(b.TempDir(), "spool"), Threads: 2,
			Init: []string{demoSQL},
			Vars: map[string]string{"demo_end": "2026-11-25T10:30:00Z", "demo_seed": "42"},
		})
		if err != nil {
			b.Fatal(err)
		}
		rows = queryInt(b, s.db, "SELECT count(*) FROM AUDIT_LOGS")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows), "rows")
}

type countingHash struct {
	h interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}
