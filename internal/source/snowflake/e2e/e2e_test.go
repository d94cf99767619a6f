// Package e2e runs exportd's command line (validate --online, run, serve)
// on the Snowflake schedules of config/emulator against the fakesnow
// emulator, the schedules the README's "A Snowflake schedule on your
// machine" runs, and the faults a production run meets.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/exportd/exportd/internal/cli"
	"github.com/exportd/exportd/internal/testenv"
)

var emu *testenv.Fakesnow

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exportd-e2e-fakesnow-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	emu, err = testenv.NewFakesnow(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "the Snowflake tests need the fakesnow emulator:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = emu.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

const password = "e2e-sf-pw-Hq4z7Rb1"

var loadOnce sync.Once

// setup loads the README's audit log into the emulator (once; its load
// replaces the table) and copies config/emulator pointing at port.
func setup(t *testing.T, port int) (cfg, archive, stateDir string) {
	t.Helper()
	root := repoRoot(t)
	loadOnce.Do(func() {
		cmd := exec.Command(emu.Python(), filepath.Join(root, "config", "emulator", "load_audit_logs.py"),
			"--port", strconv.Itoa(emu.Port), "--end", "2026-11-25")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "loaded 280 rows") {
			t.Fatalf("load_audit_logs.py: %v\n%s", err, out)
		}
	})
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "config", "emulator"), os.DirFS(filepath.Join(root, "config", "emulator"))); err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "config", "emulator", "exportd.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	patched := bytes.Replace(data, []byte("port: 8765"), []byte("port: "+strconv.Itoa(port)), 1)
	if bytes.Equal(patched, data) {
		t.Fatal("config/emulator/exportd.yaml has no 'port: 8765'")
	}
	if err := os.WriteFile(cfg, patched, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SNOWFLAKE_PASSWORD", password)
	return cfg, filepath.Join(dir, "archive-emulator"), filepath.Join(dir, "state-emulator")
}

func repoRoot(t *testing.T) string {
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	t.Fatal("no go.mod above", wd)
	return ""
}

// exportd runs the command line in-process and returns its exit code and
// outputs: stdout, and stderr followed by the log lines (JSON), which the
// logger writes to the process's stderr: it is a file of the test's while
// the command runs.
func exportd(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	f, err := os.CreateTemp("", "exportd-e2e-log-")
	if err != nil {
		return -1, "", err.Error()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	stderr := os.Stderr
	os.Stderr = f
	code := cli.Main(ctx, "test", append([]string{"--log-format", "json"}, args...), &out, &errb)
	os.Stderr = stderr
	logs, err := os.ReadFile(f.Name())
	if err != nil {
		return -1, out.String(), err.Error()
	}
	return code, out.String(), errb.String() + string(logs)
}

// archived lists the archive's files with their contents.
func archived(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				got[p] = string(b)
			}
			return nil
		})
	}
	return got
}

func noSecret(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, password) {
		t.Errorf("%s shows the Snowflake password", what)
	}
}

func suffixed(m map[string]string, suffix string) []string {
	var out []string
	for k := range m {
		if strings.HasSuffix(k, suffix) {
			out = append(out, k)
		}
	}
	return out
}

