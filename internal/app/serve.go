package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/daemonstate"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/metrics"
	"github.com/exportd/exportd/internal/notify"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/server"
	"github.com/exportd/exportd/internal/source"
)

// Errors the daemon returns; they are the HTTP API's, so the server maps
// them to status codes.
var (
	ErrRunning         = server.ErrRunning
	ErrUnknownSchedule = server.ErrUnknownSchedule
)

// RunRecord is one unit run, for the API and status.
type RunRecord = server.RunRecord

// ScheduleStatus is a schedule as the API shows it.
type ScheduleStatus = server.ScheduleStatus

func outcomeOf(res export.Result, err error) string {
	switch {
	case errors.Is(err, archive.ErrAlreadyArchived):
		return domain.OutcomeAlreadyArchived
	case errors.Is(err, archive.ErrClaimed):
		return domain.OutcomeClaimed
	case err != nil:
		return domain.OutcomeFailed
	case res.Kind == domain.KindSkipped:
		return domain.OutcomeSkipped
	case res.Kind == domain.KindLost:
		return domain.OutcomeLost
	}
	return domain.OutcomeExported
}

// scheduleState is what the daemon knows of one schedule between runs.
type scheduleState struct {
	running             bool
	paused              bool
	pause               daemonstate.Pause // why and since when, while paused
	consecutiveFailures int
	lastRun             *RunRecord
	// freshness is the end of the last archived window (or the logical
	// time of the last snapshot).
	freshness time.Time
	lost      int
}

// Daemon is `exportd serve`: the scheduler over the current App, run now,
// status, pause/resume, reloads.
type Daemon struct {
	opts Options
	log  *zap.Logger

	mu      sync.Mutex
	app     *App
	appRefs map[*App]*sync.WaitGroup
	sched   *schedule.Scheduler
	states  map[string]*scheduleState
	history *daemonstate.History
	// bg tracks runs started by run now without waiting.
	bg sync.WaitGroup
	// ctx is the runs' context: it outlives Run's context by up to
	// shutdown_timeout, then it is cancelled with schedule.ErrShutdownTimeout
	// as its cause.
	ctx context.Context
	// stop closes when shutdown begins: nothing new starts after it.
	stop <-chan struct{}

	lastReloadOK bool
	lastReload   time.Time
	onReload     func(ok bool)
	dopts        DaemonOptions
	// first is the App the daemon was built on (its caller's); closing
	// tracks the closing of the Apps reloads replaced.
	first   *App
	closing sync.WaitGroup

	registry *prometheus.Registry
	metrics  *metrics.Metrics
	notifier *notify.Dispatcher
}

// DaemonOptions tune a daemon; the zero value is serve's.
type DaemonOptions struct {
	// WatchInterval is how often config files are checked for changes
	// (0: 5s; negative: never).
	WatchInterval time.Duration
	// PauseSyncInterval is how often the schedules paused here are checked
	// for a resume by another daemon (0: DefaultPauseSyncInterval;
	// negative: only at start).
	PauseSyncInterval time.Duration
	// Listener, when set, serves the HTTP API instead of binding
	// server.listen (tests pass 127.0.0.1:0).
	Listener net.Listener
}

