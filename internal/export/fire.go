package export

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
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/source"
)

// FireResult summarises what one fire of a schedule did.
type FireResult struct {
	Exported, AlreadyArchived, Lost, Skipped, Failed int
}

func (f *FireResult) Add(o FireResult) {
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
		errors.Is(err, ErrSchemaChanged),
		errors.Is(err, archive.ErrAlreadyArchived), errors.Is(err, archive.ErrClaimed),
		errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// Fire is one schedule as its fires see it: a fire at logical time T
// plans the schedule's units (a snapshot, or the due windows under its
// catch-up policy), marks lost windows, exports the others with retries,
// runs.max_concurrent at a time, then rechecks closed windows.
type Fire struct {
	Job *Job
	// Cron is the schedule's cron; Windows its window spec, nil for a
	// snapshot schedule.
	Cron    *schedule.Cron
	Windows *schedule.WindowSpec
	CatchUp schedule.CatchUp
	// Retention is how long the source keeps data (0: unknown).
	Retention time.Duration
	// Recheck is when a closed window is re-read for late rows (0: only
	// counted, a day after it closed).
	Recheck time.Duration
	Retries schedule.Backoff
	// MaxConcurrent bounds the windows of one fire exported at once.
	MaxConcurrent int
	// Slot takes one of the process-wide export slots; release gives it
	// back.
	Slot func(ctx context.Context) (release func(), err error)
	// Now is the wall clock (which windows left the source's retention).
	Now    func() time.Time
	Logger *zap.Logger
}

// Stopped says whether the fire is shutting down (Stopping is closed).
func (h *Hooks) Stopped() bool { return Stopped(h.Stopping) }

// Stopped says whether stop (nil: never) is closed: the daemon is shutting
// down and starts nothing new.
func Stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Unit runs one unit with the schedule's retries; once stop is closed
// (shutdown) a failed attempt is not retried. A run cancelled because
// shutdown_timeout ran out returns an error wrapping
// schedule.ErrShutdownTimeout.
func (f *Fire) Unit(ctx context.Context, u domain.Unit, stop <-chan struct{}) (Result, error) {
	var res Result
	j := f.Job
	retry := func(err error) bool { return retryable(err) && !Stopped(stop) }
	err := schedule.Retry(ctx, f.Retries, func(attempt int) error {
		release, err := f.Slot(ctx)
		if err != nil {
			res = Result{Unit: u, Attempt: attempt}
			return err
		}
		res, err = j.Run(ctx, u, attempt)
		release()
		res.Attempt = attempt
		if err != nil && retry(err) {
			f.Logger.Warn("export failed; will retry", zap.String("schedule", j.Name), zap.String("unit", u.ID()),
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

// Run does what a fire at logical time T must do: a snapshot, or every due
// window under the schedule's catch-up policy.
//
// hooks (optional) are told of each unit's result and each recheck.
func (f *Fire) Run(ctx context.Context, T time.Time, hooks *Hooks) (FireResult, error) {
	if hooks == nil {
		hooks = &Hooks{}
	}
	observe := func(res Result, err error) {
		if hooks.Unit != nil {
			hooks.Unit(res, err)
		}
	}
	var fr FireResult
	j, name := f.Job, f.Job.Name
	log := f.Logger.With(zap.String("schedule", name), zap.Time("logical", T))
	ws := f.Windows
	if ws == nil {
		u := domain.Unit{Schedule: name, Logical: T.UTC()}
		res, err := f.Unit(ctx, u, hooks.Stopping)
		observe(res, err)
		return Account(log, res, err)
	}
	plan, err := schedule.Schedule{Cron: f.Cron, Windows: ws}.Plan(T, f.CatchUp, func(w domain.Window) bool {
		ok, err := j.Archived(ctx, domain.Unit{Schedule: name, Window: w})
		return err == nil && ok
	}, f.Retention, f.Now())
	if err != nil {
		return fr, err
	}
	fr.Skipped = plan.Skipped
	var errs []error
	for _, w := range plan.Lost {
		res, err := j.MarkLost(ctx, domain.Unit{Schedule: name, Logical: T.UTC(), Window: w},
			fmt.Sprintf("the source keeps %s of data; this window ended before that", f.Retention))
		observe(res, err)
		r, err := Account(log, res, err)
		if err == nil && r.Exported == 1 {
			r.Exported, r.Lost = 0, 1
		}
		fr.Add(r)
		errs = append(errs, err)
	}
	var mu sync.Mutex
	notStarted := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, f.MaxConcurrent))
	for _, pw := range plan.Export {
		if pw.AtRisk {
			log.Warn("window is about to leave the source's retention; exporting it first", zap.String("window", pw.Window.ID()))
		}
		g.Go(func() error {
			// Shutdown stops firing: a window that has not started yet stays
			// missing, and the next start catches it up.
			if Stopped(hooks.Stopping) {
				mu.Lock()
				notStarted++
				mu.Unlock()
				return nil
			}
			res, err := f.Unit(gctx, domain.Unit{Schedule: name, Logical: T.UTC(), Window: pw.Window}, hooks.Stopping)
			observe(res, err)
			r, err := Account(log, res, err)
			mu.Lock()
			fr.Add(r)
			errs = append(errs, err)
			mu.Unlock()
			return nil // one failed window does not stop the others
		})
	}
	_ = g.Wait()
	if notStarted > 0 {
		log.Info("shutting down: windows not started; the next start catches them up", zap.Int("windows", notStarted))
	}
	if Stopped(hooks.Stopping) {
		return fr, errors.Join(errs...)
	}
	if err := f.recheck(ctx, T, hooks); err != nil {
		errs = append(errs, err)
	}
	return fr, errors.Join(errs...)
}

// Hooks are told what a fire did, for the daemon's history and metrics.
type Hooks struct {
	Unit    func(Result, error)
	Recheck func(u domain.Unit, r RecheckResult, err error)
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
func (f *Fire) recheck(ctx context.Context, T time.Time, hooks *Hooks) error {
	j, ws := f.Job, f.Windows
	delay, revise := f.Recheck, true
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
		u := domain.Unit{Schedule: j.Name, Logical: T.UTC(), Window: w}
		marker := j.Layout.ClaimKey(u) + ".recheck"
		if _, _, err := j.Archive.Store.Read(ctx, marker); err == nil {
			continue
		}
		release, err := f.Slot(ctx)
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
			f.Logger.Warn("late rows after archiving", zap.String("schedule", j.Name), zap.String("unit", u.ID()),
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

// Account logs a run's outcome and turns it into counts; already archived
// and claimed units are not errors for a fire.
func Account(log *zap.Logger, res Result, err error) (FireResult, error) {
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
	case domain.KindSkipped:
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
