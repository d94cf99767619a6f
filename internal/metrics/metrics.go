// Package metrics holds exportd's Prometheus collectors. They live in a
// struct registered on a registry the caller owns (never the default one),
// and callers report domain events through methods (RunFinished,
// MissedFire, ...) instead of touching collectors, so label names and
// values stay consistent across the daemon.
//
// Every configured schedule gets its label values created up front (at
// zero), so a schedule that never ran still has series: rate() and absent()
// alerts work from the first scrape, and a missing series means a missing
// schedule, not a quiet one.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Run outcomes, the values of the outcome label of exportd_runs_total.
const (
	OutcomeExported        = "exported"
	OutcomeSkipped         = "skipped"
	OutcomeLost            = "lost"
	OutcomeAlreadyArchived = "already_archived"
	OutcomeClaimed         = "claimed"
	OutcomeFailed          = "failed"
)

// Failure reasons, the values of the reason label of
// exportd_run_failures_total.
const (
	ReasonQuery  = "query"
	ReasonAuth   = "auth"
	ReasonSchema = "schema"
	ReasonStore  = "store"
	ReasonOther  = "other"
)

// Missed-fire reasons, the values of the reason label of
// exportd_missed_fires_total.
const (
	MissedOverlap  = "overlap"  // the previous run of the schedule was still going
	MissedOverdue  = "overdue"  // the fire came too late to be worth running (e.g. after a stall)
	MissedShutdown = "shutdown" // the daemon was stopping
)

var (
	outcomes       = []string{OutcomeExported, OutcomeSkipped, OutcomeLost, OutcomeAlreadyArchived, OutcomeClaimed, OutcomeFailed}
	failureReasons = []string{ReasonQuery, ReasonAuth, ReasonSchema, ReasonStore, ReasonOther}
	missedReasons  = []string{MissedOverlap, MissedOverdue, MissedShutdown}
)

// DurationBuckets are the buckets of exportd_run_duration_seconds: doubling
// from 50 ms to 3276.8 s (~55 min); longer runs land in +Inf.
var DurationBuckets = prometheus.ExponentialBuckets(0.05, 2, 17)

// Metrics are exportd's collectors. The zero value is not usable; build it
// with New. A nil *Metrics is a valid no-op, so code paths that run without
// metrics (one-shot CLI commands, unit tests) need no checks.
type Metrics struct {
	runs        *prometheus.CounterVec
	failures    *prometheus.CounterVec
	rows        *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	missed      *prometheus.CounterVec
	lost        *prometheus.CounterVec
	lateRows    *prometheus.CounterVec
	revisions   *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	paused      *prometheus.GaugeVec
	running     prometheus.Gauge
	reloadOK    prometheus.Gauge
	reloadTime  prometheus.Gauge
	buildInfo   *prometheus.GaugeVec

	mu        sync.Mutex
	schedules map[string]bool
	// freshest is the value of lastSuccess per schedule, kept so the gauge
	// only moves forward when windows finish out of order.
	freshest map[string]float64
}

