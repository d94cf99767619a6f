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
//
// The per-schedule series are not prometheus vecs: a schedule's 22 vec
// children (label pairs, hashes, a histogram with two bucket arrays) kept
// ~11 KiB of heap, which at 10,000 schedules made start-up slow and heavy.
// One collector keeps a few plain numbers per schedule instead (one
// allocation of ~350 bytes) and builds const metrics when scraped (the
// kube-state-metrics / node_exporter pattern); the exposition is the same
// as the vecs produced (BenchmarkNew10k compares the two).
package metrics

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/exportd/exportd/internal/domain"
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

// The label values, in the order of the count arrays of scheduleSeries.
var (
	outcomes       = [...]string{domain.OutcomeExported, domain.OutcomeSkipped, domain.OutcomeLost, domain.OutcomeAlreadyArchived, domain.OutcomeClaimed, domain.OutcomeFailed}
	failureReasons = [...]string{ReasonQuery, ReasonAuth, ReasonSchema, ReasonStore, ReasonOther}
	missedReasons  = [...]string{MissedOverlap, MissedOverdue, MissedShutdown}

	failedRun    = indexOf(outcomes[:], domain.OutcomeFailed)
	otherFailure = indexOf(failureReasons[:], ReasonOther)
	overdueMiss  = indexOf(missedReasons[:], MissedOverdue)
)

// durationBucketCount is the number of DurationBuckets; scheduleSeries
// holds the bucket counts inline, so the count is fixed.
const durationBucketCount = 17

// DurationBuckets are the buckets of exportd_run_duration_seconds: doubling
// from 50 ms to 3276.8 s (~55 min); longer runs land in +Inf. New reads
// them once; they must keep their 17 bounds.
var DurationBuckets = prometheus.ExponentialBuckets(0.05, 2, durationBucketCount)

// Metrics are exportd's collectors. The zero value is not usable; build it
// with New. A nil *Metrics is a valid no-op, so code paths that run without
// metrics (one-shot CLI commands, unit tests) need no checks.
type Metrics struct {
	schedules  *scheduleCollector
	running    prometheus.Gauge
	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
	buildInfo  *prometheus.GaugeVec
	ready      prometheus.Gauge
	aborted    prometheus.Counter
	sweepFails prometheus.Counter
}

// New registers exportd's collectors on reg and creates the series of
// every schedule in schedules. A nil reg builds unregistered collectors.
// Registering twice on the same registry panics, as with any promauto use.
func New(reg prometheus.Registerer, schedules []string) *Metrics {
	c := newScheduleCollector(len(schedules))
	if reg != nil {
		reg.MustRegister(c)
	}
	f := promauto.With(reg)
	m := &Metrics{
		schedules: c,
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
		ready: f.NewGauge(prometheus.GaugeOpts{
			Name: "exportd_ready",
			Help: "1 when every destination store and source of the enabled schedules was reachable at the last check, 0 while the daemon waits for them (it retries; /readyz says why).",
		}),
		aborted: f.NewCounter(prometheus.CounterOpts{
			Name: "exportd_stale_uploads_aborted_total",
			Help: "Stale multipart uploads (of runs that died) aborted by the periodic sweep of the S3 destinations.",
		}),
		sweepFails: f.NewCounter(prometheus.CounterOpts{
			Name: "exportd_stale_upload_sweep_failures_total",
			Help: "Sweeps of one S3 destination for stale multipart uploads that failed (listing or an abort); the next sweep tries again.",
		}),
	}
	m.AddSchedules(schedules...)
	return m
}

