// Package daemon is `exportd serve`: the scheduler over the current
// configuration, catch-up, run now, status, pause and resume (kept in
// state_dir and synced across a fleet through markers in the archive), the
// HTTP API and reloads. It owns every goroutine it starts: Run returns
// when they have all ended. It sees a loaded configuration through Loaded,
// which internal/app implements.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
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

// Loaded is one loaded configuration with its open sources and stores (an
// app.App): what the daemon runs. A reload replaces it.
type Loaded interface {
	Config() *config.Config
	// Now is the wall clock (tests move it).
	Now() time.Time
	// Job builds the export job of a schedule.
	Job(ctx context.Context, schedule string) (*export.Job, *config.Schedule, error)
	// FireFor is the fire of schedule s with job j (plan, retries, slots).
	FireFor(j *export.Job, s *config.Schedule) *export.Fire
	// Store opens (once) the store of an integration and bucket.
	Store(ctx context.Context, integration, bucket string) (archive.Store, *archive.Archive, error)
	// Source opens (once) a source.
	Source(ctx context.Context, name string) (source.Source, error)
	// SetNotifier hands it the daemon's notifier (data alerts).
	SetNotifier(n *notify.Dispatcher)
	Close() error
}

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
	// freshness is the end of the last window this daemon found archived
	// (or the logical time of the last snapshot).
	freshness time.Time
	// archive is what the schedule's archive says: freshness, lost
	// windows, the newest commits, whoever made them.
	archive daemonstate.ArchiveState
	// absent are windows read from the archive and not committed then
	// (forgotten when a refresh may have missed commits); probes are the
	// claims of uncommitted windows, looked at a moment ago.
	absent map[string]bool
	probes map[string]claimProbe
}

// Daemon is `exportd serve`: the scheduler over the current configuration,
// run now, status, pause/resume, reloads.
type Daemon struct {
	opts Options
	log  *zap.Logger

	mu      sync.Mutex
	app     Loaded
	appRefs map[Loaded]*sync.WaitGroup
	sched   *schedule.Scheduler
	states  map[string]*scheduleState
	history *daemonstate.History
	// bg tracks runs started by run now without waiting.
	bg sync.WaitGroup
	// aborts cancel the runs started by run now when shutdown_timeout
	// passes (aborted is then true): they outlive the request that
	// started them.
	aborts  map[*context.CancelCauseFunc]bool
	aborted bool
	// stop closes when shutdown begins: nothing new starts after it.
	stop <-chan struct{}

	// notReady is the store or source Run waits for at start; nil once
	// all are reachable (and for a daemon that is not Run). firstCheck
	// closes when Run's first check of them has ended.
	notReady   *server.NotReadyError
	firstCheck chan struct{}

	lastReloadOK bool
	lastReload   time.Time
	onReload     func(ok bool)
	// first is the configuration the daemon was built on (its caller's);
	// closing tracks the closing of the ones reloads replaced.
	first   Loaded
	closing sync.WaitGroup

	registry *prometheus.Registry
	metrics  *metrics.Metrics
	// archiveChanged asks for the schedules' state to be read from the
	// archive now (a reload added schedules or moved them).
	archiveChanged chan struct{}
	// notifier tells of failed runs, pauses, lost and missing windows and
	// data alerts (the configuration's notify targets).
	notifier *notify.Dispatcher
}

// Options configure New.
type Options struct {
	Logger  *zap.Logger
	Version string
	// Reload loads the configuration anew (prev: the schedule files the
	// running one decoded, to reuse those that did not change).
	Reload func(ctx context.Context, prev *config.DecodedCache) (Loaded, error)
	Tuning
}

