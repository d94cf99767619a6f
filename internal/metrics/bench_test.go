package metrics

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// BenchmarkNew10k builds the metrics of 10,000 schedules (New, registered
// on a fresh registry, as the daemon does at start-up) and, in the same
// run, the vec-based construction it replaced (vecBaseline), and reports
// for each the time, the bytes allocated and the heap still live after a
// GC, with the new/old ratios.
//
//	go test ./internal/metrics -run '^$' -bench New10k
func BenchmarkNew10k(b *testing.B) {
	names := scheduleNames(10_000)
	var newCost, oldCost cost
	for b.Loop() {
		newCost.add(measure(func() any { return New(prometheus.NewRegistry(), names) }))
		oldCost.add(measure(func() any { return newVecBaseline(prometheus.NewRegistry(), names) }))
	}
	report(b, newCost, oldCost)
}

// BenchmarkGather10k scrapes the registry of 10,000 schedules, next to the
// vec baseline: the collector builds its const metrics on every scrape,
// where the vecs kept theirs, so this is what the start-up saving costs at
// scrape time.
//
//	go test ./internal/metrics -run '^$' -bench Gather10k
func BenchmarkGather10k(b *testing.B) {
	names := scheduleNames(10_000)
	newReg, oldReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	New(newReg, names)
	newVecBaseline(oldReg, names)
	gather := func(g prometheus.Gatherer) func() any {
		return func() any {
			mfs, err := g.Gather()
			if err != nil {
				b.Fatal(err)
			}
			return mfs
		}
	}
	var newCost, oldCost cost
	for b.Loop() {
		newCost.add(measure(gather(newReg)))
		oldCost.add(measure(gather(oldReg)))
	}
	report(b, newCost, oldCost)
}

func scheduleNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "schedule-" + strconv.Itoa(i)
	}
	return names
}

type cost struct {
	n     int
	time  time.Duration
	alloc uint64 // bytes allocated
	live  int64  // heap still in use after a GC, with the result kept
}

func (c *cost) add(o cost) {
	c.n++
	c.time += o.time
	c.alloc += o.alloc
	c.live += o.live
}

// measure runs f once and returns its time, the bytes it allocated and the
// heap its result keeps alive.
func measure(f func() any) cost {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	result := f()
	d := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(result)
	return cost{
		time:  d,
		alloc: after.TotalAlloc - before.TotalAlloc,
		live:  int64(after.HeapAlloc) - int64(before.HeapAlloc),
	}
}

func report(b *testing.B, newCost, oldCost cost) {
	n := float64(newCost.n)
	ms := func(c cost) float64 { return float64(c.time.Microseconds()) / 1e3 / n }
	mib := func(v float64) float64 { return v / n / (1 << 20) }
	b.ReportMetric(ms(newCost), "new_ms")
	b.ReportMetric(ms(oldCost), "old_ms")
	b.ReportMetric(float64(newCost.time)/float64(oldCost.time), "time_new/old")
	b.ReportMetric(mib(float64(newCost.alloc)), "new_alloc_MiB")
	b.ReportMetric(mib(float64(oldCost.alloc)), "old_alloc_MiB")
	b.ReportMetric(float64(newCost.alloc)/float64(oldCost.alloc), "alloc_new/old")
	b.ReportMetric(mib(float64(newCost.live)), "new_live_MiB")
	b.ReportMetric(mib(float64(oldCost.live)), "old_live_MiB")
}

// vecBaseline is the construction New used to do (git show
// 9e80e6b:internal/metrics/metrics.go): one vec per per-schedule metric and
// every schedule's 22 series created at zero. Only what start-up paid for
// is kept; the non-per-schedule gauges are the same in both and left out.
type vecBaseline struct {
	runs, failures, rows, bytes, missed, lost, lateRows, revisions *prometheus.CounterVec
	duration                                                       *prometheus.HistogramVec
	lastSuccess, paused                                            *prometheus.GaugeVec
	schedules                                                      map[string]bool
}

func newVecBaseline(reg prometheus.Registerer, names []string) *vecBaseline {
	f := promauto.With(reg)
	sched := []string{"schedule"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return f.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, sched)
	}
	v := &vecBaseline{
		runs:      counter("exportd_runs_total", "Runs of a schedule's units (windows or snapshots) by outcome: exported, skipped (condition), lost (older than the source's retention), already_archived, claimed (another run holds it), failed.", []string{"schedule", "outcome"}),
		failures:  counter("exportd_run_failures_total", "Failed runs by reason: query, auth, schema, store, other.", []string{"schedule", "reason"}),
		rows:      counter("exportd_rows_total", "Rows written to archived files.", sched),
		bytes:     counter("exportd_bytes_total", "Bytes of archived files (as stored, after compression).", sched),
		missed:    counter("exportd_missed_fires_total", "Cron fires that did not start a run, by reason: overlap, overdue, shutdown.", []string{"schedule", "reason"}),
		lost:      counter("exportd_lost_windows_total", "Windows recorded as lost because the source no longer had their data.", sched),
		lateRows:  counter("exportd_late_rows_total", "Rows that reached the source after their window was archived, found by a recheck.", sched),
		revisions: counter("exportd_revisions_total", "New revisions written for windows whose source data changed after archiving.", sched),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "exportd_run_duration_seconds",
			Help:    "Duration of runs that queried the source (exported, skipped or failed).",
			Buckets: DurationBuckets,
		}, sched),
		lastSuccess: gauge("exportd_last_success_window_end_timestamp_seconds", "End of the newest archived window (or logical time of the newest snapshot), as a Unix timestamp; 0 until the first one."),
		paused:      gauge("exportd_schedule_paused", "1 when the schedule is paused (by an operator or after consecutive failures), else 0."),
		schedules:   map[string]bool{},
	}
	for _, n := range names {
		if v.schedules[n] {
			continue
		}
		v.schedules[n] = true
		for _, o := range outcomes {
			v.runs.WithLabelValues(n, o)
		}
		for _, r := range failureReasons {
			v.failures.WithLabelValues(n, r)
		}
		for _, r := range missedReasons {
			v.missed.WithLabelValues(n, r)
		}
		for _, c := range []*prometheus.CounterVec{v.rows, v.bytes, v.lost, v.lateRows, v.revisions} {
			c.WithLabelValues(n)
		}
		v.duration.WithLabelValues(n)
		v.lastSuccess.WithLabelValues(n)
		v.paused.WithLabelValues(n)
	}
	return v
}
