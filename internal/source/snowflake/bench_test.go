package snowflake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/exportd/exportd/internal/render"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
)

// Wide audit rows (Sigma's 14 audit-log columns, about 200 bytes of CSV a
// row), made the same way by DuckDB SQL and by Go: row i is a pure function
// of i, so both sides export the same rows and their sha256 must agree.
const benchSQL = `SELECT TIMESTAMP '2026-01-01' + to_seconds(i) AS REQUEST_TIME,
  'OBJECT_INTERACTION' AS EVENT_CATEGORY,
  ['LOGIN', 'VIEW_WORKBOOK', 'EXPORT_WORKBOOK', 'LOGOUT'][1 + i % 4] AS EVENT_TYPE,
  CASE WHEN i % 10 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END AS EVENT_STATUS,
  CASE WHEN i % 10 = 0 THEN 'INVALID_PASSWORD' END AS EVENT_STATUS_REASON_CODE,
  'u-' || (i % 5000) AS USER_ID,
  'user' || (i % 5000) || '@example.com' AS USER_EMAIL,
  'Creator' AS USER_ROLE,
  'wb-' || (i % 80) AS OBJECT_ID,
  'Sales, "Q' || (1 + i % 4) || '"' AS OBJECT_NAME,
  '10.0.' || (i % 256) || '.' || (i % 251) AS IP_ADDRESS,
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36' AS USER_AGENT,
  'req-' || i AS REQUEST_ID,
  'sess-' || (i // 50) AS SESSION_ID
FROM range(NROWS) t(i)`

var benchNames = []string{"REQUEST_TIME", "EVENT_CATEGORY", "EVENT_TYPE", "EVENT_STATUS", "EVENT_STATUS_REASON_CODE",
	"USER_ID", "USER_EMAIL", "USER_ROLE", "OBJECT_ID", "OBJECT_NAME", "IP_ADDRESS", "USER_AGENT", "REQUEST_ID", "SESSION_ID"}

const benchChunk = 65536 // rows per Arrow record, a typical Snowflake chunk

// benchWidths are the longest values of the text columns, in bytes.
var benchWidths = []int{0, 18, 15, 7, 16, 6, 24, 7, 5, 13, 15, 51, 12, 11}

