package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/metrics"
)

// TestExpositionMatchesTheVecImplementation pins the whole exposition of
// two configured schedules (one busy, one idle) and one known only from
// events to what the prometheus vecs produced before the collector
// replaced them: names, help, types, labels, pre-created zero series,
// cumulative buckets, and only the touched series for the unconfigured
// schedule. It uses only the public API, so it runs unchanged against the
// old implementation.
func TestExpositionMatchesTheVecImplementation(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg, []string{"daily-logins", "hourly-audit"})
	m.SetBuildInfo("v1.0.0")
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

	m.RunFinished("daily-logins", domain.OutcomeExported, 1200, 34567, 1500*time.Millisecond, day)
	m.RunFailed("daily-logins", metrics.ReasonQuery, 70*time.Second)
	m.RunFinished("daily-logins", domain.OutcomeClaimed, 0, 0, 5*time.Millisecond, time.Time{})
	m.MissedFire("daily-logins", metrics.MissedOverlap)
	m.LateRows("daily-logins", 17)
	m.Revision("daily-logins")
	m.SetPaused("daily-logins", true)
	m.SetReady(true)
	m.UploadsSwept(3, false)
	m.UploadsSwept(1, true)

	// Not configured: only the series its events touch exist (no rows or
	// bytes series for a run that archived none, a +Inf-only duration).
	m.RunFinished("adhoc", domain.OutcomeSkipped, 0, 0, 4000*time.Second, day.Add(6*time.Hour))
	m.MissedFire("adhoc", "bogus")

	if err := testutil.GatherAndCompare(reg, strings.NewReader(vecExposition)); err != nil {
		t.Error(err)
	}
}

