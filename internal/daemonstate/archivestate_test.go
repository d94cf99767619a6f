package daemonstate

import (
	"fmt"
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
	if s.Runs[0].Outcome != domain.OutcomeLost || s.Runs[ArchiveRunsKept-1].ID != "archive:s:16" {
		t.Fatalf("runs: newest %+v, oldest %+v", s.Runs[0], s.Runs[ArchiveRunsKept-1])
	}
	// Lost among the 25 windows read (days 15..39): 15, 19, ..., 39.
	if s.Lost() != 7 {
		t.Fatalf("lost %d, want 7", s.Lost())
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
	if u := s.Units[domain.Unit{Schedule: "s", Window: domain.Window{Start: dayEnd(40), End: dayEnd(41)}}.ID()]; u.State != server.WindowArchived || u.Key != "p/s/day-41.csv" {
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
	if err != nil || !s.Apply(w) || !s.Complete || len(s.Units) != 48 || s.Lost() != 12 {
		t.Fatalf("whole chain: complete %v, %d units, %d lost, %v", s.Complete, len(s.Units), s.Lost(), err)
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
	fromArchive := []server.RunRecord{
		{ID: "archive:s:4", Finished: at(4), Outcome: domain.OutcomeExported, ManifestKey: "m4"},
		{ID: "archive:s:3", Finished: at(3), Outcome: domain.OutcomeExported, ManifestKey: "m3"},
		{ID: "archive:s:1", Finished: at(1), Outcome: domain.OutcomeExported, ManifestKey: "m1"},
	}
	var ids []string
	for _, r := range MergeRuns(local, fromArchive, 10) {
		ids = append(ids, r.ID)
	}
	if got, want := fmt.Sprint(ids), "[7 archive:s:4 6 5 archive:s:1]"; got != want {
		t.Fatalf("merged %s, want %s", got, want)
	}
	if got := MergeRuns(local, fromArchive, 2); len(got) != 2 || got[1].ID != "archive:s:4" {
		t.Fatalf("limit 2: %+v", got)
	}
}
