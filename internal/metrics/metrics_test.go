package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func newMetrics(t *testing.T, schedules ...string) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	return New(reg, schedules), reg
}

func TestNewPrecreatesEverySchedulesSeries(t *testing.T) {
	m, reg := newMetrics(t, "daily-logins", "hourly-audit")
	counts := map[string]int{
		"exportd_runs_total":                                   len(outcomes) * 2,
		"exportd_run_failures_total":                           len(failureReasons) * 2,
		"exportd_missed_fires_total":                           len(missedReasons) * 2,
		"exportd_rows_total":                                   2,
		"exportd_bytes_total":                                  2,
		"exportd_run_duration_seconds":                         2,
		"exportd_lost_windows_total":                           2,
		"exportd_late_rows_total":                              2,
		"exportd_revisions_total":                              2,
		"exportd_last_success_window_end_timestamp_seconds":    2,
		"exportd_schedule_paused":                              2,
		"exportd_running_exports":                              1,
		"exportd_config_last_reload_successful":                1,
		"exportd_config_last_reload_success_timestamp_seconds": 1,
		// build_info has no series until SetBuildInfo.
		"exportd_build_info": 0,
	}
	for name, want := range counts {
		got, err := testutil.GatherAndCount(reg, name)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %d series, want %d", name, got, want)
		}
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("hourly-audit", OutcomeLost)); got != 0 {
		t.Errorf("pre-created counter = %v, want 0", got)
	}
}

