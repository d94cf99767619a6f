package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// recorder is a RunFunc and an Observer that write down what happened.
type recorder struct {
	mu       sync.Mutex
	runs     map[string][]time.Time // logical instants, in start order
	late     []time.Duration        // start - logical
	missed   map[MissReason][]string
	finished map[string][]error
	inFlight map[string]int
	maxOne   int // highest in-flight count of one entry
	total    int
	maxTotal int
	body     func(ctx context.Context, name string, logical time.Time) error
}

func newRecorder() *recorder {
	return &recorder{runs: map[string][]time.Time{}, missed: map[MissReason][]string{}, finished: map[string][]error{}, inFlight: map[string]int{}}
}

func (r *recorder) Run(ctx context.Context, name string, logical time.Time) error {
	r.mu.Lock()
	r.runs[name] = append(r.runs[name], logical)
	r.late = append(r.late, time.Since(logical))
	r.inFlight[name]++
	r.maxOne = max(r.maxOne, r.inFlight[name])
	r.total++
	r.maxTotal = max(r.maxTotal, r.total)
	body := r.body
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.inFlight[name]--
		r.total--
		r.mu.Unlock()
	}()
	if body != nil {
		return body(ctx, name, logical)
	}
	return nil
}

func (r *recorder) RunStarted(string, time.Time) {}
func (r *recorder) RunFinished(name string, _ time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished[name] = append(r.finished[name], err)
}
func (r *recorder) Missed(name string, logical time.Time, reason MissReason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.missed[reason] = append(r.missed[reason], name+"@"+logical.UTC().Format(time.RFC3339))
}

func (r *recorder) logicals(name string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.runs[name])
}

// sleepUntil advances the bubble's clock to at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// start runs s in the background; stop cancels it and returns Run's error.
func start(t *testing.T, s *Scheduler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func newScheduler(t *testing.T, rec *recorder, opts Options) *Scheduler {
	t.Helper()
	opts.Run = rec.Run
	opts.Observer = rec
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchedulerDSTDays runs simulated days around each 2027 transition in
// Los Angeles and London and checks every logical fire instant.
func TestSchedulerDSTDays(t *testing.T) {
	tests := []struct {
		zone, firstDay string
		// daily fires at 02:30 and 01:30, UTC
		at0230, at0130  []string
		hourly, every15 []int // fires per local day
	}{
		{"America/Los_Angeles", "2027-03-13",
			[]string{"2027-03-13T10:30:00Z", "2027-03-14T10:00:00Z", "2027-03-15T09:30:00Z"},
			[]string{"2027-03-13T09:30:00Z", "2027-03-14T09:30:00Z", "2027-03-15T08:30:00Z"},
			[]int{24, 23, 24}, []int{96, 92, 96}},
		{"America/Los_Angeles", "2027-11-06",
			[]string{"2027-11-06T09:30:00Z", "2027-11-07T10:30:00Z", "2027-11-08T10:30:00Z"},
			[]string{"2027-11-06T08:30:00Z", "2027-11-07T08:30:00Z", "2027-11-08T09:30:00Z"},
			[]int{24, 24, 24}, []int{96, 96, 96}},
		{"Europe/London", "2027-03-27",
			[]string{"2027-03-27T02:30:00Z", "2027-03-28T01:30:00Z", "2027-03-29T01:30:00Z"},
			[]string{"2027-03-27T01:30:00Z", "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"},
			[]int{24, 23, 24}, []int{96, 92, 96}},
		{"Europe/London", "2027-10-30",
			[]string{"2027-10-30T01:30:00Z", "2027-10-31T02:30:00Z", "2027-11-01T02:30:00Z"},
			[]string{"2027-10-30T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"},
			[]int{24, 24, 24}, []int{96, 96, 96}},
	}
	for _, tc := range tests {
		t.Run(tc.zone+" "+tc.firstDay, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				loc := mustLoc(t, tc.zone)
				first, err := time.ParseInLocation("2006-01-02", tc.firstDay, loc)
				if err != nil {
					t.Fatal(err)
				}
				end := time.Date(first.Year(), first.Month(), first.Day()+3, 0, 0, 0, 0, loc)
				sleepUntil(first.Add(-time.Minute))

				rec := newRecorder()
				s := newScheduler(t, rec, Options{})
				entries := []Entry{
					{Name: "at-0230", Cron: mustCron(t, "30 2 * * *", loc)},
					{Name: "at-0130", Cron: mustCron(t, "30 1 * * *", loc)},
					{Name: "hourly", Cron: mustCron(t, "0 * * * *", loc)},
					{Name: "every-15", Cron: mustCron(t, "*/15 * * * *", loc)},
				}
				if err := s.Add(entries); err != nil {
					t.Fatal(err)
				}
				stop := start(t, s)
				sleepUntil(end.Add(-time.Minute))
				if err := stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}

				if got := utcStrings(rec.logicals("at-0230")); !slices.Equal(got, tc.at0230) {
					t.Errorf("30 2 * * * fired at %v, want %v", got, tc.at0230)
				}
				if got := utcStrings(rec.logicals("at-0130")); !slices.Equal(got, tc.at0130) {
					t.Errorf("30 1 * * * fired at %v, want %v", got, tc.at0130)
				}
				for _, e := range entries[2:] {
					got := rec.logicals(e.Name)
					wantPerDay := map[string][]int{"hourly": tc.hourly, "every-15": tc.every15}[e.Name]
					if perDay := perLocalDay(got, first, loc); !slices.Equal(perDay, wantPerDay) {
						t.Errorf("%s fired %v times per local day, want %v", e.Name, perDay, wantPerDay)
					}
					// The loop fires exactly the cron's instants, in order, none twice.
					var want []time.Time
					for f := e.Cron.Next(first.Add(-time.Nanosecond)); f.Before(end); f = e.Cron.Next(f) {
						want = append(want, f)
					}
					if !slices.EqualFunc(got, want, time.Time.Equal) {
						t.Errorf("%s fired at %v, want %v", e.Name, utcStrings(got), utcStrings(want))
					}
				}
				for _, l := range rec.late {
					if l != 0 {
						t.Fatalf("a run started %s after its logical time; in a bubble it starts at it", l)
					}
				}
				if len(rec.missed) != 0 {
					t.Errorf("missed fires: %v", rec.missed)
				}
			})
		})
	}
}

