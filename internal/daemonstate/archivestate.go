package daemonstate

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
)

// The archive is the record of what was exported, whoever exported it: a
// daemon, a replica, `serve --once` or a local `exportd run`. A daemon
// therefore reads each schedule's state from the archive (its chain head
// and the manifests just behind it) rather than from its own history, so
// that a restart, a new replica or a second host shows the truth at once.
// The local history only adds what the archive cannot know: failed
// attempts, and who triggered a run.

// ArchiveRunsKept is how many of a schedule's newest commits an
// ArchiveState keeps as runs, and how far back from the head the first read
// walks the chain.
const ArchiveRunsKept = 20

// archiveUnitsKept bounds the committed units an ArchiveState remembers (the
// newest windows: the status page's timeline shows 90); beyond it the
// oldest are forgotten and read again when asked for. It bounds the memory
// of a daemon with many schedules that runs for months.
const archiveUnitsKept = 100

// archiveWalkMax bounds a refresh's walk from the head back to the head
// read before: more commits than this in between leave a gap, which only
// makes older windows unknown (read on demand).
const archiveWalkMax = 1000

// UnitState is what the archive says of one committed window.
type UnitState struct {
	// State is server.WindowArchived, WindowSkipped or WindowLost.
	State string
	// Key is the first object of the unit's original revision (none for
	// skipped and lost units).
	Key string
}

// knownWindow is a committed window in ArchiveState's list.
type knownWindow struct {
	start, end int64
	UnitState
}

// ArchiveState is one schedule's state as its archive tells it, kept in
// memory by the daemon and brought up to date by Apply.
type ArchiveState struct {
	// Read is when the archive was last read (zero: not yet).
	Read time.Time
	// Sequence and HeadKey are the chain head's.
	Sequence int64
	HeadKey  string
	// Freshness is the end of the newest archived window (or the logical
	// time of the newest snapshot) among the commits read.
	Freshness time.Time
	// Runs are the newest commits, newest first, at most ArchiveRunsKept.
	Runs []server.RunRecord
	// windows are the committed windows known, by start then end (a short
	// sorted list takes a third of the memory of a map, and windows are
	// mostly committed in order, so most additions append).
	windows []knownWindow
	// Complete says the whole chain was read (and nothing forgotten since):
	// a window not known is not committed.
	Complete bool
}

// Window returns what the archive says of window w, if the state knows.
func (s *ArchiveState) Window(w domain.Window) (UnitState, bool) {
	i, ok := s.find(w)
	if !ok {
		return UnitState{}, false
	}
	return s.windows[i].UnitState, true
}

// find returns where w is in s.windows, or where it would go.
func (s *ArchiveState) find(w domain.Window) (int, bool) {
	start, end := w.Start.Unix(), w.End.Unix()
	i := sort.Search(len(s.windows), func(i int) bool {
		k := s.windows[i]
		return k.start > start || (k.start == start && k.end >= end)
	})
	return i, i < len(s.windows) && s.windows[i].start == start && s.windows[i].end == end
}

// Windows counts the committed windows known.
func (s *ArchiveState) Windows() int { return len(s.windows) }

// Lost counts the lost units known.
func (s *ArchiveState) Lost() int {
	n := 0
	for _, u := range s.windows {
		if u.State == server.WindowLost {
			n++
		}
	}
	return n
}

// Committed notes a unit committed by this daemon (before the next read of
// the archive tells the rest).
func (s *ArchiveState) Committed(m ManifestSummary) {
	s.addUnit(m)
	if f := m.freshness(); f.After(s.Freshness) {
		s.Freshness = f
	}
}

// ManifestSummary is what ArchiveState keeps of a manifest.
type ManifestSummary struct {
	Key      string
	Kind     string
	UnitID   string
	Window   domain.Window
	Logical  time.Time
	Adhoc    bool
	Revision int
	// ObjectKey is the unit's first object.
	ObjectKey string
}

// freshness is the time up to which the unit makes the archive fresh (zero
// for a lost or ad-hoc unit).
func (m ManifestSummary) freshness() time.Time {
	if m.Adhoc || m.Kind == domain.KindLost {
		return time.Time{}
	}
	if !m.Window.IsZero() {
		return m.Window.End
	}
	return m.Logical
}