// vecExposition was written by hand from the names, help texts and labels
// of the vec implementation (git show 9e80e6b:internal/metrics/metrics.go).
const vecExposition = `
# HELP exportd_build_info Always 1; the version label says which exportd is running.
# TYPE exportd_build_info gauge
exportd_build_info{version="v1.0.0"} 1
# HELP exportd_bytes_total Bytes of archived files (as stored, after compression).
# TYPE exportd_bytes_total counter
exportd_bytes_total{schedule="daily-logins"} 34567
exportd_bytes_total{schedule="hourly-audit"} 0
# HELP exportd_config_last_reload_success_timestamp_seconds Unix time of the last successful configuration (re)load.
# TYPE exportd_config_last_reload_success_timestamp_seconds gauge
exportd_config_last_reload_success_timestamp_seconds 0
# HELP exportd_config_last_reload_successful 1 when the last configuration (re)load succeeded, 0 when it failed and the previous configuration is still running.
# TYPE exportd_config_last_reload_successful gauge
exportd_config_last_reload_successful 0
# HELP exportd_last_success_window_end_timestamp_seconds End of the newest archived window (or logical time of the newest snapshot), as a Unix timestamp; 0 until the first one.
# TYPE exportd_last_success_window_end_timestamp_seconds gauge
exportd_last_success_window_end_timestamp_seconds{schedule="adhoc"} 1.7955e+09
exportd_last_success_window_end_timestamp_seconds{schedule="daily-logins"} 1.7954784e+09
exportd_last_success_window_end_timestamp_seconds{schedule="hourly-audit"} 0
# HELP exportd_late_rows_total Rows that reached the source after their window was archived, found by a recheck.
# TYPE exportd_late_rows_total counter
exportd_late_rows_total{schedule="daily-logins"} 17
exportd_late_rows_total{schedule="hourly-audit"} 0
# HELP exportd_lost_windows_total Windows recorded as lost because the source no longer had their data.
# TYPE exportd_lost_windows_total counter
exportd_lost_windows_total{schedule="daily-logins"} 0
exportd_lost_windows_total{schedule="hourly-audit"} 0
# HELP exportd_missed_fires_total Cron fires that did not start a run, by reason: overlap, overdue, shutdown.
# TYPE exportd_missed_fires_total counter
exportd_missed_fires_total{reason="overdue",schedule="adhoc"} 1
exportd_missed_fires_total{reason="overdue",schedule="daily-logins"} 0
exportd_missed_fires_total{reason="overdue",schedule="hourly-audit"} 0
exportd_missed_fires_total{reason="overlap",schedule="daily-logins"} 1
exportd_missed_fires_total{reason="overlap",schedule="hourly-audit"} 0
exportd_missed_fires_total{reason="shutdown",schedule="daily-logins"} 0
exportd_missed_fires_total{reason="shutdown",schedule="hourly-audit"} 0
# HELP exportd_ready 1 when every destination store and source of the enabled schedules was reachable at the last check, 0 while the daemon waits for them (it retries; /readyz says why).
# TYPE exportd_ready gauge
exportd_ready 1
# HELP exportd_revisions_total New revisions written for windows whose source data changed after archiving.
# TYPE exportd_revisions_total counter
exportd_revisions_total{schedule="daily-logins"} 1
exportd_revisions_total{schedule="hourly-audit"} 0
# HELP exportd_rows_total Rows written to archived files.
# TYPE exportd_rows_total counter
exportd_rows_total{schedule="daily-logins"} 1200
exportd_rows_total{schedule="hourly-audit"} 0
# HELP exportd_run_duration_seconds Duration of runs that queried the source (exported, skipped or failed).
# TYPE exportd_run_duration_seconds histogram
exportd_run_duration_seconds_bucket{schedule="adhoc",le="0.05"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="0.1"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="0.2"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="0.4"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="0.8"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="1.6"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="3.2"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="6.4"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="12.8"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="25.6"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="51.2"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="102.4"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="204.8"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="409.6"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="819.2"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="1638.4"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="3276.8"} 0
exportd_run_duration_seconds_bucket{schedule="adhoc",le="+Inf"} 1
exportd_run_duration_seconds_sum{schedule="adhoc"} 4000
exportd_run_duration_seconds_count{schedule="adhoc"} 1
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="0.05"} 0
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="0.1"} 0
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="0.2"} 0
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="0.4"} 0
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="0.8"} 0
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="1.6"} 1
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="3.2"} 1
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="6.4"} 1
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="12.8"} 1
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="25.6"} 1
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="51.2"} 1
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="102.4"} 2
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="204.8"} 2
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="409.6"} 2
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="819.2"} 2
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="1638.4"} 2
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="3276.8"} 2
exportd_run_duration_seconds_bucket{schedule="daily-logins",le="+Inf"} 2
exportd_run_duration_seconds_sum{schedule="daily-logins"} 71.5
exportd_run_duration_seconds_count{schedule="daily-logins"} 2
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="0.05"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="0.1"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="0.2"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="0.4"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="0.8"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="1.6"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="3.2"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="6.4"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="12.8"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="25.6"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="51.2"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="102.4"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="204.8"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="409.6"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="819.2"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="1638.4"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="3276.8"} 0
exportd_run_duration_seconds_bucket{schedule="hourly-audit",le="+Inf"} 0
exportd_run_duration_seconds_sum{schedule="hourly-audit"} 0
exportd_run_duration_seconds_count{schedule="hourly-audit"} 0
# HELP exportd_run_failures_total Failed runs by reason: query, auth, schema, store, other.
# TYPE exportd_run_failures_total counter
exportd_run_failures_total{reason="auth",schedule="daily-logins"} 0
exportd_run_failures_total{reason="auth",schedule="hourly-audit"} 0
exportd_run_failures_total{reason="other",schedule="daily-logins"} 0
exportd_run_failures_total{reason="other",schedule="hourly-audit"} 0
exportd_run_failures_total{reason="query",schedule="daily-logins"} 1
exportd_run_failures_total{reason="query",schedule="hourly-audit"} 0
exportd_run_failures_total{reason="schema",schedule="daily-logins"} 0
exportd_run_failures_total{reason="schema",schedule="hourly-audit"} 0
exportd_run_failures_total{reason="store",schedule="daily-logins"} 0
exportd_run_failures_total{reason="store",schedule="hourly-audit"} 0
# HELP exportd_running_exports Exports in progress.
# TYPE exportd_running_exports gauge
exportd_running_exports 0
# HELP exportd_runs_total Runs of a schedule's units (windows or snapshots) by outcome: exported, skipped (condition), lost (older than the source's retention), already_archived, claimed (another run holds it), failed.
# TYPE exportd_runs_total counter
exportd_runs_total{outcome="already_archived",schedule="daily-logins"} 0
exportd_runs_total{outcome="already_archived",schedule="hourly-audit"} 0
exportd_runs_total{outcome="claimed",schedule="daily-logins"} 1
exportd_runs_total{outcome="claimed",schedule="hourly-audit"} 0
exportd_runs_total{outcome="exported",schedule="daily-logins"} 1
exportd_runs_total{outcome="exported",schedule="hourly-audit"} 0
exportd_runs_total{outcome="failed",schedule="daily-logins"} 1
exportd_runs_total{outcome="failed",schedule="hourly-audit"} 0
exportd_runs_total{outcome="lost",schedule="daily-logins"} 0
exportd_runs_total{outcome="lost",schedule="hourly-audit"} 0
exportd_runs_total{outcome="skipped",schedule="adhoc"} 1
exportd_runs_total{outcome="skipped",schedule="daily-logins"} 0
exportd_runs_total{outcome="skipped",schedule="hourly-audit"} 0
# HELP exportd_schedule_paused 1 when the schedule is paused (by an operator or after consecutive failures), else 0.
# TYPE exportd_schedule_paused gauge
exportd_schedule_paused{schedule="daily-logins"} 1
exportd_schedule_paused{schedule="hourly-audit"} 0
# HELP exportd_stale_upload_sweep_failures_total Sweeps of one S3 destination for stale multipart uploads that failed (listing or an abort); the next sweep tries again.
# TYPE exportd_stale_upload_sweep_failures_total counter
exportd_stale_upload_sweep_failures_total 1
# HELP exportd_stale_uploads_aborted_total Stale multipart uploads (of runs that died) aborted by the periodic sweep of the S3 destinations.
# TYPE exportd_stale_uploads_aborted_total counter
exportd_stale_uploads_aborted_total 4
`
