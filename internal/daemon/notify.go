package daemon

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/notify"
	"github.com/exportd/exportd/internal/server"
)

// missingEvery is how often the daemon looks for windows missing past
// their lag; missingGrace is how long after end+lag a window may still be
// on its way (the fire at its close, a retry) before it counts as missing.
const (
	missingEvery  = 5 * time.Minute
	missingGrace  = 15 * time.Minute
	missingWindow = 90
)

// newNotifier starts the daemon's notification dispatcher and hands it to
// the configuration (its data alerts).
func (d *Daemon) newNotifier(a Loaded) error {
	n, err := notify.New(a.Config(), d.registry, d.log.Named("notify"), notify.Options{Instance: a.Config().InstanceID})
	if err != nil {
		return err
	}
	d.notifier = n
	a.SetNotifier(n)
	return nil
}

// notifyReloaded hands a reloaded config to the dispatcher.
func (d *Daemon) notifyReloaded(na Loaded) {
	if d.notifier == nil {
		return
	}
	if err := d.notifier.Update(na.Config()); err != nil {
		d.log.Error("notifiers not reloaded", zap.Error(err))
	}
	na.SetNotifier(d.notifier)
}

// notifyUnit tells of a unit that failed after its retries or was
// recorded as lost.
func (d *Daemon) notifyUnit(r RunRecord, res export.Result) {
	if d.notifier == nil {
		return
	}
	e := notify.Event{Schedule: r.Schedule, Key: r.Unit, Window: notify.WindowText(res.Unit), Error: r.Error}
	switch r.Outcome {
	case domain.OutcomeFailed:
		e.Kind = notify.KindRunFailed
		e.Summary = fmt.Sprintf("run of %s failed after %d attempt(s)", r.Unit, max(r.Attempt, 1))
	case domain.OutcomeLost:
		e.Kind = notify.KindWindowLost
		e.Summary = fmt.Sprintf("window %s recorded as lost: its rows are past the source's retention", r.Unit)
	default:
		return
	}
	d.notifier.Notify(e)
}

// notifyPaused tells of a schedule paused after consecutive failures.
func (d *Daemon) notifyPaused(name string, failures int) {
	if d.notifier == nil {
		return
	}
	d.notifier.Notify(notify.Event{Kind: notify.KindPaused, Schedule: name, Failures: failures,
		Summary: fmt.Sprintf("paused after %d consecutive failed runs; resume it over the API or the status page once fixed", failures)})
}

func (d *Daemon) closeNotifier() {
	if d.notifier != nil {
		d.notifier.Close()
	}
}

// checkMissing notifies each window of a schedule with notifiers that is
// missing from the archive missingGrace after its end + lag.
func (d *Daemon) checkMissing(ctx context.Context) {
	if d.notifier == nil {
		return
	}
	a, release := d.acquire()
	var scheds []*config.Schedule
	for _, s := range a.Config().Schedules {
		if s.Window != nil && s.Enabled && len(s.Notify) > 0 && !d.isPaused(s.Name) {
			scheds = append(scheds, s)
		}
	}
	now := a.Now()
	release()
	for _, s := range scheds {
		ws, err := d.Windows(ctx, s.Name, missingWindow)
		if err != nil {
			d.log.Warn("cannot look for missing windows", zap.String("schedule", s.Name), zap.Error(err))
			continue
		}
		var missing []server.WindowStatus
		for _, w := range ws {
			if w.State == server.WindowMissing && !now.Before(w.Window.End.Add(time.Duration(s.Window.Lag)+missingGrace)) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			continue
		}
		// One event per schedule, keyed by its oldest missing window: a
		// backlog is one notification, repeated per rate_limit until the
		// oldest window is archived.
		first, last := missing[0], missing[len(missing)-1]
		d.notifier.Notify(notify.Event{Kind: notify.KindWindowMissing, Schedule: s.Name, Key: first.ID,
			Window: first.Window.Start.Format(time.RFC3339) + "/" + first.Window.End.Format(time.RFC3339),
			Summary: fmt.Sprintf("%d window(s) missing from the archive past their lag, oldest %s, newest %s; run them now or check the failed runs",
				len(missing), first.ID, last.ID)})
	}
}