// NewDaemon builds a daemon over a loaded App.
func NewDaemon(a *App, o DaemonOptions) (*Daemon, error) {
	d := &Daemon{opts: a.opts, dopts: o, log: a.log, app: a, first: a, appRefs: map[*App]*sync.WaitGroup{a: {}},
		states: map[string]*scheduleState{}, registry: prometheus.NewRegistry(), lastReloadOK: true}
	d.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var names []string
	for _, s := range a.cfg.Schedules {
		d.states[s.Name] = &scheduleState{}
		names = append(names, s.Name)
	}
	d.metrics = metrics.New(d.registry, names)
	d.metrics.SetBuildInfo(a.opts.Version)
	if err := d.newNotifier(a); err != nil {
		return nil, err
	}
	d.metrics.ConfigReloaded(true, time.Now())
	d.onReload = func(ok bool) {
		d.metrics.ConfigReloaded(ok, time.Now())
		if ok {
			d.metrics.ResetSchedules(d.scheduleNames())
		}
	}
	sch, err := schedule.New(schedule.Options{
		Logger: a.log,
		Run: func(ctx context.Context, name string, logical time.Time) error {
			_, err := d.fire(ctx, name, logical, "cron")
			if errors.Is(err, ErrRunning) {
				// Its catch-up at start or a run now is going: the same
				// overlap as with the schedule's previous cron run.
				d.Missed(name, logical, schedule.MissOverlap)
				return nil
			}
			return err
		},
		Observer:        d,
		MaxConcurrent:   a.cfg.Runs.MaxConcurrent,
		ShutdownTimeout: time.Duration(a.cfg.Server.ShutdownTimeout),
	})
	if err != nil {
		return nil, err
	}
	d.sched = sch
	entries, err := entriesOf(a.cfg)
	if err != nil {
		return nil, err
	}
	if err := sch.Add(entries); err != nil {
		return nil, err
	}
	// The run history, the run ids and each schedule's last run come
	// from the history file.
	h, err := daemonstate.OpenHistory(a.cfg.StateDir)
	if err != nil {
		d.log.Warn("cannot read the run history; starting without it", zap.String("file", h.Path()), zap.Error(err))
	}
	d.history = h
	for i := range h.Records() {
		r := &h.Records()[i]
		if st := d.states[r.Schedule]; st != nil {
			st.lastRun = r
		}
	}
	// Schedules paused before the restart stay paused.
	paused, err := daemonstate.LoadPauses(a.cfg.StateDir)
	if err != nil {
		return nil, err
	}
	for name, p := range paused {
		st := d.states[name]
		if st == nil {
			continue // no longer configured
		}
		st.paused, st.pause, st.consecutiveFailures = true, p, p.Failures
		_ = sch.Pause(name)
		d.metrics.SetPaused(name, true)
		d.log.Warn("schedule is paused (since before this start); resume it over the API",
			zap.String("schedule", name), zap.String("reason", p.Reason), zap.Time("since", p.Since))
	}
	return d, nil
}

func entriesOf(cfg *config.Config) ([]schedule.Entry, error) {
	var entries []schedule.Entry
	for _, s := range cfg.Schedules {
		if !s.Enabled {
			continue
		}
		entries = append(entries, schedule.Entry{Name: s.Name, Cron: s.Fires})
	}
	return entries, nil
}

// acquire returns the current App and a release func; an App replaced by
// a reload is closed once its last run releases it.
func (d *Daemon) acquire() (*App, func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.app
	wg := d.appRefs[a]
	wg.Add(1)
	return a, wg.Done
}

// begin marks a schedule running; ErrRunning if it already is.
func (d *Daemon) begin(name string) (*scheduleState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.states[name]
	if st == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownSchedule, name)
	}
	if st.running {
		return nil, fmt.Errorf("schedule %q: %w", name, ErrRunning)
	}
	st.running = true
	return st, nil
}

// fire is one fire of a schedule (cron, catch-up or run now of a window).
func (d *Daemon) fire(ctx context.Context, name string, T time.Time, trigger string) (FireResult, error) {
	// A cron fire reads the schedule's pause marker (a pause made
	// elsewhere a moment ago); the catch-up at start follows the pause
	// sync's listing, and run now is an operator's explicit request.
	if trigger == "cron" && d.pausedElsewhere(ctx, name) {
		return FireResult{}, nil // paused by another daemon: adopted, not run
	}
	st, err := d.begin(name)
	if err != nil {
		return FireResult{}, err
	}
	a, release := d.acquire()
	defer release()
	done := d.metrics.RunStarted()
	defer done()
	fr, err := a.Fire(ctx, name, T, &FireHooks{
		Stopping: d.stop,
		Unit:     func(res export.Result, err error) { d.record(name, trigger, res, err) },
		Recheck: func(u domain.Unit, r export.RecheckResult, err error) {
			if r.LateRows > 0 {
				d.metrics.LateRows(name, r.LateRows)
			}
			if r.Revision > 0 {
				d.metrics.Revision(name)
			}
		},
	})
	d.finish(a, name, st, fr)
	return fr, err
}

