package daemon

import (
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
)

// RunRequest asks for one unit of a schedule now.
type RunRequest struct {
	Schedule string
	// At is the logical time; zero means now (truncated to the second).
	At time.Time
	// WindowStart picks the window of a windowed schedule; zero means the
	// latest closed one.
	WindowStart time.Time
	// Adhoc exports a one-off snapshot of a windowed schedule's element
	// under adhoc/ (completeness checks ignore it).
	Adhoc bool
}

// ResolveUnit resolves a run request to the unit it exports under cfg at
// wall time now.
func ResolveUnit(cfg *config.Config, now time.Time, req RunRequest) (domain.Unit, *config.Schedule, error) {
	s := cfg.Schedule(req.Schedule)
	if s == nil {
		return domain.Unit{}, nil, fmt.Errorf("%w: unknown schedule %q; schedules: %v", server.ErrBadRequest, req.Schedule, cfg.ScheduleNames())
	}
	at := req.At
	if at.IsZero() {
		at = now
	}
	at = at.UTC().Truncate(time.Second)
	u := domain.Unit{Schedule: s.Name, Logical: at}
	ws := s.WindowSpec(now)
	if ws == nil || req.Adhoc {
		if !req.WindowStart.IsZero() {
			return u, s, fmt.Errorf("%w: schedule %q exports snapshots: it has no windows to pick", server.ErrBadRequest, s.Name)
		}
		u.Adhoc = ws != nil
		return u, s, nil
	}
	if req.WindowStart.IsZero() {
		w, err := ws.Latest(at)
		if err != nil {
			return u, s, fmt.Errorf("%w: schedule %q: no closed window at %s: %v", server.ErrBadRequest, s.Name, at.Format(time.RFC3339), err)
		}
		u.Window = w
		return u, s, nil
	}
	w, err := ws.Align(req.WindowStart)
	if err != nil {
		return u, s, fmt.Errorf("%w: %v", server.ErrBadRequest, err)
	}
	if !w.Start.Equal(req.WindowStart) {
		return u, s, fmt.Errorf("%w: %s is not the start of a %s window in %s; the window containing it starts at %s",
			server.ErrBadRequest, req.WindowStart.Format(time.RFC3339), s.Window.Every, s.Location, w.Start.In(s.Location).Format(time.RFC3339))
	}
	if err := ws.Runnable(w, time.Duration(s.SourceConfig.Retention), now); err != nil {
		return u, s, fmt.Errorf("%w: %v", server.ErrBadRequest, err)
	}
	if closeAt := w.End.Add(ws.Lag); closeAt.After(at) {
		return u, s, fmt.Errorf("%w: window %s is not closed yet: it closes at %s (end + lag %s)",
			server.ErrBadRequest, w.ID(), closeAt.Format(time.RFC3339), ws.Lag)
	}
	u.Window = w
	return u, s, nil
}
