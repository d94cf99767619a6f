package audit_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/audit"
	"github.com/exportd/exportd/internal/cli"
)

// benchArchive generates five years of a daily schedule (1,826 windows) and
// a year of an hourly one (8,760), signed; -short (the smoke run) keeps 30
// days and 2 days.
func benchArchive(b *testing.B, st archive.Store) *archivetest.Generated {
	b.Helper()
	days, hourDays := 1826, 365
	if testing.Short() {
		days, hourDays = 30, 2
	}
	key := newKeyB(b)
	// Two archives under two prefixes would not be one verify; generate
	// the hourly year first, then the daily years under the same prefix.
	o := archivetest.GenOptions{Prefix: "bench", Start: time.Date(2021, 12, 7, 0, 0, 0, 0, time.UTC), Days: days, Key: key, Rows: 20,
		Schedules: []archivetest.GenSchedule{{Name: "daily-logins", Every: "day"}}}
	if _, err := archivetest.Generate(b.Context(), st, o); err != nil {
		b.Fatal(err)
	}
	oh := o
	oh.Prefix = "bench-hourly"
	oh.Start = o.Start.Add(time.Duration(days-hourDays) * 24 * time.Hour)
	oh.Days = hourDays
	oh.Schedules = []archivetest.GenSchedule{{Name: "hourly-events", Every: "hour"}}
	g, err := archivetest.Generate(b.Context(), st, oh)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func benchVerify(b *testing.B, bk backend) {
	g := benchArchive(b, bk.store())
	r := bk.reader(&testing.T{})
	var keys []archive.Object
	for _, p := range []string{"bench", "bench-hourly"} {
		rep, err := audit.Verify(b.Context(), r, audit.Options{Prefix: p, AsOf: g.AsOf})
		if err != nil || !rep.OK() {
			b.Fatalf("%s: %v %v", p, err, rep.Findings)
		}
	}
	// The baseline, in the same run: each object read and hashed one after
	// the other, as a validator that checks one file at a time does.
	_ = bk.store().List(b.Context(), "bench", func(oi archive.ObjectInfo) error {
		if len(oi.Key) > 4 && oi.Key[len(oi.Key)-4:] == ".csv" {
			keys = append(keys, archive.Object{Key: oi.Key})
		}
		return nil
	})
	t0 := time.Now()
	for _, o := range keys {
		rc, _, err := r.Get(b.Context(), o.Key)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, rc)
		rc.Close()
		_ = hex.EncodeToString(h.Sum(nil))
	}
	seq := float64(len(keys)) / time.Since(t0).Seconds()
	b.ResetTimer()
	objects := 0
	for b.Loop() {
		for _, p := range []string{"bench", "bench-hourly"} {
			rep, err := audit.Verify(b.Context(), r, audit.Options{Prefix: p, AsOf: g.AsOf})
			if err != nil || !rep.OK() {
				b.Fatal(err)
			}
			objects += rep.Objects
		}
	}
	rate := float64(objects) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "objects/s")
	b.ReportMetric(seq, "baseline-objects/s")
	b.ReportMetric(rate/seq, "x-baseline")
	b.Logf("%d objects per verify; verify (everything: chains, digests, windows, objects) %.0f objects/s; baseline (objects only, one at a time) %.0f objects/s", objects/b.N, rate, seq)
}

// BenchmarkVerifyFolder generates its archive under $EXPORTD_BENCH_DIR when
// set (a tmpfs such as /dev/shm makes the 10,586 fsynced commits of the
// full size take seconds, not half an hour, on a shared disk); verify reads
// what the page cache holds either way.
func BenchmarkVerifyFolder(b *testing.B) {
	root := b.TempDir()
	if d := os.Getenv("EXPORTD_BENCH_DIR"); d != "" {
		var err error
		if root, err = os.MkdirTemp(d, "exportd-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(root) })
	}
	fb := newFolderAt(b, root)
	benchVerify(b, fb)
}

func BenchmarkVerifyS3(b *testing.B) {
	benchVerify(b, newS3B(b))
}

// failedPerMonth is the auditor's question over five years of the daily
// schedule: failed logins per month.
const failedPerMonth = `SELECT strftime(date_trunc('month', "Request Time"), '%Y-%m') AS month, count(*) AS failed
FROM {table} WHERE Status = 'failed' GROUP BY 1 ORDER BY 1`

// BenchmarkQueryFolder: exportd archive query --sql of failed logins per
// month over five years of the daily schedule (1,826 objects, each sha256
// checked against its manifest and loaded into a read-only DuckDB), against
// DuckDB reading the same files directly with read_csv, interleaved in the
// same run; both answers must be equal.
func BenchmarkQueryFolder(b *testing.B) {
	root := b.TempDir()
	if d := os.Getenv("EXPORTD_BENCH_DIR"); d != "" {
		var err error
		if root, err = os.MkdirTemp(d, "exportd-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(root) })
	}
	days := 1826
	if testing.Short() {
		days = 30
	}
	fb := newFolderAt(b, root)
	g, err := archivetest.Generate(b.Context(), fb.store(), archivetest.GenOptions{Prefix: "bench", Start: time.Date(2021, 12, 7, 0, 0, 0, 0, time.UTC),
		Days: days, Key: newKeyB(b), Rows: 20, Schedules: []archivetest.GenSchedule{{Name: "daily-logins", Every: "day"}}})
	if err != nil {
		b.Fatal(err)
	}
	files := make([]string, 0, len(g.Objects["daily-logins"]))
	for _, k := range g.Objects["daily-logins"] {
		files = append(files, "'"+filepath.Join(root, filepath.FromSlash(k))+"'")
	}
	direct := strings.Replace(failedPerMonth, "{table}", `read_csv([`+strings.Join(files, ", ")+`], header = true, timestampformat = '%Y-%m-%dT%H:%M:%S%z')`, 1)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	baseline := func() string {
		rows, err := db.QueryContext(b.Context(), direct)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		var out strings.Builder
		out.WriteString("month,failed\n")
		for rows.Next() {
			var m string
			var n int64
			if err := rows.Scan(&m, &n); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&out, "%s,%d\n", m, n)
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		return out.String()
	}
	query := func() string {
		var out, errb bytes.Buffer
		args := []string{"archive", "query", filepath.Join(root, "bench"), "--sql", strings.Replace(failedPerMonth, "{table}", `"daily-logins"`, 1), "--format", "csv"}
		if code := cli.Main(b.Context(), "bench", args, &out, &errb); code != 0 {
			b.Fatalf("archive query: exit %d\n%s", code, errb.String())
		}
		return out.String()
	}
	if q, d := query(), baseline(); q != d || strings.Count(q, "\n") < 2 {
		b.Fatalf("archive query answers\n%s\nDuckDB on the files answers\n%s", q, d)
	}
	var tq, td []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		query()
		tq = append(tq, time.Since(t0))
		t0 = time.Now()
		baseline()
		td = append(td, time.Since(t0))
	}
	slices.Sort(tq)
	slices.Sort(td)
	mq, md := tq[len(tq)/2], td[len(td)/2]
	b.ReportMetric(mq.Seconds(), "query-s")
	b.ReportMetric(md.Seconds(), "duckdb-direct-s")
	b.ReportMetric(float64(mq)/float64(md), "x-duckdb-direct")
	b.Logf("failed logins per month over %d daily objects: archive query (each object's sha256 checked, loaded read-only) %s, DuckDB read_csv over the same files %s: %.1fx (medians of %d interleaved rounds)",
		len(files), mq.Round(time.Millisecond), md.Round(time.Millisecond), float64(mq)/float64(md), len(tq))
}
