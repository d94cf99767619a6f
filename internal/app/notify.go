package app

import (
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/notify"
	"github.com/exportd/exportd/internal/workbook"
)

// notifierHolder is where an App finds the daemon's notifier (none for
// a local run).
type notifierHolder struct {
	mu sync.RWMutex
	n  *notify.Dispatcher
}

// SetNotifier hands the App the daemon's notifier, which its data alerts
// tell (daemon.Loaded).
func (a *App) SetNotifier(n *notify.Dispatcher) {
	a.notifier.mu.Lock()
	a.notifier.n = n
	a.notifier.mu.Unlock()
}

func (h *notifierHolder) notify(e notify.Event) {
	h.mu.RLock()
	n := h.n
	h.mu.RUnlock()
	if n != nil {
		n.Notify(e)
	}
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
			Window:  notify.WindowText(t.u),
			Summary: fmt.Sprintf("data alert %q: %d row(s) of %s meet the condition", h.Alert, h.Rows, t.u.ID())}
		if len(h.First) > 0 {
			e.Summary += "; first: " + strings.Join(h.First, ", ")
		}
		t.a.log.Info("data alert", zap.String("schedule", t.name), zap.String("alert", h.Alert), zap.String("unit", t.u.ID()), zap.Int64("rows", h.Rows))
		t.a.notifier.notify(e)
	}
}
