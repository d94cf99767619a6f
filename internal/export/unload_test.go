package export_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	sf "github.com/snowflakedb/gosnowflake/v2"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
	"github.com/exportd/exportd/internal/source/snowflake"
	"github.com/exportd/exportd/internal/testenv"
	"github.com/exportd/exportd/internal/workbook"
)

var update = flag.Bool("update", false, "rewrite testdata/unload_copy.golden.sql")

// The events both warehouses hold: text that needs quoting (delimiter,
// quote, '#', line end), the empty string and NULL, whole numbers,
// logicals and timestamps with fractions, over two days.
var eventRows = []string{
	`(1, 'alice@acme.test', '2027-03-13 00:00:00', 'LOGIN', 120, TRUE)`,
	`(2, 'bob, the "builder"', '2027-03-13 08:30:15.75', 'LOGIN', NULL, FALSE)`,
	`(3, '', '2027-03-13 12:00:01', 'EXPORT', 0, NULL)`,
	`(4, NULL, '2027-03-13 23:59:59.999', 'LOGIN', 7, TRUE)`,
	`(5, 'tag #1', '2027-03-14 00:00:00', 'LOGIN', 9, TRUE)`,
	`(6, 'two' || CHR(10) || 'lines', '2027-03-13 17:45:00', 'QUERY', 33, FALSE)`,
	`(7, 'carol', '2027-03-13 09:00:00', 'LOGOUT', 1, TRUE)`,
}

var eventsSchema = workbook.Schema{Table: "EVENTS", Columns: []workbook.Column{
	{Name: "EVENT_ID", Type: workbook.Integer},
	{Name: "USER_NAME", Type: workbook.Text},
	{Name: "REQUEST_TIME", Type: workbook.Datetime},
	{Name: "EVENT_TYPE", Type: workbook.Text},
	{Name: "DURATION_MS", Type: workbook.Integer},
	{Name: "OK", Type: workbook.Logical},
}}

var eventsElement = workbook.Element{
	From: workbook.From{Table: "EVENTS"},
	Columns: []workbook.CalcColumn{
		{Name: "Event Id", Formula: "[Event Id]"},
		{Name: "User", Formula: "[User Name]"},
		{Name: "Request Time", Formula: "[Request Time]"},
		{Name: "Day", Formula: "Date([Request Time])"},
		{Name: "Event Type", Formula: "[Event Type]"},
		{Name: "Duration Ms", Formula: "[Duration Ms]"},
		{Name: "Ok", Formula: "[Ok]"},
	},
	OrderBy: []workbook.Order{{Column: "Event Id"}},
}

// unloadEnv is one emulator behind the unloading proxy, one S3 server, and
// the same events loaded into an embedded DuckDB.
type unloadEnv struct {
	gw     *testenv.Server
	proxy  *testenv.SnowProxy
	hook   *testenv.SnowUnload
	sfDB   *sql.DB // through the proxy: what exportd uses
	duck   *duckdb.Source
	sfComp *workbook.Compiled
	ddComp *workbook.Compiled
}

func newUnloadEnv(t *testing.T) *unloadEnv {
	t.Helper()
	ctx := t.Context()
	e := &unloadEnv{gw: testenv.VersityGW(t)}
	fs := testenv.StartFakesnow(t)
	e.proxy = testenv.StartSnowProxy(t, fs)
	open := func(host string, port int) *sql.DB {
		cfg := sf.Config{Account: "acct", User: "exportd", Password: "pw", Database: "AUDIT", Schema: "PUBLIC",
			Protocol: "http", Host: host, Port: port, Tracing: "off", DisableOCSPChecks: true}
		db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, cfg))
		t.Cleanup(func() { db.Close() })
		return db
	}
	direct := open(fs.Host, fs.Port)
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS AUDIT", "CREATE SCHEMA IF NOT EXISTS AUDIT.PUBLIC",
		`CREATE TABLE EVENTS (EVENT_ID INT, USER_NAME TEXT, REQUEST_TIME TIMESTAMP_NTZ, EVENT_TYPE TEXT, DURATION_MS INT, OK BOOLEAN)`,
		"INSERT INTO EVENTS VALUES " + strings.Join(eventRows, ", ")} {
		if _, err := direct.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v\n%s", q, err, fs.LogTail())
		}
	}
	e.hook = &testenv.SnowUnload{DB: direct, S3: e.gw.Client(), Check: checkGolden(t),
		Integrations: map[string][]string{"AUDIT_S3": {"s3://*/exportd/"}}}
	e.proxy.SetHook(e.hook.Hook)
	e.sfDB = open(e.proxy.Host, e.proxy.Port)

	dir := t.TempDir()
	initSQL := filepath.Join(dir, "init.sql")
	ddl := "CREATE TABLE EVENTS (EVENT_ID BIGINT, USER_NAME VARCHAR, REQUEST_TIME TIMESTAMP, EVENT_TYPE VARCHAR, DURATION_MS BIGINT, OK BOOLEAN);\n" +
		"INSERT INTO EVENTS VALUES " + strings.ReplaceAll(strings.Join(eventRows, ", "), "CHR(10)", "chr(10)") + ";\n"
	if err := os.WriteFile(initSQL, []byte(ddl), 0o644); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "spool")
	duck, err := duckdb.Open(ctx, duckdb.Options{Name: "demo", Path: ":memory:", Init: []string{initSQL}, SpoolDir: spool, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { duck.Close() })
	e.duck = duck

	for _, d := range []workbook.Dialect{workbook.Snowflake, workbook.DuckDB} {
		c, err := workbook.Compile(&eventsElement, eventsSchema, workbook.Options{Dialect: d, Timezone: time.UTC,
			Window: &workbook.WindowHook{Column: "Request Time"}})
		if err != nil {
			t.Fatal(err)
		}
		if d == workbook.Snowflake {
			e.sfComp = c
		} else {
			e.ddComp = c
		}
	}
	return e
}