// AddSchedules creates the series of schedules not seen yet.
func (m *Metrics) AddSchedules(names ...string) {
	if m == nil {
		return
	}
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	c.configure(names, time.Now())
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
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	for n, s := range c.series {
		// Only configured schedules are dropped, as the vecs did: series
		// created by events for a schedule never configured stay.
		if s.configured && !keep[n] {
			delete(c.series, n)
		}
	}
	c.configure(names, time.Now())
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
//   - lost_windows_total, for domain.OutcomeLost;
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
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.get(schedule)
	if i := indexOf(outcomes[:], outcome); i >= 0 {
		s.runs[i]++
		s.present |= 1 << (bitRuns + i)
	} else {
		// Not an Outcome constant: the vec created a series for any
		// value, and so do we (rarely, so the map is made on demand).
		if s.otherRuns == nil {
			s.otherRuns = map[string]uint64{}
		}
		s.otherRuns[outcome]++
	}
	if rows > 0 {
		s.rows += uint64(rows)
		s.present |= 1 << bitRows
	}
	if bytes > 0 {
		s.bytes += uint64(bytes)
		s.present |= 1 << bitBytes
	}
	switch outcome {
	case domain.OutcomeExported, domain.OutcomeSkipped, domain.OutcomeFailed:
		s.observe(c.bounds, d.Seconds())
	}
	switch outcome {
	case domain.OutcomeExported, domain.OutcomeSkipped, domain.OutcomeAlreadyArchived:
		s.advanceFreshness(windowEnd)
	case domain.OutcomeLost:
		s.lost++
		s.present |= 1 << bitLost
	case domain.OutcomeFailed:
		s.failures[otherFailure]++
		s.present |= 1 << (bitFailures + otherFailure)
	}
}

// RunFailed accounts one failed run of schedule with its reason (one of
// the Reason constants; anything else counts as "other" so a caller's typo
// cannot grow the label set).
func (m *Metrics) RunFailed(schedule, reason string, d time.Duration) {
	if m == nil {
		return
	}
	r := indexOf(failureReasons[:], reason)
	if r < 0 {
		r = otherFailure
	}
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.get(schedule)
	s.runs[failedRun]++
	s.failures[r]++
	s.present |= 1<<(bitRuns+failedRun) | 1<<(bitFailures+r)
	s.observe(c.bounds, d.Seconds())
}

// SetFreshness moves the freshness gauge of schedule forward to t (the end
// of its newest archived window), e.g. from the archive at start-up.
func (m *Metrics) SetFreshness(schedule string, t time.Time) {
	if m == nil || t.IsZero() {
		return
	}
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	c.get(schedule).advanceFreshness(t)
}

// MissedFire counts a cron fire of schedule that started no run (reason is
// one of the Missed constants; anything else counts as overdue).
func (m *Metrics) MissedFire(schedule, reason string) {
	if m == nil {
		return
	}
	r := indexOf(missedReasons[:], reason)
	if r < 0 {
		r = overdueMiss
	}
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.get(schedule)
	s.missed[r]++
	s.present |= 1 << (bitMissed + r)
}

// LateRows counts n rows that a recheck found in an archived window after
// it was archived.
func (m *Metrics) LateRows(schedule string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.get(schedule)
	s.lateRows += uint64(n)
	s.present |= 1 << bitLateRows
}

// Revision counts a new revision written for an archived window.
func (m *Metrics) Revision(schedule string) {
	if m == nil {
		return
	}
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.get(schedule)
	s.revisions++
	s.present |= 1 << bitRevisions
}

// SetPaused records whether schedule is paused.
func (m *Metrics) SetPaused(schedule string, paused bool) {
	if m == nil {
		return
	}
	c := m.schedules
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.get(schedule)
	s.paused = paused
	s.present |= 1 << bitPaused
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

// SetReady records whether the stores and sources were reachable.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.Set(v)
}