func (s *ArchiveState) addUnit(m ManifestSummary) {
	if m.Adhoc || m.Window.IsZero() {
		return // a snapshot: not a window
	}
	state := server.WindowArchived
	switch m.Kind {
	case domain.KindSkipped:
		state = server.WindowSkipped
	case domain.KindLost:
		state = server.WindowLost
	}
	u := UnitState{State: state, Key: m.ObjectKey}
	i, known := s.find(m.Window)
	switch {
	case known && m.Revision > 1:
		// The original revision names the unit's object; a later one
		// only counts when the original is not known.
	case known:
		s.windows[i].UnitState = u
	default:
		s.windows = slices.Insert(s.windows, i, knownWindow{m.Window.Start.Unix(), m.Window.End.Unix(), u})
		if len(s.windows) > archiveUnitsKept+archiveUnitsKept/4 {
			s.forgetOldest()
		}
	}
}

// forgetOldest keeps the newest archiveUnitsKept units; the chain is then
// no longer completely known.
func (s *ArchiveState) forgetOldest() {
	kept := make([]knownWindow, archiveUnitsKept, archiveUnitsKept+archiveUnitsKept/4+1)
	copy(kept, s.windows[len(s.windows)-archiveUnitsKept:])
	s.windows = kept
	s.Complete = false
}

// Walk is one read of a schedule's chain: the commits since the head read
// before (or the newest ones), newest first.
type Walk struct {
	Read     time.Time
	Sequence int64
	HeadKey  string
	// Commits are the manifests read, newest first, with their runs.
	Commits []ManifestSummary
	Runs    []server.RunRecord
	// ReachedPrev says the walk reached the head read before (so Commits
	// and the state's older commits join without a gap); Start that it
	// reached the first manifest of the chain.
	ReachedPrev, Start bool
}

// ReadArchiveState reads a schedule's chain from its head backwards, up to
// the head read before (prevHead, "" for none) or depth manifests. The
// head holds the newest manifest's bytes, so a schedule with no new commit
// costs one small read; one without any commit costs one missing key.
func ReadArchiveState(ctx context.Context, r archive.Reader, l domain.Layout, prevHead string, depth int) (Walk, error) {
	w := Walk{Read: time.Now().UTC()}
	data, err := readSmall(ctx, r, l.HeadKey())
	if errors.Is(err, archive.ErrNotFound) {
		w.Start = true
		w.ReachedPrev = prevHead == ""
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("read head %s: %w", l.HeadKey(), err)
	}
	var h archive.Head
	if err := json.Unmarshal(data, &h); err != nil {
		return w, fmt.Errorf("head %s: %w", l.HeadKey(), err)
	}
	w.Sequence, w.HeadKey = h.Sequence, h.Key
	if h.Key == prevHead {
		w.ReachedPrev = true
		return w, nil
	}
	if depth <= 0 {
		depth = archiveWalkMax
	}
	key, body := h.Key, h.Manifest
	for steps := 0; steps < depth; steps++ {
		if body == nil {
			if body, err = readSmall(ctx, r, key); err != nil {
				return w, fmt.Errorf("read manifest %s: %w", key, err)
			}
		}
		m, err := archive.ParseManifest(body)
		if err != nil {
			return w, fmt.Errorf("%s: %w", key, err)
		}
		w.Commits = append(w.Commits, summarize(key, m))
		w.Runs = append(w.Runs, RunOfManifest(key, m))
		if m.Prev == nil {
			w.Start = true
			return w, nil
		}
		if m.Prev.Key == prevHead {
			w.ReachedPrev = true
			return w, nil
		}
		key, body = m.Prev.Key, nil
	}
	return w, nil
}

// Apply brings s up to date with a walk of its chain. It returns false
// when the walk may have missed commits (more of them since the previous
// read than a walk reads): what was learnt of uncommitted units since is
// then stale.
func (s *ArchiveState) Apply(w Walk) (contiguous bool) {
	s.Read = w.Read
	if w.HeadKey == s.HeadKey && w.HeadKey != "" {
		return true
	}
	joined := w.ReachedPrev && s.HeadKey != ""
	switch {
	case w.Start && !joined:
		s.Complete = true
	case !joined:
		s.Complete = false
	}
	s.Sequence, s.HeadKey = w.Sequence, w.HeadKey
	for _, m := range w.Commits {
		s.addUnit(m)
		if f := m.freshness(); f.After(s.Freshness) {
			s.Freshness = f
		}
	}
	n := len(w.Runs)
	if joined {
		n += len(s.Runs)
	}
	runs := make([]server.RunRecord, 0, min(n, ArchiveRunsKept))
	runs = append(runs, w.Runs[:min(len(w.Runs), ArchiveRunsKept)]...)
	if joined {
		runs = append(runs, s.Runs[:min(len(s.Runs), ArchiveRunsKept-len(runs))]...)
	}
	s.Runs = runs
	return joined || w.Start
}