// checkGolden compares each COPY INTO with testdata/unload_copy.golden.sql,
// the staging location and the window bounds masked.
func checkGolden(t *testing.T) func(string) error {
	locRE := regexp.MustCompile(`'s3://[^']+'`)
	boundRE := regexp.MustCompile(`'20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:.]+'`)
	sizeRE := regexp.MustCompile(`SINGLE = (TRUE|FALSE) MAX_FILE_SIZE = [0-9]+`)
	var once sync.Once
	return func(stmt string) error {
		got := locRE.ReplaceAllString(stmt, "'<location>'")
		got = boundRE.ReplaceAllString(got, "'<bound>'")
		got = sizeRE.ReplaceAllString(got, "SINGLE = <single> MAX_FILE_SIZE = <size>")
		got = strings.Replace(got, "COMPRESSION = GZIP", "COMPRESSION = NONE", 1)
		path := filepath.Join("testdata", "unload_copy.golden.sql")
		if *update {
			once.Do(func() {
				_ = os.MkdirAll("testdata", 0o755)
				_ = os.WriteFile(path, []byte(got+"\n"), 0o644)
			})
		}
		want, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("golden statement: %v (run with -update)", err)
		}
		if got+"\n" != string(want) {
			return fmt.Errorf("statement differs from %s (run with -update to accept):\n%s", path, got)
		}
		return nil
	}
}

