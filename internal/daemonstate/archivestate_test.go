package daemonstate

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
)

// commitDays commits day windows [from, from+n) of schedule "s" in a real
// folder archive, as another process would: every fourth one lost, the
// others exported with one object of i rows.
func commitDays(t *testing.T, a *archive.Archive, l domain.Layout, from, n int) {
	t.Helper()
	day0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := from; i < from+n; i++ {
		w := domain.Window{Start: day0.AddDate(0, 0, i), End: day0.AddDate(0, 0, i+1)}
		u := domain.Unit{Schedule: l.Schedule, Window: w, Logical: w.End.Add(2 * time.Hour)}
		c, err := a.Claim(t.Context(), l, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		m := &archive.Manifest{Kind: domain.KindExported, Schedule: l.Schedule, UnitID: u.ID(), LogicalTime: u.Logical,
			Window: &w, Timezone: "UTC", Revision: 1,
			Run: archive.RunInfo{StartedAt: u.Logical, FinishedAt: u.Logical.Add(time.Second), Attempt: 1, Instance: "other:42"}}
		if i%4 == 3 {
			m.Kind = domain.KindLost
		} else {
			m.Objects = []archive.Object{{Key: fmt.Sprintf("p/s/day-%d.csv", i), Rows: int64(i), Bytes: 10 * int64(i)}}
		}
		if _, _, err := a.Commit(t.Context(), c, m, archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func dayEnd(i int) time.Time { return time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i+1) }

// TestArchiveStateFromChain reads a schedule's state from an archive
// another process wrote: the newest commits as runs, the freshness, the
// lost windows; then follows new commits, and a gap of more commits than a
// refresh walks.
func TestArchiveStateFromChain(t *testing.T) {
	st, err := folderstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &archive.Archive{Store: st, Instance: "other:42"}
	l := domain.Layout{Prefix: "p", Schedule: "s"}
	ctx := t.Context()

	// No commit yet: nothing known, and nothing to know.
	var s ArchiveState
	w, err := ReadArchiveState(ctx, st, l, "", ArchiveRunsKept)
	if err != nil || !s.Apply(w) || !s.Complete || len(s.Runs) != 0 || !s.Freshness.IsZero() || s.Read.IsZero() {
		t.Fatalf("empty archive: %+v %v", s, err)
	}

	commitDays(t, a, l, 0, 40)
	s = ArchiveState{}
	w, err = ReadArchiveState(ctx, st, l, "", ArchiveRunsKept)
	if err != nil {
		t.Fatal(err)
	}
	s.Apply(w)
	if s.Sequence != 40 || len(s.Runs) != ArchiveRunsKept || s.Complete {
		t.Fatalf("after 40 commits: sequence %d, %d runs, complete %v", s.Sequence, len(s.Runs), s.Complete)
	}
	// Day 39 is lost (39%4 == 3): freshness is the end of day 38.
	if !s.Freshness.Equal(dayEnd(38)) {
		t.Fatalf("freshness %s, want %s", s.Freshness, dayEnd(38))
	}
	r := s.Runs[1]
	if r.ID != "archive:s:39" || r.Outcome != domain.OutcomeExported || r.Rows != 38 || r.Bytes != 380 ||
		r.Key != "p/s/day-38.csv" || r.Instance != "other:42" || r.Attempt != 1 || r.Window == nil || !r.Window.End.Equal(dayEnd(38)) {
		t.Fatalf("second newest run: %+v", r)
	}
	if s.Runs[0].Outcome != domain.OutcomeLost || s.Runs[ArchiveRunsKept-1].ID != fmt.Sprintf("archive:s:%d", 40-ArchiveRunsKept+1) {
		t.Fatalf("runs: newest %+v, oldest %+v", s.Runs[0], s.Runs[ArchiveRunsKept-1])
	}
	// Lost among the windows read (days 40-ArchiveRunsKept..39): those
	// with i%4 == 3.
	lost := 0
	for i := 40 - ArchiveRunsKept; i < 40; i++ {
		if i%4 == 3 {
			lost++
		}
	}
	if s.Lost() != lost || lost == 0 {
		t.Fatalf("lost %d, want %d", s.Lost(), lost)
	}

	// Nothing new: the head alone is read, and nothing changes.
	w, err = ReadArchiveState(ctx, st, l, s.HeadKey, 0)
	if err != nil || len(w.Commits) != 0 || !s.Apply(w) || s.Sequence != 40 {
		t.Fatalf("refresh without commits: %+v %v", w, err)
	}

	// Three new commits join the runs read before.
	commitDays(t, a, l, 40, 3)
	w, err = ReadArchiveState(ctx, st, l, s.HeadKey, 0)
	if err != nil || len(w.Commits) != 3 || !s.Apply(w) {
		t.Fatalf("refresh: %d commits, %v", len(w.Commits), err)
	}
	if s.Sequence != 43 || s.Runs[0].ID != "archive:s:43" || s.Runs[3].ID != "archive:s:40" || len(s.Runs) != ArchiveRunsKept ||
		!s.Freshness.Equal(dayEnd(42)) {
		t.Fatalf("after the refresh: sequence %d, runs %s..%s, freshness %s", s.Sequence, s.Runs[0].ID, s.Runs[3].ID, s.Freshness)
	}
	if u, ok := s.Window(domain.Window{Start: dayEnd(40), End: dayEnd(41)}); !ok || u.State != server.WindowArchived || u.Key != "p/s/day-41.csv" {
		t.Fatalf("day 41: %+v", u)
	}

	// More commits than a walk reads: the state is not contiguous.
	commitDays(t, a, l, 43, 5)
	w, err = ReadArchiveState(ctx, st, l, s.HeadKey, 2)
	if err != nil || s.Apply(w) || s.Complete || len(s.Runs) != 2 {
		t.Fatalf("gap: contiguous, complete %v, %d runs, %v", s.Complete, len(s.Runs), err)
	}

	// Reading the whole chain makes it complete.
	s = ArchiveState{}
	w, err = ReadArchiveState(ctx, st, l, "", 1000)
	if err != nil || !s.Apply(w) || !s.Complete || s.Windows() != 48 || s.Lost() != 12 {
		t.Fatalf("whole chain: complete %v, %d units, %d lost, %v", s.Complete, s.Windows(), s.Lost(), err)
	}
	// A unit read on its own.
	day2 := domain.Unit{Schedule: "s", Window: domain.Window{Start: dayEnd(1), End: dayEnd(2)}}
	m, ok, err := ReadUnit(ctx, st, l, day2)
	if err != nil || !ok || m.ObjectKey != "p/s/day-2.csv" {
		t.Fatalf("ReadUnit: %+v %v %v", m, ok, err)
	}
	if _, ok, err := ReadUnit(ctx, st, l, domain.Unit{Schedule: "s", Window: domain.Window{Start: dayEnd(99), End: dayEnd(100)}}); ok || err != nil {
		t.Fatalf("ReadUnit of an uncommitted window: %v %v", ok, err)
	}
}

// TestMergeRuns: a commit the local history holds is listed once, as the
// history's record; runs are newest first and cut at the limit.
func TestMergeRuns(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 1, h, 0, 0, 0, time.UTC) }
	local := []server.RunRecord{
		{ID: "7", Finished: at(5), Outcome: domain.OutcomeFailed},
		{ID: "6", Finished: at(3), Outcome: domain.OutcomeExported, ManifestKey: "m3", Trigger: "cron"},
		{ID: "5", Finished: at(2), Outcome: domain.OutcomeAlreadyArchived, ManifestKey: "m1"},
	}
	fromArchive := [][]server.RunRecord{{
		{ID: "archive:s:4", Finished: at(4), Outcome: domain.OutcomeExported, ManifestKey: "m4"},
		{ID: "archive:s:3", Finished: at(3), Outcome: domain.OutcomeExported, ManifestKey: "m3"},
		{ID: "archive:s:1", Finished: at(1), Outcome: domain.OutcomeExported, ManifestKey: "m1"},
	}, {
		{ID: "archive:t:2", Finished: at(6), Outcome: domain.OutcomeSkipped, ManifestKey: "t2"},
		{ID: "archive:t:1", Finished: at(0), Outcome: domain.OutcomeExported, ManifestKey: "t1"},
	}}
	var ids []string
	for _, r := range MergeRuns(local, fromArchive, 10) {
		ids = append(ids, r.ID)
	}
	if got, want := fmt.Sprint(ids), "[archive:t:2 7 archive:s:4 6 5 archive:s:1 archive:t:1]"; got != want {
		t.Fatalf("merged %s, want %s", got, want)
	}
	ids = nil
	for _, r := range MergeRuns(local, fromArchive, 3) {
		ids = append(ids, r.ID)
	}
	if got, want := fmt.Sprint(ids), "[archive:t:2 7 archive:s:4]"; got != want {
		t.Fatalf("limit 3: %s, want %s", got, want)
	}
}

// dayCommit is a walk of one commit: day d's window, exported.
func dayCommit(name string, d int) Walk {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := domain.Window{Start: day0.AddDate(0, 0, d), End: day0.AddDate(0, 0, d+1)}
	u := domain.Unit{Schedule: name, Window: w}
	key := fmt.Sprintf("sigma/audit/%s/dt=%s/%s.manifest.json", name, w.Start.Format("2006-01-02"), u.ID())
	obj := fmt.Sprintf("sigma/audit/%s/dt=%s/%s_%s.csv.gz", name, w.Start.Format("2006-01-02"), name, u.ID())
	m := &archive.Manifest{Kind: domain.KindExported, Schedule: name, Sequence: int64(d + 1), UnitID: u.ID(),
		LogicalTime: w.End, Window: &w, Revision: 1, Run: archive.RunInfo{Attempt: 1, Instance: "host:1234"},
		Objects: []archive.Object{{Key: obj, Rows: 100, Bytes: 1000}}}
	return Walk{Read: w.End, Sequence: int64(d + 1), HeadKey: key, ReachedPrev: true,
		Commits: []ManifestSummary{summarize(key, m)}, Runs: []server.RunRecord{RunOfManifest(key, m)}}
}

// TestArchiveStateForgetsOldestWindows: a state that followed more commits
// than it keeps windows forgets the oldest (which are then read on demand:
// no longer complete) and keeps the newest, committed out of order too.
func TestArchiveStateForgetsOldestWindows(t *testing.T) {
	var s ArchiveState
	s.Apply(Walk{Read: time.Now(), Start: true, ReachedPrev: true})
	if !s.Complete {
		t.Fatal("an empty chain is not complete")
	}
	n := archiveUnitsKept * 2
	for d := range n {
		if d == 5 {
			continue // committed last, out of order
		}
		s.Apply(dayCommit("s", d))
	}
	s.Apply(dayCommit("s", 5))
	if s.Complete || s.Windows() > archiveUnitsKept+archiveUnitsKept/4 || s.Windows() < archiveUnitsKept {
		t.Fatalf("after %d commits: %d windows known, complete %v", n, s.Windows(), s.Complete)
	}
	day := func(d int) domain.Window {
		day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		return domain.Window{Start: day0.AddDate(0, 0, d), End: day0.AddDate(0, 0, d+1)}
	}
	for d := n - archiveUnitsKept; d < n; d++ {
		if u, ok := s.Window(day(d)); !ok || u.State != server.WindowArchived || !strings.Contains(u.Key, day(d).Start.Format("20060102")) {
			t.Fatalf("day %d: %+v %v", d, u, ok)
		}
	}
	if _, ok := s.Window(day(0)); ok {
		t.Fatal("day 0 still known")
	}
	if _, ok := s.Window(domain.Window{Start: day(n - 1).Start, End: day(n - 1).End.Add(time.Hour)}); ok {
		t.Fatal("a window with the same start and another end is known")
	}
}

// BenchmarkArchiveStateMemory measures the memory a daemon holds per
// schedule for its archive state once it is full (ArchiveRunsKept runs and
// as many units as it keeps, with demo-like keys), next to an empty state.
//
//	go test ./internal/daemonstate -run '^$' -bench ArchiveStateMemory -benchtime 1x
func BenchmarkArchiveStateMemory(b *testing.B) {
	schedules := 1000
	if testing.Short() {
		schedules = 50
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for b.Loop() {
		before := heap()
		empty := make([]ArchiveState, schedules)
		afterEmpty := heap()
		states := make([]ArchiveState, schedules)
		for i := range states {
			// A year of daily commits, walked a day at a time.
			for d := range 365 {
				states[i].Apply(dayCommit(fmt.Sprintf("schedule-%04d", i), d))
			}
		}
		full := heap()
		per := float64(full-afterEmpty) / float64(schedules)
		b.ReportMetric(per, "bytes/schedule")
		b.ReportMetric(per*10_000/(1<<20), "MiB/10k_schedules")
		b.ReportMetric(float64(afterEmpty-before)/float64(schedules), "empty_bytes/schedule")
		b.Logf("a year of daily commits: %.0f bytes per schedule (%d units, %d runs kept), %.0f MiB for 10,000 schedules; an empty state %.0f bytes",
			per, states[0].Windows(), len(states[0].Runs), per*10_000/(1<<20), float64(afterEmpty-before)/float64(schedules))
		runtime.KeepAlive(empty)
		runtime.KeepAlive(states)
	}
}