// UploadsSwept records one sweep of a destination for stale multipart
// uploads: how many it aborted, and whether it failed.
func (m *Metrics) UploadsSwept(aborted int, failed bool) {
	if m == nil {
		return
	}
	m.aborted.Add(float64(aborted))
	if failed {
		m.sweepFails.Inc()
	}
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

func indexOf(values []string, v string) int {
	for i, x := range values {
		if x == v {
			return i
		}
	}
	return -1
}

// Bits of scheduleSeries.present, one per series: which series of a
// schedule exist. A configured schedule has them all; a schedule known only
// from events has those the events touched, as WithLabelValues created them.
const (
	bitRuns        = 0
	bitFailures    = bitRuns + len(outcomes)
	bitMissed      = bitFailures + len(failureReasons)
	bitRows        = bitMissed + len(missedReasons)
	bitBytes       = bitRows + 1
	bitLost        = bitBytes + 1
	bitLateRows    = bitLost + 1
	bitRevisions   = bitLateRows + 1
	bitDuration    = bitRevisions + 1
	bitLastSuccess = bitDuration + 1
	bitPaused      = bitLastSuccess + 1
	allSeries      = 1<<(bitPaused+1) - 1
)

// scheduleSeries is the state of one schedule's series: plain numbers, so
// creating a schedule is one allocation of a few hundred bytes.
type scheduleSeries struct {
	runs      [len(outcomes)]uint64
	failures  [len(failureReasons)]uint64
	missed    [len(missedReasons)]uint64
	rows      uint64
	bytes     uint64
	lost      uint64
	lateRows  uint64
	revisions uint64
	// buckets counts observations per bucket (not cumulative); those above
	// the last bound are only in count, as for the +Inf bucket.
	buckets [durationBucketCount]uint64
	sum     float64
	count   uint64
	// lastSuccess is the freshness gauge; fresh says it has been set, so
	// it only moves forward from then on.
	lastSuccess float64
	fresh       bool
	paused      bool
	// configured schedules are dropped by ResetSchedules when no longer
	// configured.
	configured bool
	present    uint32
	// labels are built by the first scrape (Collect).
	labels *scheduleLabels
	// created is when the series were created (Unix ns), the counters' and
	// the histogram's created timestamp. Series that events create later
	// share it: they count events since then too (there were none).
	created int64
	// otherRuns counts runs_total for outcomes that are not Outcome
	// constants; nil unless a caller reported one.
	otherRuns map[string]uint64
}

func (s *scheduleSeries) observe(bounds []float64, v float64) {
	for i, b := range bounds {
		if v <= b {
			s.buckets[i]++
			break
		}
	}
	s.sum += v
	s.count++
	s.present |= 1 << bitDuration
}

func (s *scheduleSeries) advanceFreshness(t time.Time) {
	if t.IsZero() {
		return
	}
	v := float64(t.UnixMilli()) / 1e3
	if s.fresh && s.lastSuccess >= v {
		return
	}
	s.lastSuccess, s.fresh = v, true
	s.present |= 1 << bitLastSuccess
}

// scheduleCollector exposes every schedule's series.
//
// One mutex guards all schedules rather than one per schedule: events come
// a few per run (runs take seconds), so contention is negligible and each
// hold is a map look-up and a few additions; a per-schedule mutex would
// still need a lock around the map for look-ups, creation and removal, and
// a scrape would take 10,000 locks. Collect holds it only to copy the
// numbers, not while building and encoding the metrics, so a scrape does
// not stall the daemon's events.
type scheduleCollector struct {
	runs, failures, missed                 *prometheus.Desc
	rows, bytes, lost, lateRows, revisions *prometheus.Desc
	duration, lastSuccess, paused          *prometheus.Desc
	bounds                                 []float64
	mu                                     sync.Mutex
	series                                 map[string]*scheduleSeries
}

func newScheduleCollector(capacity int) *scheduleCollector {
	if len(DurationBuckets) != durationBucketCount {
		panic("metrics: DurationBuckets must have 17 bounds")
	}
	sched := []string{"schedule"}
	return &scheduleCollector{
		runs: prometheus.NewDesc("exportd_runs_total",
			"Runs of a schedule's units (windows or snapshots) by outcome: exported, skipped (condition), lost (older than the source's retention), already_archived, claimed (another run holds it), failed.",
			[]string{"schedule", "outcome"}, nil),
		failures: prometheus.NewDesc("exportd_run_failures_total",
			"Failed runs by reason: query, auth, schema, store, other.",
			[]string{"schedule", "reason"}, nil),
		rows: prometheus.NewDesc("exportd_rows_total",
			"Rows written to archived files.", sched, nil),
		bytes: prometheus.NewDesc("exportd_bytes_total",
			"Bytes of archived files (as stored, after compression).", sched, nil),
		duration: prometheus.NewDesc("exportd_run_duration_seconds",
			"Duration of runs that queried the source (exported, skipped or failed).", sched, nil),
		missed: prometheus.NewDesc("exportd_missed_fires_total",
			"Cron fires that did not start a run, by reason: overlap, overdue, shutdown.",
			[]string{"schedule", "reason"}, nil),
		lost: prometheus.NewDesc("exportd_lost_windows_total",
			"Windows recorded as lost because the source no longer had their data.", sched, nil),
		lateRows: prometheus.NewDesc("exportd_late_rows_total",
			"Rows that reached the source after their window was archived, found by a recheck.", sched, nil),
		revisions: prometheus.NewDesc("exportd_revisions_total",
			"New revisions written for windows whose source data changed after archiving.", sched, nil),
		lastSuccess: prometheus.NewDesc("exportd_last_success_window_end_timestamp_seconds",
			"End of the newest archived window (or logical time of the newest snapshot), as a Unix timestamp; 0 until the first one.", sched, nil),
		paused: prometheus.NewDesc("exportd_schedule_paused",
			"1 when the schedule is paused (by an operator or after consecutive failures), else 0.", sched, nil),
		bounds: append([]float64(nil), DurationBuckets...),
		series: make(map[string]*scheduleSeries, capacity),
	}
}

// get returns the series of schedule, created (with no series present) if
// it is not known: the caller holds c.mu.
func (c *scheduleCollector) get(schedule string) *scheduleSeries {
	s := c.series[schedule]
	if s == nil {
		s = &scheduleSeries{created: time.Now().UnixNano()}
		c.series[schedule] = s
	}
	return s
}

// configure creates every series of names, keeping the counts of known
// schedules: the caller holds c.mu.
func (c *scheduleCollector) configure(names []string, now time.Time) {
	created := now.UnixNano()
	for _, n := range names {
		s := c.series[n]
		if s == nil {
			s = &scheduleSeries{created: created}
			c.series[n] = s
		}
		s.configured = true
		s.present = allSeries
	}
}

// Describe implements prometheus.Collector.
func (c *scheduleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.runs, c.failures, c.rows, c.bytes, c.duration, c.missed,
		c.lost, c.lateRows, c.revisions, c.lastSuccess, c.paused,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
//
// It sends the metrics in the order the registry sorts them into (family
// by family; within one, by label values in label-name order, so outcome
// and reason before schedule): sorting 10,000 schedules' series that
// arrived in map order was a quarter of a scrape's CPU, and sorting input
// already in order takes one pass. The series are written straight into
// the registry's protobufs with label pairs built once per schedule
// (seriesMetric), not as const metrics that build them on every scrape.
func (c *scheduleCollector) Collect(ch chan<- prometheus.Metric) {
	type named struct {
		name   string
		s      scheduleSeries
		labels *scheduleLabels
	}
	c.mu.Lock()
	snap := make([]named, 0, len(c.series))
	for n, s := range c.series {
		if s.labels == nil {
			s.labels = newScheduleLabels(n, s.created)
		}
		v := named{name: n, s: *s, labels: s.labels}
		if s.otherRuns != nil {
			v.s.otherRuns = maps.Clone(s.otherRuns)
		}
		snap = append(snap, v)
	}
	c.mu.Unlock()
	slices.SortFunc(snap, func(a, b named) int { return strings.Compare(a.name, b.name) })

	// One allocation per family for its metrics, not one per series.
	var batch []seriesMetric
	emit := func(d *prometheus.Desc, typ prometheus.ValueType, v float64, l *scheduleLabels, pairs []*dto.LabelPair) {
		if l.invalid != nil {
			ch <- prometheus.NewInvalidMetric(d, l.invalid)
			return
		}
		if len(batch) == cap(batch) {
			batch = make([]seriesMetric, 0, len(snap))
		}
		batch = append(batch, seriesMetric{desc: d, labels: pairs, typ: typ, value: v, created: l.created})
		ch <- &batch[len(batch)-1]
	}
	// Families with a second label: by its value, then by schedule.
	for _, i := range outcomeOrder {
		for k := range snap {
			if s := &snap[k].s; s.has(bitRuns + i) {
				emit(c.runs, prometheus.CounterValue, float64(s.runs[i]), snap[k].labels, snap[k].labels.runs[i])
			}
		}
	}
	for k := range snap {
		for o, v := range snap[k].s.otherRuns {
			m, err := prometheus.NewConstMetricWithCreatedTimestamp(c.runs, prometheus.CounterValue, float64(v), time.Unix(0, snap[k].s.created), snap[k].name, o)
			send(ch, c.runs, m, err)
		}
	}
	for _, i := range failureOrder {
		for k := range snap {
			if s := &snap[k].s; s.has(bitFailures + i) {
				emit(c.failures, prometheus.CounterValue, float64(s.failures[i]), snap[k].labels, snap[k].labels.failures[i])
			}
		}
	}
	for _, i := range missedOrder {
		for k := range snap {
			if s := &snap[k].s; s.has(bitMissed + i) {
				emit(c.missed, prometheus.CounterValue, float64(s.missed[i]), snap[k].labels, snap[k].labels.missed[i])
			}
		}
	}
	for _, f := range []struct {
		bit int
		d   *prometheus.Desc
		n   func(*scheduleSeries) uint64
	}{
		{bitRows, c.rows, func(s *scheduleSeries) uint64 { return s.rows }},
		{bitBytes, c.bytes, func(s *scheduleSeries) uint64 { return s.bytes }},
		{bitLost, c.lost, func(s *scheduleSeries) uint64 { return s.lost }},
		{bitLateRows, c.lateRows, func(s *scheduleSeries) uint64 { return s.lateRows }},
		{bitRevisions, c.revisions, func(s *scheduleSeries) uint64 { return s.revisions }},
	} {
		for k := range snap {
			if s := &snap[k].s; s.has(f.bit) {
				emit(f.d, prometheus.CounterValue, float64(f.n(s)), snap[k].labels, snap[k].labels.schedule)
			}
		}
	}
	for k := range snap {
		s, l := &snap[k].s, snap[k].labels
		if !s.has(bitDuration) {
			continue
		}
		if l.invalid != nil {
			ch <- prometheus.NewInvalidMetric(c.duration, l.invalid)
			continue
		}
		h := &histogramMetric{desc: c.duration, labels: l.schedule, created: l.created, count: s.count, sum: s.sum}
		var n uint64
		for i := range c.bounds {
			n += s.buckets[i]
			h.cumulative[i] = n
			h.buckets[i] = dto.Bucket{UpperBound: &c.bounds[i], CumulativeCount: &h.cumulative[i]}
			h.bucketPtrs[i] = &h.buckets[i]
		}
		ch <- h
	}
	for k := range snap {
		if s := &snap[k].s; s.has(bitLastSuccess) {
			emit(c.lastSuccess, prometheus.GaugeValue, s.lastSuccess, snap[k].labels, snap[k].labels.schedule)
		}
	}
	for k := range snap {
		if s := &snap[k].s; s.has(bitPaused) {
			p := 0.0
			if s.paused {
				p = 1
			}
			emit(c.paused, prometheus.GaugeValue, p, snap[k].labels, snap[k].labels.schedule)
		}
	}
}

// scheduleLabels are the label pairs of one schedule's series, sorted by
// label name as the exposition wants them, and its series' created
// timestamp: built on the first scrape that sees the schedule and shared,
// read-only, by every scrape after it.
type scheduleLabels struct {
	schedule []*dto.LabelPair // {schedule}
	runs     [len(outcomes)][]*dto.LabelPair
	failures [len(failureReasons)][]*dto.LabelPair
	missed   [len(missedReasons)][]*dto.LabelPair
	created  *timestamppb.Timestamp
	// invalid is set when the name cannot be a label value (not UTF-8):
	// the registry then reports an error for the schedule's series.
	invalid error
}

func newScheduleLabels(name string, created int64) *scheduleLabels {
	l := &scheduleLabels{created: timestamppb.New(time.Unix(0, created))}
	if !utf8.ValidString(name) {
		l.invalid = fmt.Errorf("schedule name %q is not valid UTF-8", name)
		return l
	}
	sched := &dto.LabelPair{Name: proto.String("schedule"), Value: proto.String(name)}
	l.schedule = []*dto.LabelPair{sched}
	// "outcome" and "reason" sort before "schedule".
	pair := func(label, value string) []*dto.LabelPair {
		return []*dto.LabelPair{{Name: proto.String(label), Value: proto.String(value)}, sched}
	}
	for i, o := range outcomes {
		l.runs[i] = pair("outcome", o)
	}
	for i, r := range failureReasons {
		l.failures[i] = pair("reason", r)
	}
	for i, r := range missedReasons {
		l.missed[i] = pair("reason", r)
	}
	return l
}

// seriesMetric is one counter or gauge of a schedule.
type seriesMetric struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	typ     prometheus.ValueType
	value   float64
	created *timestamppb.Timestamp
}

func (m *seriesMetric) Desc() *prometheus.Desc { return m.desc }

func (m *seriesMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	if m.typ == prometheus.CounterValue {
		out.Counter = &dto.Counter{Value: &m.value, CreatedTimestamp: m.created}
	} else {
		out.Gauge = &dto.Gauge{Value: &m.value}
	}
	return nil
}

// histogramMetric is a schedule's run-duration histogram.
type histogramMetric struct {
	desc       *prometheus.Desc
	labels     []*dto.LabelPair
	created    *timestamppb.Timestamp
	count      uint64
	sum        float64
	cumulative [durationBucketCount]uint64
	buckets    [durationBucketCount]dto.Bucket
	bucketPtrs [durationBucketCount]*dto.Bucket
}

func (h *histogramMetric) Desc() *prometheus.Desc { return h.desc }

func (h *histogramMetric) Write(out *dto.Metric) error {
	out.Label = h.labels
	out.Histogram = &dto.Histogram{SampleCount: &h.count, SampleSum: &h.sum, Bucket: h.bucketPtrs[:], CreatedTimestamp: h.created}
	return nil
}

func (s *scheduleSeries) has(bit int) bool { return s.present&(1<<bit) != 0 }

// sortedOrder returns the indexes of values in the order of the values.
func sortedOrder(values []string) []int {
	order := make([]int, len(values))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(values[a], values[b]) })
	return order
}

var (
	outcomeOrder = sortedOrder(outcomes[:])
	failureOrder = sortedOrder(failureReasons[:])
	missedOrder  = sortedOrder(missedReasons[:])
)

// send sends a const metric or, if it could not be built (a label value
// that is not valid UTF-8), an invalid metric: the registry reports an
// error for that series instead of a panic taking the daemon down in the
// middle of a scrape.
func send(ch chan<- prometheus.Metric, d *prometheus.Desc, m prometheus.Metric, err error) {
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}