// finish clears the running mark and pauses a schedule that keeps failing.
func (d *Daemon) finish(a *App, name string, st *scheduleState, fr FireResult) {
	d.mu.Lock()
	st.running = false
	switch {
	case fr.Failed > 0:
		st.consecutiveFailures++
	case fr.Exported > 0 || fr.Lost > 0 || fr.Skipped > 0:
		st.consecutiveFailures = 0
	}
	limit := 0
	if s := a.cfg.Schedule(name); s != nil {
		limit = s.PauseAfterFailures
	}
	pause := limit > 0 && st.consecutiveFailures >= limit && !st.paused
	if pause {
		st.paused = true
		st.pause = daemonstate.Pause{Since: time.Now().UTC(), Reason: "failures", Failures: st.consecutiveFailures}
		d.savePaused()
	}
	p := st.pause
	d.mu.Unlock()
	if pause {
		d.log.Error("schedule paused after consecutive failures; resume it over the API once fixed",
			zap.String("schedule", name), zap.Int("failures", limit))
		_ = d.sched.Pause(name)
		d.metrics.SetPaused(name, true)
		d.markPaused(name, p)
		d.notifyPaused(name, p.Failures)
	}
}

// record adds a unit run to the history and the schedule's state.
func (d *Daemon) record(name, trigger string, res export.Result, err error) RunRecord {
	r := RunRecord{Schedule: name, Unit: res.Unit.ID(), Logical: res.Unit.Logical, Trigger: trigger,
		Finished: time.Now().UTC(), Outcome: outcomeOf(res, err), ManifestKey: res.ManifestKey, Attempt: res.Attempt}
	r.Started = r.Finished.Add(-res.Duration)
	r.Window = windowPtr(res.Unit.Window)
	if o := res.Object; o != nil {
		r.Rows, r.Bytes, r.Key = o.Rows, o.Bytes, o.Key
	}
	if err != nil && r.Outcome == domain.OutcomeFailed {
		r.Error = err.Error()
		d.metrics.RunFailed(name, failureReason(err), res.Duration)
	} else {
		end := res.Unit.Logical
		if !res.Unit.Window.IsZero() {
			end = res.Unit.Window.End
		}
		if res.Unit.Adhoc {
			end = time.Time{}
		}
		d.metrics.RunFinished(name, r.Outcome, r.Rows, r.Bytes, res.Duration, end)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notifyUnit(r, res)
	kept, herr := d.history.Add(r)
	if herr != nil {
		d.log.Warn("cannot record the run in the history file", zap.Error(herr))
	}
	r = *kept
	st := d.states[name]
	if st == nil {
		return r
	}
	st.lastRun = kept
	if r.Outcome == domain.OutcomeExported || r.Outcome == domain.OutcomeSkipped || r.Outcome == domain.OutcomeAlreadyArchived {
		end := res.Unit.Logical
		if !res.Unit.Window.IsZero() {
			end = res.Unit.Window.End
		}
		if end.After(st.freshness) && !res.Unit.Adhoc {
			st.freshness = end
		}
	}
	if r.Outcome == domain.OutcomeLost {
		st.lost++
	}
	return r
}

// failureReason classifies a failed run for exportd_run_failures_total.
func failureReason(err error) string {
	switch {
	case errors.Is(err, source.ErrQuery):
		return metrics.ReasonQuery
	case errors.Is(err, source.ErrAuth):
		return metrics.ReasonAuth
	case errors.Is(err, export.ErrSchemaChanged):
		return metrics.ReasonSchema
	case errors.Is(err, archive.ErrNotFound), errors.Is(err, archive.ErrExists), errors.Is(err, archive.ErrClaimLost):
		return metrics.ReasonStore
	}
	return metrics.ReasonOther
}

func (d *Daemon) scheduleNames() []string {
	var out []string
	for _, s := range d.app.cfg.Schedules {
		out = append(out, s.Name)
	}
	return out
}

// Runs returns the newest runs first, of one schedule or all ("").
func (d *Daemon) Runs(schedule string, limit int) []RunRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.history.Runs(schedule, limit)
}

// Observer methods (schedule.Observer): the scheduler's view.
func (d *Daemon) RunStarted(name string, logical time.Time)             {}
func (d *Daemon) RunFinished(name string, logical time.Time, err error) {}
func (d *Daemon) Missed(name string, logical time.Time, reason schedule.MissReason) {
	d.metrics.MissedFire(name, string(reason))
	d.log.Warn("missed fire", zap.String("schedule", name), zap.Time("logical", logical), zap.String("reason", string(reason)))
}