// Tuning tunes a daemon; the zero value is serve's.
type Tuning struct {
	// WatchInterval is how often config files are checked for changes
	// (0: 5s; negative: never).
	WatchInterval time.Duration
	// PauseSyncInterval is how often the schedules paused here are checked
	// for a resume by another daemon (0: DefaultPauseSyncInterval;
	// negative: only at start).
	PauseSyncInterval time.Duration
	// ArchiveRefreshInterval is how often each schedule's state is read
	// again from its archive, to show what other daemons committed (0:
	// the configuration's runs.archive_refresh_every; negative: only at
	// start).
	ArchiveRefreshInterval time.Duration
	// Listener, when set, serves the HTTP API instead of binding
	// server.listen (tests pass 127.0.0.1:0).
	Listener net.Listener
}

// New builds a daemon over a loaded configuration, which stays its
// caller's to close.
func New(a Loaded, o Options) (*Daemon, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Reload == nil {
		return nil, errors.New("daemon: Options.Reload is required")
	}
	cfg := a.Config()
	d := &Daemon{opts: o, log: o.Logger, app: a, first: a, appRefs: map[Loaded]*sync.WaitGroup{a: {}},
		states: map[string]*scheduleState{}, registry: prometheus.NewRegistry(), lastReloadOK: true,
		aborts: map[*context.CancelCauseFunc]bool{}, archiveChanged: make(chan struct{}, 1)}
	d.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var names []string
	for _, s := range cfg.Schedules {
		d.states[s.Name] = &scheduleState{}
		names = append(names, s.Name)
	}
	d.metrics = metrics.New(d.registry, names)
	d.metrics.SetBuildInfo(o.Version)
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
		Logger: d.log,
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
		MaxConcurrent:   cfg.Runs.MaxConcurrent,
		ShutdownTimeout: time.Duration(cfg.Server.ShutdownTimeout),
	})
	if err != nil {
		return nil, err
	}
	d.sched = sch
	entries, err := entriesOf(cfg)
	if err != nil {
		return nil, err
	}
	if err := sch.Add(entries); err != nil {
		return nil, err
	}
	// The run history, the run ids and each schedule's last run come
	// from the history file.
	h, err := daemonstate.OpenHistory(cfg.StateDir)
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
	paused, err := daemonstate.LoadPauses(cfg.StateDir)
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

