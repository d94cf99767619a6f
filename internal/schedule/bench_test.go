package schedule

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/domain"
	"github.com/robfig/cron/v3"
)

var benchSpecs = []string{
	"0 * * * *", "*/15 * * * *", "30 2 * * *", "30 1 * * *", "0 3 * * *", "5 4 * * 1-5", "0 0 1 * *",
	"@daily", "@hourly", "@weekly", "@monthly", "15 */6 * * *", "0 9,17 * * *", "45 23 * * 0", "0 0 29 2 *",
	"*/5 8-18 * * mon-fri", "10 0 * * *", "20 2 14 3 *", "0 12 * jan,jul *", "59 * * * *",
}

var benchZones = []string{"UTC", "America/Los_Angeles", "Europe/London", "Asia/Tokyo", "Australia/Sydney"}

// BenchmarkStartup adds 10,000 entries (parsing their crons and computing
// their first fires) and reports the time and the heap they take. The
// baseline is robfig/cron's own cost for the same work (parse, set the
// zone, one Schedule.Next), measured in the same run.
func BenchmarkStartup(b *testing.B) {
	const n = 10_000
	locs := make([]*time.Location, len(benchZones))
	for i, z := range benchZones {
		locs[i] = mustLoc(b, z)
	}
	now := time.Now()
	var ours, base time.Duration
	var heap uint64
	for range b.N {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		s, err := New(Options{Run: func(context.Context, string, time.Time) error { return nil }})
		if err != nil {
			b.Fatal(err)
		}
		entries := make([]Entry, n)
		for i := range entries {
			c, err := ParseCron(benchSpecs[i%len(benchSpecs)], locs[(i/len(benchSpecs))%len(locs)])
			if err != nil {
				b.Fatal(err)
			}
			entries[i] = Entry{Name: fmt.Sprintf("schedule-%05d", i), Cron: c}
		}
		if err := s.Add(entries); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		entries = nil
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap += after.HeapAlloc - before.HeapAlloc
		if got := len(s.Entries()); got != n {
			b.Fatalf("%d entries", got)
		}
		runtime.KeepAlive(s)

		t0 = time.Now()
		p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
		for i := range n {
			sc, err := p.Parse(benchSpecs[i%len(benchSpecs)])
			if err != nil {
				b.Fatal(err)
			}
			spec := sc.(*cron.SpecSchedule)
			spec.Location = locs[(i/len(benchSpecs))%len(locs)]
			_ = spec.Next(now)
		}
		base += time.Since(t0)
	}
	b.ReportMetric(float64(ours.Microseconds())/1000/float64(b.N), "startup-ms")
	b.ReportMetric(float64(heap)/float64(b.N)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(base.Microseconds())/1000/float64(b.N), "robfig-ms")
	b.ReportMetric(float64(ours)/float64(base), "x-robfig")
}

// BenchmarkFireLateness fires 1,000 entries due in the same minute with a
// no-op RunFunc, in real time, and reports how late after the scheduled
// instant each run started (p50, p99, max). The baseline is the lateness of
// 1,000 bare time.AfterFunc timers set to one instant, measured in the same
// run. Each iteration waits for the next minute boundary: run it with
// -benchtime 1x.
func BenchmarkFireLateness(b *testing.B) {
	const n = 1000
	var ours, base []time.Duration
	for range b.N {
		ours = append(ours, fireLateness(b, n)...)
		base = append(base, timerLateness(n)...)
	}
	slices.Sort(ours)
	slices.Sort(base)
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(q(ours, 0.50), "p50-ms")
	b.ReportMetric(q(ours, 0.99), "p99-ms")
	b.ReportMetric(q(ours, 1), "max-ms")
	b.ReportMetric(q(base, 0.99), "timer-p99-ms")
	b.ReportMetric(q(ours, 0.99)/max(q(base, 0.99), 0.001), "x-timer-p99")
}

func fireLateness(b *testing.B, n int) []time.Duration {
	late := make([]time.Duration, n)
	var got atomic.Int64
	done := make(chan struct{})
	first := sync.Map{}
	s, err := New(Options{Run: func(_ context.Context, name string, logical time.Time) error {
		d := time.Since(logical)
		if _, dup := first.LoadOrStore(name, true); dup {
			return nil
		}
		if i := got.Add(1); i <= int64(n) {
			late[i-1] = d
			if i == int64(n) {
				close(done)
			}
		}
		return nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := ParseCron("* * * * *", nil)
	if err != nil {
		b.Fatal(err)
	}
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{Name: fmt.Sprintf("schedule-%04d", i), Cron: c}
	}
	if err := s.Add(entries); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Errorf("only %d of %d entries fired", got.Load(), n)
	}
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return late
}

func timerLateness(n int) []time.Duration {
	late := make([]time.Duration, n)
	var wg sync.WaitGroup
	at := time.Now().Add(time.Second).Truncate(time.Millisecond)
	for i := range n {
		wg.Add(1)
		time.AfterFunc(time.Until(at), func() {
			late[i] = time.Since(at)
			wg.Done()
		})
	}
	wg.Wait()
	return late
}

// BenchmarkPlanHourlyFiveYears plans one fire of an hourly Los Angeles
// schedule whose Start is five years back with everything archived: the
// planner walks all 43,800 windows. The baseline walks as many fixed UTC
// hours with the same archived check, in the same run.
func BenchmarkPlanHourlyFiveYears(b *testing.B) {
	la := mustLoc(b, "America/Los_Angeles")
	s := Schedule{
		Cron:    mustCron(b, "5 * * * *", la),
		Windows: &WindowSpec{Every: EveryHour, Location: la, Start: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	T := time.Date(2027, 1, 1, 0, 5, 0, 0, la)
	archived := func(w domain.Window) bool { return !w.Start.IsZero() }
	var ours, base time.Duration
	var windows int
	for range b.N {
		t0 := time.Now()
		p, err := s.Plan(T, CatchUpAll, archived, 0, T)
		if err != nil || len(p.Export) != 0 {
			b.Fatal(p, err)
		}
		ours += time.Since(t0)

		t0 = time.Now()
		windows = 0
		for w := (domain.Window{Start: s.Windows.StartInstant(), End: s.Windows.StartInstant().Add(time.Hour)}); !w.End.After(T); w = (domain.Window{Start: w.End, End: w.End.Add(time.Hour)}) {
			if !archived(w) {
				b.Fatal(w)
			}
			windows++
		}
		base += time.Since(t0)
	}
	b.ReportMetric(float64(ours.Microseconds())/1000/float64(b.N), "plan-ms")
	b.ReportMetric(float64(windows), "windows")
	b.ReportMetric(float64(ours)/float64(base), "x-fixed-step")
}