func (d *Daemon) isPaused(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.states[name]
	return st != nil && st.paused
}

// Pause stops a schedule's fires until Resume.
func (d *Daemon) Pause(name string) error { return d.setPaused(name, true) }

// Resume restarts a paused schedule and forgets its failures.
func (d *Daemon) Resume(name string) error { return d.setPaused(name, false) }

func (d *Daemon) setPaused(name string, paused bool) error {
	d.mu.Lock()
	known := d.states[name] != nil
	d.mu.Unlock()
	if !known {
		return fmt.Errorf("%w %q", ErrUnknownSchedule, name)
	}
	// A resume deletes the marker first: resuming here alone would only
	// last until the next fire read the marker again.
	if !paused {
		if err := d.unmarkPaused(name); err != nil {
			return fmt.Errorf("resume %s: the pause marker in the archive could not be deleted, so the schedule stays paused: %w", name, err)
		}
	}
	d.mu.Lock()
	st := d.states[name]
	newPause := paused && !st.paused
	if newPause {
		st.pause = daemonstate.Pause{Since: time.Now().UTC(), Reason: "operator"}
	}
	p := st.pause
	st.paused = paused
	if !paused {
		st.pause, st.consecutiveFailures = daemonstate.Pause{}, 0
	}
	d.savePaused()
	d.mu.Unlock()
	d.metrics.SetPaused(name, paused)
	if paused {
		if !p.Marked {
			d.markPaused(name, p)
		}
		return d.sched.Pause(name)
	}
	return d.sched.Resume(name)
}

// RunNowRequest is a run now from the API or the CLI.
type RunNowRequest struct {
	Schedule    string
	WindowStart time.Time
	Adhoc       bool
	// Wait runs in the caller's goroutine; otherwise the run goes on in the
	// background and the record returned says "running".
	Wait bool
}

// RunNow exports one unit now: the latest closed window (or the window
// starting at WindowStart) of a windowed schedule, or a snapshot.
func (d *Daemon) RunNow(ctx context.Context, req RunNowRequest) (RunRecord, error) {
	if export.Stopped(d.stop) {
		// Shutdown stops firing, run now included: a run started now would
		// only be cancelled at shutdown_timeout.
		return RunRecord{}, fmt.Errorf("%w: shutting down", server.ErrUnavailable)
	}
	a, release := d.acquire()
	u, s, err := a.Unit(RunRequest{Schedule: req.Schedule, WindowStart: req.WindowStart, Adhoc: req.Adhoc})
	if err != nil {
		release()
		if s == nil {
			return RunRecord{}, fmt.Errorf("%w %q", ErrUnknownSchedule, req.Schedule)
		}
		return RunRecord{}, err
	}
	j, _, err := a.Job(ctx, s.Name)
	if err != nil {
		release()
		return RunRecord{}, err
	}
	if ok, err := j.Archived(ctx, u); err == nil && ok {
		release()
		key, _ := j.Layout.ManifestKey(u, 1)
		return RunRecord{Schedule: s.Name, Unit: u.ID(), Logical: u.Logical, Trigger: "api",
			Outcome: domain.OutcomeAlreadyArchived, ManifestKey: key}, fmt.Errorf("%s: %w", u.ID(), &archive.AlreadyArchivedError{Key: key})
	}
	st, err := d.begin(s.Name)
	if err != nil {
		release()
		return RunRecord{}, err
	}
	started := RunRecord{Schedule: s.Name, Unit: u.ID(), Window: windowPtr(u.Window), Logical: u.Logical,
		Trigger: server.TriggerAPI, Started: time.Now().UTC(), Outcome: domain.OutcomeRunning}
	// The run belongs to the daemon: a caller that stops waiting (an HTTP
	// client hanging up) does not cancel it.
	runCtx := d.ctx
	if runCtx == nil {
		runCtx = context.WithoutCancel(ctx)
	}
	type result struct {
		rec RunRecord
		err error
	}
	out := make(chan result, 1)
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		defer release()
		done := d.metrics.RunStarted()
		res, err := a.runUnit(runCtx, j, s, u, d.stop)
		done()
		rec := d.record(s.Name, server.TriggerAPI, res, err)
		fr, _ := export.Account(a.log.With(zap.String("schedule", s.Name)), res, err)
		d.finish(a, s.Name, st, fr)
		out <- result{rec, err}
	}()
	if !req.Wait {
		return started, nil
	}
	select {
	case r := <-out:
		return r.rec, r.err
	case <-ctx.Done():
		return started, ctx.Err()
	}
}