// perLocalDay counts instants per local date, for the three dates from first.
func perLocalDay(ts []time.Time, first time.Time, loc *time.Location) []int {
	out := make([]int, 3)
	for _, v := range ts {
		l := v.In(loc)
		for i := range out {
			d := first.AddDate(0, 0, i)
			if l.Year() == d.Year() && l.YearDay() == d.YearDay() {
				out[i]++
			}
		}
	}
	return out
}

// TestSchedulerNoOverlap: a run longer than the interval makes the fires
// that come while it runs missed (counted, reason overlap); runs of one entry
// never overlap.
func TestSchedulerNoOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0.Add(-time.Minute))
		rec := newRecorder()
		rec.body = func(context.Context, string, time.Time) error {
			time.Sleep(40 * time.Minute)
			return nil
		}
		s := newScheduler(t, rec, Options{ShutdownTimeout: time.Hour})
		if err := s.Add([]Entry{{Name: "slow", Cron: mustCron(t, "*/15 * * * *", nil)}}); err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		sleepUntil(t0.Add(119 * time.Minute))
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if now := time.Now(); !now.Equal(t0.Add(130 * time.Minute)) {
			t.Errorf("Run returned at %s, want 02:10 when the 01:30 run ends", now.UTC())
		}
		wantRuns := []string{"2027-01-01T00:00:00Z", "2027-01-01T00:45:00Z", "2027-01-01T01:30:00Z"}
		if got := utcStrings(rec.logicals("slow")); !slices.Equal(got, wantRuns) {
			t.Errorf("runs %v, want %v", got, wantRuns)
		}
		wantMissed := []string{"slow@2027-01-01T00:15:00Z", "slow@2027-01-01T00:30:00Z", "slow@2027-01-01T01:00:00Z",
			"slow@2027-01-01T01:15:00Z", "slow@2027-01-01T01:45:00Z"}
		if got := rec.missed[MissOverlap]; !slices.Equal(got, wantMissed) {
			t.Errorf("missed %v, want %v", got, wantMissed)
		}
		if rec.maxOne != 1 {
			t.Errorf("%d runs of one entry at once", rec.maxOne)
		}
	})
}

