package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/exportd/exportd/internal/domain"
)

func newMetrics(t *testing.T, schedules ...string) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	return New(reg, schedules), reg
}

func TestNewPrecreatesEverySchedulesSeries(t *testing.T) {
	_, reg := newMetrics(t, "daily-logins", "hourly-audit")
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
	if got := value(t, reg, "exportd_runs_total", "schedule", "hourly-audit", "outcome", domain.OutcomeLost); got != 0 {
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
	m.RunFinished("daily-logins", domain.OutcomeExported, 1200, 34567, 1500*time.Millisecond, end)
	m.RunFinished("daily-logins", domain.OutcomeExported, 800, 10000, 3*time.Second, end.Add(24*time.Hour))

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
	if got := value(t, reg, "exportd_runs_total", "schedule", "daily-logins", "outcome", domain.OutcomeExported); got != 2 {
		t.Errorf("runs_total{exported} = %v, want 2", got)
	}
	count, sum := histogram(t, reg, "exportd_run_duration_seconds", "daily-logins")
	if count != 2 || sum != 4.5 {
		t.Errorf("duration: count %d sum %v, want 2 and 4.5", count, sum)
	}
}

func TestFreshnessOnlyMovesForward(t *testing.T) {
	m, reg := newMetrics(t, "hourly-audit")
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	gauge := func() float64 {
		return value(t, reg, "exportd_last_success_window_end_timestamp_seconds", "schedule", "hourly-audit")
	}

	// Catch-up with parallelism finishes windows out of order.
	m.RunFinished("hourly-audit", domain.OutcomeExported, 1, 1, time.Second, t0.Add(2*time.Hour))
	m.RunFinished("hourly-audit", domain.OutcomeExported, 1, 1, time.Second, t0.Add(time.Hour))
	if got, want := gauge(), float64(t0.Add(2*time.Hour).Unix()); got != want {
		t.Errorf("after out-of-order windows: %v, want %v", got, want)
	}
	// A failure, a lost window and a claimed unit say nothing about freshness.
	m.RunFinished("hourly-audit", domain.OutcomeFailed, 0, 0, time.Second, t0.Add(5*time.Hour))
	m.RunFinished("hourly-audit", domain.OutcomeLost, 0, 0, 0, t0.Add(5*time.Hour))
	m.RunFinished("hourly-audit", domain.OutcomeClaimed, 0, 0, 0, t0.Add(5*time.Hour))
	if got, want := gauge(), float64(t0.Add(2*time.Hour).Unix()); got != want {
		t.Errorf("after failed/lost/claimed: %v, want %v", got, want)
	}
	// A skipped window (condition) and an already archived one are archived.
	m.RunFinished("hourly-audit", domain.OutcomeSkipped, 0, 0, time.Second, t0.Add(3*time.Hour))
	m.RunFinished("hourly-audit", domain.OutcomeAlreadyArchived, 0, 0, 0, t0.Add(4*time.Hour))
	if got, want := gauge(), float64(t0.Add(4*time.Hour).Unix()); got != want {
		t.Errorf("after skipped/already archived: %v, want %v", got, want)
	}
	m.SetFreshness("hourly-audit", t0)
	if got, want := gauge(), float64(t0.Add(4*time.Hour).Unix()); got != want {
		t.Errorf("SetFreshness went backwards: %v, want %v", got, want)
	}
}

func TestBookkeepingOutcomesAreNotTimed(t *testing.T) {
	m, reg := newMetrics(t, "s")
	m.RunFinished("s", domain.OutcomeAlreadyArchived, 0, 0, time.Millisecond, time.Time{})
	m.RunFinished("s", domain.OutcomeClaimed, 0, 0, time.Millisecond, time.Time{})
	m.RunFinished("s", domain.OutcomeLost, 0, 0, time.Millisecond, time.Time{})
	if count, _ := histogram(t, reg, "exportd_run_duration_seconds", "s"); count != 0 {
		t.Errorf("duration count = %d, want 0", count)
	}
	if got := value(t, reg, "exportd_lost_windows_total", "schedule", "s"); got != 1 {
		t.Errorf("lost_windows_total = %v, want 1", got)
	}
	for _, o := range []string{domain.OutcomeAlreadyArchived, domain.OutcomeClaimed, domain.OutcomeLost} {
		if got := value(t, reg, "exportd_runs_total", "schedule", "s", "outcome", o); got != 1 {
			t.Errorf("runs_total{%s} = %v, want 1", o, got)
		}
	}
}

func TestRunFailedReasons(t *testing.T) {
	m, reg := newMetrics(t, "s")
	m.RunFailed("s", ReasonQuery, 2*time.Second)
	m.RunFailed("s", ReasonAuth, time.Second)
	m.RunFailed("s", "typo", time.Second)                                    // counted as other
	m.RunFinished("s", domain.OutcomeFailed, 0, 0, time.Second, time.Time{}) // reason unknown: other
	want := map[string]float64{ReasonQuery: 1, ReasonAuth: 1, ReasonSchema: 0, ReasonStore: 0, ReasonOther: 2}
	for r, w := range want {
		if got := value(t, reg, "exportd_run_failures_total", "schedule", "s", "reason", r); got != w {
			t.Errorf("run_failures_total{%s} = %v, want %v", r, got, w)
		}
	}
	if n, _ := testutil.GatherAndCount(reg, "exportd_run_failures_total"); n != len(failureReasons) {
		t.Errorf("failure series = %d, want %d (no new label values)", n, len(failureReasons))
	}
	if got := value(t, reg, "exportd_runs_total", "schedule", "s", "outcome", domain.OutcomeFailed); got != 4 {
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
	if got := value(t, reg, "exportd_schedule_paused", "schedule", "s"); got != 0 {
		t.Errorf("paused after resume = %v", got)
	}
}

func TestRunningExports(t *testing.T) {
	m, reg := newMetrics(t)
	running := func() float64 { return value(t, reg, "exportd_running_exports") }
	a := m.RunStarted()
	b := m.RunStarted()
	if got := running(); got != 2 {
		t.Fatalf("running = %v, want 2", got)
	}
	a()
	a() // a second call must not count another run as done
	if got := running(); got != 1 {
		t.Fatalf("running = %v, want 1", got)
	}
	b()
	if got := running(); got != 0 {
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
	m.RunFinished("kept", domain.OutcomeExported, 10, 100, time.Second, time.Unix(1000, 0))
	m.RunFinished("removed", domain.OutcomeExported, 10, 100, time.Second, time.Unix(1000, 0))

	m.ResetSchedules([]string{"kept", "added"})

	if got := value(t, reg, "exportd_rows_total", "schedule", "kept"); got != 10 {
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
	if got := value(t, reg, "exportd_rows_total", "schedule", "removed"); got != 0 {
		t.Errorf("re-added schedule rows = %v, want 0", got)
	}
	freshness := func() float64 {
		return value(t, reg, "exportd_last_success_window_end_timestamp_seconds", "schedule", "removed")
	}
	if got := freshness(); got != 0 {
		t.Errorf("re-added schedule freshness = %v, want 0", got)
	}
	m.SetFreshness("removed", time.Unix(500, 0))
	if got := freshness(); got != 500 {
		t.Errorf("re-added schedule freshness = %v, want 500", got)
	}
}

func TestInstancesAreIndependent(t *testing.T) {
	// No globals: two daemons in one process (as in the lead's in-process
	// tests) each register their own collectors.
	a, ra := newMetrics(t, "s")
	b, rb := newMetrics(t, "s")
	a.Revision("s")
	b.LateRows("s", 3)
	if got := value(t, ra, "exportd_revisions_total", "schedule", "s"); got != 1 {
		t.Errorf("instance a: revisions = %v, want 1", got)
	}
	if got := value(t, rb, "exportd_revisions_total", "schedule", "s"); got != 0 {
		t.Errorf("instance b sees a's count: %v", got)
	}
	if got := value(t, ra, "exportd_late_rows_total", "schedule", "s"); got != 0 {
		t.Errorf("instance a sees b's count: %v", got)
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.AddSchedules("s")
	m.ResetSchedules([]string{"s"})
	m.RunStarted()()
	m.RunFinished("s", domain.OutcomeExported, 1, 1, time.Second, time.Now())
	m.RunFailed("s", ReasonQuery, time.Second)
	m.SetFreshness("s", time.Now())
	m.MissedFire("s", MissedOverlap)
	m.LateRows("s", 1)
	m.Revision("s")
	m.SetPaused("s", true)
	m.ConfigReloaded(true, time.Now())
	m.SetBuildInfo("v")
}

func TestEventsCreateSeriesOfUnconfiguredSchedules(t *testing.T) {
	// As WithLabelValues did: an event for a schedule that is not
	// configured (e.g. a run that finishes after a reload removed it)
	// creates the series it touches, and only those.
	m, reg := newMetrics(t, "s")
	m.Revision("new")
	m.SetPaused("new", true)
	if got := value(t, reg, "exportd_revisions_total", "schedule", "new"); got != 1 {
		t.Errorf("revisions{new} = %v, want 1", got)
	}
	if got := value(t, reg, "exportd_schedule_paused", "schedule", "new"); got != 1 {
		t.Errorf("paused{new} = %v, want 1", got)
	}
	for _, name := range []string{"exportd_rows_total", "exportd_run_duration_seconds", "exportd_last_success_window_end_timestamp_seconds"} {
		if _, ok := series(t, reg, name, "schedule", "new"); ok {
			t.Errorf("%s{new} exposed before any event touched it", name)
		}
	}
	if n, _ := testutil.GatherAndCount(reg, "exportd_runs_total"); n != len(outcomes) {
		t.Errorf("runs_total series = %d, want %d (only s's)", n, len(outcomes))
	}
	// Configuring it later creates the rest and keeps what it counted.
	m.AddSchedules("new")
	if n, _ := testutil.GatherAndCount(reg, "exportd_runs_total"); n != 2*len(outcomes) {
		t.Errorf("runs_total series = %d, want %d", n, 2*len(outcomes))
	}
	if got := value(t, reg, "exportd_revisions_total", "schedule", "new"); got != 1 {
		t.Errorf("revisions{new} after AddSchedules = %v, want 1", got)
	}
	if got := value(t, reg, "exportd_rows_total", "schedule", "new"); got != 0 {
		t.Errorf("rows{new} = %v, want 0", got)
	}
}

func TestUnknownOutcomeGetsItsOwnSeries(t *testing.T) {
	// The vec accepted any outcome; the collector's fixed counts must not
	// lose such a run (nor count it as another outcome).
	m, reg := newMetrics(t, "s")
	m.RunFinished("s", "weird", 4, 0, time.Second, time.Unix(1000, 0))
	m.RunFinished("s", "weird", 0, 0, time.Second, time.Unix(1000, 0))
	if got := value(t, reg, "exportd_runs_total", "schedule", "s", "outcome", "weird"); got != 2 {
		t.Errorf("runs_total{weird} = %v, want 2", got)
	}
	if got := value(t, reg, "exportd_rows_total", "schedule", "s"); got != 4 {
		t.Errorf("rows = %v, want 4", got)
	}
	if count, _ := histogram(t, reg, "exportd_run_duration_seconds", "s"); count != 0 {
		t.Errorf("duration count = %d, want 0", count)
	}
	if got := value(t, reg, "exportd_last_success_window_end_timestamp_seconds", "schedule", "s"); got != 0 {
		t.Errorf("freshness = %v, want 0", got)
	}
	for _, o := range outcomes {
		if got := value(t, reg, "exportd_runs_total", "schedule", "s", "outcome", o); got != 0 {
			t.Errorf("runs_total{%s} = %v, want 0", o, got)
		}
	}
}

func TestCountersCarryCreatedTimestamps(t *testing.T) {
	// The vecs gave counters and histograms a created timestamp (sent in
	// the protobuf exposition; Prometheus uses it to see resets); a
	// schedule re-added after a reload starts from zero, so it gets a new
	// one, and a kept schedule keeps its own.
	created := func(reg prometheus.Gatherer, name string, labels ...string) time.Time {
		t.Helper()
		e, ok := series(t, reg, name, labels...)
		if !ok || !e.hasCreated {
			t.Fatalf("%s%v: no created timestamp", name, labels)
		}
		return e.created
	}
	before := time.Now().Truncate(time.Microsecond)
	m, reg := newMetrics(t, "kept", "readded")
	after := time.Now()
	for _, c := range [][]string{
		{"exportd_runs_total", "schedule", "kept", "outcome", domain.OutcomeExported},
		{"exportd_run_failures_total", "schedule", "kept", "reason", ReasonAuth},
		{"exportd_missed_fires_total", "schedule", "kept", "reason", MissedShutdown},
		{"exportd_rows_total", "schedule", "kept"},
		{"exportd_revisions_total", "schedule", "kept"},
		{"exportd_run_duration_seconds", "schedule", "kept"},
	} {
		if got := created(reg, c[0], c[1:]...); got.Before(before) || got.After(after) {
			t.Errorf("%v created %v, not while New ran (%v to %v)", c, got, before, after)
		}
	}
	if e, _ := series(t, reg, "exportd_schedule_paused", "schedule", "kept"); e.hasCreated {
		t.Error("a gauge has a created timestamp")
	}

	kept := created(reg, "exportd_rows_total", "schedule", "kept")
	m.ResetSchedules([]string{"kept"})
	between := time.Now().Truncate(time.Microsecond)
	m.ResetSchedules([]string{"kept", "readded"})
	if got := created(reg, "exportd_rows_total", "schedule", "readded"); got.Before(between) {
		t.Errorf("re-added schedule created %v, before it was re-added (%v)", got, between)
	}
	if got := created(reg, "exportd_rows_total", "schedule", "kept"); !got.Equal(kept) {
		t.Errorf("kept schedule created %v, want %v", got, kept)
	}
}

func TestAddingAScheduleIsOneAllocation(t *testing.T) {
	// What made start-up slow was ~11 KiB of vec children per schedule; a
	// schedule is now one small struct (the map's growth is amortized away
	// in the average).
	m := New(nil, nil)
	names := make([]string, 5000)
	for i := range names {
		names[i] = "s" + strconv.Itoa(i)
	}
	i := 0
	if got := testing.AllocsPerRun(len(names)-1, func() { m.AddSchedules(names[i]); i++ }); got > 1 {
		t.Errorf("AddSchedules of a new schedule: %v allocations, want 1", got)
	}
}

func TestNilRegisterer(t *testing.T) {
	// Unregistered collectors (one-shot commands): New and every event
	// work, and two of them do not collide.
	m := New(nil, []string{"s"})
	New(nil, []string{"s"})
	m.RunFinished("s", domain.OutcomeExported, 7, 70, time.Second, time.Unix(1000, 0))
	m.RunStarted()()
	m.ConfigReloaded(true, time.Unix(1000, 0))
	m.SetBuildInfo("v")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.schedules)
	if got := value(t, reg, "exportd_rows_total", "schedule", "s"); got != 7 {
		t.Errorf("rows = %v, want 7", got)
	}
}

func TestRegisteringTwiceOnOneRegistryPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, []string{"s"})
	defer func() {
		if recover() == nil {
			t.Error("second New on the same registry did not panic")
		}
	}()
	New(reg, []string{"s"})
}

func TestConcurrentEventsAndScrapes(t *testing.T) {
	// The daemon reports events from every run's goroutine while /metrics
	// is scraped and reloads reset the schedules: under -race this fails
	// on any unguarded access, and the totals check no event is lost.
	names := []string{"a", "b", "c", "d"}
	m, reg := newMetrics(t, names...)
	const workers, events = 8, 200
	end := time.Unix(1_800_000_000, 0)

	stop := make(chan struct{})
	scraped := make(chan error, 1)
	go func() {
		var first error
		for {
			select {
			case <-stop:
				scraped <- first
				return
			default:
			}
			if _, err := reg.Gather(); err != nil && first == nil {
				first = err
			}
			m.ResetSchedules(names) // a reload that keeps every schedule
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range events {
				for _, n := range names {
					m.RunFinished(n, domain.OutcomeExported, 3, 5, time.Second, end.Add(time.Duration(w*events+i)*time.Second))
					m.RunFailed(n, ReasonStore, 2*time.Second)
					m.MissedFire(n, MissedOverlap)
					m.LateRows(n, 1)
					m.Revision(n)
					m.SetPaused(n, i%2 == 0)
					m.SetFreshness(n, end)
				}
				// Schedules created by events, concurrently.
				m.Revision(fmt.Sprintf("w%d-%d", w, i%10))
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-scraped; err != nil {
		t.Fatalf("gather during events: %v", err)
	}

	total := float64(workers * events)
	for _, n := range names {
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"exportd_runs_total", []string{"outcome", domain.OutcomeExported}, total},
			{"exportd_runs_total", []string{"outcome", domain.OutcomeFailed}, total},
			{"exportd_run_failures_total", []string{"reason", ReasonStore}, total},
			{"exportd_missed_fires_total", []string{"reason", MissedOverlap}, total},
			{"exportd_rows_total", nil, 3 * total},
			{"exportd_bytes_total", nil, 5 * total},
			{"exportd_late_rows_total", nil, total},
			{"exportd_revisions_total", nil, total},
			{"exportd_last_success_window_end_timestamp_seconds", nil, float64(end.Unix()) + total - 1},
		} {
			if got := value(t, reg, c.name, append([]string{"schedule", n}, c.labels...)...); got != c.want {
				t.Errorf("%s{%s %v} = %v, want %v", c.name, n, c.labels, got, c.want)
			}
		}
		if count, sum := histogram(t, reg, "exportd_run_duration_seconds", n); count != 2*workers*events || sum != 3*total {
			t.Errorf("duration{%s}: count %d sum %v, want %d and %v", n, count, sum, 2*workers*events, 3*total)
		}
	}
	for w := range workers {
		for i := range 10 {
			if got := value(t, reg, "exportd_revisions_total", "schedule", fmt.Sprintf("w%d-%d", w, i)); got != events/10 {
				t.Errorf("revisions{w%d-%d} = %v, want %d", w, i, got, events/10)
			}
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// exposed is one series as a scrape sees it.
type exposed struct {
	kind       string // counter, gauge or histogram
	value      float64
	count      uint64 // histogram
	sum        float64
	created    time.Time // counters and histograms
	hasCreated bool
}

// series returns the series name{labels} (labels as name, value pairs,
// all of them) from g's exposition, and whether it is exposed.
func series(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (exposed, bool) {
	t.Helper()
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, mt := range mf.GetMetric() {
			if len(mt.GetLabel()) != len(want) {
				continue
			}
			for _, l := range mt.GetLabel() {
				if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
					continue metrics
				}
			}
			switch {
			case mt.Counter != nil:
				ct := mt.GetCounter().GetCreatedTimestamp()
				return exposed{kind: "counter", value: mt.GetCounter().GetValue(), created: ct.AsTime(), hasCreated: ct != nil}, true
			case mt.Gauge != nil:
				return exposed{kind: "gauge", value: mt.GetGauge().GetValue()}, true
			case mt.Histogram != nil:
				h := mt.GetHistogram()
				ct := h.GetCreatedTimestamp()
				return exposed{kind: "histogram", count: h.GetSampleCount(), sum: h.GetSampleSum(), created: ct.AsTime(), hasCreated: ct != nil}, true
			}
			t.Fatalf("%s%v: unexpected type %v", name, labels, mf.GetType())
		}
	}
	return exposed{}, false
}

// value returns the value of the counter or gauge name{labels}; the test
// fails if it is not exposed.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	e, ok := series(t, g, name, labels...)
	if !ok || (e.kind != "counter" && e.kind != "gauge") {
		t.Fatalf("no counter or gauge %s%v", name, labels)
	}
	return e.value
}

// histogram returns the sample count and sum of a schedule's histogram.
func histogram(t *testing.T, g prometheus.Gatherer, name, schedule string) (uint64, float64) {
	t.Helper()
	e, ok := series(t, g, name, "schedule", schedule)
	if !ok || e.kind != "histogram" {
		t.Fatalf("no histogram %s{schedule=%q}", name, schedule)
	}
	return e.count, e.sum
}
