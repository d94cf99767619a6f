package duckdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/source"
)

// trickySQL builds a table whose values exercise every CSV rule: NULL versus
// empty string, separators, quotes and line breaks inside fields, non-ASCII,
// fractional seconds, TIMESTAMPTZ, decimals. 300k rows make the output many
// times larger than the pipe buffer.
const trickySQL = `
CREATE TABLE tricky AS
SELECT
    i AS id,
    CASE i % 9
        WHEN 0 THEN NULL
        WHEN 1 THEN ''
        WHEN 2 THEN 'plain'
        WHEN 3 THEN 'comma, inside'
        WHEN 4 THEN 'quote " inside'
        WHEN 5 THEN 'line' || chr(10) || 'break'
        WHEN 6 THEN 'carriage' || chr(13) || chr(10) || 'return'
        WHEN 7 THEN 'Zürich ✓ 東京'
        ELSE ' padded '
    END AS label,
    TIMESTAMP '2026-01-01 00:00:00' + to_microseconds(i * 1234567) AS ts,
    CASE WHEN i % 11 = 0 THEN NULL ELSE TIMESTAMPTZ '2026-03-29 00:30:00+00' + to_minutes(i) END AS tstz,
    DATE '2026-01-01' + (i % 400)::INTEGER AS day,
    (i * 1.001)::DECIMAL(18, 3) AS amount,
    CASE WHEN i % 13 = 0 THEN NULL ELSE i / 7.0 END AS ratio,
    i % 2 = 0 AS even
FROM range(300000) t(i);
`