// TestSchedulerMaxConcurrent: fires beyond the bound wait for a slot and
// keep their logical time.
func TestSchedulerMaxConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0.Add(-time.Minute))
		rec := newRecorder()
		rec.body = func(context.Context, string, time.Time) error {
			time.Sleep(10 * time.Minute)
			return nil
		}
		s := newScheduler(t, rec, Options{MaxConcurrent: 3})
		var entries []Entry
		for i := range 10 {
			entries = append(entries, Entry{Name: fmt.Sprintf("e%02d", i), Cron: mustCron(t, "0 * * * *", nil)})
		}
		if err := s.Add(entries); err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		sleepUntil(t0.Add(50 * time.Minute))
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rec.maxTotal != 3 {
			t.Errorf("at most %d runs at once, want 3", rec.maxTotal)
		}
		starts := map[time.Duration]int{}
		for _, l := range rec.late {
			starts[l]++
		}
		want := map[time.Duration]int{0: 3, 10 * time.Minute: 3, 20 * time.Minute: 3, 30 * time.Minute: 1}
		if fmt.Sprint(starts) != fmt.Sprint(want) {
			t.Errorf("runs started late by %v, want %v", starts, want)
		}
		for _, e := range entries {
			if got := rec.logicals(e.Name); len(got) != 1 || !got[0].Equal(t0) {
				t.Errorf("%s ran at %v, want once at %s", e.Name, got, t0)
			}
		}
	})
}

// TestSchedulerShutdownWaits: a run that ends within ShutdownTimeout
// finishes with its context intact; no fire happens after cancellation.
func TestSchedulerShutdownWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0.Add(-time.Minute))
		rec := newRecorder()
		var runErr error
		rec.body = func(ctx context.Context, _ string, _ time.Time) error {
			time.Sleep(10 * time.Minute)
			runErr = ctx.Err()
			return nil
		}
		s := newScheduler(t, rec, Options{ShutdownTimeout: 30 * time.Minute})
		if err := s.Add([]Entry{{Name: "a", Cron: mustCron(t, "*/5 * * * *", nil)}}); err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		sleepUntil(t0.Add(2 * time.Minute))
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if now := time.Now(); !now.Equal(t0.Add(10 * time.Minute)) {
			t.Errorf("Run returned at %s, want when the run ended (00:10)", now.UTC())
		}
		if runErr != nil {
			t.Errorf("run context ended early: %v", runErr)
		}
		if got := rec.logicals("a"); len(got) != 1 {
			t.Errorf("runs %v, want only the 00:00 one", utcStrings(got))
		}
	})
}

// TestSchedulerShutdownCancels: runs still going at ShutdownTimeout get a
// cancelled context, Run waits for them and says so; a fire still waiting
// for a slot is counted as missed.
func TestSchedulerShutdownCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0.Add(-time.Minute))
		rec := newRecorder()
		var cancelledAt time.Time
		var cause error
		rec.body = func(ctx context.Context, _ string, _ time.Time) error {
			<-ctx.Done()
			cancelledAt, cause = time.Now(), context.Cause(ctx)
			time.Sleep(time.Second) // cleaning up: aborting an upload, releasing a claim
			return ctx.Err()
		}
		s := newScheduler(t, rec, Options{ShutdownTimeout: 30 * time.Second, MaxConcurrent: 1})
		if err := s.Add([]Entry{
			{Name: "a", Cron: mustCron(t, "0 * * * *", nil)},
			{Name: "b", Cron: mustCron(t, "0 * * * *", nil)},
		}); err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		sleepUntil(t0.Add(5 * time.Minute))
		err := stop()
		if !errors.Is(err, ErrShutdownTimeout) {
			t.Errorf("Run = %v, want ErrShutdownTimeout", err)
		}
		if want := t0.Add(5*time.Minute + 30*time.Second); !cancelledAt.Equal(want) {
			t.Errorf("run cancelled at %s, want %s", cancelledAt.UTC(), want.UTC())
		}
		if !errors.Is(cause, ErrShutdownTimeout) {
			t.Errorf("run context's cause = %v, want ErrShutdownTimeout (the run logs why it stopped)", cause)
		}
		if now := time.Now(); !now.Equal(t0.Add(5*time.Minute + 31*time.Second)) {
			t.Errorf("Run returned at %s, want after the run cleaned up", now.UTC())
		}
		if len(rec.missed[MissShutdown]) != 1 {
			t.Errorf("missed at shutdown: %v, want the fire waiting for a slot", rec.missed)
		}
		var errs []error
		for _, e := range rec.finished {
			errs = append(errs, e...)
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("finished runs: %v, want one cancelled", errs)
		}
	})
}

