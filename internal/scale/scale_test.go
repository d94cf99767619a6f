package scale_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exportd/exportd/internal/testenv"
)

// BenchmarkScale prints peak RSS, CPU (user + system) and wall time of one
// export against the number of rows (1M and 10M; 100M with
// EXPORTD_SCALE_100M=1), each a child process measured by its own rusage:
// exportd with its defaults, exportd with the DuckDB settings it had before
// (DuckDB's: every core, 80% of memory) and DuckDB's own COPY of the same
// SELECT to a file (then read back through sha256, which exportd's manifest
// needs). Then an export of 1M rows to versitygw against one plain
// PutObject of the same bytes, and four exports at once. Each comparison
// runs EXPORTD_SCALE_REPEATS rounds (default 5), interleaved, the order
// rotating every round; it prints min and median.
//
//	scripts/bench.sh scale [--100m]
func BenchmarkScale(b *testing.B) {
	repeats := 5
	if v, err := strconv.Atoi(os.Getenv("EXPORTD_SCALE_REPEATS")); err == nil && v > 0 {
		repeats = v
	}
	sizes := []int64{1_000_000, 10_000_000}
	if testing.Short() {
		sizes, repeats = []int64{100_000}, 2
	}
	// EXPORTD_SCALE_ONLY=rows|s3|concurrent runs one part.
	only := os.Getenv("EXPORTD_SCALE_ONLY")
	if os.Getenv("EXPORTD_SCALE_100M") == "1" {
		// One export of 100M rows with the defaults, once: the baselines
		// would hold 1.8 GiB per 10M rows, and every run writes 34 GB.
		sizes, only = []int64{100_000_000}, "rows"
	}
	part := func(name string) bool { return only == "" || only == name }
	threads, memLimit := todaysSettings()
	for b.Loop() {
		dir := b.TempDir()
		if !part("rows") {
			sizes = sizes[:1]
			makeTable(b, filepath.Join(dir, fmt.Sprintf("rows-%d.duckdb", sizes[0])), sizes[0])
		}
		if part("rows") {
			fmt.Printf("\nPeak RSS against rows: one export to the folder store (%d rounds, min / median)\n", repeats)
			fmt.Printf("%-12s %-26s %16s %16s %16s\n", "rows", "run", "peak RSS MiB", "CPU s", "wall s")
		}
		for _, n := range sizes {
			if !part("rows") {
				break
			}
			db := filepath.Join(dir, fmt.Sprintf("rows-%d.duckdb", n))
			makeTable(b, db, n)
			out := filepath.Join(dir, "out")
			variants := []named{
				{"exportd (defaults)", job{Mode: "export", DB: db, Dest: "folder", Dir: out}},
				{"exportd (DuckDB defaults)", job{Mode: "export", DB: db, Dest: "folder", Dir: out, Threads: threads, MemoryLimit: memLimit}},
				{"DuckDB COPY to file", job{Mode: "copy", DB: db, File: filepath.Join(out, "copy.csv")}},
			}
			rounds := repeats
			if n >= 100_000_000 {
				variants, rounds = variants[:1], 1
			}
			res := interleave(b, variants, rounds, func() { _ = os.RemoveAll(out); _ = os.MkdirAll(out, 0o755) })
			_ = os.RemoveAll(out)
			for _, v := range variants {
				fmt.Printf("%-12d %-26s %s\n", n, v.name, res[v.name])
			}
			if len(variants) == 1 {
				_ = os.Remove(db)
				_ = os.Remove(db + ".wal")
				continue
			}
			fmt.Printf("%-12d %-26s CPU %.2fx of the DuckDB defaults, %.2fx of COPY (medians)\n", n, "exportd (defaults)",
				res["exportd (defaults)"].median(cpuOf)/res["exportd (DuckDB defaults)"].median(cpuOf),
				res["exportd (defaults)"].median(cpuOf)/res["DuckDB COPY to file"].median(cpuOf))
			if n != sizes[0] {
				_ = os.Remove(db)
				_ = os.Remove(db + ".wal")
			}
		}

		db := filepath.Join(dir, fmt.Sprintf("rows-%d.duckdb", sizes[0]))
		if part("s3") {
			benchS3(b, dir, db, sizes[0], repeats)
		}
		if !part("concurrent") {
			continue
		}

		// Several exports at once share the source's memory limit; each
		// adds its own pipe and buffers.
		out := filepath.Join(dir, "out")
		variants := []named{
			{"1 export", job{Mode: "export", DB: db, Dest: "folder", Dir: out, Concurrent: 1}},
			{"4 exports at once", job{Mode: "export", DB: db, Dest: "folder", Dir: out, Concurrent: 4}},
		}
		res := interleave(b, variants, max(repeats/2, 2), func() { _ = os.RemoveAll(out); _ = os.MkdirAll(out, 0o755) })
		_ = os.RemoveAll(out)
		fmt.Printf("\nExports at once, %d rows each, to the folder store (min / median)\n", sizes[0])
		fmt.Printf("%-26s %16s %16s %16s\n", "run", "peak RSS MiB", "CPU s", "wall s")
		for _, v := range variants {
			fmt.Printf("%-26s %s\n", v.name, res[v.name])
		}
	}
	b.ReportMetric(0, "ns/op")
}