// TestSnowflakeSchedule: validate --online reads the columns from
// INFORMATION_SCHEMA; run exports a day of rows and the QuickStart
// snapshot; the manifest and the run's output name the Snowflake query ID;
// nothing shows the password.
func TestSnowflakeSchedule(t *testing.T) {
	cfg, arch, state := setup(t, emu.Port)
	ctx := t.Context()
	code, out, errs := exportd(ctx, "-c", cfg, "validate", "--online")
	if code != 0 || !strings.Contains(out, "ok (2 schedules, 1 sources, 1 integrations)") {
		t.Fatalf("validate --online: exit %d\n%s\n%s", code, out, errs)
	}
	noSecret(t, "validate output", out+errs)

	code, out, errs = exportd(ctx, "-c", cfg, "--now", "2026-11-25T06:00:00Z", "run", "audit-log-rows")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	m := regexp.MustCompile(`(?m)^query id\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "rows      40") {
		t.Fatalf("run output lacks the query ID or the 40 rows of 2026-11-24:\n%s", out)
	}
	files := archived(t, arch)
	csvs, manifests := suffixed(files, ".csv"), suffixed(files, ".manifest.json")
	if len(csvs) != 1 || len(manifests) != 1 {
		t.Fatalf("archive: %v", keys(files))
	}
	csv := files[csvs[0]]
	lines := strings.Split(strings.TrimSuffix(csv, "\n"), "\n")
	if len(lines) != 41 || lines[0] != "Request Time,Event Category,Event Type,Event Status,Event Status Reason Code,User Id,User Email,User Role,Object Id,Object Name,Ip Address,User Agent,Request Id,Session Id" {
		t.Fatalf("csv: %d lines, header %q", len(lines), lines[0])
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "2026-11-24T") {
			t.Errorf("row outside the window: %s", l)
		}
	}
	if !strings.Contains(csv, `"Sales, ""Q4"""`) {
		t.Errorf("quoted text not rendered by the CSV rules:\n%s", lines[1])
	}
	var man struct {
		Source struct{ Dialect string } `json:"source"`
		Query  struct {
			QueryID string `json:"query_id"`
		} `json:"query"`
	}
	if err := json.Unmarshal([]byte(files[manifests[0]]), &man); err != nil {
		t.Fatal(err)
	}
	if man.Source.Dialect != "snowflake" || man.Query.QueryID != m[1] {
		t.Errorf("manifest: dialect %q, query_id %q; run printed %q", man.Source.Dialect, man.Query.QueryID, m[1])
	}
	noSecret(t, "run output", out+errs)

	code, out, errs = exportd(ctx, "-c", cfg, "--now", "2026-11-25T07:00:00Z", "run", "daily-login-activity")
	if code != 0 || !strings.Contains(out, "rows      7") {
		t.Fatalf("QuickStart run: exit %d\n%s\n%s", code, out, errs)
	}
	noSecret(t, "run output", out+errs)
	for p, c := range archived(t, arch, state) {
		noSecret(t, p, c)
	}
}

// TestSnowflakeFaults: a refused login, a query failing while it streams,
// a cancelled run: each exits non-zero with a clear error and archives no
// object and no manifest; an expired session mid-run is replaced and the
// run archives the whole day.
func TestSnowflakeFaults(t *testing.T) {
	p := testenv.StartSnowProxy(t, emu)
	var mu sync.Mutex
	var fault string
	cancelled := make(chan struct{}, 1)
	p.SetHook(func(w http.ResponseWriter, r *testenv.SnowRequest) bool {
		mu.Lock()
		f := fault
		mu.Unlock()
		export := r.Path == "/queries/v1/query-request" && strings.Contains(r.SQL, "QUALIFY") && !strings.Contains(string(r.Body), `"describeOnly":true`)
		switch {
		case f == "auth" && r.Path == "/session/v1/login-request":
			testenv.WriteSnowError(w, "390100", "Incorrect username or password was specified.", "08004", "")
			return true
		case f == "midstream" && export:
			testenv.WriteSnowError(w, "100038", "Numeric value 'x' is not recognized", "22018", "01b0-fault-query")
			return true
		case f == "expiry" && export:
			mu.Lock()
			fault = "expired"
			mu.Unlock()
			testenv.WriteSnowError(w, "390112", "Your session has expired. Please login again.", "", "")
			return true
		case (f == "expiry" || f == "expired") && r.Path == "/session/token-request":
			testenv.WriteSnowError(w, "390114", "Authentication token has expired.  The user must authenticate again.", "", "")
			return true
		case f == "cancel" && export:
			cancelled <- struct{}{}
			<-r.Context().Done() // a long query: the run is cancelled first
			return true
		}
		return false
	})
	cfg, arch, state := setup(t, p.Port)
	set := func(f string) {
		mu.Lock()
		fault = f
		mu.Unlock()
	}
	check := func(name string, code int, out, errs string, want ...string) {
		t.Helper()
		if code == 0 {
			t.Errorf("%s: exit 0\n%s", name, out)
		}
		for _, w := range want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: error lacks %q:\n%s", name, w, errs)
			}
		}
		files := archived(t, arch)
		if c := suffixed(files, ".csv"); len(c) > 0 {
			t.Errorf("%s archived an object: %v", name, c)
		}
		if m := suffixed(files, ".manifest.json"); len(m) > 0 {
			t.Errorf("%s archived a manifest: %v", name, m)
		}
		noSecret(t, name+" output", out+errs)
	}
	ctx := t.Context()
	run := []string{"-c", cfg, "--now", "2026-11-25T06:00:00Z", "run", "audit-log-rows"}

	// As the README says: validate --online first, which caches the
	// tables' columns for the runs.
	if code, out, errs := exportd(ctx, "-c", cfg, "validate", "--online"); code != 0 {
		t.Fatalf("validate --online: exit %d\n%s\n%s", code, out, errs)
	}
	set("auth")
	code, out, errs := exportd(ctx, "-c", cfg, "validate", "--online")
	check("validate with a refused login", code, out, errs, "Incorrect username or password")
	code, out, errs = exportd(ctx, run...)
	check("refused login", code, out, errs, "390100", "Incorrect username or password", "authentication")

	set("midstream")
	code, out, errs = exportd(ctx, run...)
	check("query failing mid-stream", code, out, errs, "100038", "Numeric value 'x' is not recognized", "01b0-fault-query")

	set("cancel")
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		<-cancelled
		cancel()
	}()
	code, out, errs = exportd(cctx, run...)
	check("cancelled run", code, out, errs, "context canceled")

	set("expiry")
	code, out, errs = exportd(ctx, run...)
	if code != 0 || !strings.Contains(out, "rows      40") {
		t.Fatalf("run with an expired session: exit %d\n%s\n%s", code, out, errs)
	}
	noSecret(t, "expiry run", out+errs)
	for p, c := range archived(t, arch, state) {
		noSecret(t, p, c)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// withRetries copies the emulator config for port and gives audit-log-rows
// a quick retry policy (the default waits 30 s before the second attempt).
func withRetries(t *testing.T, port int, attempts int) (cfg, arch string) {
	t.Helper()
	cfg, arch, _ = setup(t, port)
	p := filepath.Join(filepath.Dir(cfg), "schedules", "audit-log-rows.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte(fmt.Sprintf("retries: {attempts: %d, initial: 50ms, max: 100ms}\n", attempts))...)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// As the README says: validate --online first (it caches the columns).
	if code, out, errs := exportd(t.Context(), "-c", cfg, "validate", "--online"); code != 0 {
		t.Fatalf("validate --online: exit %d\n%s\n%s", code, out, errs)
	}
	return cfg, arch
}

// TestSnowflakeNetworkFaults: the connection to Snowflake breaks before the
// result's first byte. Once: the driver sends the request again and the run
// archives the whole day. For a whole attempt (the driver's and the
// source's own resends included): the daemon's retry policy runs the unit
// again and it archives the whole day. For every attempt: a clear error,
// nothing archived.
func TestSnowflakeNetworkFaults(t *testing.T) {
	p := testenv.StartSnowProxy(t, emu)
	var mu sync.Mutex
	var mode string
	var left, seen int // export requests still to break (-1: all); export requests seen
	p.SetHook(func(w http.ResponseWriter, r *testenv.SnowRequest) bool {
		export := r.Path == "/queries/v1/query-request" && strings.Contains(r.SQL, "QUALIFY") && !strings.Contains(string(r.Body), `"describeOnly":true`)
		if !export {
			return false
		}
		mu.Lock()
		seen++
		m, breakIt := mode, left != 0
		if left > 0 {
			left--
		}
		mu.Unlock()
		if !breakIt {
			return false
		}
		switch m {
		case "dropped": // the connection closes before any answer
			panic(http.ErrAbortHandler)
		case "503":
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		case "cut": // the answer starts, then the connection breaks
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"data":{"parameters":[`))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		return true
	})
	set := func(m string, n int) {
		mu.Lock()
		mode, left, seen = m, n, 0
		mu.Unlock()
	}
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return left, seen
	}
	ctx := t.Context()
	// The unit's own objects (serve --once also exports the QuickStart
	// schedule, which is not broken).
	unitFiles := func(t *testing.T, arch string) map[string]string {
		files := map[string]string{}
		for k, v := range archived(t, arch) {
			if strings.Contains(k, "/sigma/audit/audit-log-rows/") {
				files[k] = v
			}
		}
		return files
	}
	complete := func(t *testing.T, arch string) {
		t.Helper()
		files := unitFiles(t, arch)
		csvs, mans := suffixed(files, ".csv"), suffixed(files, ".manifest.json")
		if len(csvs) != 1 || len(mans) != 1 {
			t.Fatalf("archive: %v", keys(files))
		}
		if n := strings.Count(files[csvs[0]], "\n"); n != 41 {
			t.Errorf("archived csv has %d lines, want the header and 40 rows", n)
		}
	}
	nothing := func(t *testing.T, arch string) {
		t.Helper()
		for k := range unitFiles(t, arch) {
			t.Errorf("a failed run left %s", k)
		}
	}

	for _, m := range []string{"dropped", "503"} {
		t.Run(m+" once", func(t *testing.T) {
			cfg, arch := withRetries(t, p.Port, 1)
			set(m, 1)
			code, out, errs := exportd(ctx, "-c", cfg, "--now", "2026-11-25T06:00:00Z", "run", "audit-log-rows")
			left, seen := counts()
			if code != 0 || !strings.Contains(out, "rows      40") || left != 0 || seen != 2 {
				t.Fatalf("exit %d, %d export requests, %d breaks left\n%s\n%s", code, seen, left, out, errs)
			}
			complete(t, arch)
			noSecret(t, "run output", out+errs)
		})
	}

	// One attempt of `exportd run` (which does not retry), broken all the
	// way: a clear error, nothing archived, and the number of requests one
	// attempt sends.
	cfg, arch := withRetries(t, p.Port, 2)
	set("cut", -1)
	code, out, errs := exportd(ctx, "-c", cfg, "--now", "2026-11-25T06:00:00Z", "run", "audit-log-rows")
	left, perAttempt := counts()
	if code == 0 || !strings.Contains(errs, `snowflake source "warehouse": export query: the connection to Snowflake failed: unexpected EOF`) || perAttempt < 2 {
		t.Fatalf("broken connection: exit %d after %d export requests\n%s\n%s", code, perAttempt, out, errs)
	}
	nothing(t, arch)
	noSecret(t, "run output", out+errs)

	// The daemon: the first attempt breaks as that one did, the retry
	// policy's second attempt gets through.
	set("cut", perAttempt)
	code, out, errs = exportd(ctx, "-c", cfg, "--now", "2026-11-25T06:00:00Z", "serve", "--once")
	left, seen = counts()
	if code != 0 || left != 0 || seen != perAttempt+1 || !strings.Contains(errs, "export failed; will retry") {
		t.Fatalf("serve --once with the first attempt broken: exit %d, %d export requests (%d per attempt), %d breaks left\n%s\n%s",
			code, seen, perAttempt, left, out, errs)
	}
	complete(t, arch)
	noSecret(t, "serve output", out+errs)

	// Broken for longer than the retry policy: the unit fails after its
	// two attempts, with the cause, and nothing is archived.
	cfg, arch = withRetries(t, p.Port, 2)
	set("cut", -1)
	code, out, errs = exportd(ctx, "-c", cfg, "--now", "2026-11-25T06:00:00Z", "serve", "--once")
	_, seen = counts()
	if code == 0 || seen != 2*perAttempt || !strings.Contains(errs, "attempt 2 of 2: export \"audit-log-rows\": query: snowflake source \"warehouse\": export query: the connection to Snowflake failed: unexpected EOF") {
		t.Fatalf("serve --once, always broken: exit %d, %d export requests\n%s\n%s", code, seen, out, errs)
	}
	nothing(t, arch)
	noSecret(t, "serve output", out+errs)
}