// New registers exportd's collectors on reg and creates the label values of
// every schedule in schedules. A nil reg builds unregistered collectors.
// Registering twice on the same registry panics, as with any promauto use.
func New(reg prometheus.Registerer, schedules []string) *Metrics {
	f := promauto.With(reg)
	sched := []string{"schedule"}
	m := &Metrics{
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_runs_total",
			Help: "Runs of a schedule's units (windows or snapshots) by outcome: exported, skipped (condition), lost (older than the source's retention), already_archived, claimed (another run holds it), failed.",
		}, []string{"schedule", "outcome"}),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_run_failures_total",
			Help: "Failed runs by reason: query, auth, schema, store, other.",
		}, []string{"schedule", "reason"}),
		rows: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_rows_total",
			Help: "Rows written to archived files.",
		}, sched),
		bytes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_bytes_total",
			Help: "Bytes of archived files (as stored, after compression).",
		}, sched),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "exportd_run_duration_seconds",
			Help:    "Duration of runs that queried the source (exported, skipped or failed).",
			Buckets: DurationBuckets,
		}, sched),
		missed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_missed_fires_total",
			Help: "Cron fires that did not start a run, by reason: overlap, overdue, shutdown.",
		}, []string{"schedule", "reason"}),
		lost: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_lost_windows_total",
			Help: "Windows recorded as lost because the source no longer had their data.",
		}, sched),
		lateRows: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_late_rows_total",
			Help: "Rows that reached the source after their window was archived, found by a recheck.",
		}, sched),
		revisions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "exportd_revisions_total",
			Help: "New revisions written for windows whose source data changed after archiving.",
		}, sched),
		lastSuccess: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exportd_last_success_window_end_timestamp_seconds",
			Help: "End of the newest archived window (or logical time of the newest snapshot), as a Unix timestamp; 0 until the first one.",
		}, sched),
		paused: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exportd_schedule_paused",
			Help: "1 when the schedule is paused (by an operator or after consecutive failures), else 0.",
		}, sched),
		running: f.NewGauge(prometheus.GaugeOpts{
			Name: "exportd_running_exports",
			Help: "Exports in progress.",
		}),
		reloadOK: f.NewGauge(prometheus.GaugeOpts{
			Name: "exportd_config_last_reload_successful",
			Help: "1 when the last configuration (re)load succeeded, 0 when it failed and the previous configuration is still running.",
		}),
		reloadTime: f.NewGauge(prometheus.GaugeOpts{
			Name: "exportd_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration (re)load.",
		}),
		buildInfo: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exportd_build_info",
			Help: "Always 1; the version label says which exportd is running.",
		}, []string{"version"}),
		schedules: map[string]bool{},
		freshest:  map[string]float64{},
	}
	m.AddSchedules(schedules...)
	return m
}

// AddSchedules creates the label values of schedules not seen yet.
func (m *Metrics) AddSchedules(names ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if m.schedules[n] {
			continue
		}
		m.schedules[n] = true
		for _, o := range outcomes {
			m.runs.WithLabelValues(n, o)
		}
		for _, r := range failureReasons {
			m.failures.WithLabelValues(n, r)
		}
		for _, r := range missedReasons {
			m.missed.WithLabelValues(n, r)
		}
		for _, v := range []*prometheus.CounterVec{m.rows, m.bytes, m.lost, m.lateRows, m.revisions} {
			v.WithLabelValues(n)
		}
		m.duration.WithLabelValues(n)
		m.lastSuccess.WithLabelValues(n)
		m.paused.WithLabelValues(n)
	}
}

// ResetSchedules makes names the configured set, after a reload: the series
// of schedules no longer configured are dropped (so dashboards do not show
// ghosts), new ones are created, and kept schedules keep their counts.
func (m *Metrics) ResetSchedules(names []string) {
	if m == nil {
		return
	}
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	m.mu.Lock()
	for n := range m.schedules {
		if keep[n] {
			continue
		}
		l := prometheus.Labels{"schedule": n}
		for _, v := range []*prometheus.MetricVec{
			m.runs.MetricVec, m.failures.MetricVec, m.rows.MetricVec, m.bytes.MetricVec,
			m.duration.MetricVec, m.missed.MetricVec, m.lost.MetricVec, m.lateRows.MetricVec,
			m.revisions.MetricVec, m.lastSuccess.MetricVec, m.paused.MetricVec,
		} {
			v.DeletePartialMatch(l)
		}
		delete(m.schedules, n)
		delete(m.freshest, n)
	}
	m.mu.Unlock()
	m.AddSchedules(names...)
}

// RunStarted counts one export as in progress until the returned function
// is called; calling it more than once is harmless, so it can be deferred
// and also called early.
func (m *Metrics) RunStarted() (done func()) {
	if m == nil {
		return func() {}
	}
	m.running.Inc()
	var once sync.Once
	return func() { once.Do(m.running.Dec) }
}

