package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
)

// Windows is the state of a windowed schedule's last n closed windows,
// oldest first, as its archive shows them: a committed manifest says
// archived, skipped or lost; a claim without one says running; nothing at
// all says missing. A snapshot schedule has no windows (nil, nil).
//
// It reads one manifest (or claim) per window, so the status page asks for
// a bounded number of them.
func (d *Daemon) Windows(ctx context.Context, name string, n int) ([]server.WindowStatus, error) {
	a, release := d.acquire()
	defer release()
	s := a.Config().Schedule(name)
	if s == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownSchedule, name)
	}
	ws := s.WindowSpec(a.Now())
	if ws == nil {
		return nil, nil
	}
	closed, err := ws.Closed(a.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: schedule %q: %v", server.ErrBadRequest, name, err)
	}
	if len(closed) > n {
		closed = closed[len(closed)-n:]
	}
	j, _, err := a.Job(ctx, name)
	if err != nil {
		// Its store could not be opened (or its source).
		return nil, fmt.Errorf("%w: schedule %q: %w", server.ErrArchiveUnavailable, name, err)
	}
	out := make([]server.WindowStatus, 0, len(closed))
	for _, w := range closed {
		u := domain.Unit{Schedule: name, Window: w}
		st := server.WindowStatus{ID: u.ID(), Window: server.Window{Start: w.Start.UTC(), End: w.End.UTC()}}
		m, err := readManifest(ctx, j.Archive.Store, j.Layout, u)
		switch {
		case err == nil && m.Kind == domain.KindSkipped:
			st.State = server.WindowSkipped
		case err == nil && m.Kind == domain.KindLost:
			st.State = server.WindowLost
		case err == nil:
			st.State = server.WindowArchived
			if len(m.Objects) > 0 {
				st.Key = m.Objects[0].Key
			}
		case errors.Is(err, archive.ErrNotFound):
			st.State = server.WindowMissing
			if _, err := j.Archive.Store.Stat(ctx, j.Layout.ClaimKey(u)); err == nil {
				st.State = server.WindowRunning
			} else if !errors.Is(err, archive.ErrNotFound) {
				return nil, fmt.Errorf("%w: window %s: %w", server.ErrArchiveUnavailable, u.ID(), err)
			}
		default:
			return nil, fmt.Errorf("%w: window %s: %w", server.ErrArchiveUnavailable, u.ID(), err)
		}
		out = append(out, st)
	}
	return out, nil
}

// readManifest reads the first revision of u's manifest (its kind and
// object key do not change with later revisions).
func readManifest(ctx context.Context, r archive.Reader, l domain.Layout, u domain.Unit) (*archive.Manifest, error) {
	key, err := l.ManifestKey(u, 1)
	if err != nil {
		return nil, err
	}
	rc, _, err := r.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, err
	}
	return archive.ParseManifest(data)
}
