package schedule

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// laDays returns the LA day windows of March 2027 from day a to day b
// inclusive.
func laDays(t testing.TB, a, b int) []domain.Window {
	t.Helper()
	la := mustLoc(t, "America/Los_Angeles")
	var out []domain.Window
	for d := a; d <= b; d++ {
		out = append(out, domain.Window{
			Start: time.Date(2027, 3, d, 0, 0, 0, 0, la).UTC(),
			End:   time.Date(2027, 3, d+1, 0, 0, 0, 0, la).UTC(),
		})
	}
	return out
}

func archivedSet(ws ...[]domain.Window) func(domain.Window) bool {
	set := map[string]bool{}
	for _, list := range ws {
		for _, w := range list {
			set[w.ID()] = true
		}
	}
	return func(w domain.Window) bool { return set[w.ID()] }
}

func planned(ws []domain.Window, atRisk int) []PlannedWindow {
	out := make([]PlannedWindow, len(ws))
	for i, w := range ws {
		out[i] = PlannedWindow{Window: w, AtRisk: i < atRisk}
	}
	return out
}

// TestPlan starts from a baseline (LA day windows since 2027-03-01, lag 2h,
// fired daily at 03:00; the fire of 2027-03-20 sees March 1-19 closed) and
// changes one thing per case.
func TestPlan(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	fire := ts(t, "2027-03-20T03:00:00-07:00")
	type request struct {
		sched     Schedule
		T         time.Time
		policy    CatchUp
		archived  func(domain.Window) bool
		retention time.Duration
		sourceNow time.Time
	}
	base := func() request {
		return request{
			sched: Schedule{
				Cron:    mustCron(t, "0 3 * * *", la),
				Windows: &WindowSpec{Every: EveryDay, Lag: 2 * time.Hour, Location: la, Start: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
			},
			T: fire, policy: CatchUpAll, archived: archivedSet(), sourceNow: fire,
		}
	}
	tests := []struct {
		name   string
		mutate func(*request)
		want   Plan
	}{
		{"all, nothing archived", func(*request) {},
			Plan{Export: planned(laDays(t, 1, 19), 0)}},
		{"all, gaps", func(r *request) { r.archived = archivedSet(laDays(t, 1, 4), laDays(t, 6, 10)) },
			Plan{Export: planned(append(laDays(t, 5, 5), laDays(t, 11, 19)...), 0)}},
		{"all, everything archived", func(r *request) { r.archived = archivedSet(laDays(t, 1, 19)) },
			Plan{}},
		{"all, before the first window closes", func(r *request) { r.T = ts(t, "2027-03-02T01:59:00-08:00") },
			Plan{}},
		{"latest, nothing archived", func(r *request) { r.policy = CatchUpLatest },
			Plan{Export: planned(laDays(t, 19, 19), 0), Skipped: 18}},
		{"latest, latest archived", func(r *request) {
			r.policy = CatchUpLatest
			r.archived = archivedSet(laDays(t, 19, 19))
		}, Plan{Skipped: 18}},
		{"skip, downtime", func(r *request) { r.policy = CatchUpSkip },
			Plan{Export: planned(laDays(t, 19, 19), 0), Skipped: 18}},
		{"skip, startup between fires", func(r *request) {
			r.policy = CatchUpSkip
			r.T = ts(t, "2027-03-20T12:00:00-07:00") // previous fire 03:00, nothing closed since
		}, Plan{Skipped: 19}},
		{"skip, lag longer than end-to-fire", func(r *request) {
			// Fired at 01:00 with lag 2h: day 18 closed at 03-19 02:00, after the
			// fire of 03-19 01:00, so the fire of 03-20 takes it although its
			// End (03-19 00:00) is before that previous fire.
			r.policy = CatchUpSkip
			r.sched.Cron = mustCron(t, "0 1 * * *", la)
			r.T = ts(t, "2027-03-20T01:00:00-07:00")
		}, Plan{Export: planned(laDays(t, 18, 18), 0), Skipped: 17}},
		{"retention: lost and at risk", func(r *request) {
			r.retention = 10 * 24 * time.Hour // cutoff 2027-03-10T10:00Z, inside day 10 (08:00Z-07:00Z... PST)
		}, Plan{Export: planned(laDays(t, 10, 19), 1), Lost: laDays(t, 1, 9)}},
		{"retention: cutoff on a window edge", func(r *request) {
			r.retention = 10 * 24 * time.Hour
			r.sourceNow = ts(t, "2027-03-20T08:00:00Z") // cutoff 2027-03-10T08:00Z = start of day 10
		}, Plan{Export: planned(laDays(t, 10, 19), 0), Lost: laDays(t, 1, 9)}},
		{"retention: source clock ahead of the logical time", func(r *request) {
			r.retention = 10 * 24 * time.Hour
			r.sourceNow = ts(t, "2027-03-25T10:00:00Z") // catching up an old fire
		}, Plan{Export: planned(laDays(t, 15, 19), 1), Lost: laDays(t, 1, 14)}},
		{"retention: archived windows are neither lost nor exported", func(r *request) {
			r.retention = 10 * 24 * time.Hour
			r.archived = archivedSet(laDays(t, 1, 3), laDays(t, 10, 10))
		}, Plan{Export: planned(laDays(t, 11, 19), 0), Lost: laDays(t, 4, 9)}},
		{"retention: latest is never lost here", func(r *request) {
			r.policy = CatchUpLatest
			r.retention = 10 * 24 * time.Hour
		}, Plan{Export: planned(laDays(t, 19, 19), 0), Skipped: 18}},
		{"retention: skipped windows are not lost", func(r *request) {
			r.policy = CatchUpSkip
			r.retention = 24 * time.Hour
			r.sourceNow = ts(t, "2027-03-21T12:00:00Z") // day 19 is already past retention
		}, Plan{Lost: laDays(t, 19, 19), Skipped: 18}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.mutate(&r)
			got, err := r.sched.Plan(r.T, r.policy, r.archived, r.retention, r.sourceNow)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Export, tc.want.Export) || !slices.Equal(got.Lost, tc.want.Lost) || got.Skipped != tc.want.Skipped {
				t.Errorf("Plan =\n%s\nwant\n%s", fmtPlan(got), fmtPlan(tc.want))
			}
		})
	}

	invalid := []struct {
		name   string
		mutate func(*request)
		want   error
	}{
		{"unknown policy", func(r *request) { r.policy = "some" }, ErrInvalidPlan},
		{"skip without cron", func(r *request) { r.policy = CatchUpSkip; r.sched.Cron = nil }, ErrInvalidPlan},
		{"negative retention", func(r *request) { r.retention = -time.Hour }, ErrInvalidPlan},
		{"nil archived", func(r *request) { r.archived = nil }, ErrInvalidPlan},
		{"no windows", func(r *request) { r.sched.Windows = nil }, ErrInvalidWindowSpec},
	}
	for _, tc := range invalid {
		r := base()
		tc.mutate(&r)
		if _, err := r.sched.Plan(r.T, r.policy, r.archived, r.retention, r.sourceNow); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestPlanHourlyFallBack: under skip, the fire at 02:00 PST takes both 01:00
// hours (PDT and PST), because windows are real hours while the repeated
// 01:00 fires once.
func TestPlanHourlyFallBack(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	s := Schedule{
		Cron:    mustCron(t, "0 * * * *", la),
		Windows: &WindowSpec{Every: EveryHour, Location: la, Start: time.Date(2027, 11, 7, 0, 0, 0, 0, time.UTC)},
	}
	got, err := s.Plan(ts(t, "2027-11-07T10:00:00Z"), CatchUpSkip, archivedSet(), 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{Export: planned([]domain.Window{
		win(t, "2027-11-07T08:00:00Z", "2027-11-07T09:00:00Z"),
		win(t, "2027-11-07T09:00:00Z", "2027-11-07T10:00:00Z"),
	}, 0), Skipped: 1}
	if !slices.Equal(got.Export, want.Export) || got.Skipped != want.Skipped || len(got.Lost) != 0 {
		t.Errorf("Plan =\n%s\nwant\n%s", fmtPlan(got), fmtPlan(want))
	}
}

func fmtPlan(p Plan) string {
	s := "  export:"
	for _, w := range p.Export {
		s += " " + w.Window.ID()
		if w.AtRisk {
			s += "(at risk)"
		}
	}
	s += "\n  lost:"
	for _, w := range p.Lost {
		s += " " + w.ID()
	}
	return s + fmt.Sprintf("\n  skipped: %d", p.Skipped)
}