// RunFinished accounts one finished run of a unit of schedule:
//   - runs_total by outcome (one of the Outcome constants);
//   - rows and bytes archived;
//   - the duration, for outcomes that queried the source (exported,
//     skipped, failed): bookkeeping outcomes take milliseconds and would
//     drown the real runs' quantiles;
//   - lost_windows_total, for OutcomeLost;
//   - the freshness gauge, for exported, skipped and already archived
//     units: windowEnd is the end of the window (or a snapshot's logical
//     time); the gauge only moves forward, because catch-up finishes
//     windows out of order and a revision of an old window is not news.
//
// A failed run reported here counts as reason "other"; RunFailed gives the
// reason.
func (m *Metrics) RunFinished(schedule, outcome string, rows, bytes int64, d time.Duration, windowEnd time.Time) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(schedule, outcome).Inc()
	if rows > 0 {
		m.rows.WithLabelValues(schedule).Add(float64(rows))
	}
	if bytes > 0 {
		m.bytes.WithLabelValues(schedule).Add(float64(bytes))
	}
	switch outcome {
	case OutcomeExported, OutcomeSkipped, OutcomeFailed:
		m.duration.WithLabelValues(schedule).Observe(d.Seconds())
	}
	switch outcome {
	case OutcomeExported, OutcomeSkipped, OutcomeAlreadyArchived:
		m.advanceFreshness(schedule, windowEnd)
	case OutcomeLost:
		m.lost.WithLabelValues(schedule).Inc()
	case OutcomeFailed:
		m.failures.WithLabelValues(schedule, ReasonOther).Inc()
	}
}

// RunFailed accounts one failed run of schedule with its reason (one of
// the Reason constants; anything else counts as "other" so a caller's typo
// cannot grow the label set).
func (m *Metrics) RunFailed(schedule, reason string, d time.Duration) {
	if m == nil {
		return
	}
	switch reason {
	case ReasonQuery, ReasonAuth, ReasonSchema, ReasonStore:
	default:
		reason = ReasonOther
	}
	m.runs.WithLabelValues(schedule, OutcomeFailed).Inc()
	m.failures.WithLabelValues(schedule, reason).Inc()
	m.duration.WithLabelValues(schedule).Observe(d.Seconds())
}

// SetFreshness moves the freshness gauge of schedule forward to t (the end
// of its newest archived window), e.g. from the archive at start-up.
func (m *Metrics) SetFreshness(schedule string, t time.Time) {
	if m == nil {
		return
	}
	m.advanceFreshness(schedule, t)
}

func (m *Metrics) advanceFreshness(schedule string, t time.Time) {
	if t.IsZero() {
		return
	}
	v := float64(t.UnixMilli()) / 1e3
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.freshest[schedule]; ok && cur >= v {
		return
	}
	m.freshest[schedule] = v
	m.lastSuccess.WithLabelValues(schedule).Set(v)
}

// MissedFire counts a cron fire of schedule that started no run (reason is
// one of the Missed constants; anything else counts as overdue).
func (m *Metrics) MissedFire(schedule, reason string) {
	if m == nil {
		return
	}
	switch reason {
	case MissedOverlap, MissedOverdue, MissedShutdown:
	default:
		reason = MissedOverdue
	}
	m.missed.WithLabelValues(schedule, reason).Inc()
}

// LateRows counts n rows that a recheck found in an archived window after
// it was archived.
func (m *Metrics) LateRows(schedule string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.lateRows.WithLabelValues(schedule).Add(float64(n))
}

// Revision counts a new revision written for an archived window.
func (m *Metrics) Revision(schedule string) {
	if m == nil {
		return
	}
	m.revisions.WithLabelValues(schedule).Inc()
}

// SetPaused records whether schedule is paused.
func (m *Metrics) SetPaused(schedule string, paused bool) {
	if m == nil {
		return
	}
	v := 0.0
	if paused {
		v = 1
	}
	m.paused.WithLabelValues(schedule).Set(v)
}

// ConfigReloaded records the result of a configuration (re)load at time at:
// a failed reload leaves the last success time alone, so "how long have we
// been running a config we could not update" stays answerable.
func (m *Metrics) ConfigReloaded(ok bool, at time.Time) {
	if m == nil {
		return
	}
	if !ok {
		m.reloadOK.Set(0)
		return
	}
	m.reloadOK.Set(1)
	m.reloadTime.Set(float64(at.UnixMilli()) / 1e3)
}

// SetBuildInfo sets exportd_build_info{version} to 1 (and drops a previous
// version's series).
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(version).Set(1)
}
