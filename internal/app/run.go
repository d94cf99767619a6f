package app

import (
	"context"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/server"
	"github.com/exportd/exportd/internal/workbook"
)

// ErrBadRequest marks a run request that can never succeed as asked (an
// open or misaligned window); the HTTP API answers 400.
var ErrBadRequest = server.ErrBadRequest

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

// RunResult is what a run of one unit did.
type RunResult = export.Result

// Preview is the next n fires of schedule s after from, local and UTC, with
// the windows each exports.
func (a *App) Preview(s *config.Schedule, from time.Time, n int) ([]schedule.Fire, error) {
	return schedule.Preview(s.Fires, a.WindowSpec(s), from, n)
}

// WindowSpec is the schedule's window spec now, or nil for a snapshot
// schedule.
func (a *App) WindowSpec(s *config.Schedule) *schedule.WindowSpec {
	return s.WindowSpec(a.opts.Now())
}

// Unit resolves a run request to the unit it exports.
func (a *App) Unit(req RunRequest) (domain.Unit, *config.Schedule, error) {
	s := a.cfg.Schedule(req.Schedule)
	if s == nil {
		return domain.Unit{}, nil, fmt.Errorf("%w: unknown schedule %q; schedules: %v", ErrBadRequest, req.Schedule, a.scheduleNames())
	}
	at := req.At
	if at.IsZero() {
		at = a.opts.Now()
	}
	at = at.UTC().Truncate(time.Second)
	u := domain.Unit{Schedule: s.Name, Logical: at}
	ws := a.WindowSpec(s)
	if ws == nil || req.Adhoc {
		if !req.WindowStart.IsZero() {
			return u, s, fmt.Errorf("%w: schedule %q exports snapshots: it has no windows to pick", ErrBadRequest, s.Name)
		}
		u.Adhoc = ws != nil
		return u, s, nil
	}
	if req.WindowStart.IsZero() {
		w, err := ws.Latest(at)
		if err != nil {
			return u, s, fmt.Errorf("%w: schedule %q: no closed window at %s: %v", ErrBadRequest, s.Name, at.Format(time.RFC3339), err)
		}
		u.Window = w
		return u, s, nil
	}
	w, err := ws.Align(req.WindowStart)
	if err != nil {
		return u, s, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if !w.Start.Equal(req.WindowStart) {
		return u, s, fmt.Errorf("%w: %s is not the start of a %s window in %s; the window containing it starts at %s",
			ErrBadRequest, req.WindowStart.Format(time.RFC3339), s.Window.Every, s.Location, w.Start.In(s.Location).Format(time.RFC3339))
	}
	if err := ws.Runnable(w, time.Duration(s.SourceConfig.Retention), a.opts.Now()); err != nil {
		return u, s, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if closeAt := w.End.Add(ws.Lag); closeAt.After(at) {
		return u, s, fmt.Errorf("%w: window %s is not closed yet: it closes at %s (end + lag %s)",
			ErrBadRequest, w.ID(), closeAt.Format(time.RFC3339), ws.Lag)
	}
	u.Window = w
	return u, s, nil
}

// RunOnce exports one unit in this process.
func (a *App) RunOnce(ctx context.Context, req RunRequest) (export.Result, error) {
	u, s, err := a.Unit(req)
	if err != nil {
		return export.Result{}, err
	}
	j, _, err := a.Job(ctx, s.Name)
	if err != nil {
		return export.Result{Unit: u}, err
	}
	return j.Run(ctx, u, 1)
}

// Explain returns a schedule's compiled SQL for a dialect ("" is the
// source's own) and its parameters.
func (a *App) Explain(ctx context.Context, name, dialect string) (*workbook.Compiled, error) {
	s := a.cfg.Schedule(name)
	if s == nil {
		return nil, fmt.Errorf("unknown schedule %q; schedules: %v", name, a.scheduleNames())
	}
	if dialect == "" || dialect == dialectOf(s.SourceConfig) {
		a.mu.Lock()
		c := a.compiled[name]
		a.mu.Unlock()
		if c == nil {
			return nil, fmt.Errorf("schedule %q: element not compiled", name)
		}
		return c.full, nil
	}
	if dialect != string(workbook.DuckDB) && dialect != string(workbook.Snowflake) {
		return nil, fmt.Errorf("unknown dialect %q: use duckdb or snowflake", dialect)
	}
	schema, _, err := a.schema(ctx, s)
	if err != nil {
		return nil, err
	}
	return workbook.Compile(&s.Element, schema, compileOptions(s, dialect))
}

// ArchiveOf returns the read half of a schedule's archive (what the
// auditor commands use), its key layout, and the start of its first
// window when the schedule sets window.start (zero otherwise).
func (a *App) ArchiveOf(ctx context.Context, name string) (archive.Reader, domain.Layout, time.Time, error) {
	s := a.cfg.Schedule(name)
	if s == nil {
		return nil, domain.Layout{}, time.Time{}, fmt.Errorf("unknown schedule %q; schedules: %v", name, a.scheduleNames())
	}
	st, _, err := a.Store(ctx, s.Destination.Integration, s.Destination.Bucket)
	if err != nil {
		return nil, domain.Layout{}, time.Time{}, err
	}
	var start time.Time
	if s.Window != nil {
		start = s.Window.Start
	}
	return st, s.Layout(), start, nil
}
