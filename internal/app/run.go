package app

import (
	"context"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/compile"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/daemon"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/server"
	"github.com/exportd/exportd/internal/workbook"
)

// ErrBadRequest marks a run request that can never succeed as asked (an
// open or misaligned window); the HTTP API answers 400.
var ErrBadRequest = server.ErrBadRequest

// RunRequest asks for one unit of a schedule now (daemon.ResolveUnit).
type RunRequest = daemon.RunRequest

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
	return daemon.ResolveUnit(a.cfg, a.opts.Now(), req)
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
	if dialect == "" || dialect == compile.Dialect(s.SourceConfig) {
		a.mu.Lock()
		c := a.compiled[name]
		a.mu.Unlock()
		if c == nil {
			return nil, fmt.Errorf("schedule %q: element not compiled", name)
		}
		return c.Full, nil
	}
	return a.compiler.ForDialect(ctx, s, dialect)
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