// rowsThroughExportd is the window's CSV as exportd writes it when rows
// stream through it (DuckDB's path, the README's rules).
func (e *unloadEnv) rowsThroughExportd(t *testing.T, u domain.Unit, gz bool) []byte {
	t.Helper()
	args, err := e.ddComp.Bind(workbook.Values{Now: u.Logical, WindowStart: u.Window.Start, WindowEnd: u.Window.End})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := e.duck.ExportCSV(t.Context(), source.Query{SQL: e.ddComp.SQL, Args: args}, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sfDescribe is the part of a Snowflake source a warehouse-unload run uses:
// the output columns for the manifest and the schema check.
type sfDescribe struct{ db *sql.DB }

func (s sfDescribe) Name() string    { return "warehouse" }
func (s sfDescribe) Dialect() string { return source.DialectSnowflake }
func (s sfDescribe) Describe(ctx context.Context, q source.Query) ([]source.Column, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT * FROM ("+q.SQL+") LIMIT 0", q.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	var cols []source.Column
	for _, c := range cts {
		cols = append(cols, source.Column{Name: c.Name(), Type: c.DatabaseTypeName()})
	}
	return cols, nil
}
func (s sfDescribe) ExportCSV(context.Context, source.Query, io.Writer) (source.Result, error) {
	return source.Result{}, errors.New("an unload job must not stream rows")
}
func (s sfDescribe) Count(context.Context, source.Query) (int64, error) {
	return 0, errors.New("not used")
}

// crashStore is the S3 store of a process that dies when die says so: from
// then on nothing it does reaches the archive (a claim stays held, staging
// objects stay behind), as after a kill.
type crashStore struct {
	*s3store.Store
	mu   sync.Mutex
	die  func(op, key string) bool
	dead bool
}

var errCrashed = errors.New("process killed")

func (c *crashStore) check(op, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dead && c.die != nil && c.die(op, key) {
		c.dead = true
	}
	if c.dead {
		return errCrashed
	}
	return nil
}

func (c *crashStore) Put(ctx context.Context, key string, body io.Reader, o archive.PutOptions) (archive.ObjectInfo, error) {
	if err := c.check("put", key); err != nil {
		return archive.ObjectInfo{}, err
	}
	info, err := c.Store.Put(ctx, key, body, o)
	if err == nil {
		if err := c.check("put done", key); err != nil {
			return info, err
		}
	}
	return info, err
}
func (c *crashStore) Create(ctx context.Context, key string, data []byte) (string, error) {
	if err := c.check("create", key); err != nil {
		return "", err
	}
	return c.Store.Create(ctx, key, data)
}
func (c *crashStore) Replace(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	if err := c.check("replace", key); err != nil {
		return "", err
	}
	return c.Store.Replace(ctx, key, data, ifMatch)
}
func (c *crashStore) Delete(ctx context.Context, key string, ifMatch string) error {
	if err := c.check("delete", key); err != nil {
		return err
	}
	return c.Store.Delete(ctx, key, ifMatch)
}
func (c *crashStore) SetRetention(ctx context.Context, key string, until time.Time) error {
	if err := c.check("retain", key); err != nil {
		return err
	}
	return c.Store.SetRetention(ctx, key, until)
}
func (c *crashStore) DeleteVersions(ctx context.Context, prefix string, exact bool) (int, error) {
	if err := c.check("delete versions", prefix); err != nil {
		return 0, err
	}
	return c.Store.DeleteVersions(ctx, prefix, exact)
}

// unloadJob builds a job like the daemon's for a snowflake schedule with
// unload: warehouse into store.
func (e *unloadEnv) unloadJob(t *testing.T, store archive.Store, instance string, gz bool, maxFile int64) *export.Job {
	t.Helper()
	ul := snowflake.NewUnloader("warehouse", e.sfDB)
	ext := ".csv"
	if gz {
		ext = ".csv.gz"
	}
	tpl, err := domain.ParseFilename("", true)
	if err != nil {
		t.Fatal(err)
	}
	c := e.sfComp
	return &export.Job{
		Name: "events", Timezone: "UTC", Source: sfDescribe{e.sfDB}, Gzip: gz, Retain: 48 * time.Hour,
		Condition: export.ConditionAlways, OnSchemaChange: "fail", Version: "test", Logger: zap.NewNop(),
		Layout: domain.Layout{Prefix: "exportd", Schedule: "events", Location: time.UTC, Filename: tpl, Ext: ext},
		Archive: &archive.Archive{Store: store, Instance: instance, Lease: time.Minute,
			OwnerDead: func(owner string) bool { return strings.HasPrefix(owner, "killed") }},
		Query: func(u domain.Unit) (export.Query, error) {
			args, err := c.Bind(workbook.Values{Now: u.Logical, WindowStart: u.Window.Start, WindowEnd: u.Window.End})
			if err != nil {
				return export.Query{}, err
			}
			q := export.Query{SQL: c.SQL, Args: args}
			for i, p := range c.Params {
				q.Params = append(q.Params, archive.Param{Name: p.Name, Type: p.Type, Value: fmt.Sprint(args[i])})
			}
			return q, nil
		},
		Unload: &export.Unload{
			Integration: "AUDIT_S3",
			Warehouse: export.UnloaderFunc(func(ctx context.Context, stmt, tag string) (string, []archive.UnloadedFile, error) {
				r, err := ul.Unload(ctx, stmt, tag)
				var files []archive.UnloadedFile
				for _, f := range r.Files {
					files = append(files, archive.UnloadedFile{Name: f.Name, Bytes: f.Size, Rows: f.Rows})
				}
				return r.QueryID, files, err
			}),
			Statement: func(u domain.Unit, location string, parts bool) (string, error) {
				args, err := c.Bind(workbook.Values{Now: u.Logical, WindowStart: u.Window.Start, WindowEnd: u.Window.End})
				if err != nil {
					return "", err
				}
				return c.UnloadStatement(workbook.Unload{Location: location, Integration: "AUDIT_S3", Gzip: gz,
					MaxFileSize: maxFile, Parts: parts}, args)
			},
			TooLarge: snowflake.IsFileTooLarge,
		},
	}
}

var day13 = domain.Unit{Schedule: "events", Logical: time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC),
	Window: domain.Window{Start: time.Date(2027, 3, 13, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC)}}

func newS3Store(t *testing.T, gw *testenv.Server) *s3store.Store {
	t.Helper()
	s, err := s3store.New(t.Context(), s3store.Options{Bucket: gw.Bucket(t, true), Prefix: "exportd", Endpoint: gw.Endpoint,
		ForcePathStyle: true, Region: testenv.Region, Credentials: gw.Credentials(),
		ObjectLock: &s3store.ObjectLock{Mode: s3store.LockCompliance, Retain: 48 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readManifest reads the committed manifest of u, or fails.
func readManifest(t *testing.T, j *export.Job, u domain.Unit) *archive.Manifest {
	t.Helper()
	key, err := j.Layout.ManifestKey(u, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := j.Archive.Store.Read(t.Context(), key)
	if err != nil {
		t.Fatalf("manifest %s: %v", key, err)
	}
	m, err := archive.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// versionsUnder counts every version and delete marker under prefix.
func versionsUnder(t *testing.T, gw *testenv.Server, bucket, prefix string) int {
	t.Helper()
	out, err := gw.Client().ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Versions) + len(out.DeleteMarkers)
}

// checkArchived checks that u is archived with the rows-through-exportd
// bytes (parts joined, their repeated headers dropped), each object locked
// and matching its manifest entry, and that no staging object is left.
func (e *unloadEnv) checkArchived(t *testing.T, j *export.Job, store *s3store.Store, u domain.Unit, wantParts bool) *archive.Manifest {
	t.Helper()
	ctx := t.Context()
	m := readManifest(t, j, u)
	if m.Unload == nil || m.Unload.Method != "warehouse" || m.Unload.QueryID == "" || len(m.Unload.Files) != len(m.Objects) {
		t.Fatalf("manifest unload record: %+v (objects %d)", m.Unload, len(m.Objects))
	}
	if m.Unload.Parts != wantParts || (len(m.Objects) > 1) != wantParts {
		t.Fatalf("parts %v with %d objects, want parts %v", m.Unload.Parts, len(m.Objects), wantParts)
	}
	var joined []byte
	for i, o := range m.Objects {
		rc, _, err := store.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		info, err := store.Stat(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != o.Bytes || o.Rows != m.Unload.Files[i].Rows {
			t.Errorf("%s: %d bytes (manifest %d), %d rows (DETAILED_OUTPUT %d)", o.Key, len(data), o.Bytes, o.Rows, m.Unload.Files[i].Rows)
		}
		if want := u.Window.End.Add(48 * time.Hour); !info.RetainUntil.Equal(want) {
			t.Errorf("%s retained until %v, want %v", o.Key, info.RetainUntil, want)
		}
		if i > 0 {
			_, data, _ = bytes.Cut(data, []byte("\n"))
		}
		joined = append(joined, data...)
	}
	if want := e.rowsThroughExportd(t, u, false); !bytes.Equal(joined, want) {
		t.Errorf("unloaded bytes differ from the rows-through-exportd path:\n--- unloaded\n%s--- rows\n%s", joined, want)
	}
	if n := versionsUnder(t, e.gw, store.Bucket(), "exportd/_claims/events/"+u.ID()+".unload/"); n != 0 {
		t.Errorf("%d staging versions left behind", n)
	}
	return m
}

func TestUnloadWarehouse(t *testing.T) {
	e := newUnloadEnv(t)
	ctx := t.Context()

	t.Run("window", func(t *testing.T) {
		store := newS3Store(t, e.gw)
		j := e.unloadJob(t, store, "a", false, workbook.MaxSingleFileSize)
		res, err := j.Run(ctx, day13, 1)
		if err != nil {
			t.Fatal(err)
		}
		m := e.checkArchived(t, j, store, day13, false)
		if res.ManifestKey == "" || m.Objects[0].Rows != 6 || !strings.HasPrefix(m.Unload.Statement, "COPY INTO 's3://"+store.Bucket()+"/exportd/_claims/events/") {
			t.Errorf("result %+v, manifest objects %+v, statement %.80s", res, m.Objects, m.Unload.Statement)
		}
		// A second run finds it archived and unloads nothing.
		before := len(e.hook.Statements())
		if _, err := j.Run(ctx, day13, 1); !errors.Is(err, archive.ErrAlreadyArchived) {
			t.Fatalf("second run: %v", err)
		}
		if len(e.hook.Statements()) != before {
			t.Error("an archived window was unloaded again")
		}
	})

	t.Run("parts above the single-file limit", func(t *testing.T) {
		store := newS3Store(t, e.gw)
		j := e.unloadJob(t, store, "a", false, 300)
		if _, err := j.Run(ctx, day13, 1); err != nil {
			t.Fatal(err)
		}
		m := e.checkArchived(t, j, store, day13, true)
		if !strings.HasSuffix(m.Objects[1].Key, ".part0002.csv") {
			t.Errorf("part keys: %v", m.Objects)
		}
	})

	t.Run("gzip", func(t *testing.T) {
		store := newS3Store(t, e.gw)
		j := e.unloadJob(t, store, "a", true, workbook.MaxSingleFileSize)
		if _, err := j.Run(ctx, day13, 1); err != nil {
			t.Fatal(err)
		}
		m := readManifest(t, j, day13)
		if o := m.Objects[0]; o.ContentEncoding != "gzip" || o.Rows != 6 || !strings.HasSuffix(o.Key, ".csv.gz") {
			t.Errorf("gzip object: %+v", o)
		}
	})

	// The faults: nothing partial is archived, the error is clear, and the
	// next run of the unit completes it.
	t.Run("count mismatch", func(t *testing.T) {
		store := newS3Store(t, e.gw)
		j := e.unloadJob(t, store, "a", false, workbook.MaxSingleFileSize)
		e.hook.SetFault(nil, 1)
		_, err := j.Run(ctx, day13, 1)
		e.hook.SetFault(nil, 0)
		if !errors.Is(err, export.ErrUnloadCount) || !strings.Contains(err.Error(), "DETAILED_OUTPUT says 7") || !strings.Contains(err.Error(), "nothing was archived") {
			t.Fatalf("run with a wrong DETAILED_OUTPUT: %v", err)
		}
		e.checkNothingArchived(t, j, store)
		if _, err := j.Run(ctx, day13, 2); err != nil {
			t.Fatal(err)
		}
		e.checkArchived(t, j, store, day13, false)
	})

	t.Run("failing COPY", func(t *testing.T) {
		store := newS3Store(t, e.gw)
		j := e.unloadJob(t, store, "a", false, workbook.MaxSingleFileSize)
		e.hook.SetFault(func(string) string { return "Access Denied (Status Code: 403) while writing to the location" }, 0)
		_, err := j.Run(ctx, day13, 1)
		e.hook.SetFault(nil, 0)
		if err == nil || !strings.Contains(err.Error(), "Access Denied") || !strings.Contains(err.Error(), "query ID 01-unload-") {
			t.Fatalf("run with a failing COPY: %v", err)
		}
		e.checkNothingArchived(t, j, store)
		if _, err := j.Run(ctx, day13, 2); err != nil {
			t.Fatal(err)
		}
		e.checkArchived(t, j, store, day13, false)
	})

	for _, tc := range []struct {
		name     string
		die      func(op, key string) bool
		repaired bool
	}{
		// Killed once Snowflake wrote the staging file, before the promote.
		{"crash after unload before promote", func(op, key string) bool { return op == "put" }, false},
		// Killed once the final object exists, before its lock and manifest.
		{"crash after promote before manifest", func(op, key string) bool { return op == "put done" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newS3Store(t, e.gw)
			cs := &crashStore{Store: store, die: tc.die}
			dying := e.unloadJob(t, cs, "killed-1", false, workbook.MaxSingleFileSize)
			if _, err := dying.Run(ctx, day13, 1); !errors.Is(err, errCrashed) {
				t.Fatalf("the dying run: %v", err)
			}
			if n := versionsUnder(t, e.gw, store.Bucket(), "exportd/_claims/events/"+day13.ID()+".unload/"); n == 0 {
				t.Fatal("the dying run left no staging object: the case tests nothing")
			}
			next := e.unloadJob(t, store, "b", false, workbook.MaxSingleFileSize)
			res, err := next.Run(ctx, day13, 1)
			if err != nil {
				t.Fatal(err)
			}
			m := e.checkArchived(t, next, store, day13, false)
			if res.Repaired != tc.repaired || m.Run.Repaired != tc.repaired {
				t.Errorf("repaired %v (manifest %v), want %v", res.Repaired, m.Run.Repaired, tc.repaired)
			}
		})
	}
}

// checkNothingArchived: no manifest and no object under the schedule's
// folder, and the failed attempt's staging objects removed.
func (e *unloadEnv) checkNothingArchived(t *testing.T, j *export.Job, store *s3store.Store) {
	t.Helper()
	if n := versionsUnder(t, e.gw, store.Bucket(), "exportd/events/"); n != 0 {
		t.Errorf("%d versions under the schedule's folder after a failed run", n)
	}
	if n := versionsUnder(t, e.gw, store.Bucket(), "exportd/_claims/events/"+day13.ID()+".unload/"); n != 0 {
		t.Errorf("%d staging versions left after a failed run", n)
	}
}
