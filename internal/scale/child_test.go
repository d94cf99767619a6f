// Package scale_test measures exports as whole processes: each export runs
// in a child process (this test binary, re-executed), so that its peak RSS
// and CPU time come from the kernel's own accounting of that process
// (wait4's rusage), not from a process that also holds the test's data.
package scale_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/goleak"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/render"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
)

// childEnv carries a child's job, as JSON.
const childEnv = "EXPORTD_SCALE_CHILD"

// job is what a child process does.
type job struct {
	// Mode is "export" (exportd's path: DuckDB source, render sink, store),
	// "copy" (DuckDB's own COPY of the same SELECT to a file, DuckDB's
	// defaults), "put" (one plain PutObject of the file File) or "gen"
	// (write Rows rows into the database file DB).
	Mode string
	Rows int64
	DB   string
	// Dest of an export: "folder", "s3" or "discard" (render and hash only).
	Dest string
	Dir  string // folder store root, spool, or COPY's output file
	File string
	// Threads and MemoryLimit of the DuckDB source ("" and 0: exportd's defaults).
	Threads     int
	MemoryLimit string
	// Concurrent exports of the same table by one process.
	Concurrent int
	S3         *s3Target
	// Query replaces exportQuery (an export's and a COPY's SELECT).
	Query string
}

type s3Target struct {
	Endpoint, Access, Secret, Bucket, Key string
	PartSize                              int64
	Concurrency                           int
}

// outcome is what a child reports on stdout.
type outcome struct {
	Rows   int64
	Bytes  int64
	SHA256 string
}

