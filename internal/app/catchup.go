package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/daemonstate"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
)

// FireResult summarises what one fire of a schedule did.
type FireResult = export.FireResult

// FireHooks are told what a fire did, for the daemon's history and metrics.
type FireHooks = export.Hooks

// backoff is the schedule's retries.
func backoff(s *config.Schedule) schedule.Backoff {
	b := schedule.Backoff{Initial: time.Duration(s.Retries.Initial), Max: time.Duration(s.Retries.Max), Attempts: s.Retries.Attempts}
	if b.Attempts < 1 {
		b.Attempts = 1
	}
	if b.Initial <= 0 {
		b.Initial = 30 * time.Second
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	return b
}

// fireOf is the fire of schedule name by this App: its job, plan and
// retries, sharing the App's export slots.
func (a *App) fireOf(ctx context.Context, name string) (*export.Fire, *config.Schedule, error) {
	j, s, err := a.Job(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return a.fireFor(j, s), s, nil
}

// fireFor is the fire of schedule s with job j.
func (a *App) fireFor(j *export.Job, s *config.Schedule) *export.Fire {
	return &export.Fire{
		Job: j, Cron: s.Fires, Windows: a.WindowSpec(s), CatchUp: schedule.CatchUp(s.CatchUp),
		Retention: time.Duration(s.SourceConfig.Retention), Recheck: time.Duration(s.Recheck),
		Retries: backoff(s), MaxConcurrent: a.cfg.Runs.MaxConcurrent,
		Slot: a.exportSlot, Now: a.opts.Now, Logger: a.log,
	}
}

// Fire does what a fire of schedule name at logical time T must do: a
// snapshot, or every due window under the schedule's catch-up policy
// (export.Fire).
func (a *App) Fire(ctx context.Context, name string, T time.Time, hooks *FireHooks) (FireResult, error) {
	f, _, err := a.fireOf(ctx, name)
	if err != nil {
		return FireResult{}, err
	}
	return f.Run(ctx, T, hooks)
}

// runUnit runs one unit of schedule s with its retries (export.Fire.Unit).
func (a *App) runUnit(ctx context.Context, j *export.Job, s *config.Schedule, u domain.Unit, stop <-chan struct{}) (export.Result, error) {
	return a.fireFor(j, s).Unit(ctx, u, stop)
}

// catchUpTime is the logical time at which catching up fires schedule s at
// wall time now: now for a windowed schedule (every window closed by then);
// for a snapshot schedule its latest scheduled fire (a snapshot missed while
// the daemon was down), unless its policy is skip. ok is false when there
// is nothing to fire.
func catchUpTime(s *config.Schedule, now time.Time) (T time.Time, ok bool, err error) {
	if s.Window != nil {
		return now, true, nil
	}
	if s.CatchUp == config.CatchUpSkip {
		return time.Time{}, false, nil
	}
	T = s.Fires.Prev(now.Add(time.Second))
	return T, !T.IsZero(), nil
}

// CatchUp brings every enabled schedule up to date once: windowed schedules
// export their missing closed windows, snapshot schedules their latest
// scheduled fire if it is not archived. It is `serve --once`.
func (a *App) CatchUp(ctx context.Context, hooks *FireHooks) (FireResult, error) {
	var (
		mu    sync.Mutex
		total FireResult
		errs  []error
	)
	// A schedule paused in the daemon (state_dir/paused.json), or by any
	// daemon (its marker in the archive), stays paused here too.
	paused, err := daemonstate.LoadPauses(a.cfg.StateDir)
	if err != nil {
		return total, err
	}
	// One listing per archive prefix, not a read per schedule.
	marked, markErr := a.pauseMarkers(ctx)
	if markErr != nil {
		a.log.Warn("cannot list every pause marker; schedules paused in this daemon stay paused, the others are caught up", zap.Error(markErr))
	}
	now := a.opts.Now().UTC().Truncate(time.Second)
	a.eachCatchUp(ctx, now, func(s *config.Schedule, T time.Time, err error) {
		if hooks != nil && hooks.Stopped() {
			return // shutting down: the next start catches it up
		}
		// A pause the daemon marked in the archive and another daemon
		// resumed since (the marker is gone) no longer holds.
		p, local := paused[s.Name]
		if local && !p.Marked {
			a.log.Warn("schedule is paused; not caught up (resume it over the daemon's API)",
				zap.String("schedule", s.Name), zap.String("reason", p.Reason), zap.Time("since", p.Since))
			return
		}
		switch {
		case local && markErr != nil:
			a.log.Warn("schedule is paused and its pause marker cannot be listed; not caught up", zap.String("schedule", s.Name))
			return
		case marked[s.Name]:
			a.log.Warn("schedule is paused (its marker is in the archive); not caught up (resume it over a daemon's API)",
				zap.String("schedule", s.Name))
			return
		}
		var fr FireResult
		if err == nil {
			fr, err = a.Fire(ctx, s.Name, T, hooks)
			if err != nil {
				err = fmt.Errorf("schedule %q: %w", s.Name, err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		total.Add(fr)
		if err != nil {
			errs = append(errs, err)
		}
	})
	return total, errors.Join(errs...)
}

// CatchUpUntilStopped is serve --once: CatchUp, except that once stop is
// done (SIGTERM) nothing new starts, the exports in progress get up to the
// config's server.shutdown_timeout to finish, as in the daemon, and those
// still running then are cancelled with schedule.ErrShutdownTimeout: they
// publish nothing and release their claims.
func (a *App) CatchUpUntilStopped(stop context.Context) (FireResult, error) {
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(stop))
	defer cancel(nil)
	timeout := time.Duration(a.cfg.Server.ShutdownTimeout)
	if timeout <= 0 {
		timeout = schedule.DefaultShutdownTimeout
	}
	unregister := context.AfterFunc(stop, func() {
		a.log.Info("shutting down: starting nothing new; waiting for the exports in progress",
			zap.Duration("shutdown_timeout", timeout))
		// Firing after CatchUp returned is harmless: runCtx is done by then.
		time.AfterFunc(timeout, func() { cancel(schedule.ErrShutdownTimeout) })
	})
	defer unregister()
	return a.CatchUp(runCtx, &FireHooks{Stopping: stop.Done()})
}

// eachCatchUp calls fire for every enabled schedule that has a catch-up
// time at now (with err set when its time could not be worked out),
// runs.max_concurrent schedules at a time: with thousands of schedules,
// planning each one (listing its archive) one after the other would hold
// up the start. The exports themselves share the daemon-wide slots.
func (a *App) eachCatchUp(ctx context.Context, now time.Time, fire func(s *config.Schedule, T time.Time, err error)) {
	var g errgroup.Group
	g.SetLimit(max(1, a.cfg.Runs.MaxConcurrent))
	for _, s := range a.cfg.Schedules {
		if !s.Enabled || ctx.Err() != nil {
			continue
		}
		T, ok, err := catchUpTime(s, now)
		if err != nil {
			fire(s, T, err)
		}
		if !ok {
			continue
		}
		g.Go(func() error { fire(s, T, nil); return nil })
	}
	_ = g.Wait()
}

// ServeOnce is `exportd serve --once`: it opens every destination store,
// aborts the multipart uploads dead runs left, and catches every schedule
// up once (CatchUpUntilStopped); report, when set, is given the counts
// once the catch-up has run.
func (a *App) ServeOnce(ctx context.Context, report func(FireResult)) error {
	if err := a.OpenStores(ctx); err != nil {
		return err
	}
	a.SweepUploads(ctx)
	fr, err := a.CatchUpUntilStopped(ctx)
	// Stopped early (SIGTERM): the next run writes the day's digest.
	if ctx.Err() == nil {
		if derr := a.WriteDailyDigests(ctx); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if report != nil {
		report(fr)
	}
	return err
}
