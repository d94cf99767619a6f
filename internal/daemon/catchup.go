package daemon

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
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
)

// Fire does what a fire of schedule name at logical time T must do with
// configuration l: a snapshot, or every due window under the schedule's
// catch-up policy (export.Fire).
func Fire(ctx context.Context, l Loaded, name string, T time.Time, hooks *export.Hooks) (export.FireResult, error) {
	j, s, err := l.Job(ctx, name)
	if err != nil {
		return export.FireResult{}, err
	}
	return l.FireFor(j, s).Run(ctx, T, hooks)
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

// CatchUp brings every enabled schedule of l up to date once: windowed
// schedules export their missing closed windows, snapshot schedules their
// latest scheduled fire if it is not archived. It is `serve --once`.
func CatchUp(ctx context.Context, l Loaded, log *zap.Logger, hooks *export.Hooks) (export.FireResult, error) {
	cfg := l.Config()
	var (
		mu    sync.Mutex
		total export.FireResult
		errs  []error
	)
	// A schedule paused in the daemon (state_dir/paused.json), or by any
	// daemon (its marker in the archive), stays paused here too.
	paused, err := daemonstate.LoadPauses(cfg.StateDir)
	if err != nil {
		return total, err
	}
	// One listing per archive prefix, not a read per schedule.
	marked, markErr := pauseMarkers(ctx, l)
	if markErr != nil {
		log.Warn("cannot list every pause marker; schedules paused in this daemon stay paused, the others are caught up", zap.Error(markErr))
	}
	now := l.Now().UTC().Truncate(time.Second)
	eachCatchUp(ctx, cfg, now, func(s *config.Schedule, T time.Time, err error) {
		if hooks != nil && hooks.Stopped() {
			return // shutting down: the next start catches it up
		}
		// A pause the daemon marked in the archive and another daemon
		// resumed since (the marker is gone) no longer holds.
		p, local := paused[s.Name]
		if local && !p.Marked {
			log.Warn("schedule is paused; not caught up (resume it over the daemon's API)",
				zap.String("schedule", s.Name), zap.String("reason", p.Reason), zap.Time("since", p.Since))
			return
		}
		switch {
		case local && markErr != nil:
			log.Warn("schedule is paused and its pause marker cannot be listed; not caught up", zap.String("schedule", s.Name))
			return
		case marked[s.Name]:
			log.Warn("schedule is paused (its marker is in the archive); not caught up (resume it over a daemon's API)",
				zap.String("schedule", s.Name))
			return
		}
		var fr export.FireResult
		if err == nil {
			fr, err = Fire(ctx, l, s.Name, T, hooks)
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
func CatchUpUntilStopped(stop context.Context, l Loaded, log *zap.Logger) (export.FireResult, error) {
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(stop))
	defer cancel(nil)
	timeout := time.Duration(l.Config().Server.ShutdownTimeout)
	if timeout <= 0 {
		timeout = schedule.DefaultShutdownTimeout
	}
	unregister := context.AfterFunc(stop, func() {
		log.Info("shutting down: starting nothing new; waiting for the exports in progress",
			zap.Duration("shutdown_timeout", timeout))
		// Firing after CatchUp returned is harmless: runCtx is done by then.
		time.AfterFunc(timeout, func() { cancel(schedule.ErrShutdownTimeout) })
	})
	defer unregister()
	return CatchUp(runCtx, l, log, &export.Hooks{Stopping: stop.Done()})
}

// eachCatchUp calls fire for every enabled schedule that has a catch-up
// time at now (with err set when its time could not be worked out),
// runs.max_concurrent schedules at a time: with thousands of schedules,
// planning each one (listing its archive) one after the other would hold
// up the start. The exports themselves share the daemon-wide slots.
func eachCatchUp(ctx context.Context, cfg *config.Config, now time.Time, fire func(s *config.Schedule, T time.Time, err error)) {
	var g errgroup.Group
	g.SetLimit(max(1, cfg.Runs.MaxConcurrent))
	for _, s := range cfg.Schedules {
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