func windowPtr(w domain.Window) *server.Window {
	if w.IsZero() {
		return nil
	}
	return &server.Window{Start: w.Start, End: w.End}
}

// Schedules returns every schedule's status, by name.
func (d *Daemon) Schedules() []ScheduleStatus {
	next := map[string]time.Time{}
	for _, e := range d.sched.Entries() {
		next[e.Name] = e.Next
	}
	a, release := d.acquire()
	defer release()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []ScheduleStatus
	for _, s := range a.cfg.Schedules {
		st := d.states[s.Name]
		if st == nil {
			st = &scheduleState{}
		}
		ss := ScheduleStatus{Name: s.Name, Description: s.Description, Cron: s.Cron, Timezone: s.Location.String(),
			Windowed: s.Window != nil, NextFire: next[s.Name], Freshness: st.freshness,
			LostWindows: int64(st.lost), ConsecutiveFailures: st.consecutiveFailures, Paused: st.paused}
		if st.lastRun != nil {
			lr := *st.lastRun
			ss.LastRun = &lr
		}
		if st.paused {
			ss.Pause = &server.PauseInfo{Since: st.pause.Since, Reason: st.pause.Reason, By: st.pause.By}
		}
		switch {
		case st.paused || !s.Enabled:
			ss.Status = server.StatusPaused
		case st.running:
			ss.Status = server.StatusRunning
		case st.consecutiveFailures > 0:
			ss.Status = server.StatusFailing
		default:
			ss.Status = server.StatusIdle
		}
		out = append(out, ss)
	}
	return out
}

// Addr is the address the HTTP API listens on, once Run serves it (nil
// before).
func (d *Daemon) Addr() net.Addr {
	if d.dopts.Listener != nil {
		return d.dopts.Listener.Addr()
	}
	return nil
}

// Run serves the HTTP API, catches up once, then fires schedules until ctx
// is done; it reloads the configuration on SIGHUP and when its files change. Then it stops firing (no new schedule, window or retry starts),
// waits for the exports in progress — catch-up at start, cron fires and run
// now alike — up to shutdown_timeout, and cancels those still running: a
// cancelled export publishes nothing and releases its claim. An orderly
// stop returns nil, whether or not runs had to be cancelled.
func (d *Daemon) Run(ctx context.Context) error {
	// SIGHUP is caught from the start: its default would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The runs' context is not ctx: a signal must not cut the exports in
	// progress short before shutdown_timeout.
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)
	d.ctx, d.stop = runCtx, ctx.Done()
	srvErr := make(chan error, 1)
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		stopHTTP()
		if err := <-srvErr; err != nil {
			d.log.Warn("http server", zap.Error(err))
		}
	}()
	if err := d.serveHTTP(httpCtx, srvErr); err != nil {
		return err
	}
	finished := make(chan struct{})
	var cancelled atomic.Bool
	var watch sync.WaitGroup
	watch.Go(func() { d.shutdownWatch(ctx, finished, cancelRuns, &cancelled) })
	defer func() { close(finished); watch.Wait() }()

	// Pauses resumed elsewhere while this daemon was down are lifted, and
	// pauses not yet marked in the archive are marked, before anything
	// fires.
	d.syncPauses(ctx)
	go d.watchMissing(runCtx)
	// The catch-up at start runs beside the scheduler, not before it:
	// after a long outage it can take hours, and meanwhile the other
	// schedules keep their cron fires and file changes are reloaded. A cron
	// fire of a schedule still catching up is missed as an overlap (the
	// catch-up exports what it would have).
	var catchUp sync.WaitGroup
	a, release := d.acquire()
	catchUp.Go(func() {
		defer release()
		a.eachCatchUp(ctx, a.opts.Now().UTC().Truncate(time.Second), func(s *config.Schedule, T time.Time, err error) {
			if err != nil {
				d.log.Error("catch-up at start", zap.Error(err))
				return
			}
			if d.isPaused(s.Name) {
				return // resumed over the API; the next fire catches up
			}
			_, err = d.fire(runCtx, s.Name, T, "catch-up")
			switch {
			case errors.Is(err, ErrRunning):
				d.log.Info("catch-up at start: the schedule was already running (run now); its next fire catches up", zap.String("schedule", s.Name))
			case errors.Is(err, schedule.ErrShutdownTimeout):
				d.log.Warn("catch-up at start cut short by shutdown", zap.String("schedule", s.Name), zap.Error(err))
			case err != nil:
				d.log.Error("catch-up at start had failures", zap.String("schedule", s.Name), zap.Error(err))
			}
		})
		if ctx.Err() == nil {
			d.log.Info("catch-up at start finished")
		}
	})
	var err error
	if ctx.Err() == nil {
		d.log.Info("serving", zap.Int("schedules", len(a.cfg.Schedules)))
		// The pause sync and the file watcher poll until shutdown begins.
		loops, stopLoops := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() { stopLoops(); wg.Wait() }()
		if iv := orDefault(d.dopts.PauseSyncInterval, DefaultPauseSyncInterval); iv > 0 {
			wg.Go(func() { every(loops, iv, func() { d.syncPauses(loops) }) })
		}
		if iv := orDefault(d.dopts.WatchInterval, 5*time.Second); iv > 0 {
			wg.Go(func() { d.watch(loops, iv) })
		}
		// SIGHUP reloads the configuration (validated first).
		wg.Go(func() {
			for {
				select {
				case <-loops.Done():
					return
				case <-hup:
					_ = d.Reload(loops)
				}
			}
		})
		// The archive-wide daily digest (and the signing key's publication).
		wg.Go(func() { d.dailyDigests(loops) })
		err = d.sched.Run(ctx)
	}
	catchUp.Wait()
	d.bg.Wait()
	if errors.Is(err, schedule.ErrShutdownTimeout) || cancelled.Load() {
		d.log.Warn("shutdown: runs still in progress at shutdown_timeout were cancelled; they published nothing and released their claims")
		err = nil
	}
	if err == nil {
		d.log.Info("stopped")
	}
	return err
}

