package render_test

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"io"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/exportd/exportd/internal/render"
)

const benchRows = 1_000_000

// benchColumns are twelve columns of an audit export, typed as DuckDB reports them.
var benchColumns = []render.Column{
	{Name: "id", Type: "BIGINT"},
	{Name: "event_time", Type: "TIMESTAMPTZ"},
	{Name: "day", Type: "DATE"},
	{Name: "actor", Type: "VARCHAR"},
	{Name: "event", Type: "VARCHAR"},
	{Name: "ip", Type: "VARCHAR"},
	{Name: "amount", Type: "DECIMAL(12,2)"},
	{Name: "score", Type: "DOUBLE"},
	{Name: "count", Type: "INTEGER"},
	{Name: "ok", Type: "BOOLEAN"},
	{Name: "session", Type: "UUID"},
	{Name: "note", Type: "VARCHAR"},
}

// benchPool holds distinct rows, with values as duckdb-go hands them over; the benchmarks cycle
// through it so that a million rows do not have to sit in memory.
func benchPool() [][]any {
	rng := rand.New(rand.NewPCG(9, 9))
	events := []string{"login", "logout", "export, csv", `view "doc"`, "query", "share #team", ""}
	notes := []any{nil, "ok", "multi\nline note", "plain text with spaces", "naïve café ☕", nil}
	pool := make([][]any, 4096)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range pool {
		at := base.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		var actor any = "user" + strconv.Itoa(rng.IntN(5000)) + "@example.com"
		if i%13 == 0 {
			actor = nil
		}
		uuid := make([]byte, 16)
		for j := range uuid {
			uuid[j] = byte(rng.Uint32())
		}
		pool[i] = []any{
			int64(i) * 7919,
			at,
			time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC),
			actor,
			events[i%len(events)],
			"10." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(rng.IntN(256)) + "." + strconv.Itoa(rng.IntN(256)),
			duckdb.Decimal{Width: 12, Scale: 2, Value: big.NewInt(rng.Int64N(10_000_000) - 5_000_000)},
			rng.Float64() * 1000,
			int32(rng.IntN(100_000)),
			rng.IntN(2) == 0,
			uuid,
			notes[i%len(notes)],
		}
	}
	return pool
}