// TestSchedulerPause covers Paused entries, Pause and Resume.
func TestSchedulerPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0.Add(-time.Minute))
		rec := newRecorder()
		s := newScheduler(t, rec, Options{})
		if err := s.Add([]Entry{
			{Name: "a", Cron: mustCron(t, "0 * * * *", nil), Paused: true},
			{Name: "b", Cron: mustCron(t, "0 * * * *", nil)},
		}); err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		sleepUntil(t0.Add(90 * time.Minute))
		if err := s.Pause("b"); err != nil {
			t.Fatal(err)
		}
		if err := s.Resume("a"); err != nil {
			t.Fatal(err)
		}
		st := s.Entries()
		wantStatus := []EntryStatus{{Name: "a", Next: t0.Add(2 * time.Hour)}, {Name: "b", Paused: true}}
		if !slices.EqualFunc(st, wantStatus, func(x, y EntryStatus) bool {
			return x.Name == y.Name && x.Next.Equal(y.Next) && x.Paused == y.Paused && x.Running == y.Running
		}) {
			t.Errorf("Entries() = %+v, want %+v", st, wantStatus)
		}
		if err := s.Pause("nope"); !errors.Is(err, ErrUnknownEntry) {
			t.Errorf("Pause(unknown) = %v, want ErrUnknownEntry", err)
		}
		sleepUntil(t0.Add(210 * time.Minute))
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		wantA := []string{"2027-01-01T02:00:00Z", "2027-01-01T03:00:00Z"}
		wantB := []string{"2027-01-01T00:00:00Z", "2027-01-01T01:00:00Z"}
		if got := utcStrings(rec.logicals("a")); !slices.Equal(got, wantA) {
			t.Errorf("a ran at %v, want %v", got, wantA)
		}
		if got := utcStrings(rec.logicals("b")); !slices.Equal(got, wantB) {
			t.Errorf("b ran at %v, want %v", got, wantB)
		}
	})
}

// TestSchedulerReplace: a reload keeps unchanged entries' next fires, starts
// new ones, reschedules changed ones and drops removed ones.
func TestSchedulerReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0.Add(-time.Minute))
		rec := newRecorder()
		s := newScheduler(t, rec, Options{})
		hourly := mustCron(t, "0 * * * *", nil)
		if err := s.Add([]Entry{{Name: "a", Cron: hourly}, {Name: "c", Cron: hourly}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Add([]Entry{{Name: "a", Cron: hourly}}); !errors.Is(err, ErrDuplicateEntry) {
			t.Errorf("Add(existing) = %v, want ErrDuplicateEntry", err)
		}
		if err := s.Replace([]Entry{{Name: "x", Cron: hourly}, {Name: "x", Cron: hourly}}); !errors.Is(err, ErrDuplicateEntry) {
			t.Errorf("Replace with a duplicate = %v, want ErrDuplicateEntry", err)
		}
		if err := s.Replace([]Entry{{Name: "", Cron: hourly}, {Name: "y"}}); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("Replace with invalid entries = %v, want ErrInvalidEntry", err)
		}
		stop := start(t, s)
		sleepUntil(t0.Add(30 * time.Minute))
		if err := s.Replace([]Entry{
			{Name: "a", Cron: mustCron(t, "0 * * * *", nil)},    // same expression and zone: keeps 01:00
			{Name: "b", Cron: mustCron(t, "*/20 * * * *", nil)}, // new
			{Name: "c", Cron: mustCron(t, "45 * * * *", nil)},   // changed
		}); err != nil {
			t.Fatal(err)
		}
		sleepUntil(t0.Add(70 * time.Minute))
		if err := s.Replace([]Entry{{Name: "c", Cron: mustCron(t, "45 * * * *", nil)}}); err != nil {
			t.Fatal(err)
		}
		sleepUntil(t0.Add(150 * time.Minute))
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string][]string{
			"a": {"2027-01-01T00:00:00Z", "2027-01-01T01:00:00Z"},
			"b": {"2027-01-01T00:40:00Z", "2027-01-01T01:00:00Z"},
			"c": {"2027-01-01T00:00:00Z", "2027-01-01T00:45:00Z", "2027-01-01T01:45:00Z"},
		} {
			if got := utcStrings(rec.logicals(name)); !slices.Equal(got, want) {
				t.Errorf("%s ran at %v, want %v", name, got, want)
			}
		}
	})
}

