package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/cli"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/source"
)

// demoEnd pins the demo data: it covers the 90 days before this instant.
const demoEnd = "2026-11-01T00:00:00Z"

// The test binary doubles as the exportd command (EXPORTD_TEST_MAIN=cli)
// and as a run that is killed after writing its object
// (EXPORTD_TEST_MAIN=kill-after-object), so process-level tests need no
// separate build.
func TestMain(m *testing.M) {
	switch os.Getenv("EXPORTD_TEST_MAIN") {
	case "cli":
		// As cmd/exportd's main does: SIGINT and SIGTERM end the command's
		// context (serve then shuts down in order).
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Main(ctx, "test", os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	case "kill-after-object":
		killAfterObject()
		os.Exit(3) // not reached: the process kills itself
	}
	code := m.Run()
	if code == 0 {
		// Every goroutine the daemon starts (scheduler, HTTP, reload,
		// pause sync, runs) has ended once its test returned.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// demoDir copies the shipped config and schedules into a fresh folder with
// the demo data pinned to demoEnd, and returns the config path.
func demoDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	root := repoRoot(t)
	for _, sub := range []string{"config", "schedules"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(root, sub))); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "config", "exportd.yaml")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pinned := bytes.Replace(data, []byte(`demo_seed: "42"`), []byte(`demo_seed: "42"`+"\n      demo_end: \""+demoEnd+"\""), 1)
	if bytes.Equal(pinned, data) {
		t.Fatal("config/exportd.yaml: could not pin demo_end (no demo_seed line)")
	}
	if err := os.WriteFile(cfgPath, pinned, 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

func repoRoot(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	t.Fatal("no go.mod above", wd)
	return ""
}

func load(t testing.TB, cfgPath string) *app.App {
	t.Helper()
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfgPath, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// files lists the archive's files under dir with the given suffix.
func files(t testing.TB, dir, suffix string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) && !strings.Contains(p, "/.tmp/") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func readCSV(t testing.TB, data []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

var at = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)

func TestDailyLoginActivityMatchesHandWrittenQuery(t *testing.T) {
	cfg := demoDir(t)
	a := load(t, cfg)
	ctx := context.Background()
	res, err := a.RunOnce(ctx, app.RunRequest{Schedule: "daily-login-activity", At: at})
	if err != nil {
		t.Fatal(err)
	}
	archiveDir := filepath.Join(filepath.Dir(cfg), "..", "archive")
	got, err := os.ReadFile(filepath.Join(archiveDir, res.Object.Key))
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, got)
	if want := []string{"Day of Request Time", "Success", "Failure"}; fmt.Sprint(recs[0]) != fmt.Sprint(want) {
		t.Fatalf("header = %q, want %q", recs[0], want)
	}

	// The same numbers from a differently written query: SUM over CASE
	// instead of the compiler's count(*) FILTER, each re-delivered event
	// counted once (the schedule's dedupe_by).
	src, err := a.Source(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	_, err = src.ExportCSV(ctx, source.Query{SQL: `
		SELECT strftime(REQUEST_TIME, '%Y-%m-%d') AS d,
		       SUM(CASE WHEN EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'SUCCESS' THEN 1 ELSE 0 END) AS s,
		       SUM(CASE WHEN EVENT_TYPE = 'LOGIN' AND EVENT_STATUS = 'FAILURE' THEN 1 ELSE 0 END) AS f
		FROM (SELECT * FROM AUDIT_LOGS QUALIFY row_number() OVER (PARTITION BY REQUEST_ID ORDER BY REQUEST_TIME) = 1)
		GROUP BY 1 ORDER BY 1`}, &want)
	if err != nil {
		t.Fatal(err)
	}
	wantRecs := readCSV(t, want.Bytes())
	if len(recs) != len(wantRecs) {
		t.Fatalf("%d rows, hand-written query has %d", len(recs)-1, len(wantRecs)-1)
	}
	// One row per day of the demo data: 90 days before demoEnd, the first
	// one partial, so 91 calendar days... unless demoEnd is midnight.
	end, _ := time.Parse(time.RFC3339, demoEnd)
	first := end.Add(-90 * 24 * time.Hour)
	if n := len(recs) - 1; n != 90 {
		t.Errorf("%d day rows, want 90 (demo data %s .. %s)", n, first.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	maxFail, maxDay := -1, ""
	for i := 1; i < len(recs); i++ {
		if fmt.Sprint(recs[i]) != fmt.Sprint(wantRecs[i]) {
			t.Errorf("row %d = %q, hand-written query says %q", i, recs[i], wantRecs[i])
		}
		var f int
		fmt.Sscan(recs[i][2], &f)
		if f > maxFail {
			maxFail, maxDay = f, recs[i][0]
		}
		var s int
		fmt.Sscan(recs[i][1], &s)
		if s == 0 || f == 0 {
			t.Errorf("day %s: %d successes, %d failures; the demo has both every day", recs[i][0], s, f)
		}
	}
	// The demo's credential-stuffing night is 68 days after its first day.
	if spike := first.AddDate(0, 0, 68).Format(time.DateOnly); maxDay != spike {
		t.Errorf("max Failure on %s (%d), want the spike day %s", maxDay, maxFail, spike)
	}

	// The manifest describes the object.
	m := readManifest(t, filepath.Join(archiveDir, res.ManifestKey))
	if m.Kind != domain.KindExported || len(m.Objects) != 1 || m.Objects[0].SHA256 != res.Object.SHA256 ||
		m.Objects[0].Rows != int64(len(recs)-1) || m.Objects[0].Bytes != int64(len(got)) {
		t.Errorf("manifest does not describe the object: %+v", m)
	}
	if m.Query == nil || !strings.Contains(m.Query.SQL, "FILTER") || m.Source.Dialect != "duckdb" {
		t.Errorf("manifest query/source: %+v %+v", m.Query, m.Source)
	}
}

func readManifest(t testing.TB, path string) *archive.Manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := archive.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSameLogicalTimeTwiceArchivesOnce(t *testing.T) {
	cfg := demoDir(t)
	a := load(t, cfg)
	ctx := context.Background()
	if _, err := a.RunOnce(ctx, app.RunRequest{Schedule: "daily-login-activity", At: at}); err != nil {
		t.Fatal(err)
	}
	res, err := a.RunOnce(ctx, app.RunRequest{Schedule: "daily-login-activity", At: at.Add(300 * time.Millisecond)})
	if !errors.Is(err, archive.ErrAlreadyArchived) || !res.AlreadyArchived {
		t.Fatalf("second run: %v, want already archived", err)
	}
	dir := filepath.Join(filepath.Dir(cfg), "..", "archive", "sigma", "audit", "daily-login-activity")
	if c, m := files(t, dir, ".csv"), files(t, dir, ".manifest.json"); len(c) != 1 || len(m) != 1 {
		t.Fatalf("objects %v, manifests %v: want exactly one of each", c, m)
	}
	// The CLI says so and exits 0.
	out, code := runCLI(t, cfg, "run", "daily-login-activity", "--at", at.Format(time.RFC3339))
	if code != 0 || !strings.Contains(out, "already archived") {
		t.Fatalf("cli: exit %d, output %q", code, out)
	}
}

func runCLI(t testing.TB, cfg string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--config", cfg, "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "EXPORTD_TEST_MAIN=cli")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

func TestTwoProcessesRacingForOneUnitWriteOneObject(t *testing.T) {
	cfg := demoDir(t)
	type result struct {
		out  string
		code int
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			out, code := runCLI(t, cfg, "run", "daily-login-activity", "--at", at.Format(time.RFC3339))
			results <- result{out, code}
		}()
	}
	exported := 0
	for range 2 {
		r := <-results
		switch {
		case r.code == 0 && strings.Contains(r.out, "exported"):
			exported++
		case r.code == 0 && strings.Contains(r.out, "already archived"):
		case r.code == cli.ExitTempFail && strings.Contains(r.out, "claimed by another run"):
		default:
			t.Errorf("exit %d: %s", r.code, r.out)
		}
	}
	dir := filepath.Join(filepath.Dir(cfg), "..", "archive", "sigma", "audit", "daily-login-activity")
	if c, m := files(t, dir, ".csv"), files(t, dir, ".manifest.json"); exported != 1 || len(c) != 1 || len(m) != 1 {
		t.Fatalf("%d processes exported; objects %v, manifests %v: want one of each", exported, c, m)
	}
}

// killAfterObject runs daily-login-activity with a store that kills the
// process (SIGKILL, like kill -9 or the OOM killer) right after the object
// is written, before the manifest.
func killAfterObject() {
	ctx := context.Background()
	a, err := app.Load(ctx, app.Options{ConfigPath: os.Getenv("EXPORTD_TEST_CONFIG"), Logger: zap.NewNop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	j, _, err := a.Job(ctx, "daily-login-activity")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	ar := *j.Archive
	ar.Store = killAfterPut{j.Archive.Store}
	j.Archive = &ar
	_, err = j.Run(ctx, domain.Unit{Schedule: "daily-login-activity", Logical: at}, 1)
	fmt.Fprintln(os.Stderr, "run returned without being killed:", err)
	os.Exit(5)
}

type killAfterPut struct{ archive.Store }

func (k killAfterPut) Put(ctx context.Context, key string, body io.Reader, o archive.PutOptions) (archive.ObjectInfo, error) {
	info, err := k.Store.Put(ctx, key, body, o)
	if err == nil && strings.HasSuffix(key, ".csv") {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return info, err
}

func TestRunKilledBeforeManifestIsRepairedByNextRun(t *testing.T) {
	cfg := demoDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "EXPORTD_TEST_MAIN=kill-after-object", "EXPORTD_TEST_CONFIG="+cfg)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	dir := filepath.Join(filepath.Dir(cfg), "..", "archive", "sigma", "audit", "daily-login-activity")
	objs := files(t, dir, ".csv")
	if len(objs) != 1 || len(files(t, dir, ".manifest.json")) != 0 {
		t.Fatalf("after the kill: objects %v, manifests %v; want one object and no manifest", objs, files(t, dir, ".manifest.json"))
	}
	orig, _ := os.ReadFile(objs[0])

	// The next run, once the dead run's lease has expired, completes it.
	a := load(t, cfg)
	ctx := context.Background()
	j, _, err := a.Job(ctx, "daily-login-activity")
	if err != nil {
		t.Fatal(err)
	}
	ar := *j.Archive
	ar.Now = func() time.Time { return time.Now().Add(time.Hour) } // past the 10m lease
	j.Archive = &ar
	res, err := j.Run(ctx, domain.Unit{Schedule: "daily-login-activity", Logical: at}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Repaired {
		t.Fatalf("run did not repair: %+v", res)
	}
	if objs2 := files(t, dir, ".csv"); len(objs2) != 1 || objs2[0] != objs[0] {
		t.Fatalf("objects after repair: %v", objs2)
	}
	now, _ := os.ReadFile(objs[0])
	if !bytes.Equal(orig, now) {
		t.Fatal("the repair rewrote the object")
	}
	mans := files(t, dir, ".manifest.json")
	if len(mans) != 1 {
		t.Fatalf("manifests after repair: %v", mans)
	}
	m := readManifest(t, mans[0])
	if !m.Run.Repaired || m.Objects[0].SHA256 != archive.SHA256Hex(orig) || m.Objects[0].Rows != int64(len(readCSV(t, orig))-1) {
		t.Fatalf("repaired manifest: %+v", m)
	}
	// And a third run finds it archived.
	if _, err := j.Run(ctx, domain.Unit{Schedule: "daily-login-activity", Logical: at}, 1); !errors.Is(err, archive.ErrAlreadyArchived) {
		t.Fatalf("third run: %v", err)
	}
}

func TestFailingQueryLeavesNothingAndSaysWhy(t *testing.T) {
	cfg := demoDir(t)
	bad := `name: broken-export
source: demo
cron: "0 * * * *"
element:
  from: {sql: "SELECT CASE WHEN REQUEST_TIME > TIMESTAMP '2000-01-01' THEN error('source exploded') END AS x FROM AUDIT_LOGS"}
destination: {integration: local, prefix: sigma/audit}
`
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "..", "schedules", "broken-export.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	a := load(t, cfg)
	_, err := a.RunOnce(context.Background(), app.RunRequest{Schedule: "broken-export", At: at})
	if err == nil || !strings.Contains(err.Error(), `"broken-export"`) || !strings.Contains(err.Error(), "source exploded") {
		t.Fatalf("error %v: want the export's name and the cause", err)
	}
	if !errors.Is(err, source.ErrQuery) {
		t.Errorf("error %v is not a query error (would be retried)", err)
	}
	root := filepath.Join(filepath.Dir(cfg), "..", "archive")
	var left []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("a failed run left files: %v", left)
	}
}
