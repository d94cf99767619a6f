package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/source"
)

// FireResult summarises what one fire of a schedule did.
type FireResult struct {
	Exported, AlreadyArchived, Lost, Skipped, Failed int
}

func (f *FireResult) add(o FireResult) {
	f.Exported += o.Exported
	f.AlreadyArchived += o.AlreadyArchived
	f.Lost += o.Lost
	f.Skipped += o.Skipped
	f.Failed += o.Failed
}

// retryable says whether a failed run is worth another attempt: query and
// authentication errors, schema changes and bad requests are not.
func retryable(err error) bool {
	switch {
	case errors.Is(err, source.ErrQuery), errors.Is(err, source.ErrAuth),
		errors.Is(err, export.ErrSchemaChanged), errors.Is(err, ErrBadRequest),
		errors.Is(err, archive.ErrAlreadyArchived), errors.Is(err, archive.ErrClaimed),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}

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

// stopped says whether stop (nil: never) is closed: the daemon is shutting
// down and starts nothing new.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// runUnit runs one unit with the schedule's retries; once stop is closed
// (shutdown) a failed attempt is not retried. A run cancelled because
// shutdown_timeout ran out returns an error wrapping
// schedule.ErrShutdownTimeout.
func (a *App) runUnit(ctx context.Context, j *export.Job, s *config.Schedule, u archive.Unit, stop <-chan struct{}) (export.Result, error) {
	var res export.Result
	retry := func(err error) bool { return retryable(err) && !stopped(stop) }
	err := schedule.Retry(ctx, backoff(s), func(attempt int) error {
		release, err := a.exportSlot(ctx)
		if err != nil {
			res = export.Result{Unit: u, Attempt: attempt}
			return err
		}
		res, err = j.Run(ctx, u, attempt)
		release()
		res.Attempt = attempt
		if err != nil && retry(err) {
			a.log.Warn("export failed; will retry", zap.String("schedule", s.Name), zap.String("unit", u.ID()),
				zap.Int("attempt", attempt), zap.Error(err))
		}
		return err
	}, retry)
	if cause := context.Cause(ctx); err != nil && ctx.Err() != nil && errors.Is(cause, schedule.ErrShutdownTimeout) &&
		!errors.Is(err, schedule.ErrShutdownTimeout) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	return res, err
}

// Fire does what a fire of schedule name at logical time T must do: a
// snapshot, or every due window under the schedule's catch-up policy.
//
// hooks (optional) are told of each unit's result and each recheck.
func (a *App) Fire(ctx context.Context, name string, T time.Time, hooks *FireHooks) (FireResult, error) {
	if hooks == nil {
		hooks = &FireHooks{}
	}
	observe := func(res export.Result, err error) {
		if hooks.Unit != nil {
			hooks.Unit(res, err)
		}
	}
	var fr FireResult
	j, s, err := a.Job(ctx, name)
	if err != nil {
		return fr, err
	}
	log := a.log.With(zap.String("schedule", name), zap.Time("logical", T))
	ws := a.WindowSpec(s)
	if ws == nil {
		u := archive.Unit{Schedule: name, Logical: T.UTC()}
		res, err := a.runUnit(ctx, j, s, u, hooks.Stopping)
		observe(res, err)
		return a.account(log, res, err)
	}
	c, err := schedule.ParseCron(s.Cron, s.Location)
	if err != nil {
		return fr, err
	}
	plan, err := schedule.Schedule{Cron: c, Windows: ws}.Plan(T, schedule.CatchUp(s.CatchUp), func(w archive.Window) bool {
		ok, err := j.Archived(ctx, archive.Unit{Schedule: name, Window: w})
		return err == nil && ok
	}, time.Duration(s.SourceConfig.Retention), a.opts.Now())
	if err != nil {
		return fr, err
	}
	fr.Skipped = plan.Skipped
	var errs []error
	for _, w := range plan.Lost {
		res, err := j.MarkLost(ctx, archive.Unit{Schedule: name, Logical: T.UTC(), Window: w},
			fmt.Sprintf("the source keeps %s of data; this window ended before that", time.Duration(s.SourceConfig.Retention)))
		observe(res, err)
		r, err := a.account(log, res, err)
		if err == nil && r.Exported == 1 {
			r.Exported, r.Lost = 0, 1
		}
		fr.add(r)
		errs = append(errs, err)
	}
	var mu sync.Mutex
	notStarted := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, a.cfg.Runs.MaxConcurrent))
	for _, pw := range plan.Export {
		if pw.AtRisk {
			log.Warn("window is about to leave the source's retention; exporting it first", zap.String("window", pw.Window.ID()))
		}
		g.Go(func() error {
			// Shutdown stops firing: a window that has not started yet stays
			// missing, and the next start catches it up.
			if stopped(hooks.Stopping) {
				mu.Lock()
				notStarted++
				mu.Unlock()
				return nil
			}
			res, err := a.runUnit(gctx, j, s, archive.Unit{Schedule: name, Logical: T.UTC(), Window: pw.Window}, hooks.Stopping)
			observe(res, err)
			r, err := a.account(log, res, err)
			mu.Lock()
			fr.add(r)
			errs = append(errs, err)
			mu.Unlock()
			return nil // one failed window does not stop the others
		})
	}
	_ = g.Wait()
	if notStarted > 0 {
		log.Info("shutting down: windows not started; the next start catches them up", zap.Int("windows", notStarted))
	}
	if stopped(hooks.Stopping) {
		return fr, errors.Join(errs...)
	}
	if err := a.recheck(ctx, j, s, ws, T, hooks); err != nil {
		errs = append(errs, err)
	}
	return fr, errors.Join(errs...)
}