// copyToFile runs DuckDB's COPY with the export's options into a regular
// file in the spool folder (which the lockdown allows) and returns its bytes.
func copyToFile(t testing.TB, s *Source, query string, args ...any) []byte {
	t.Helper()
	file := filepath.Join(s.spool, "reference.csv")
	stmt := "COPY (\n" + query + "\n) TO " + quoteLiteral(file) + " " + copyOptions
	if _, err := s.db.ExecContext(context.Background(), stmt, args...); err != nil {
		t.Fatalf("reference COPY: %v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestExportCSVMatchesCopyToFile(t *testing.T) {
	s := openTest(t, trickySQL)
	ctx := context.Background()
	q := source.Query{SQL: "SELECT * FROM tricky ORDER BY id"}

	var got bytes.Buffer
	res, err := s.ExportCSV(ctx, q, &got)
	if err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	want := copyToFile(t, s, q.SQL)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("export differs from COPY to a file: got %d bytes, want %d; first difference at byte %d",
			got.Len(), len(want), firstDiff(got.Bytes(), want))
	}
	if res.Rows != 300000 {
		t.Errorf("Rows = %d, want 300000", res.Rows)
	}
	wantCols := []source.Column{
		{Name: "id", Type: "BIGINT"}, {Name: "label", Type: "VARCHAR"}, {Name: "ts", Type: "TIMESTAMP"}, {Name: "tstz", Type: "TIMESTAMP WITH TIME ZONE"},
		{Name: "day", Type: "DATE"}, {Name: "amount", Type: "DECIMAL(18,3)"}, {Name: "ratio", Type: "DOUBLE"}, {Name: "even", Type: "BOOLEAN"},
	}
	if fmt.Sprint(res.Columns) != fmt.Sprint(wantCols) {
		t.Errorf("Columns = %v, want %v", res.Columns, wantCols)
	}

	// Spot checks of the rules themselves, so that a change of COPY options
	// on both sides cannot pass unnoticed.
	lines := strings.SplitN(got.String(), "\n", 4)
	if lines[0] != "id,label,ts,tstz,day,amount,ratio,even" {
		t.Errorf("header = %q", lines[0])
	}
	if want := "0,,2026-01-01T00:00:00Z,,2026-01-01,0.000,,true"; lines[1] != want {
		t.Errorf("row 0 = %q, want %q", lines[1], want)
	}
	if want := `1,"",2026-01-01T00:00:01Z,2026-03-29T00:31:00Z,2026-01-02,1.001,0.14285714285714285,false`; lines[2] != want {
		t.Errorf("row 1 = %q, want %q", lines[2], want)
	}
	for _, frag := range []string{`"comma, inside"`, `"quote "" inside"`, "\"line\nbreak\"", "\"carriage\r\nreturn\"", "Zürich ✓ 東京"} {
		if !strings.Contains(got.String(), frag) {
			t.Errorf("output lacks %q", frag)
		}
	}
	if left := spoolEntries(t, s); len(left) != 0 {
		t.Errorf("spool not empty: %v", left)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestExportCSVWithParameters(t *testing.T) {
	s := openTest(t, trickySQL)
	ctx := context.Background()
	from := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	// A non-UTC zone for the upper bound: the instant counts, not the wall clock.
	to := time.Date(2026, 1, 3, 2, 0, 0, 0, time.FixedZone("UTC+2", 2*3600))
	q := source.Query{
		SQL:  "SELECT id, label, ts FROM tricky WHERE ts >= $1 AND ts < $2 AND label <> $3 ORDER BY id",
		Args: []any{from, to, "plain"},
	}
	var got bytes.Buffer
	res, err := s.ExportCSV(ctx, q, &got)
	if err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	if want := copyToFile(t, s, q.SQL, q.Args...); !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("export differs from COPY to a file (%d vs %d bytes)", got.Len(), len(want))
	}
	n, err := s.Count(ctx, q)
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	var want int64
	err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM tricky
		WHERE ts >= TIMESTAMP '2026-01-02 00:00:00' AND ts < TIMESTAMP '2026-01-03 00:00:00'
		AND label <> 'plain'`).Scan(&want)
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 || res.Rows != want || n != want {
		t.Errorf("Rows = %d, Count = %d, want %d (> 0)", res.Rows, n, want)
	}
	if !strings.HasPrefix(got.String(), "id,label,ts\n") || !strings.Contains(got.String(), ",2026-01-02T00:00") ||
		strings.Contains(got.String(), ",2026-01-03T") {
		t.Errorf("window not applied: %.200q", got.String())
	}
}

func TestExportCSVEmptyResult(t *testing.T) {
	s := openTest(t, trickySQL)
	var got bytes.Buffer
	res, err := s.ExportCSV(context.Background(), source.Query{SQL: "SELECT id, label FROM tricky WHERE id < 0"}, &got)
	if err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	if got.String() != "id,label\n" || res.Rows != 0 {
		t.Errorf("got %q, %d rows; want the header alone and 0 rows", got.String(), res.Rows)
	}
}

func TestExportCSVFailsMidStream(t *testing.T) {
	s := openTest(t, "")
	cases := []struct {
		name string
		sql  string
		// bytesFirst: the failure comes after DuckDB has written data, which
		// the reader sees as a clean end of file unless COPY's error wins.
		bytesFirst bool
	}{
		{"small", "SELECT CASE WHEN i = 50000 THEN error('boom') END AS x FROM range(100000) t(i)", false},
		{"after megabytes", "SELECT i, repeat('x', 100) AS pad, CASE WHEN i = 900000 THEN error('boom') END AS x FROM range(1000000) t(i)", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w countingWriter
			res, err := s.ExportCSV(context.Background(), source.Query{SQL: tc.sql}, &w)
			if err == nil {
				t.Fatalf("ExportCSV succeeded with %d rows after %d bytes; want the query's error", res.Rows, w.n.Load())
			}
			if !errors.Is(err, source.ErrQuery) || !strings.Contains(err.Error(), "boom") {
				t.Errorf("err = %v; want ErrQuery carrying 'boom'", err)
			}
			if tc.bytesFirst && w.n.Load() == 0 {
				t.Errorf("no bytes reached the writer before the failure; the case does not test a mid-stream failure")
			}
			if left := spoolEntries(t, s); len(left) != 0 {
				t.Errorf("spool not empty: %v", left)
			}
		})
	}
}

func TestExportCSVFailsBeforeOpeningPipe(t *testing.T) {
	s := openTest(t, "")
	ctx := context.Background()

	// Through the public API the binder error is caught before COPY starts.
	_, err := s.ExportCSV(ctx, source.Query{SQL: "SELECT no_such_column FROM range(3)"}, io.Discard)
	if !errors.Is(err, source.ErrQuery) {
		t.Errorf("ExportCSV err = %v; want ErrQuery", err)
	}

	// Straight at the pipe: COPY itself fails before DuckDB opens the FIFO.
	// A reader blocked in open(2) would hang here forever.
	for _, sql := range []string{
		"SELECT no_such_column FROM range(3)",
		"SELECT 'abc'::INTEGER AS x",
		"SELECT * FROM read_csv('/etc/passwd')",
	} {
		rows, _, err := s.copyThroughPipe(ctx, sql, nil, io.Discard)
		if err == nil || !errors.Is(err, source.ErrQuery) {
			t.Errorf("%s: rows %d, err %v; want ErrQuery", sql, rows, err)
		}
	}
	if left := spoolEntries(t, s); len(left) != 0 {
		t.Errorf("spool not empty: %v", left)
	}
}

// bigQuery produces ~100 MB of CSV: far more than the pipe holds, so DuckDB
// blocks on a full pipe whenever the writer stalls.
const bigQuery = "SELECT i, repeat('x', 100) AS pad FROM range(1000000) t(i)"

func TestExportCSVCancel(t *testing.T) {
	s := openTest(t, "")
	cases := []struct {
		name string
		// run starts the export with a writer that misbehaves in its own way
		// and says which error is expected.
		run func(t *testing.T) (error, error)
	}{
		{"writer blocked until deadline", func(t *testing.T) (error, error) {
			// While the writer stalls, DuckDB fills the pipe and blocks in
			// write(2), where an interrupt alone cannot reach it.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err := s.ExportCSV(ctx, source.Query{SQL: bigQuery}, &stallingWriter{ctx: ctx})
			return err, context.DeadlineExceeded
		}},
		{"writer blocked until cancel", func(t *testing.T) (error, error) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := time.AfterFunc(200*time.Millisecond, cancel)
			defer stop.Stop()
			_, err := s.ExportCSV(ctx, source.Query{SQL: bigQuery}, &stallingWriter{ctx: ctx})
			return err, context.Canceled
		}},
		{"slow writer, cancel after some writes", func(t *testing.T) (error, error) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := &slowWriter{delay: time.Millisecond, cancelAfter: 20, cancel: cancel}
			_, err := s.ExportCSV(ctx, source.Query{SQL: bigQuery}, w)
			return err, context.Canceled
		}},
		{"deadline with slow writer", func(t *testing.T) (error, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			w := &slowWriter{delay: 5 * time.Millisecond}
			_, err := s.ExportCSV(ctx, source.Query{SQL: bigQuery}, w)
			return err, context.DeadlineExceeded
		}},
		{"writer fails", func(t *testing.T) (error, error) {
			errDiskFull := errors.New("disk full")
			w := &failingWriter{after: 3, err: errDiskFull}
			_, err := s.ExportCSV(context.Background(), source.Query{SQL: bigQuery}, w)
			return err, errDiskFull
		}},
		{"cancelled before start", func(t *testing.T) (error, error) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := s.ExportCSV(ctx, source.Query{SQL: bigQuery}, io.Discard)
			return err, context.Canceled
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err, want := tc.run(t)
			if !errors.Is(err, want) {
				t.Errorf("err = %v; want %v", err, want)
			}
			if left := spoolEntries(t, s); len(left) != 0 {
				t.Errorf("spool not empty: %v", left)
			}
			// The connection that was interrupted went back to the pool in
			// working order.
			n, err := s.Count(context.Background(), source.Query{SQL: "SELECT * FROM range(10)"})
			if err != nil || n != 10 {
				t.Errorf("Count after cancel = %d, %v", n, err)
			}
		})
	}
}

func TestExportCSVConcurrent(t *testing.T) {
	s := openTest(t, trickySQL)
	ctx := context.Background()
	const exports = 6
	query := func(i int) source.Query {
		return source.Query{SQL: "SELECT * FROM tricky WHERE id % $1 = $2 ORDER BY id", Args: []any{exports, i}}
	}
	want := make([][32]byte, exports)
	for i := range exports {
		want[i] = sha256.Sum256(copyToFile(t, s, query(i).SQL, query(i).Args...))
	}
	got := make([][32]byte, exports)
	var g errgroup.Group
	for i := range exports {
		g.Go(func() error {
			h := sha256.New()
			res, err := s.ExportCSV(ctx, query(i), h)
			if err != nil {
				return err
			}
			if res.Rows != 300000/exports {
				return fmt.Errorf("export %d: %d rows", i, res.Rows)
			}
			copy(got[i][:], h.Sum(nil))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range exports {
		if got[i] != want[i] {
			t.Errorf("export %d differs from COPY to a file", i)
		}
	}
}

func TestTimestampTZExportedInUTC(t *testing.T) {
	// With a session zone other than UTC, DuckDB would print TIMESTAMPTZ as
	// New York wall-clock time followed by our literal "Z".
	s := openTest(t, trickySQL, func(o *Options) { o.TimeZone = "America/New_York" })
	ctx := context.Background()
	q := source.Query{SQL: `SELECT TIMESTAMPTZ '2026-07-01 12:00:00+00' AS "when", TIMESTAMP '2026-07-01 12:00:00' AS naive, 1 AS n`}
	var got bytes.Buffer
	res, err := s.ExportCSV(ctx, q, &got)
	if err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	if want := "when,naive,n\n2026-07-01T12:00:00Z,2026-07-01T12:00:00Z,1\n"; got.String() != want {
		t.Errorf("got %q, want %q", got.String(), want)
	}
	if res.Columns[0].Type != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("Columns[0] = %v; want the query's own type", res.Columns[0])
	}

	// The conversion wraps the query; its ORDER BY must survive.
	got.Reset()
	if _, err := s.ExportCSV(ctx, source.Query{SQL: "SELECT id, tstz, label FROM tricky ORDER BY id DESC"}, &got); err != nil {
		t.Fatalf("ExportCSV: %v", err)
	}
	want := copyToFile(t, s, "SELECT id, timezone('UTC', tstz) AS tstz, label FROM tricky ORDER BY id DESC")
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("export differs from COPY of the query converted by hand, first at byte %d", firstDiff(got.Bytes(), want))
	}
}

type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// stallingWriter blocks until ctx ends, like an upload that stopped moving.
type stallingWriter struct{ ctx context.Context }

func (w *stallingWriter) Write(p []byte) (int, error) {
	<-w.ctx.Done()
	return 0, w.ctx.Err()
}

type slowWriter struct {
	delay       time.Duration
	cancelAfter int
	cancel      func()
	calls       int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.cancel != nil && w.calls == w.cancelAfter {
		w.cancel()
	}
	time.Sleep(w.delay)
	return len(p), nil
}

type failingWriter struct {
	after int
	err   error
	calls int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.calls++
	if w.calls >= w.after {
		return 0, w.err
	}
	return len(p), nil
}
