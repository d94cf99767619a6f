package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// slowDay is a demo copy with one windowed schedule, slow-day, whose only
// due window (the last day of the demo data) multiplies each audit row by
// the source variable `copies`: the test sets how long the export streams,
// and can change it between two starts.
type slowDay struct {
	cfg     string
	archive string // the folder archive
	claims  string // shutdown/_claims/slow-day
	tmp     string // the archive's temp folder
	objects string // where slow-day's objects and manifests go
	unit    string // the one window's unit id
}

func newSlowDay(t *testing.T, copies int, shutdownTimeout string) *slowDay {
	t.Helper()
	cfg := demoDir(t)
	dir := filepath.Dir(cfg)
	schedDir := filepath.Join(dir, "..", "schedules")
	for _, f := range []string{"audit-log-rows.yaml", "daily-login-activity.yaml"} {
		if err := os.Remove(filepath.Join(schedDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	end, _ := time.Parse(time.RFC3339, demoEnd)
	start := end.AddDate(0, 0, -1)
	// No order_by: DuckDB streams rows as it makes them, so the temp file
	// grows from the start instead of after a sort.
	sched := fmt.Sprintf(`name: slow-day
source: demo
cron: "0 3 * * *"
window: {every: day, column: Request Time, lag: 0s, start: %s}
element:
  from: {sql: "SELECT a.REQUEST_TIME, r.range AS COPY_NO FROM AUDIT_LOGS a, range(1000000) r WHERE r.range < getvariable('copies')::BIGINT"}
destination: {integration: local, prefix: shutdown}
`, start.Format(time.DateOnly))
	if err := os.WriteFile(filepath.Join(schedDir, "slow-day.yaml"), []byte(sched), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := replaceOnce(string(data), "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0")
	s = replaceOnce(s, "shutdown_timeout: 60s", "shutdown_timeout: "+shutdownTimeout)
	s = replaceOnce(s, `demo_seed: "42"`, fmt.Sprintf("demo_seed: \"42\"\n      copies: \"%d\"", copies))
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	ar := filepath.Join(dir, "..", "archive")
	return &slowDay{
		cfg: cfg, archive: ar,
		claims:  filepath.Join(ar, "shutdown", domain.ClaimsDir, "slow-day"),
		tmp:     filepath.Join(ar, ".tmp"),
		objects: filepath.Join(ar, "shutdown", "slow-day"),
		unit:    domain.Window{Start: start, End: end}.ID(),
	}
}

// setCopies changes the source variable for the next start.
func (sd *slowDay) setCopies(t *testing.T, from, to int) {
	t.Helper()
	data, err := os.ReadFile(sd.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := replaceOnce(string(data), fmt.Sprintf(`copies: "%d"`, from), fmt.Sprintf(`copies: "%d"`, to))
	if err := os.WriteFile(sd.cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLine is one JSON log record of the child, with its fields.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

// logLines parses the JSON log records in out, in order (other lines are
// the CLI's own output).
func logLines(out string) []logLine {
	var lines []logLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.str("msg") != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// findLog returns the index of the first record at or after from whose
// message starts with prefix and whose unit (if unit is set) is unit; -1
// if none.
func findLog(lines []logLine, from int, prefix, unit string) int {
	for i := from; i < len(lines); i++ {
		if strings.HasPrefix(lines[i].str("msg"), prefix) && (unit == "" || lines[i].str("unit") == unit) {
			return i
		}
	}
	return -1
}

// serveUntilInFlight starts `exportd serve` and returns once slow-day's
// window is provably being exported: its claim is held (running, with the
// pending manifest recorded) and a temp file in the archive has grown
// between two looks.
func (sd *slowDay) serveUntilInFlight(t *testing.T, flags ...string) (*exec.Cmd, <-chan error, *syncBuffer) {
	t.Helper()
	t.Setenv("EXPORTD_TOKEN", "")
	cmd, exited, out := startServe(t, sd.cfg, flags...)

	claimed := func() bool {
		data, err := os.ReadFile(filepath.Join(sd.claims, sd.unit))
		var rec archive.ClaimRecord
		return err == nil && json.Unmarshal(data, &rec) == nil && rec.State == archive.ClaimRunning && rec.Pending != nil
	}
	sizes := map[string]int64{}
	growing := func() bool {
		temps, _ := os.ReadDir(sd.tmp)
		for _, e := range temps {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			prev, seen := sizes[e.Name()]
			sizes[e.Name()] = fi.Size()
			if seen && prev > 0 && fi.Size() > prev {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(90 * time.Second)
	for !(claimed() && growing()) {
		select {
		case err := <-exited:
			t.Fatalf("serve exited before the export was in flight: %v\n%s", err, tail(out.String()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no export in flight within 90s\n%s", tail(out.String()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cmd, exited, out
}

// terminate sends SIGTERM and waits for serve to exit on its own; it
// returns the exit code.
func terminate(t *testing.T, cmd *exec.Cmd, exited <-chan error, out *syncBuffer) int {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(2 * time.Minute): // a guard, not a measure
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("serve did not exit within 2 minutes of SIGTERM\n%s", tail(out.String()))
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			t.Fatalf("serve was killed by %v instead of stopping in order\n%s", ws.Signal(), tail(out.String()))
		}
		return ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return 0
}

// checkArchivedOnce checks that slow-day's window has exactly one object
// and one manifest, which describes it.
func (sd *slowDay) checkArchivedOnce(t *testing.T) *archive.Manifest {
	t.Helper()
	objs, mans := files(t, sd.objects, ".csv"), files(t, sd.objects, ".manifest.json")
	if len(objs) != 1 || len(mans) != 1 {
		t.Fatalf("objects %v, manifests %v: want one of each", objs, mans)
	}
	m := readManifest(t, mans[0])
	if m.Kind != domain.KindExported || m.UnitID != sd.unit || len(m.Objects) != 1 {
		t.Fatalf("manifest %s: kind %s, unit %s, %d objects; want one exported object of %s", mans[0], m.Kind, m.UnitID, len(m.Objects), sd.unit)
	}
	obj, err := os.ReadFile(filepath.Join(sd.archive, m.Objects[0].Key))
	if err != nil {
		t.Fatal(err)
	}
	if archive.SHA256Hex(obj) != m.Objects[0].SHA256 || int64(len(obj)) != m.Objects[0].Bytes ||
		int64(bytes.Count(obj, []byte("\n"))-1) != m.Objects[0].Rows || m.Objects[0].Rows == 0 {
		t.Fatalf("object %s (%d bytes) does not match its manifest %+v", m.Objects[0].Key, len(obj), m.Objects[0])
	}
	return m
}

func (sd *slowDay) checkNoTemps(t *testing.T) {
	t.Helper()
	if temps, _ := os.ReadDir(sd.tmp); len(temps) != 0 {
		var names []string
		for _, e := range temps {
			names = append(names, e.Name())
		}
		t.Errorf("temp files left in the archive: %v", names)
	}
}

// TestSIGTERMCancelsExportAtShutdownTimeout: SIGTERM while a window is
// being exported and will not finish within shutdown_timeout (1s; the
// export would stream for minutes). serve stops in order (exit 0), the
// export is cancelled — no object, no manifest, no claim, no temp file
// left, and the log says shutdown cancelled it — and the next start
// archives the window exactly once.
func TestSIGTERMCancelsExportAtShutdownTimeout(t *testing.T) {
	// ~75M rows, ~2 GB of CSV: tens of seconds here, against 1s of
	// shutdown_timeout.
	const copies = 100_000
	sd := newSlowDay(t, copies, "1s")
	cmd, exited, out := sd.serveUntilInFlight(t)
	if code := terminate(t, cmd, exited, out); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM, want 0 (an orderly stop)\n%s", code, tail(out.String()))
	}
	logs := logLines(out.String())

	// Nothing of the interrupted window is visible or left over.
	if objs, mans := files(t, sd.objects, ".csv"), files(t, sd.objects, ".manifest.json"); len(objs) != 0 || len(mans) != 0 {
		t.Errorf("after the cancelled export: objects %v, manifests %v; want none", objs, mans)
	}
	if data, err := os.ReadFile(filepath.Join(sd.claims, sd.unit)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the claim of %s is still there (%v): %s", sd.unit, err, data)
	}
	sd.checkNoTemps(t)

	// The log says why: shutdown began with the export running, and the
	// export was cancelled by it, not failed on its own.
	began := findLog(logs, 0, "shutting down: stopped firing", "")
	if began < 0 || logs[began]["running"] != float64(1) {
		t.Errorf("no \"shutting down\" record with one run in progress\n%s", tail(out.String()))
	}
	if i := findLog(logs, max(began, 0), "export cancelled by shutdown", sd.unit); i < 0 {
		t.Errorf("no \"export cancelled by shutdown\" record for %s after shutdown began\n%s", sd.unit, tail(out.String()))
	} else if e := logs[i].str("error"); !strings.Contains(e, "shutdown timeout") || !strings.Contains(e, "context canceled") {
		t.Errorf("cancelled export's error %q: want the shutdown timeout and the cancelled context", e)
	}
	if i := findLog(logs, 0, "exported", sd.unit); i >= 0 {
		t.Errorf("the log says %s was exported: %v", sd.unit, logs[i])
	}

	// The next start (with a fast source now) completes the window, once.
	sd.setCopies(t, copies, 1)
	out2, code := runCLI(t, sd.cfg, "--now", demoEnd, "serve", "--once")
	if code != 0 || !strings.Contains(out2, "catch-up: 1 exported, 0 already archived") {
		t.Fatalf("restart: exit %d\n%s", code, tail(out2))
	}
	m := sd.checkArchivedOnce(t)
	if m.Run.Repaired {
		t.Errorf("the window was repaired from a leftover object: %+v", m.Run)
	}
	sd.checkNoTemps(t)
	// And once only.
	out3, code := runCLI(t, sd.cfg, "--now", demoEnd, "serve", "--once")
	if code != 0 || !strings.Contains(out3, "catch-up: 0 exported,") || !strings.Contains(out3, "0 failed") {
		t.Fatalf("third start: exit %d\n%s", code, tail(out3))
	}
	sd.checkArchivedOnce(t)
}

// TestSIGTERMWaitsForExportWithinShutdownTimeout: SIGTERM while a window
// is being exported that finishes well within shutdown_timeout (10m): serve
// lets it finish — object and manifest are there, the claim is no longer
// running — and then exits 0.
func TestSIGTERMWaitsForExportWithinShutdownTimeout(t *testing.T) {
	const copies = 10_000 // ~7.5M rows, ~200 MB of CSV: a few seconds
	sd := newSlowDay(t, copies, "10m")
	cmd, exited, out := sd.serveUntilInFlight(t)
	if code := terminate(t, cmd, exited, out); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM, want 0\n%s", code, tail(out.String()))
	}
	m := sd.checkArchivedOnce(t)
	if m.Objects[0].Rows%copies != 0 {
		t.Errorf("%d rows: not a whole number of %d copies, the export was cut short", m.Objects[0].Rows, copies)
	}
	logs := logLines(out.String())
	began := findLog(logs, 0, "shutting down: stopped firing", "")
	if began < 0 || logs[began]["running"] != float64(1) {
		t.Fatalf("no \"shutting down\" record with one run in progress: SIGTERM did not come mid-export\n%s", tail(out.String()))
	}
	if findLog(logs, began, "exported", sd.unit) < 0 {
		t.Errorf("no \"exported\" record for %s after shutdown began\n%s", sd.unit, tail(out.String()))
	}
	if i := findLog(logs, 0, "export cancelled by shutdown", ""); i >= 0 {
		t.Errorf("an export was cancelled: %v", logs[i])
	}
	data, err := os.ReadFile(filepath.Join(sd.claims, sd.unit))
	var rec archive.ClaimRecord
	if err == nil && (json.Unmarshal(data, &rec) != nil || rec.State == archive.ClaimRunning) {
		t.Errorf("claim of %s after the export finished: %s", sd.unit, data)
	}
	sd.checkNoTemps(t)
}

// TestSIGTERMDuringServeOnceWaitsForExport: `serve --once` (a cron job's
// run, stopped by its scheduler) treats SIGTERM as the daemon does: the
// export in progress finishes within shutdown_timeout, and it exits 0.
func TestSIGTERMDuringServeOnceWaitsForExport(t *testing.T) {
	const copies = 10_000 // a few seconds of CSV
	sd := newSlowDay(t, copies, "10m")
	cmd, exited, out := sd.serveUntilInFlight(t, "--once")
	if code := terminate(t, cmd, exited, out); code != 0 {
		t.Fatalf("serve --once exited %d after SIGTERM, want 0\n%s", code, tail(out.String()))
	}
	m := sd.checkArchivedOnce(t)
	if m.Objects[0].Rows%copies != 0 {
		t.Errorf("%d rows: not a whole number of %d copies, the export was cut short", m.Objects[0].Rows, copies)
	}
	if !strings.Contains(out.String(), "catch-up: 1 exported,") || !strings.Contains(out.String(), "0 failed") {
		t.Errorf("summary: want 1 exported, 0 failed\n%s", tail(out.String()))
	}
	sd.checkNoTemps(t)
}
