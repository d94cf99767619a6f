package export

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/render"
	"github.com/exportd/exportd/internal/source"
)

// RecheckResult says what a recheck found.
type RecheckResult struct {
	// Archived is false when the unit has no exported manifest to compare.
	Archived bool
	// LateRows is the source's row count now minus the archived count.
	LateRows int64
	// Changed: the source's rows differ from the archived object's bytes.
	Changed bool
	// Revision is the revision written (0 when none).
	Revision    int
	ManifestKey string
}

// latest returns the newest revision of u's manifest and its bytes.
func (j *Job) latest(ctx context.Context, u domain.Unit) (rev int, key string, data []byte, err error) {
	for r := 1; ; r++ {
		k, err := j.Layout.ManifestKey(u, r)
		if err != nil {
			return 0, "", nil, err
		}
		rc, _, err := j.Archive.Store.Get(ctx, k)
		if errors.Is(err, archive.ErrNotFound) {
			return rev, key, data, nil
		}
		if err != nil {
			return 0, "", nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return 0, "", nil, err
		}
		rev, key, data = r, k, b
	}
}

// Recheck re-reads an archived window from the source. It counts late
// rows; with revise it also re-renders the window (hashing only) and, when
// the bytes differ from the archived object's, writes a new revision
// (kind superseded, linking the manifest it replaces; that one stays).
func (j *Job) Recheck(ctx context.Context, u domain.Unit, revise bool) (RecheckResult, error) {
	var r RecheckResult
	rev, key, data, err := j.latest(ctx, u)
	if err != nil || rev == 0 {
		return r, err
	}
	m, err := archive.ParseManifest(data)
	if err != nil {
		return r, fmt.Errorf("recheck %s: %w", key, err)
	}
	if (m.Kind != domain.KindExported && m.Kind != domain.KindSuperseded) || len(m.Objects) != 1 {
		return r, nil
	}
	r.Archived = true
	q, err := j.Query(u)
	if err != nil {
		return r, err
	}
	sq := source.Query{SQL: q.SQL, Args: q.Args}
	var rows int64
	changed := false
	if revise {
		sink := render.NewSink(io.Discard, render.Options{Gzip: j.Gzip})
		res, err := j.Source.ExportCSV(ctx, sq, sink)
		if err == nil {
			err = sink.Close()
		}
		if err != nil {
			return r, fmt.Errorf("export %q: recheck %s: %w", j.Name, u.ID(), err)
		}
		rows = res.Rows
		changed = sink.Stats().SHA256 != m.Objects[0].SHA256
	} else {
		rows, err = j.Source.Count(ctx, sq)
		if err != nil {
			return r, fmt.Errorf("export %q: recheck %s: %w", j.Name, u.ID(), err)
		}
		changed = rows != m.Objects[0].Rows
	}
	r.LateRows = rows - m.Objects[0].Rows
	r.Changed = changed
	if !changed || !revise {
		return r, nil
	}
	j.Logger.Warn("the source changed after the window was archived; writing a new revision",
		zap.String("schedule", j.Name), zap.String("unit", u.ID()), zap.Int64("late_rows", r.LateRows),
		zap.String("supersedes", key))
	res, err := j.run(ctx, u, 1, rev+1, &archive.Link{Key: key, SHA256: archive.SHA256Hex(data)})
	if errors.Is(err, archive.ErrAlreadyArchived) {
		return r, nil // another replica wrote this revision
	}
	if err != nil {
		return r, err
	}
	r.Revision, r.ManifestKey = rev+1, res.ManifestKey
	return r, nil
}
