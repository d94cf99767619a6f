package audit

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// Entry is one archived unit as archive ls shows it: the newest revision
// of a window (or snapshot), its object and what the store says of its
// lock.
type Entry struct {
	Schedule    string         `json:"schedule"`
	Sequence    int64          `json:"sequence"`
	Kind        string         `json:"kind"`
	UnitID      string         `json:"unit_id"`
	Window      *domain.Window `json:"window,omitempty"`
	Revision    int            `json:"revision"`
	ManifestKey string         `json:"manifest_key"`
	Key         string         `json:"key,omitempty"`
	Rows        int64          `json:"rows"`
	Bytes       int64          `json:"bytes"`
	SHA256      string         `json:"sha256,omitempty"`
	Definition  int            `json:"definition_version,omitempty"`
	RetainUntil time.Time      `json:"retain_until,omitzero"`
	LockMode    string         `json:"lock_mode,omitempty"`
	LegalHold   bool           `json:"legal_hold,omitempty"`
	Reason      string         `json:"reason,omitempty"`
}

// List returns the units of the schedules under prefix (all when names is
// empty) whose windows overlap [from, to), from each chain, in commit
// order. It does not verify: a broken chain is an error that says to run
// verify.
func List(ctx context.Context, r archive.Reader, prefix string, names []string, from, to time.Time, parallel int) ([]Entry, error) {
	v := &verifier{r: r, o: Options{Prefix: prefix, Schedules: names}, reported: map[string]bool{}}
	names, err := v.scheduleNames(ctx)
	if err != nil {
		return nil, err
	}
	if parallel <= 0 {
		parallel = 16
	}
	_, locks := r.(archive.LockInspector)
	var out []Entry
	for _, name := range names {
		l := domain.Layout{Prefix: prefix, Schedule: name}
		rep := &archive.Report{Schedule: name}
		chain, err := archive.Chain(ctx, r, l, rep)
		if err != nil {
			return nil, err
		}
		if len(rep.Problems) > 0 {
			return nil, fmt.Errorf("the chain of %s is broken (run exportd archive verify): %s", name, rep.Problems[0])
		}
		start := len(out)
		for _, e := range archive.Latest(chain) {
			m := e.Manifest
			if m.Adhoc || !overlaps(m, from, to) {
				continue
			}
			en := Entry{Schedule: name, Sequence: m.Sequence, Kind: m.Kind, UnitID: m.UnitID, Window: m.Window, Revision: m.Revision,
				ManifestKey: e.Key, Reason: m.Reason}
			if m.Definition != nil {
				en.Definition = m.Definition.Version
			}
			for _, o := range m.Objects {
				en.Key, en.Rows, en.Bytes, en.SHA256 = o.Key, en.Rows+o.Rows, en.Bytes+o.Bytes, o.SHA256
			}
			out = append(out, en)
		}
		if !locks {
			continue
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallel)
		for i := start; i < len(out); i++ {
			g.Go(func() error {
				key := out[i].Key
				if key == "" {
					key = out[i].ManifestKey
				}
				st, err := r.Stat(gctx, key)
				if err != nil {
					return fmt.Errorf("stat %s: %w", key, err)
				}
				out[i].RetainUntil, out[i].LockMode, out[i].LegalHold = st.RetainUntil, st.LockMode, st.LegalHold
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Schedules names every schedule the archive under prefix has a record of
// (a head, definition records or digests), without reading any chain.
func Schedules(ctx context.Context, r archive.Reader, prefix string) ([]string, error) {
	v := &verifier{r: r, o: Options{Prefix: prefix}, reported: map[string]bool{}}
	return v.scheduleNames(ctx)
}