// orDefault is an interval setting: 0 means def, negative never.
func orDefault(iv, def time.Duration) time.Duration {
	if iv == 0 {
		return def
	}
	return iv
}

// shutdownWatch waits for ctx (shutdown begins) and then, unless Run has
// finished by then, cancels the runs shutdown_timeout later. The
// scheduler does the same for the runs it started; this covers catch-up at
// start and run now.
func (d *Daemon) shutdownWatch(ctx context.Context, finished <-chan struct{}, cancelRuns context.CancelCauseFunc, cancelled *atomic.Bool) {
	select {
	case <-ctx.Done():
	case <-finished:
		return
	}
	timeout := d.shutdownTimeout()
	d.log.Info("shutting down: stopped firing; waiting for the exports in progress",
		zap.Int("running", d.runningSchedules()), zap.Duration("shutdown_timeout", timeout))
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		cancelled.Store(true)
		d.log.Warn("cancelling the exports still in progress at shutdown_timeout",
			zap.Int("running", d.runningSchedules()), zap.Duration("shutdown_timeout", timeout))
		cancelRuns(schedule.ErrShutdownTimeout)
	}
}

func (d *Daemon) shutdownTimeout() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := time.Duration(d.app.cfg.Server.ShutdownTimeout); t > 0 {
		return t
	}
	return schedule.DefaultShutdownTimeout
}

// runningSchedules counts the schedules with a run in progress.
func (d *Daemon) runningSchedules() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, st := range d.states {
		if st.running {
			n++
		}
	}
	return n
}

// Serve is `exportd serve`: it opens every destination store (a bad bucket
// or credentials stop it here), aborts the multipart uploads dead runs
// left, then runs the daemon until ctx is done and every goroutine it
// started has ended.
func (a *App) Serve(ctx context.Context, o DaemonOptions) error {
	if err := a.OpenStores(ctx); err != nil {
		return err
	}
	a.SweepUploads(ctx)
	d, err := NewDaemon(a, o)
	if err != nil {
		return err
	}
	err = d.Run(ctx)
	if cerr := d.Close(); cerr != nil {
		a.log.Warn("close the reloaded configuration", zap.Error(cerr))
	}
	return err
}