// FireHooks are told what a fire did, for the daemon's history and metrics.
type FireHooks struct {
	Unit    func(export.Result, error)
	Recheck func(u archive.Unit, r export.RecheckResult, err error)
	// Stopping, when closed, means the daemon is shutting down: the fire
	// starts no further window, recheck or retry, and lets the runs in
	// progress finish (their context is cancelled if shutdown_timeout runs
	// out). nil never closes.
	Stopping <-chan struct{}
}

// countOnlyDelay is when a window is re-counted (late rows only) when the
// schedule sets no recheck.
const countOnlyDelay = 24 * time.Hour

// recheck re-reads the windows whose recheck time (end + lag + recheck)
// came within the last two recheck periods and that were not rechecked
// yet. With recheck set it writes a new revision when the source changed;
// without, it only counts late rows (a day after the window closed).
func (a *App) recheck(ctx context.Context, j *export.Job, s *config.Schedule, ws *schedule.WindowSpec, T time.Time, hooks *FireHooks) error {
	delay, revise := time.Duration(s.Recheck), true
	if delay <= 0 {
		delay, revise = countOnlyDelay, false
	}
	closed, err := ws.Closed(T.Add(-delay))
	if err != nil {
		return nil // nothing closed that long ago
	}
	var errs []error
	for _, w := range closed {
		due := w.End.Add(ws.Lag).Add(delay)
		if due.Before(T.Add(-2 * delay)) {
			continue
		}
		u := archive.Unit{Schedule: s.Name, Logical: T.UTC(), Window: w}
		marker := j.Layout.ClaimKey(u) + ".recheck"
		if _, _, err := j.Archive.Store.Read(ctx, marker); err == nil {
			continue
		}
		release, err := a.exportSlot(ctx)
		if err != nil {
			errs = append(errs, err)
			break
		}
		r, err := j.Recheck(ctx, u, revise)
		release()
		if hooks.Recheck != nil {
			hooks.Recheck(u, r, err)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !r.Archived {
			continue
		}
		if r.LateRows != 0 || r.Changed {
			a.log.Warn("late rows after archiving", zap.String("schedule", s.Name), zap.String("unit", u.ID()),
				zap.Int64("late_rows", r.LateRows), zap.Bool("changed", r.Changed), zap.Int("revision", r.Revision))
		}
		rec, _ := json.Marshal(map[string]any{"rechecked_at": T.UTC(), "late_rows": r.LateRows, "changed": r.Changed,
			"revision": r.Revision, "revised": revise})
		if _, err := j.Archive.Store.Create(ctx, marker, rec); err != nil && !errors.Is(err, archive.ErrExists) {
			errs = append(errs, fmt.Errorf("recheck marker %s: %w", marker, err))
		}
	}
	return errors.Join(errs...)
}

// account logs a run's outcome and turns it into counts; already archived
// and claimed units are not errors for a fire.
func (a *App) account(log *zap.Logger, res export.Result, err error) (FireResult, error) {
	var fr FireResult
	log = log.With(zap.String("unit", res.Unit.ID()), zap.Duration("duration", res.Duration))
	if w := res.Unit.Window; !w.IsZero() {
		log = log.With(zap.Time("window_start", w.Start), zap.Time("window_end", w.End))
	}
	if res.Attempt > 0 {
		log = log.With(zap.Int("attempt", res.Attempt))
	}
	switch {
	case errors.Is(err, archive.ErrAlreadyArchived):
		fr.AlreadyArchived++
		log.Debug("already archived", zap.String("manifest", res.ManifestKey))
		return fr, nil
	case errors.Is(err, archive.ErrClaimed):
		log.Info("another run holds this unit", zap.Error(err))
		return fr, nil
	case errors.Is(err, schedule.ErrShutdownTimeout):
		// Not the export's fault: it was still running when shutdown_timeout
		// ran out. Its temp object was discarded and its claim released; the
		// next start exports the unit again.
		fr.Failed++
		log.Warn("export cancelled by shutdown: still running at shutdown_timeout; nothing was published, the claim was released",
			zap.Error(err))
		return fr, err
	case err != nil:
		fr.Failed++
		log.Error("export failed", zap.Error(err))
		return fr, err
	}
	switch res.Kind {
	case archive.KindSkipped:
		fr.Skipped++
	default:
		fr.Exported++
	}
	fields := []zap.Field{zap.String("kind", res.Kind), zap.String("manifest", res.ManifestKey), zap.Bool("repaired", res.Repaired)}
	if o := res.Object; o != nil {
		fields = append(fields, zap.String("key", o.Key), zap.Int64("rows", o.Rows), zap.Int64("bytes", o.Bytes))
	}
	if res.QueryID != "" {
		fields = append(fields, zap.String("query_id", res.QueryID))
	}
	log.Info("exported", fields...)
	return fr, nil
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
	c, err := schedule.ParseCron(s.Cron, s.Location)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("schedule %q: %w", s.Name, err)
	}
	T = c.Prev(now.Add(time.Second))
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
	paused, err := loadPaused(a)
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
		if hooks != nil && stopped(hooks.Stopping) {
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
		total.add(fr)
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