func TestNamesFollowPrometheusConventions(t *testing.T) {
	m, reg := newMetrics(t, "daily-logins")
	m.SetBuildInfo("v1.2.3")
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestRunFinishedExported(t *testing.T) {
	m, reg := newMetrics(t, "daily-logins")
	end := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	m.RunFinished("daily-logins", OutcomeExported, 1200, 34567, 1500*time.Millisecond, end)
	m.RunFinished("daily-logins", OutcomeExported, 800, 10000, 3*time.Second, end.Add(24*time.Hour))

	want := `
# HELP exportd_rows_total Rows written to archived files.
# TYPE exportd_rows_total counter
exportd_rows_total{schedule="daily-logins"} 2000
# HELP exportd_bytes_total Bytes of archived files (as stored, after compression).
# TYPE exportd_bytes_total counter
exportd_bytes_total{schedule="daily-logins"} 44567
# HELP exportd_last_success_window_end_timestamp_seconds End of the newest archived window (or logical time of the newest snapshot), as a Unix timestamp; 0 until the first one.
# TYPE exportd_last_success_window_end_timestamp_seconds gauge
exportd_last_success_window_end_timestamp_seconds{schedule="daily-logins"} 1.7955648e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"exportd_rows_total", "exportd_bytes_total", "exportd_last_success_window_end_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("daily-logins", OutcomeExported)); got != 2 {
		t.Errorf("runs_total{exported} = %v, want 2", got)
	}
	count, sum := histogram(t, reg, "exportd_run_duration_seconds", "daily-logins")
	if count != 2 || sum != 4.5 {
		t.Errorf("duration: count %d sum %v, want 2 and 4.5", count, sum)
	}
}

func TestFreshnessOnlyMovesForward(t *testing.T) {
	m, _ := newMetrics(t, "hourly-audit")
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	gauge := m.lastSuccess.WithLabelValues("hourly-audit")

	// Catch-up with parallelism finishes windows out of order.
	m.RunFinished("hourly-audit", OutcomeExported, 1, 1, time.Second, t0.Add(2*time.Hour))
	m.RunFinished("hourly-audit", OutcomeExported, 1, 1, time.Second, t0.Add(time.Hour))
	if got, want := testutil.ToFloat64(gauge), float64(t0.Add(2*time.Hour).Unix()); got != want {
		t.Errorf("after out-of-order windows: %v, want %v", got, want)
	}
	// A failure, a lost window and a claimed unit say nothing about freshness.
	m.RunFinished("hourly-audit", OutcomeFailed, 0, 0, time.Second, t0.Add(5*time.Hour))
	m.RunFinished("hourly-audit", OutcomeLost, 0, 0, 0, t0.Add(5*time.Hour))
	m.RunFinished("hourly-audit", OutcomeClaimed, 0, 0, 0, t0.Add(5*time.Hour))
	if got, want := testutil.ToFloat64(gauge), float64(t0.Add(2*time.Hour).Unix()); got != want {
		t.Errorf("after failed/lost/claimed: %v, want %v", got, want)
	}
	// A skipped window (condition) and an already archived one are archived.
	m.RunFinished("hourly-audit", OutcomeSkipped, 0, 0, time.Second, t0.Add(3*time.Hour))
	m.RunFinished("hourly-audit", OutcomeAlreadyArchived, 0, 0, 0, t0.Add(4*time.Hour))
	if got, want := testutil.ToFloat64(gauge), float64(t0.Add(4*time.Hour).Unix()); got != want {
		t.Errorf("after skipped/already archived: %v, want %v", got, want)
	}
	m.SetFreshness("hourly-audit", t0)
	if got, want := testutil.ToFloat64(gauge), float64(t0.Add(4*time.Hour).Unix()); got != want {
		t.Errorf("SetFreshness went backwards: %v, want %v", got, want)
	}
}

func TestBookkeepingOutcomesAreNotTimed(t *testing.T) {
	m, reg := newMetrics(t, "s")
	m.RunFinished("s", OutcomeAlreadyArchived, 0, 0, time.Millisecond, time.Time{})
	m.RunFinished("s", OutcomeClaimed, 0, 0, time.Millisecond, time.Time{})
	m.RunFinished("s", OutcomeLost, 0, 0, time.Millisecond, time.Time{})
	if count, _ := histogram(t, reg, "exportd_run_duration_seconds", "s"); count != 0 {
		t.Errorf("duration count = %d, want 0", count)
	}
	if got := testutil.ToFloat64(m.lost.WithLabelValues("s")); got != 1 {
		t.Errorf("lost_windows_total = %v, want 1", got)
	}
	for _, o := range []string{OutcomeAlreadyArchived, OutcomeClaimed, OutcomeLost} {
		if got := testutil.ToFloat64(m.runs.WithLabelValues("s", o)); got != 1 {
			t.Errorf("runs_total{%s} = %v, want 1", o, got)
		}
	}
}

func TestRunFailedReasons(t *testing.T) {
	m, reg := newMetrics(t, "s")
	m.RunFailed("s", ReasonQuery, 2*time.Second)
	m.RunFailed("s", ReasonAuth, time.Second)
	m.RunFailed("s", "typo", time.Second)                             // counted as other
	m.RunFinished("s", OutcomeFailed, 0, 0, time.Second, time.Time{}) // reason unknown: other
	want := map[string]float64{ReasonQuery: 1, ReasonAuth: 1, ReasonSchema: 0, ReasonStore: 0, ReasonOther: 2}
	for r, w := range want {
		if got := testutil.ToFloat64(m.failures.WithLabelValues("s", r)); got != w {
			t.Errorf("run_failures_total{%s} = %v, want %v", r, got, w)
		}
	}
	if n, _ := testutil.GatherAndCount(reg, "exportd_run_failures_total"); n != len(failureReasons) {
		t.Errorf("failure series = %d, want %d (no new label values)", n, len(failureReasons))
	}
	if got := testutil.ToFloat64(m.runs.WithLabelValues("s", OutcomeFailed)); got != 4 {
		t.Errorf("runs_total{failed} = %v, want 4", got)
	}
	if count, _ := histogram(t, reg, "exportd_run_duration_seconds", "s"); count != 4 {
		t.Errorf("duration count = %d, want 4", count)
	}
}

func TestScheduleEvents(t *testing.T) {
	m, reg := newMetrics(t, "s")
	m.MissedFire("s", MissedOverlap)
	m.MissedFire("s", MissedOverlap)
	m.MissedFire("s", MissedShutdown)
	m.LateRows("s", 17)
	m.LateRows("s", 0)
	m.Revision("s")
	m.SetPaused("s", true)

	want := `
# HELP exportd_missed_fires_total Cron fires that did not start a run, by reason: overlap, overdue, shutdown.
# TYPE exportd_missed_fires_total counter
exportd_missed_fires_total{reason="overdue",schedule="s"} 0
exportd_missed_fires_total{reason="overlap",schedule="s"} 2
exportd_missed_fires_total{reason="shutdown",schedule="s"} 1
# HELP exportd_late_rows_total Rows that reached the source after their window was archived, found by a recheck.
# TYPE exportd_late_rows_total counter
exportd_late_rows_total{schedule="s"} 17
# HELP exportd_revisions_total New revisions written for windows whose source data changed after archiving.
# TYPE exportd_revisions_total counter
exportd_revisions_total{schedule="s"} 1
# HELP exportd_schedule_paused 1 when the schedule is paused (by an operator or after consecutive failures), else 0.
# TYPE exportd_schedule_paused gauge
exportd_schedule_paused{schedule="s"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"exportd_missed_fires_total", "exportd_late_rows_total", "exportd_revisions_total", "exportd_schedule_paused"); err != nil {
		t.Error(err)
	}
	m.SetPaused("s", false)
	if got := testutil.ToFloat64(m.paused.WithLabelValues("s")); got != 0 {
		t.Errorf("paused after resume = %v", got)
	}
}

func TestRunningExports(t *testing.T) {
	m, _ := newMetrics(t)
	a := m.RunStarted()
	b := m.RunStarted()
	if got := testutil.ToFloat64(m.running); got != 2 {
		t.Fatalf("running = %v, want 2", got)
	}
	a()
	a() // a second call must not count another run as done
	if got := testutil.ToFloat64(m.running); got != 1 {
		t.Fatalf("running = %v, want 1", got)
	}
	b()
	if got := testutil.ToFloat64(m.running); got != 0 {
		t.Fatalf("running = %v, want 0", got)
	}
}

func TestConfigReloadAndBuildInfo(t *testing.T) {
	m, reg := newMetrics(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	m.ConfigReloaded(true, at)
	m.ConfigReloaded(false, at.Add(time.Hour))
	m.SetBuildInfo("v0.1.0")
	m.SetBuildInfo("v0.2.0")
	want := `
# HELP exportd_config_last_reload_successful 1 when the last configuration (re)load succeeded, 0 when it failed and the previous configuration is still running.
# TYPE exportd_config_last_reload_successful gauge
exportd_config_last_reload_successful 0
# HELP exportd_config_last_reload_success_timestamp_seconds Unix time of the last successful configuration (re)load.
# TYPE exportd_config_last_reload_success_timestamp_seconds gauge
exportd_config_last_reload_success_timestamp_seconds 1.795608e+09
# HELP exportd_build_info Always 1; the version label says which exportd is running.
# TYPE exportd_build_info gauge
exportd_build_info{version="v0.2.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"exportd_config_last_reload_successful", "exportd_config_last_reload_success_timestamp_seconds", "exportd_build_info"); err != nil {
		t.Error(err)
	}
}

func TestResetSchedulesAfterReload(t *testing.T) {
	m, reg := newMetrics(t, "kept", "removed")
	m.RunFinished("kept", OutcomeExported, 10, 100, time.Second, time.Unix(1000, 0))
	m.RunFinished("removed", OutcomeExported, 10, 100, time.Second, time.Unix(1000, 0))

	m.ResetSchedules([]string{"kept", "added"})

	if got := testutil.ToFloat64(m.rows.WithLabelValues("kept")); got != 10 {
		t.Errorf("kept schedule lost its count: rows = %v", got)
	}
	out, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), `schedule="removed"`) {
		t.Errorf("removed schedule still exposed:\n%s", out)
	}
	if n, _ := testutil.GatherAndCount(reg, "exportd_runs_total"); n != 2*len(outcomes) {
		t.Errorf("runs_total series = %d, want %d (kept + added)", n, 2*len(outcomes))
	}
	// A schedule that comes back starts from zero, freshness included.
	m.ResetSchedules([]string{"kept", "added", "removed"})
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("removed")); got != 0 {
		t.Errorf("re-added schedule freshness = %v, want 0", got)
	}
	m.SetFreshness("removed", time.Unix(500, 0))
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("removed")); got != 500 {
		t.Errorf("re-added schedule freshness = %v, want 500", got)
	}
}

func TestInstancesAreIndependent(t *testing.T) {
	// No globals: two daemons in one process (as in the lead's in-process
	// tests) each register their own collectors.
	a, _ := newMetrics(t, "s")
	b, _ := newMetrics(t, "s")
	a.Revision("s")
	if got := testutil.ToFloat64(b.revisions.WithLabelValues("s")); got != 0 {
		t.Errorf("instance b sees a's count: %v", got)
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.AddSchedules("s")
	m.ResetSchedules([]string{"s"})
	m.RunStarted()()
	m.RunFinished("s", OutcomeExported, 1, 1, time.Second, time.Now())
	m.RunFailed("s", ReasonQuery, time.Second)
	m.SetFreshness("s", time.Now())
	m.MissedFire("s", MissedOverlap)
	m.LateRows("s", 1)
	m.Revision("s")
	m.SetPaused("s", true)
	m.ConfigReloaded(true, time.Now())
	m.SetBuildInfo("v")
}

// histogram returns the sample count and sum of a histogram series.
func histogram(t *testing.T, g prometheus.Gatherer, name, schedule string) (uint64, float64) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "schedule" && l.GetValue() == schedule {
					h := mt.GetHistogram()
					return h.GetSampleCount(), h.GetSampleSum()
				}
			}
		}
	}
	t.Fatalf("no %s{schedule=%q}", name, schedule)
	return 0, 0
}