// ReadUnit reads one unit's original manifest, for a window the state does not
// know; ok is false when it is not committed.
func ReadUnit(ctx context.Context, r archive.Reader, l domain.Layout, u domain.Unit) (ManifestSummary, bool, error) {
	key, err := l.ManifestKey(u, 1)
	if err != nil {
		return ManifestSummary{}, false, err
	}
	data, err := readSmall(ctx, r, key)
	if errors.Is(err, archive.ErrNotFound) {
		return ManifestSummary{}, false, nil
	}
	if err != nil {
		return ManifestSummary{}, false, err
	}
	m, err := archive.ParseManifest(data)
	if err != nil {
		return ManifestSummary{}, false, fmt.Errorf("%s: %w", key, err)
	}
	return summarize(key, m), true, nil
}

// Remember adds a unit read by ReadUnit.
func (s *ArchiveState) Remember(m ManifestSummary) { s.addUnit(m) }

func summarize(key string, m *archive.Manifest) ManifestSummary {
	ms := ManifestSummary{Key: key, Kind: m.Kind, UnitID: m.UnitID, Logical: m.LogicalTime, Adhoc: m.Adhoc, Revision: m.Revision}
	if m.Window != nil {
		ms.Window = *m.Window
	}
	if len(m.Objects) > 0 {
		ms.ObjectKey = m.Objects[0].Key
	}
	return ms
}

// RunOfManifest is the run a manifest records, as the API shows runs. Its
// id is "archive:<schedule>:<sequence>"; it has no trigger (the archive
// does not say what started it) and names the instance that committed it.
func RunOfManifest(key string, m *archive.Manifest) server.RunRecord {
	r := server.RunRecord{
		ID: "archive:" + m.Schedule + ":" + strconv.FormatInt(m.Sequence, 10), Schedule: m.Schedule,
		Unit: m.UnitID, Logical: m.LogicalTime, Started: m.Run.StartedAt, Finished: m.Run.FinishedAt,
		Outcome: m.Kind, ManifestKey: key, Attempt: m.Run.Attempt, Instance: m.Run.Instance,
	}
	if m.Kind == domain.KindSuperseded {
		r.Outcome = domain.OutcomeExported
	}
	if m.Window != nil && !m.Window.IsZero() {
		r.Window = &server.Window{Start: m.Window.Start.UTC(), End: m.Window.End.UTC()}
	}
	for i, o := range m.Objects {
		if i == 0 {
			r.Key = o.Key
		}
		r.Rows += o.Rows
		r.Bytes += o.Bytes
	}
	return r
}

// readSmall reads a head or a manifest (bounded: neither is large).
func readSmall(ctx context.Context, r archive.Reader, key string) ([]byte, error) {
	rc, _, err := r.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 16<<20))
}

// MergeRuns merges a schedule's (or every schedule's) local history, newest
// first, with the runs read from the archive (one list per schedule): a
// commit the history already holds (same manifest) is listed once, as the
// history's record, which also knows the trigger and the run id. The result
// is newest first (by finish time), at most limit. Only the newest limit
// runs of the archive's are copied, however many schedules there are.
func MergeRuns(local []server.RunRecord, fromArchive [][]server.RunRecord, limit int) []server.RunRecord {
	seen := make(map[string]bool, len(local))
	for _, r := range local {
		if r.ManifestKey != "" && committedOutcome(r.Outcome) {
			seen[r.ManifestKey] = true
		}
	}
	// The newest limit runs of the archive's, in a min-heap by finish time.
	var newest runHeap
	for _, list := range fromArchive {
		for i := range list {
			r := &list[i]
			if seen[r.ManifestKey] {
				continue
			}
			if len(newest) < limit {
				heap.Push(&newest, r)
			} else if limit > 0 && r.Finished.After(newest[0].Finished) {
				newest[0] = r
				heap.Fix(&newest, 0)
			}
		}
	}
	out := make([]server.RunRecord, 0, len(local)+len(newest))
	out = append(out, local...)
	for _, r := range newest {
		out = append(out, *r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Finished.After(out[j].Finished) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// runHeap is a min-heap of runs by finish time.
type runHeap []*server.RunRecord

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return h[i].Finished.Before(h[j].Finished) }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*server.RunRecord)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// committedOutcome says whether a run with this outcome committed its
// unit's manifest (rather than finding it committed, or failing).
func committedOutcome(o string) bool {
	return o == domain.OutcomeExported || o == domain.OutcomeSkipped || o == domain.OutcomeLost
}