// TestSchedulerOverdue: when the loop wakes after several fire instants of
// an entry (a suspended host), only the latest fires; the others are missed.
func TestSchedulerOverdue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0)
		rec := newRecorder()
		core, logs := observer.New(zap.WarnLevel)
		s := newScheduler(t, rec, Options{Logger: zap.New(core)})
		s.runCtx = t.Context()
		if err := s.Add([]Entry{{Name: "q", Cron: mustCron(t, "*/15 * * * *", nil)}}); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		misses := s.fireDue(t0.Add(61 * time.Minute))
		next := s.queue[0].next
		s.mu.Unlock()
		s.report(misses)
		s.wg.Wait()
		if got, want := utcStrings(rec.logicals("q")), []string{"2027-01-01T01:00:00Z"}; !slices.Equal(got, want) {
			t.Errorf("ran at %v, want %v", got, want)
		}
		wantMissed := []string{"q@2027-01-01T00:15:00Z", "q@2027-01-01T00:30:00Z", "q@2027-01-01T00:45:00Z"}
		if got := rec.missed[MissOverdue]; !slices.Equal(got, wantMissed) {
			t.Errorf("missed %v, want %v", got, wantMissed)
		}
		if l := logs.FilterMessage("fires missed").All(); len(l) != 1 || l[0].ContextMap()["count"] != int64(3) {
			t.Errorf("logged %v, want one line counting 3 missed fires", logs.All())
		}
		if want := t0.Add(75 * time.Minute); !next.Equal(want) {
			t.Errorf("next fire %s, want %s", next.UTC(), want.UTC())
		}
	})
}

// TestSchedulerPanic: a panicking run is reported as a failed run and the
// entry keeps firing.
func TestSchedulerPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := ts(t, "2027-01-01T00:00:00Z")
		sleepUntil(t0.Add(-time.Minute))
		rec := newRecorder()
		rec.body = func(context.Context, string, time.Time) error { panic("boom") }
		s := newScheduler(t, rec, Options{})
		if err := s.Add([]Entry{{Name: "p", Cron: mustCron(t, "0 * * * *", nil)}}); err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		sleepUntil(t0.Add(90 * time.Minute))
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		errs := rec.finished["p"]
		if len(errs) != 2 {
			t.Fatalf("%d finished runs, want 2", len(errs))
		}
		for _, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
				t.Errorf("run error %v, want the panic", err)
			}
		}
	})
}

func TestSchedulerOptionsAndRunOnce(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "Options.Run") {
		t.Errorf("New without Run = %v, want an error naming Options.Run", err)
	}
	noop := func(context.Context, string, time.Time) error { return nil }
	if _, err := New(Options{Run: noop, MaxConcurrent: -1}); err == nil || !strings.Contains(err.Error(), "MaxConcurrent") {
		t.Errorf("New with MaxConcurrent -1 = %v", err)
	}
	if _, err := New(Options{Run: noop, ShutdownTimeout: -1}); err == nil || !strings.Contains(err.Error(), "ShutdownTimeout") {
		t.Errorf("New with ShutdownTimeout -1 = %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Options{Run: noop})
		if err != nil {
			t.Fatal(err)
		}
		stop := start(t, s)
		synctest.Wait()
		if err := s.Run(t.Context()); !errors.Is(err, ErrAlreadyStarted) {
			t.Errorf("second Run = %v, want ErrAlreadyStarted", err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}
