// Package archivesql answers an auditor's SQL over archived files: the
// newest revision of every unit of the schedules asked for is fetched (each
// object's size and sha256 checked against its manifest on the way), loaded
// into an embedded DuckDB database as one table per schedule, and the
// database is then reopened read only, with external access off and its
// configuration locked, before the query runs: the query can read those
// tables and nothing else, and change nothing.
package archivesql

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// Table is one schedule's archived units to load.
type Table struct {
	// Name is the table's name: the schedule's name (query it quoted,
	// "daily-logins", or with underscores, daily_logins).
	Name    string
	Entries []archive.ChainEntry
}

// Format of the result.
const (
	CSV         = "csv"
	JSON        = "json"
	FormatTable = "table"
)

// Result sums up a query.
type Result struct {
	Rows    int64
	Objects int
}

// Query loads tables from r and writes the result of query to w in format.
func Query(ctx context.Context, r archive.Reader, tables []Table, query, format string, w io.Writer) (Result, error) {
	var res Result
	dir, err := os.MkdirTemp("", "exportd-archivesql-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dbFile := filepath.Join(dir, "archive.duckdb")
	if err := load(ctx, r, tables, dir, dbFile, &res); err != nil {
		return res, err
	}
	db, err := sql.Open("duckdb", dbFile+"?access_mode=READ_ONLY")
	if err != nil {
		return res, fmt.Errorf("open the loaded archive: %w", err)
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return res, err
	}
	defer c.Close()
	for _, s := range []string{"SET enable_external_access = false", "SET lock_configuration = true"} {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return res, fmt.Errorf("lock the database down: %w", err)
		}
	}
	rows, err := c.QueryContext(ctx, query)
	if err != nil {
		return res, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	n, err := write(rows, format, w)
	res.Rows = n
	if err != nil {
		return res, err
	}
	return res, rows.Err()
}

func load(ctx context.Context, r archive.Reader, tables []Table, dir, dbFile string, res *Result) error {
	db, err := sql.Open("duckdb", dbFile)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	for ti, t := range tables {
		// Fetch in parallel, each object's size and sha256 checked on the
		// way, into files named in chain order.
		type job struct {
			o    archive.Object
			file string
		}
		var jobs []job
		var header string
		same := true
		for i, e := range t.Entries {
			var cols []string
			for _, c := range e.Manifest.Columns {
				cols = append(cols, c.Name)
			}
			h := strings.Join(cols, "\x00")
			if i == 0 {
				header = h
			}
			same = same && len(cols) > 0 && h == header
			for _, o := range e.Manifest.Objects {
				jobs = append(jobs, job{o, filepath.Join(dir, fmt.Sprintf("%03d-%06d-%s", ti, len(jobs), path.Base(o.Key)))})
			}
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for _, j := range jobs {
			g.Go(func() error { return archive.FetchFile(gctx, r, j.o, j.file) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		files := make([]string, len(jobs))
		for i, j := range jobs {
			files[i] = j.file
		}
		res.Objects += len(files)
		if len(files) == 0 {
			continue
		}
		var total int64
		for _, j := range jobs {
			total += j.o.Bytes
		}
		loaded := false
		if same && len(files) > 1 && total <= combineLimit {
			// Small files, one layout: one CSV of them all, which DuckDB
			// reads as one file instead of opening and detecting each.
			one := filepath.Join(dir, fmt.Sprintf("%03d-all.csv", ti))
			if ok, err := combine(files, one); err != nil {
				return err
			} else if ok {
				loaded = createTable(ctx, c, t.Name, []string{one}, true) == nil
				os.Remove(one)
			}
		}
		if !loaded {
			if err := createTable(ctx, c, t.Name, files, same); err != nil {
				return fmt.Errorf("load %s: %w", t.Name, err)
			}
		}
		// Its other name (with _ for -) is a view of it, not a second copy.
		for _, name := range names(t.Name)[1:] {
			if _, err := c.ExecContext(ctx, fmt.Sprintf(`CREATE VIEW %s AS SELECT * FROM %s`, ident(name), ident(t.Name))); err != nil {
				return fmt.Errorf("load %s: %w", t.Name, err)
			}
		}
		for _, f := range files {
			os.Remove(f)
		}
	}
	_, err = c.ExecContext(ctx, "CHECKPOINT")
	return err
}

// combineLimit bounds the archived bytes of a table that combine copies
// into one file: beyond it, the per-file cost is small next to the data.
const combineLimit = 256 << 20

// combine writes the CSV files (gzip ones decompressed) into one file: the
// header line once, then every file's rows. ok is false, and nothing is
// left, when the files' header lines differ or a header spans lines.
func combine(files []string, out string) (ok bool, err error) {
	f, err := os.Create(out)
	if err != nil {
		return false, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if !ok || err != nil {
			os.Remove(out)
		}
	}()
	var header []byte
	for i, file := range files {
		same, err := appendCSV(bw, file, &header, i == 0)
		if err != nil || !same {
			return false, err
		}
	}
	return true, bw.Flush()
}

// appendCSV copies one CSV file's rows to w, and its header line when
// first; same is false when its header line is not header.
func appendCSV(w *bufio.Writer, file string, header *[]byte, first bool) (same bool, err error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return false, fmt.Errorf("%s: %w", filepath.Base(file), err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := br.ReadBytes('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	if bytes.Count(line, []byte{'"'})%2 != 0 {
		return false, nil // a quoted newline in the header
	}
	line = bytes.TrimRight(line, "\r\n")
	if first {
		*header = bytes.Clone(line)
		if _, err := w.Write(append(line, '\n')); err != nil {
			return false, err
		}
	} else if !bytes.Equal(line, *header) {
		return false, nil
	}
	last := byte('\n')
	buf := make([]byte, 64<<10)
	for {
		n, rerr := br.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return false, err
			}
			last = buf[n-1]
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return false, rerr
		}
	}
	if last != '\n' {
		if err := w.WriteByte('\n'); err != nil {
			return false, err
		}
	}
	return true, nil
}

const tsFormat = `timestampformat = '%Y-%m-%dT%H:%M:%S%z'`

func ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// createTable loads files into the table name. When every unit has the
// same columns (their manifests say so), the first file's layout, as
// DuckDB detects it, is given for all of them: detecting each file's
// layout again costs about 15 ms a file, most of the load of years of
// daily files. If a later file does not fit that layout (a type detected
// too narrow from the first), or the columns changed on the way, each file
// is detected on its own and columns are matched by name.
func createTable(ctx context.Context, c *sql.Conn, name string, files []string, same bool) error {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = quote(f)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	if same {
		if cols, err := detect(ctx, c, quoted[0]); err == nil {
			q := fmt.Sprintf(`CREATE TABLE %s AS SELECT * FROM read_csv(%s, header = true, auto_detect = false, columns = %s, %s)`, ident(name), list, cols, tsFormat)
			if _, err := c.ExecContext(ctx, q); err == nil {
				return nil
			}
		}
	}
	union := ""
	if !same {
		union = "union_by_name = true, "
	}
	_, err := c.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s AS SELECT * FROM read_csv(%s, header = true, %s%s)`, ident(name), list, union, tsFormat))
	return err
}

// detect returns the columns DuckDB detects in one CSV file, as read_csv's
// columns argument: {'name': 'TYPE', ...}.
func detect(ctx context.Context, c *sql.Conn, quotedFile string) (string, error) {
	rows, err := c.QueryContext(ctx, fmt.Sprintf(`DESCRIBE SELECT * FROM read_csv(%s, header = true, %s)`, quotedFile, tsFormat))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var parts []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		parts = append(parts, quote(fmt.Sprint(vals[0]))+": "+quote(fmt.Sprint(vals[1])))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(parts) == 0 {
		return "", errors.New("no columns")
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}

// names are the table names of a schedule: its own, and with underscores
// for hyphens (a bare identifier) when that differs.
func names(schedule string) []string {
	u := strings.ReplaceAll(schedule, "-", "_")
	if u == schedule {
		return []string{schedule}
	}
	return []string{schedule, u}
}

func write(rows *sql.Rows, format string, w io.Writer) (int64, error) {
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	text := func(v any) string {
		switch x := v.(type) {
		case nil:
			return ""
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano)
		case []byte:
			return string(x)
		default:
			return fmt.Sprint(x)
		}
	}
	switch format {
	case CSV, "":
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return 0, err
		}
		rec := make([]string, len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			for i, v := range vals {
				rec[i] = text(v)
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
		cw.Flush()
		return n, cw.Error()
	case JSON:
		enc := json.NewEncoder(w)
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			obj := make(map[string]any, len(cols))
			for i, v := range vals {
				if t, ok := v.(time.Time); ok {
					v = t.UTC().Format(time.RFC3339Nano)
				}
				obj[cols[i]] = v
			}
			if err := enc.Encode(obj); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	case FormatTable:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		rec := make([]string, len(cols))
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return n, err
			}
			for i, v := range vals {
				rec[i] = text(v)
			}
			fmt.Fprintln(tw, strings.Join(rec, "\t"))
			n++
		}
		return n, tw.Flush()
	}
	return 0, errors.New("format: csv, json or table")
}

// Tables reads the chains of the schedules named (one table each) under
// prefix and picks the newest revision of every unit whose window overlaps
// [from, to). A broken chain is an error: run verify.
func Tables(ctx context.Context, r archive.Reader, prefix string, schedules []string, from, to time.Time) ([]Table, error) {
	var out []Table
	for _, name := range schedules {
		if !domain.NameRE.MatchString(name) {
			return nil, fmt.Errorf("%q is not a schedule name", name)
		}
		rep := &archive.Report{Schedule: name}
		chain, err := archive.Chain(ctx, r, domain.Layout{Prefix: prefix, Schedule: name}, rep)
		if err != nil {
			return nil, err
		}
		if len(rep.Problems) > 0 {
			return nil, fmt.Errorf("the chain of %s is broken (run exportd archive verify): %s", name, rep.Problems[0])
		}
		if len(chain) == 0 {
			return nil, fmt.Errorf("%s: nothing archived under %q", name, prefix)
		}
		t := Table{Name: name}
		for _, e := range archive.Latest(chain) {
			m := e.Manifest
			if m.Adhoc {
				continue
			}
			if w := m.Window; w != nil && (!from.IsZero() && !w.End.After(from) || !to.IsZero() && !w.Start.Before(to)) {
				continue
			}
			t.Entries = append(t.Entries, e)
		}
		out = append(out, t)
	}
	return out, nil
}