func renderRows(b *testing.B, dst io.Writer, pool [][]any, opts render.Options) render.Stats {
	w, err := render.NewWriter(dst, benchColumns, opts)
	if err != nil {
		b.Fatal(err)
	}
	for i := range benchRows {
		if err := w.Write(pool[i%len(pool)]); err != nil {
			b.Fatal(err)
		}
	}
	st, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// baselineWriter is the comparison: the same rows turned into strings the obvious way and written
// with encoding/csv (which cannot tell NULL from "" and does not match DuckDB's number formats).
type baselineWriter struct {
	cw  *csv.Writer
	rec []string
}

func newBaselineWriter(b *testing.B, dst io.Writer) *baselineWriter {
	cw := csv.NewWriter(dst)
	header := make([]string, len(benchColumns))
	for i, c := range benchColumns {
		header[i] = c.Name
	}
	if err := cw.Write(header); err != nil {
		b.Fatal(err)
	}
	return &baselineWriter{cw: cw, rec: make([]string, len(benchColumns))}
}

func (bw *baselineWriter) write(b *testing.B, row []any) {
	for j, v := range row {
		switch x := v.(type) {
		case nil:
			bw.rec[j] = ""
		case string:
			bw.rec[j] = x
		case int64:
			bw.rec[j] = strconv.FormatInt(x, 10)
		case int32:
			bw.rec[j] = strconv.FormatInt(int64(x), 10)
		case float64:
			bw.rec[j] = strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			bw.rec[j] = strconv.FormatBool(x)
		case duckdb.Decimal:
			bw.rec[j] = x.String()
		case []byte:
			bw.rec[j] = hex.EncodeToString(x)
		case time.Time:
			if j == 2 {
				bw.rec[j] = x.Format(time.DateOnly)
			} else {
				bw.rec[j] = x.UTC().Format("2006-01-02T15:04:05Z")
			}
		}
	}
	if err := bw.cw.Write(bw.rec); err != nil {
		b.Fatal(err)
	}
}

func (bw *baselineWriter) close(b *testing.B) {
	bw.cw.Flush()
	if err := bw.cw.Error(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriter renders 1M rows of 12 mixed columns to io.Discard and the same rows with
// encoding/csv; x_vs_encoding_csv > 1 means Writer is faster. The two alternate in slices of
// 50k rows, so that load from other processes on the shared machine hits both alike.
func BenchmarkWriter(b *testing.B) {
	pool := benchPool()
	const slice = 50_000
	var ours, base time.Duration
	var st render.Stats
	b.ResetTimer()
	for range b.N {
		w, err := render.NewWriter(io.Discard, benchColumns, render.Options{})
		if err != nil {
			b.Fatal(err)
		}
		bw := newBaselineWriter(b, io.Discard)
		for first := 0; first < benchRows; first += slice {
			t0 := time.Now()
			for i := first; i < first+slice; i++ {
				if err := w.Write(pool[i%len(pool)]); err != nil {
					b.Fatal(err)
				}
			}
			t1 := time.Now()
			for i := first; i < first+slice; i++ {
				bw.write(b, pool[i%len(pool)])
			}
			t2 := time.Now()
			ours += t1.Sub(t0)
			base += t2.Sub(t1)
		}
		t0 := time.Now()
		if st, err = w.Close(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		bw.close(b)
		ours += t1.Sub(t0)
		base += time.Since(t1)
	}
	rows := float64(benchRows * b.N)
	b.ReportMetric(rows/ours.Seconds(), "rows/s")
	b.ReportMetric(rows/base.Seconds(), "encoding_csv_rows/s")
	b.ReportMetric(base.Seconds()/ours.Seconds(), "x_vs_encoding_csv")
	b.ReportMetric(float64(st.Bytes)/float64(benchRows), "B/row")
	b.Logf("render.Writer %.0f rows/s (with sha256), encoding/csv %.0f rows/s: %.2fx",
		rows/ours.Seconds(), rows/base.Seconds(), base.Seconds()/ours.Seconds())
}

// BenchmarkWriterGzip is the same with gzip on; the ratio is against the plain Writer.
func BenchmarkWriterGzip(b *testing.B) {
	pool := benchPool()
	var st render.Stats
	b.ResetTimer()
	for range b.N {
		st = renderRows(b, io.Discard, pool, render.Options{Gzip: true})
	}
	b.StopTimer()
	gz := b.Elapsed()
	start := time.Now()
	var plain render.Stats
	for range b.N {
		plain = renderRows(b, io.Discard, pool, render.Options{})
	}
	base := time.Since(start)
	rows := float64(benchRows * b.N)
	b.ReportMetric(rows/gz.Seconds(), "rows/s")
	b.ReportMetric(base.Seconds()/gz.Seconds(), "x_vs_plain")
	b.ReportMetric(float64(plain.Bytes)/float64(st.Bytes), "compression_ratio")
}

// BenchmarkSinkAndCount measures the DuckDB path's pass-through (hash + count) and CountRows on
// the same CSV, in MB/s of CSV.
func BenchmarkSinkAndCount(b *testing.B) {
	var csvBytes bytes.Buffer
	renderRows(b, &csvBytes, benchPool(), render.Options{})
	data := csvBytes.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		s := render.NewSink(io.Discard, render.Options{})
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			if _, err := s.Write(rest[:n]); err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sink := b.Elapsed()
	start := time.Now()
	for range b.N {
		n, err := render.CountRows(bytes.NewReader(data), false)
		if err != nil || n != benchRows {
			b.Fatalf("CountRows = %d, %v", n, err)
		}
	}
	count := time.Since(start)
	mb := float64(len(data)*b.N) / 1e6
	b.ReportMetric(mb/sink.Seconds(), "sink_MB/s")
	b.ReportMetric(mb/count.Seconds(), "countrows_MB/s")
}
