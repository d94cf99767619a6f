package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/notify"
	"github.com/exportd/exportd/internal/server"
	"github.com/exportd/exportd/internal/workbook"
)

// Notifier is told of what needs a person: failed runs, pauses, lost and
// missing windows, data alerts (internal/notify's Dispatcher). Notify must
// not block.
type Notifier interface {
	Notify(notify.Event)
}

// missingEvery is how often the daemon looks for windows missing past
// their lag; missingGrace is how long after end+lag a window may still be
// on its way (the fire at its close, a retry) before it counts as missing.
const (
	missingEvery  = 5 * time.Minute
	missingGrace  = 15 * time.Minute
	missingWindow = 90
)

// notifierHolder is where an App finds the daemon's notifier (none for
// a local run).
type notifierHolder struct {
	mu sync.RWMutex
	n  Notifier
}

func (h *notifierHolder) set(n Notifier) { h.mu.Lock(); h.n = n; h.mu.Unlock() }

func (h *notifierHolder) notify(e notify.Event) {
	h.mu.RLock()
	n := h.n
	h.mu.RUnlock()
	if n != nil {
		n.Notify(e)
	}
}

// newNotifier starts the daemon's notification dispatcher.
func (d *Daemon) newNotifier(a *App) error {
	n, err := notify.New(a.cfg, d.registry, d.log.Named("notify"), notify.Options{Instance: a.cfg.InstanceID})
	if err != nil {
		return err
	}
	d.notifier = n
	a.notifier.set(n)
	return nil
}

// notifyReloaded hands a reloaded config to the dispatcher.
func (d *Daemon) notifyReloaded(na *App) {
	if d.notifier == nil {
		return
	}
	if err := d.notifier.Update(na.cfg); err != nil {
		d.log.Error("notifiers not reloaded", zap.Error(err))
	}
	na.notifier.set(d.notifier)
}

// notifyUnit tells of a unit that failed after its retries or was
// recorded as lost.
func (d *Daemon) notifyUnit(r RunRecord, res export.Result) {
	if d.notifier == nil {
		return
	}
	e := notify.Event{Schedule: r.Schedule, Key: r.Unit, Window: windowText(res.Unit), Error: r.Error}
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

// watchMissing looks for windows missing past their lag until ctx ends.
func (d *Daemon) watchMissing(ctx context.Context) {
	t := time.NewTicker(missingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.checkMissing(ctx)
		}
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
	for _, s := range a.cfg.Schedules {
		if s.Window != nil && s.Enabled && len(s.Notify) > 0 && !d.isPaused(s.Name) {
			scheds = append(scheds, s)
		}
	}
	now := a.opts.Now()
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

func windowText(u domain.Unit) string {
	if u.Window.IsZero() {
		return ""
	}
	return u.Window.Start.UTC().Format(time.RFC3339) + "/" + u.Window.End.UTC().Format(time.RFC3339)
}

// checkAlerts type-checks a schedule's data alerts against its element's
// output columns, at load.
func checkAlerts(s *config.Schedule, full *workbook.Compiled) []config.ElementError {
	var out []config.ElementError
	for i, al := range s.Alerts {
		if _, err := workbook.CompileRowCondition(al.When, full.Columns); err != nil {
			msg := err.Error()
			if we, ok := err.(*workbook.Error); ok {
				msg = we.Msg
				if we.Col > 0 {
					msg = fmt.Sprintf("column %d: %s", we.Col, we.Msg)
				}
			}
			out = append(out, config.ElementError{Path: fmt.Sprintf("alerts[%d].when", i), Msg: msg})
		}
	}
	if len(s.Alerts) > 0 && s.Unload == config.UnloadWarehouse {
		out = append(out, config.ElementError{Path: "alerts", Msg: "data alerts read the rows exportd streams; with unload: warehouse the warehouse writes the file, so drop alerts or the unload"})
	}
	return out
}

// alertTap returns the export tap of a schedule's data alerts, or nil.
func (a *App) alertTap(s *config.Schedule, cols []workbook.OutputColumn) func(domain.Unit) export.Tap {
	if len(s.Alerts) == 0 {
		return nil
	}
	alerts, err := notify.CompileAlerts(s.Alerts, cols)
	if err != nil {
		a.log.Error("data alerts not evaluated", zap.String("schedule", s.Name), zap.Error(err))
		return nil
	}
	return func(u domain.Unit) export.Tap {
		return &alertTap{Watch: notify.NewWatch(alerts), a: a, name: s.Name, u: u}
	}
}

type alertTap struct {
	*notify.Watch
	a    *App
	name string
	u    domain.Unit
}

func (t *alertTap) Done(stored bool) {
	_ = t.Close()
	if t.Errors > 0 {
		t.a.log.Warn("data alert: rows not evaluated", zap.String("schedule", t.name), zap.Int64("rows", t.Errors), zap.Error(t.LastErr))
	}
	if !stored {
		return
	}
	for _, h := range t.Hits() {
		e := notify.Event{Kind: notify.KindDataAlert, Schedule: t.name, Key: t.u.ID() + " " + h.Alert, Rows: h.Rows,
			Window:  windowText(t.u),
			Summary: fmt.Sprintf("data alert %q: %d row(s) of %s meet the condition", h.Alert, h.Rows, t.u.ID())}
		if len(h.First) > 0 {
			e.Summary += "; first: " + strings.Join(h.First, ", ")
		}
		t.a.log.Info("data alert", zap.String("schedule", t.name), zap.String("alert", h.Alert), zap.String("unit", t.u.ID()), zap.Int64("rows", h.Rows))
		t.a.notifier.notify(e)
	}
}