// usage is the parent's view of a finished child.
type usage struct {
	outcome
	Wall   time.Duration
	CPU    time.Duration // user + system
	MaxRSS float64       // MiB
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(childMain(spec))
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// runChild runs j in a child process and returns its own accounting.
func runChild(t testing.TB, j job) usage {
	t.Helper()
	spec, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	syscall.Sync() // earlier runs' dirty pages are not this one's to write back
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("child %s %s: %v\n%s", j.Mode, j.Dest, err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the child")
	}
	var u usage
	if err := json.Unmarshal([]byte(lastLine(stdout.String())), &u.outcome); err != nil {
		t.Fatalf("child output %q: %v", stdout.String(), err)
	}
	u.Wall = wall
	u.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	u.MaxRSS = float64(ru.Maxrss) / 1024 // KiB on Linux
	return u
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func childMain(spec string) int {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// EXPORTD_SCALE_CPUPROFILE=prefix writes each child's Go CPU profile
	// to prefix-<mode>-<dest>.pprof (the last round's); DuckDB's own
	// threads show as C code.
	if prefix := os.Getenv("EXPORTD_SCALE_CPUPROFILE"); prefix != "" {
		f, err := os.Create(fmt.Sprintf("%s-%s-%s-t%d.pprof", prefix, j.Mode, j.Dest, j.Threads))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	var out outcome
	var err error
	ctx := context.Background()
	switch j.Mode {
	case "export":
		out, err = childExport(ctx, j)
	case "copy":
		out, err = childCopy(ctx, j)
	case "put":
		out, err = childPut(ctx, j)
	case "gen":
		out, err = childGen(ctx, j)
	default:
		err = fmt.Errorf("unknown mode %q", j.Mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	return 0
}

// exportQuery is the raw export of the benchmark table, as the compiler
// writes an element without order_by (rows in the table's order).
var exportQuery = source.Query{SQL: "SELECT * FROM rows"}

func (j job) query() source.Query {
	if j.Query != "" {
		return source.Query{SQL: j.Query}
	}
	return exportQuery
}

func childExport(ctx context.Context, j job) (outcome, error) {
	src, err := duckdb.Open(ctx, duckdb.Options{
		Name: "scale", Path: j.DB, SpoolDir: filepath.Join(j.Dir, "spool"),
		Threads: j.Threads, MemoryLimit: j.MemoryLimit,
	})
	if err != nil {
		return outcome{}, err
	}
	defer src.Close()
	var store archive.Writer
	switch j.Dest {
	case "folder":
		fs, err := folderstore.New(filepath.Join(j.Dir, "archive"))
		if err != nil {
			return outcome{}, err
		}
		store = fs
	case "s3":
		ss, err := s3store.New(ctx, s3store.Options{
			Bucket: j.S3.Bucket, Endpoint: j.S3.Endpoint, ForcePathStyle: true, Region: "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider(j.S3.Access, j.S3.Secret, ""),
			PartSize:    j.S3.PartSize, Concurrency: j.S3.Concurrency,
		})
		if err != nil {
			return outcome{}, err
		}
		defer ss.Close()
		store = ss
	case "discard":
	default:
		return outcome{}, fmt.Errorf("unknown dest %q", j.Dest)
	}
	n := max(j.Concurrent, 1)
	outs := make([]outcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("scale/%d.csv", i)
			if j.S3 != nil && j.S3.Key != "" {
				key = j.S3.Key + strconv.Itoa(i)
			}
			outs[i], errs[i] = exportOnce(ctx, src, store, key, j.query())
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if errs[i] == nil && outs[i] != outs[0] {
			errs[i] = fmt.Errorf("export %d differs from export 0: %+v vs %+v", i, outs[i], outs[0])
		}
	}
	return outs[0], errors.Join(errs...)
}

// exportOnce is export.Job's upload: the source's CSV through a render
// sink (sha256, byte count) into the store, straight into the file for a
// folder store and through a pipe for S3.
func exportOnce(ctx context.Context, src *duckdb.Source, store archive.Writer, key string, q source.Query) (outcome, error) {
	opts := archive.PutOptions{ContentType: "text/csv"}
	var sink *render.Sink
	var res source.Result
	switch st := store.(type) {
	case nil:
		sink = render.NewSink(io.Discard, render.Options{})
		r, err := src.ExportCSV(ctx, q, sink)
		if err != nil {
			return outcome{}, err
		}
		res = r
		if err := sink.Close(); err != nil {
			return outcome{}, err
		}
	case archive.StreamPutter:
		_, err := st.PutStream(ctx, key, opts, func(w io.Writer) error {
			sink = render.NewSink(w, render.Options{})
			r, err := src.ExportCSV(ctx, q, sink)
			if err != nil {
				return err
			}
			res = r
			return sink.Close()
		})
		if err != nil {
			return outcome{}, err
		}
	default:
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := store.Put(ctx, key, pr, opts)
			pr.CloseWithError(err)
			done <- err
		}()
		sink = render.NewSink(pw, render.Options{})
		r, err := src.ExportCSV(ctx, q, sink)
		if err == nil {
			err = sink.Close()
		}
		if err != nil {
			pw.CloseWithError(err)
			<-done
			return outcome{}, err
		}
		pw.Close()
		if err := <-done; err != nil {
			return outcome{}, err
		}
		res = r
	}
	st := sink.Stats()
	return outcome{Rows: res.Rows, Bytes: st.Bytes, SHA256: st.SHA256}, nil
}

// copyOptions are exportd's CSV rules in DuckDB's words (the source's).
const copyOptions = `(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"', NULLSTR '', ` +
	`DATEFORMAT '%Y-%m-%d', TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ', USE_TMP_FILE false)`

// childCopy is the baseline of a folder export: DuckDB's COPY of the same
// SELECT into a file, with DuckDB's defaults, then the file's sha256 read
// back (what exportd's manifest needs and COPY does not give).
func childCopy(ctx context.Context, j job) (outcome, error) {
	db, err := sql.Open("duckdb", j.DB)
	if err != nil {
		return outcome{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
		return outcome{}, err
	}
	var rows int64
	if err := db.QueryRowContext(ctx, "COPY ("+j.query().SQL+") TO '"+j.File+"' "+copyOptions).Scan(&rows); err != nil {
		return outcome{}, err
	}
	f, err := os.Open(j.File)
	if err != nil {
		return outcome{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return outcome{}, err
	}
	return outcome{Rows: rows, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// childPut is the baseline of an S3 export: one plain PutObject of the same
// bytes, read from a file (unsigned payload, no checksum: the fastest a
// single request goes).
func childPut(ctx context.Context, j job) (outcome, error) {
	f, err := os.Open(j.File)
	if err != nil {
		return outcome{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return outcome{}, err
	}
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(j.S3.Endpoint), UsePathStyle: true, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(j.S3.Access, j.S3.Secret, ""),
	})
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(j.S3.Bucket), Key: aws.String(j.S3.Key), Body: f, ContentLength: aws.Int64(fi.Size()),
	}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware), func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	if err != nil {
		return outcome{}, err
	}
	return outcome{Bytes: fi.Size()}, nil
}

// genSQL makes n wide audit rows (about 337 bytes each as CSV), every value
// a function of the row number, in a table of a database file: what a large
// table of a warehouse looks like to the export, which reads it from disk.
const genSQL = `CREATE TABLE rows AS
SELECT
  TIMESTAMP '2026-01-01 00:00:00' + to_microseconds(i * 1009) AS REQUEST_TIME,
  ['ACCESS_SIGMA','OBJECT_INTERACTION','QUERY_EXECUTIONS','EXPORTS','PUBLIC_API'][1 + i % 5] AS EVENT_CATEGORY,
  ['LOGIN','OPEN_WORKBOOK','RUN_QUERY','EXPORT','API_LIST_WORKBOOKS'][1 + (i // 5) % 5] AS EVENT_TYPE,
  CASE WHEN i % 37 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END AS EVENT_STATUS,
  CASE WHEN i % 37 = 0 THEN 'QUERY_TIMEOUT' END AS EVENT_STATUS_REASON_CODE,
  'u' || lpad(((i * 7919) % 120)::VARCHAR, 19, '0') AS USER_ID,
  'user' || ((i * 7919) % 120) || '@example.com' AS USER_EMAIL,
  ['Admin','Creator','Explorer','Viewer'][1 + ((i * 7919) % 120) % 4] AS USER_ROLE,
  printf('%08x-%04x-4%03x-a%03x-%012x', hash(i, 'o') % 4294967296, i % 65536, i % 4096, (i // 7) % 4096,
         hash(i, 'p') % 281474976710656) AS OBJECT_ID,
  ['Daily Login Activity','Revenue Overview','Sales Pipeline','Marketing Funnel'][1 + i % 4] AS OBJECT_NAME,
  '203.0.113.' || (i % 250) AS IP_ADDRESS,
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
   'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15'][1 + i % 2] AS USER_AGENT,
  printf('%016x%016x', hash(i, 'r'), hash(i, 's')) AS REQUEST_ID,
  printf('%016x', hash(i // 20, 'sess')) AS SESSION_ID
FROM range(%d) t(i)`

// makeTable writes a database file of n rows, in a child process: Linux
// starts a child's peak RSS at the peak of the process that started it
// (os/exec's vfork shares the parent's memory until exec), so the parent
// must never hold much.
func makeTable(t testing.TB, path string, n int64) {
	t.Helper()
	runChild(t, job{Mode: "gen", DB: path, Rows: n})
}

func childGen(ctx context.Context, j job) (outcome, error) {
	db, err := sql.Open("duckdb", j.DB)
	if err != nil {
		return outcome{}, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, strings.Replace(genSQL, "range(%d)", fmt.Sprintf("range(%d)", j.Rows), 1)); err != nil {
		return outcome{}, err
	}
	return outcome{Rows: j.Rows}, nil
}

// todaysSettings are the DuckDB settings exportd used before it set its own
// defaults: DuckDB's (every core, 80% of the machine's memory).
func todaysSettings() (threads int, memoryLimit string) {
	return runtime.NumCPU(), fmt.Sprintf("%dB", totalMemory()*8/10)
}

func totalMemory() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 4 << 30
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 4 << 30
}
