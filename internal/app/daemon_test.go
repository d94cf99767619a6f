package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
)

// daemonAt loads the demo config with the wall clock pinned to now.
func daemonAt(t *testing.T, cfg string, now time.Time) *app.Daemon {
	t.Helper()
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.NewDaemon(a, app.DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	t.Cleanup(func() { d.Close() })
	return d
}

// serving returns the daemon of a with its API on a free loopback port.
func serving(t *testing.T, a *app.App, o app.DaemonOptions) *app.Daemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Listener = ln
	d, err := app.NewDaemon(a, o)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// waitFor polls cond until it holds, for up to two minutes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// onlySlowDays replaces the demo schedules of the config at cfg with
// slow-days: day windows from start, each multiplying its ~2,300 rows
// copies times (400 copies is about a second of CSV per window here).
func onlySlowDays(t *testing.T, cfg string, start time.Time, copies int, prefix string) (schedDir string) {
	t.Helper()
	schedDir = filepath.Join(filepath.Dir(cfg), "..", "schedules")
	for _, f := range []string{"audit-log-rows.yaml", "daily-login-activity.yaml"} {
		os.Remove(filepath.Join(schedDir, f))
	}
	slow := fmt.Sprintf(`name: slow-days
source: demo
cron: "0 3 * * *"
window: {every: day, column: Request Time, lag: 0s, start: %s}
element:
  from: {sql: "SELECT a.REQUEST_ID, a.REQUEST_TIME, r.range AS COPY_NO FROM AUDIT_LOGS a, range(%d) r"}
  order_by: [{column: Request Time}, {column: Request Id}, {column: Copy No}]
destination: {integration: local, prefix: %s}
`, start.Format("2006-01-02"), copies, prefix)
	if err := os.WriteFile(filepath.Join(schedDir, "slow-days.yaml"), []byte(slow), 0o644); err != nil {
		t.Fatal(err)
	}
	return schedDir
}

func TestRunNowWindows(t *testing.T) {
	cfg := demoDir(t)
	now := time.Date(2026, 11, 1, 1, 30, 0, 0, time.UTC) // 1h30 after the demo data ends
	d := daemonAt(t, cfg, now)
	ctx := context.Background()

	// audit-log-rows: daily UTC windows, lag 2h. At 01:30 the window that
	// ended at midnight is still open (closes at 02:00): the latest closed
	// one is the day before.
	rec, err := d.RunNow(ctx, app.RunNowRequest{Schedule: "audit-log-rows", Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := "20261030T000000Z-20261031T000000Z"; rec.Unit != want || rec.Outcome != domain.OutcomeExported || rec.Rows == 0 {
		t.Fatalf("run now: %+v, want window %s exported", rec, want)
	}

	cases := []struct {
		name  string
		start time.Time
		want  string
	}{
		{"open window", time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), "not closed yet"},
		{"misaligned", time.Date(2026, 10, 20, 5, 0, 0, 0, time.UTC), "is not the start of a day window"},
		{"epoch", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), "window cannot be exported"},
		{"2020", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), "window cannot be exported"},
		{"past retention", time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "window cannot be exported"},
	}
	for _, c := range cases {
		_, err := d.RunNow(ctx, app.RunNowRequest{Schedule: "audit-log-rows", WindowStart: c.start, Wait: true})
		if !errors.Is(err, app.ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a bad request saying %q", c.name, err, c.want)
		}
	}
	// The same window again: already archived, with its manifest key.
	rec, err = d.RunNow(ctx, app.RunNowRequest{Schedule: "audit-log-rows", WindowStart: time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC), Wait: true})
	if !errors.Is(err, archive.ErrAlreadyArchived) || !strings.HasSuffix(rec.ManifestKey, "20261030T000000Z-20261031T000000Z.manifest.json") {
		t.Fatalf("again: %+v %v", rec, err)
	}
	// An ad-hoc snapshot of a windowed schedule goes under adhoc/.
	rec, err = d.RunNow(ctx, app.RunNowRequest{Schedule: "audit-log-rows", Adhoc: true, Wait: true})
	if err != nil || !strings.Contains(rec.Key, "/audit-log-rows/adhoc/dt=2026-11-01/") {
		t.Fatalf("adhoc: %+v %v", rec, err)
	}
	if _, err := d.RunNow(ctx, app.RunNowRequest{Schedule: "nope", Wait: true}); !errors.Is(err, app.ErrUnknownSchedule) {
		t.Fatalf("unknown schedule: %v", err)
	}
	// The status shows the freshness: the end of the last archived window.
	for _, s := range d.Schedules() {
		if s.Name == "audit-log-rows" && !s.Freshness.Equal(time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("freshness %s", s.Freshness)
		}
	}
	if runs := d.Runs("audit-log-rows", 10); len(runs) != 2 || runs[0].Trigger != "api" {
		t.Errorf("runs: %+v", runs)
	}
}

func TestReloadKeepsRunningConfigWhenInvalid(t *testing.T) {
	cfg := demoDir(t)
	d := daemonAt(t, cfg, time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC))
	ctx := context.Background()
	dir := filepath.Join(filepath.Dir(cfg), "..", "schedules")
	bad := "name: extra\nsource: demo\ncron: \"0 * * * *\"\nelement:\n  from: {table: AUDIT_LOGS}\n  filters: ['[Event Stauts] = \"FAILURE\"']\ndestination: {integration: local}\n"
	if err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err := d.Reload(ctx)
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "did you mean [Event Status]") {
		t.Fatalf("reload of an invalid config: %v", err)
	}
	if n := len(d.Schedules()); n != 2 {
		t.Fatalf("%d schedules after a failed reload, want the old 2", n)
	}
	good := strings.Replace(bad, "Stauts", "Status", 1)
	if err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, s := range d.Schedules() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "audit-log-rows,daily-login-activity,extra" {
		t.Fatalf("schedules after reload: %v", names)
	}
}
