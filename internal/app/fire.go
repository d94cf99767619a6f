package app

import (
	"context"
	"errors"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/daemon"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
)

// FireResult summarises what one fire of a schedule did.
type FireResult = export.FireResult

// FireHooks are told what a fire did, for the daemon's history and metrics.
type FireHooks = export.Hooks

// FireFor is the fire of schedule s with job j: its plan and retries,
// sharing the App's export slots.
func (a *App) FireFor(j *export.Job, s *config.Schedule) *export.Fire {
	return &export.Fire{
		Job: j, Cron: s.Fires, Windows: a.WindowSpec(s), CatchUp: schedule.CatchUp(s.CatchUp),
		Retention: time.Duration(s.SourceConfig.Retention), Recheck: time.Duration(s.Recheck),
		Retries: s.Retries.Backoff(), MaxConcurrent: a.cfg.Runs.MaxConcurrent,
		Slot: a.exportSlot, Now: a.opts.Now, Logger: a.log,
	}
}

// Fire does what a fire of schedule name at logical time T must do: a
// snapshot, or every due window under the schedule's catch-up policy
// (export.Fire).
func (a *App) Fire(ctx context.Context, name string, T time.Time, hooks *FireHooks) (FireResult, error) {
	return daemon.Fire(ctx, a, name, T, hooks)
}

// CatchUp brings every enabled schedule up to date once (daemon.CatchUp).
func (a *App) CatchUp(ctx context.Context, hooks *FireHooks) (FireResult, error) {
	return daemon.CatchUp(ctx, a, a.log, hooks)
}

// ServeOnce is `exportd serve --once`: it opens every destination store,
// aborts the multipart uploads dead runs left, and catches every schedule
// up once (daemon.CatchUpUntilStopped); report, when set, is given the
// counts once the catch-up has run.
func (a *App) ServeOnce(ctx context.Context, report func(FireResult)) error {
	if err := daemon.OpenStores(ctx, a); err != nil {
		return err
	}
	daemon.SweepUploads(ctx, a, a.log)
	fr, err := daemon.CatchUpUntilStopped(ctx, a, a.log)
	// Stopped early (SIGTERM): the next run writes the day's digest.
	if ctx.Err() == nil {
		if derr := daemon.WriteDailyDigests(ctx, a, a.log); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if report != nil {
		report(fr)
	}
	return err
}