// arrowRun builds the rows as Snowflake Arrow records (NTZ as {epoch,
// fraction}, text as utf8), one chunk at a time, and streams them through
// writeRecord and the row encoder into a sha256. encode is the time spent
// in writeRecord and the encoder only.
func arrowRun(n int) (sum string, rows int64, total, encode time.Duration, err error) {
	start := time.Now()
	cols := make([]source.Column, len(benchNames))
	rcols := make([]render.Column, len(benchNames))
	meta := make([]colMeta, len(benchNames))
	for i, name := range benchNames {
		typ, m := "VARCHAR", colMeta{typ: "text"}
		if i == 0 {
			typ, m = "TIMESTAMP_NTZ", colMeta{typ: "timestamp_ntz", scale: 9}
		}
		cols[i], rcols[i], meta[i] = source.Column{Name: name, Type: typ}, render.Column{Name: name, Type: typ}, m
	}
	h := sha256.New()
	enc, err := render.NewWriter(h, rcols, render.Options{})
	if err != nil {
		return "", 0, 0, 0, err
	}
	mem := memory.DefaultAllocator
	tsType := arrow.StructOf(arrow.Field{Name: "epoch", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "fraction", Type: arrow.PrimitiveTypes.Int32})
	fields := make([]arrow.Field, len(benchNames))
	for i, name := range benchNames {
		fields[i] = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	fields[0].Type = tsType
	schema := arrow.NewSchema(fields, nil)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	types := []string{"LOGIN", "VIEW_WORKBOOK", "EXPORT_WORKBOOK", "LOGOUT"}
	var buf []byte
	for lo := 0; lo < n; lo += benchChunk {
		hi := min(lo+benchChunk, n)
		// Sized up front, as the driver's IPC reader allocates each
		// chunk's buffers at their final size (a growing builder would
		// leave twice the chunk in garbage).
		ts := array.NewStructBuilder(mem, tsType)
		ts.Reserve(hi - lo)
		ts.FieldBuilder(0).Reserve(hi - lo)
		ts.FieldBuilder(1).Reserve(hi - lo)
		sb := make([]*array.StringBuilder, len(benchNames))
		for j := 1; j < len(sb); j++ {
			sb[j] = array.NewStringBuilder(mem)
			sb[j].Reserve(hi - lo)
			sb[j].ReserveData((hi - lo) * benchWidths[j])
		}
		str := func(j int, parts ...any) {
			buf = buf[:0]
			for _, p := range parts {
				switch v := p.(type) {
				case string:
					buf = append(buf, v...)
				case int:
					buf = strconv.AppendInt(buf, int64(v), 10)
				}
			}
			sb[j].BinaryBuilder.Append(buf)
		}
		for i := lo; i < hi; i++ {
			ts.Append(true)
			ts.FieldBuilder(0).(*array.Int64Builder).Append(base + int64(i))
			ts.FieldBuilder(1).(*array.Int32Builder).Append(0)
			sb[1].Append("OBJECT_INTERACTION")
			sb[2].Append(types[i%4])
			if i%10 == 0 {
				sb[3].Append("FAILURE")
				sb[4].Append("INVALID_PASSWORD")
			} else {
				sb[3].Append("SUCCESS")
				sb[4].AppendNull()
			}
			str(5, "u-", i%5000)
			str(6, "user", i%5000, "@example.com")
			sb[7].Append("Creator")
			str(8, "wb-", i%80)
			str(9, `Sales, "Q`, 1+i%4, `"`)
			str(10, "10.0.", i%256, ".", i%251)
			sb[11].Append("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
			str(12, "req-", i)
			str(13, "sess-", i/50)
		}
		arrs := make([]arrow.Array, len(benchNames))
		arrs[0] = ts.NewArray()
		ts.Release()
		for j := 1; j < len(sb); j++ {
			arrs[j] = sb[j].NewArray()
			sb[j].Release()
		}
		rec := array.NewRecord(schema, arrs, int64(hi-lo))
		for _, a := range arrs {
			a.Release()
		}
		t0 := time.Now()
		k, err := writeRecord(enc, rec, cols, meta)
		encode += time.Since(t0)
		rec.Release()
		if err != nil {
			return "", rows, 0, 0, err
		}
		rows += k
	}
	t0 := time.Now()
	if _, err := enc.Close(); err != nil {
		return "", rows, 0, 0, err
	}
	encode += time.Since(t0)
	return hex.EncodeToString(h.Sum(nil)), rows, time.Since(start), encode, nil
}

// benchChild runs arrowRun in a child process (EXPORTD_BENCH_ARROW_ROWS) so
// that its peak RSS is its own; TestMain calls it.
func benchChild(v string) {
	n, _ := strconv.Atoi(v)
	sum, rows, total, encode, err := arrowRun(n)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("result %s %d %d %d\n", sum, rows, total.Nanoseconds(), encode.Nanoseconds())
	os.Exit(0)
}

type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) { c.n += int64(len(p)); return c.h.Write(p) }

// BenchmarkArrowCSV: Snowflake Arrow batches -> CSV through the row encoder
// against DuckDB's own COPY (the DuckDB source's path) of the same rows in
// the same run, at 1M and 10M wide audit rows (-short: 20k). Reports both
// rates, their ratio (target >= 0.8), and the Arrow side's peak RSS, which
// must stay flat (< 150 MiB) from 1M to 10M rows.
func BenchmarkArrowCSV(b *testing.B) {
	sizes := []int{1_000_000, 10_000_000}
	if testing.Short() {
		sizes = []int{20_000}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			for b.Loop() {
				// Arrow side, in its own process.
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "EXPORTD_BENCH_ARROW_ROWS="+strconv.Itoa(n))
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("arrow child: %v\n%s", err, out)
				}
				var sum string
				var rows, totalNs, encNs int64
				line := out[strings.LastIndex(string(out[:len(out)-1]), "\n")+1:]
				if _, err := fmt.Sscanf(string(line), "result %s %d %d %d", &sum, &rows, &totalNs, &encNs); err != nil {
					b.Fatalf("arrow child said %q", out)
				}
				rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB -> MiB

				// DuckDB side: COPY through the DuckDB source's pipe.
				d, err := duckdb.Open(context.Background(), duckdb.Options{Name: "bench", Path: duckdb.MemoryPath,
					TimeZone: "UTC", SpoolDir: filepath.Join(b.TempDir(), "spool"), Threads: 2})
				if err != nil {
					b.Fatal(err)
				}
				hc := &hashCounter{h: sha256.New()}
				t0 := time.Now()
				res, err := d.ExportCSV(context.Background(), source.Query{SQL: strings.Replace(benchSQL, "NROWS", strconv.Itoa(n), 1)}, hc)
				duckTime := time.Since(t0)
				d.Close()
				if err != nil {
					b.Fatal(err)
				}
				if got := hex.EncodeToString(hc.h.Sum(nil)); got != sum || res.Rows != rows {
					b.Fatalf("the two sides wrote different CSV: duckdb %d rows %s, arrow %d rows %s", res.Rows, got, rows, sum)
				}
				encRate := float64(rows) / (time.Duration(encNs)).Seconds()
				duckRate := float64(rows) / duckTime.Seconds()
				b.ReportMetric(encRate, "arrow_rows/s")
				b.ReportMetric(float64(rows)/(time.Duration(totalNs)).Seconds(), "arrow+build_rows/s")
				b.ReportMetric(duckRate, "duckdb_copy_rows/s")
				b.ReportMetric(encRate/duckRate, "ratio")
				b.ReportMetric(rss, "arrow_peak_RSS_MiB")
				b.ReportMetric(float64(hc.n)/float64(rows), "B/row")
			}
		})
	}
}

// BenchmarkEmulatorExport: the demo AUDIT_LOGS (about 200k rows; -short: one
// window) exported through the real driver from the emulator: rows/s end to
// end and where the time goes (query: the emulator runs the SQL and sends the
// Arrow result; fetch: the driver decodes it; encode: CSV).
func BenchmarkEmulatorExport(b *testing.B) {
	q := source.Query{SQL: `SELECT * FROM "AUDIT_LOGS" ORDER BY "REQUEST_TIME", "REQUEST_ID"`}
	var sf *Source
	if testing.Short() {
		// A smoke run: a few rows, no demo generation.
		sf, _ = openTest(b, emu.Host, emu.Port, auditDDL, auditRows)
		q.SQL = `SELECT * FROM AUDIT WHERE ID >= ? ORDER BY ID`
		q.Args = []any{"1"}
	} else {
		_, sf = loadDemo(b)
	}
	phases := map[string]time.Duration{}
	phaseTrace = func(p string, d time.Duration) { phases[p] += d }
	defer func() { phaseTrace = nil }()
	var rows int64
	var total time.Duration
	for b.Loop() {
		t0 := time.Now()
		res, err := sf.ExportCSV(context.Background(), q, &hashCounter{h: sha256.New()})
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		rows += res.Rows
	}
	b.ReportMetric(float64(rows)/total.Seconds(), "rows/s")
	for _, p := range []string{"query", "fetch", "encode"} {
		b.ReportMetric(100*phases[p].Seconds()/total.Seconds(), p+"_%")
	}
}