// benchS3 compares an export of db to versitygw with one plain PutObject
// of the same bytes, and tells where the time goes.
func benchS3(b *testing.B, dir, db string, rows int64, repeats int) {
	gw, err := testenv.StartVersityGW(filepath.Join(dir, "gw"))
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Stop()
	bucket := gw.Bucket(b, false)
	target := func(key string) *s3Target {
		creds, err := gw.Credentials().Retrieve(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		return &s3Target{Endpoint: gw.Endpoint, Access: creds.AccessKeyID, Secret: creds.SecretAccessKey, Bucket: bucket, Key: key}
	}
	file := filepath.Join(dir, "same-bytes.csv")
	ref := runChild(b, job{Mode: "copy", DB: db, File: file})
	defer os.Remove(file)
	out := filepath.Join(dir, "out")
	variants := []named{
		{"exportd to S3", job{Mode: "export", DB: db, Dest: "s3", Dir: out, S3: target("export-")}},
		{"plain PutObject", job{Mode: "put", File: file, S3: target("plain")}},
		{"exportd, no store", job{Mode: "export", DB: db, Dest: "discard", Dir: out}},
		// The knob for a source that mostly feeds S3: a second DuckDB
		// thread, under the same default memory limit.
		{"S3, threads: 2", job{Mode: "export", DB: db, Dest: "s3", Dir: out, Threads: 2, S3: target("export-")}},
		{"no store, threads: 2", job{Mode: "export", DB: db, Dest: "discard", Dir: out, Threads: 2}},
	}
	server := map[string][]float64{}
	var last string
	res := interleaveWith(b, variants, repeats, func() {
		_ = os.RemoveAll(out)
		_ = os.MkdirAll(out, 0o755)
		for _, k := range []string{"export-0", "plain"} {
			_, _ = gw.Client().DeleteObject(b.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		}
	}, func(name string, before bool) {
		if before {
			last = name
			server[name] = append(server[name], -procCPU(gw.PID()))
			return
		}
		server[last][len(server[last])-1] += procCPU(gw.PID())
	})
	_ = os.RemoveAll(out)
	for _, name := range []string{"exportd to S3", "S3, threads: 2"} {
		for _, u := range res[name].runs {
			if u.Bytes != ref.Bytes || u.SHA256 != ref.SHA256 {
				b.Fatalf("%s %+v, COPY %+v: not the same bytes", name, u.outcome, ref.outcome)
			}
		}
	}
	fmt.Printf("\nS3 end to end, %d rows (%.0f MB) to versitygw on loopback (min / median)\n", rows, float64(ref.Bytes)/1e6)
	fmt.Printf("%-26s %16s %16s %16s %16s\n", "run", "peak RSS MiB", "CPU s", "wall s", "server CPU s")
	for _, v := range variants {
		s := slices.Clone(server[v.name])
		slices.Sort(s)
		fmt.Printf("%-26s %s %7.2f / %6.2f\n", v.name, res[v.name], s[0], s[len(s)/2])
	}
	for _, name := range []string{"exportd to S3", "S3, threads: 2"} {
		var ratios []float64
		for i, u := range res[name].runs {
			ratios = append(ratios, res["plain PutObject"].runs[i].Wall.Seconds()/u.Wall.Seconds())
		}
		slices.Sort(ratios)
		fmt.Printf("%s / plain PutObject of the same bytes (rate, per round): min %.2fx, median %.2fx (target >= 0.8x)\n",
			name, ratios[0], ratios[len(ratios)/2])
	}
	// Where the CPU goes (medians): the client's own, the server's, and
	// the lower bound on wall time they set on this machine's cores.
	for _, name := range []string{"exportd to S3", "S3, threads: 2", "plain PutObject"} {
		s := slices.Clone(server[name])
		slices.Sort(s)
		client, srv := res[name].median(cpuOf), s[len(s)/2]
		fmt.Printf("%-26s client %.2f CPU-s + server %.2f CPU-s = %.2f: at least %.2f s on %d cores\n",
			name, client, srv, client+srv, (client+srv)/float64(runtime.NumCPU()), runtime.NumCPU())
	}
}

type named struct {
	name string
	j    job
}

type runs struct{ runs []usage }

func cpuOf(u usage) float64  { return u.CPU.Seconds() }
func wallOf(u usage) float64 { return u.Wall.Seconds() }
func rssOf(u usage) float64  { return u.MaxRSS }

func (r runs) sorted(f func(usage) float64) []float64 {
	var xs []float64
	for _, u := range r.runs {
		xs = append(xs, f(u))
	}
	slices.Sort(xs)
	return xs
}

func (r runs) median(f func(usage) float64) float64 { xs := r.sorted(f); return xs[len(xs)/2] }

func (r runs) String() string {
	var s strings.Builder
	for i, f := range []func(usage) float64{rssOf, cpuOf, wallOf} {
		xs := r.sorted(f)
		format := "%7.2f / %6.2f "
		if i == 0 {
			format = "%7.0f / %6.0f "
		}
		fmt.Fprintf(&s, format, xs[0], xs[len(xs)/2])
	}
	return strings.TrimSpace(s.String())
}

// interleave runs every variant once per round, rotating which goes first,
// and checks that the exports among them wrote the same bytes.
func interleave(b *testing.B, variants []named, rounds int, between func()) map[string]runs {
	return interleaveWith(b, variants, rounds, between, nil)
}

func interleaveWith(b *testing.B, variants []named, rounds int, between func(), around func(name string, before bool)) map[string]runs {
	b.Helper()
	res := map[string]runs{}
	for r := range rounds {
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			between()
			if around != nil {
				around(v.name, true)
			}
			u := runChild(b, v.j)
			if around != nil {
				around(v.name, false)
			}
			rr := res[v.name]
			rr.runs = append(rr.runs, u)
			res[v.name] = rr
		}
	}
	var want *outcome
	for _, v := range variants {
		for _, u := range res[v.name].runs {
			if u.SHA256 == "" {
				continue
			}
			if want == nil {
				want = &u.outcome
			} else if u.Bytes != want.Bytes || u.SHA256 != want.SHA256 {
				b.Fatalf("%s wrote %d bytes (sha256 %s), another run %d (%s)", v.name, u.Bytes, u.SHA256, want.Bytes, want.SHA256)
			}
		}
	}
	return res
}

// procCPU is the user + system CPU seconds of process pid so far.
func procCPU(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}