// acquire returns the current configuration and a release func; one
// replaced by a reload is closed once its last run releases it.
func (d *Daemon) acquire() (Loaded, func()) {
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
func (d *Daemon) fire(ctx context.Context, name string, T time.Time, trigger string) (export.FireResult, error) {
	// A cron fire reads the schedule's pause marker (a pause made
	// elsewhere a moment ago); the catch-up at start follows the pause
	// sync's listing, and run now is an operator's explicit request.
	if trigger == "cron" && d.pausedElsewhere(ctx, name) {
		return export.FireResult{}, nil // paused by another daemon: adopted, not run
	}
	st, err := d.begin(name)
	if err != nil {
		return export.FireResult{}, err
	}
	a, release := d.acquire()
	defer release()
	done := d.metrics.RunStarted()
	defer done()
	fr, err := Fire(ctx, a, name, T, &export.Hooks{
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
func (d *Daemon) finish(a Loaded, name string, st *scheduleState, fr export.FireResult) {
	d.mu.Lock()
	st.running = false
	switch {
	case fr.Failed > 0:
		st.consecutiveFailures++
	case fr.Exported > 0 || fr.Lost > 0 || fr.Skipped > 0:
		st.consecutiveFailures = 0
	}
	limit := 0
	if s := a.Config().Schedule(name); s != nil {
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
	if r.ManifestKey != "" && (r.Outcome == domain.OutcomeExported || r.Outcome == domain.OutcomeSkipped || r.Outcome == domain.OutcomeLost) {
		st.committed(res.Unit, r.Outcome, r.ManifestKey, r.Key)
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

func (d *Daemon) scheduleNames() []string { return d.app.Config().ScheduleNames() }

// Runs returns the newest runs first, of one schedule or all (""): those
// of the local history (failed attempts and triggers included) and the
// commits read from the archive (another replica's, `serve --once`'s or
// a local `exportd run`'s), each commit once.
func (d *Daemon) Runs(schedule string, limit int) []RunRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	var fromArchive [][]RunRecord
	if schedule != "" {
		if st := d.states[schedule]; st != nil {
			fromArchive = [][]RunRecord{st.archive.Runs}
		}
	} else {
		fromArchive = make([][]RunRecord, 0, len(d.states))
		for _, st := range d.states {
			fromArchive = append(fromArchive, st.archive.Runs)
		}
	}
	return daemonstate.MergeRuns(d.history.Runs(schedule, limit), fromArchive, limit)
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
			return fmt.Errorf("%w: resume %s: the pause marker in the archive could not be deleted, so the schedule stays paused: %w", server.ErrArchiveUnavailable, name, err)
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
	var err error
	if paused {
		if !p.Marked {
			d.markPaused(name, p)
		}
		err = d.sched.Pause(name)
	} else {
		err = d.sched.Resume(name)
	}
	if errors.Is(err, schedule.ErrUnknownEntry) {
		// A disabled schedule has no cron entry: the pause is recorded
		// and holds once it is enabled.
		return nil
	}
	return err
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
	if err := d.unreachable(ctx); err != nil {
		return RunRecord{}, err
	}
	a, release := d.acquire()
	u, s, err := ResolveUnit(a.Config(), a.Now(), RunRequest{Schedule: req.Schedule, WindowStart: req.WindowStart, Adhoc: req.Adhoc})
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
		// The configuration was checked at load: what fails here is
		// opening its store or source.
		return RunRecord{}, fmt.Errorf("%w: schedule %q: %w", server.ErrNotReady, s.Name, err)
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
	// client hanging up) does not cancel it; shutdown_timeout does.
	runCtx, unregister := d.abortable(context.WithoutCancel(ctx))
	type result struct {
		rec RunRecord
		err error
	}
	out := make(chan result, 1)
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		defer release()
		defer unregister()
		done := d.metrics.RunStarted()
		res, err := a.FireFor(j, s).Unit(runCtx, u, d.stop)
		done()
		rec := d.record(s.Name, server.TriggerAPI, res, err)
		fr, _ := export.Account(d.log.With(zap.String("schedule", s.Name)), res, err)
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
	for _, s := range a.Config().Schedules {
		st := d.states[s.Name]
		if st == nil {
			st = &scheduleState{}
		}
		ss := ScheduleStatus{Name: s.Name, Description: s.Description, Cron: s.Cron, Timezone: s.Location.String(),
			Windowed: s.Window != nil, NextFire: next[s.Name], Freshness: st.freshness,
			LostWindows: int64(st.archive.Lost()), ConsecutiveFailures: st.consecutiveFailures, Paused: st.paused,
			ArchiveRead: st.archive.Read}
		if st.archive.Freshness.After(ss.Freshness) {
			ss.Freshness = st.archive.Freshness
		}
		if lr := lastRun(st); lr != nil {
			ss.LastRun = lr
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

// lastRun is the run that finished last, here or among the schedule's
// newest commits in the archive (a copy).
func lastRun(st *scheduleState) *RunRecord {
	var last *RunRecord
	if st.lastRun != nil {
		r := *st.lastRun
		last = &r
	}
	// Commits run a few at a time: the newest commit need not be the run
	// that finished last. The local record of a commit is the richer one.
	for i := range st.archive.Runs {
		r := &st.archive.Runs[i]
		if last == nil || (r.Finished.After(last.Finished) && r.ManifestKey != last.ManifestKey) {
			c := *r
			last = &c
		}
	}
	return last
}

// FireCron fires a schedule at logical as its cron would (tests: the
// scheduler's own fires follow the wall clock).
func (d *Daemon) FireCron(ctx context.Context, name string, logical time.Time) (export.FireResult, error) {
	return d.fire(ctx, name, logical, "cron")
}
