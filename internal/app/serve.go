package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
)

// ErrRunning: a run of the schedule is in progress (one at a time).
var ErrRunning = errors.New("a run of this schedule is in progress")

// ErrUnknownSchedule: no schedule has that name.
var ErrUnknownSchedule = errors.New("unknown schedule")

// RunRecord is one unit run, for the API and status.
type RunRecord struct {
	ID          int64           `json:"id"`
	Schedule    string          `json:"schedule"`
	Unit        string          `json:"unit"`
	Window      *archive.Window `json:"window,omitempty"`
	Logical     time.Time       `json:"logical_time"`
	Trigger     string          `json:"trigger"`
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished,omitzero"`
	Outcome     string          `json:"outcome"`
	Rows        int64           `json:"rows"`
	Bytes       int64           `json:"bytes"`
	Key         string          `json:"key,omitempty"`
	ManifestKey string          `json:"manifest_key,omitempty"`
	Attempt     int             `json:"attempt,omitempty"`
	Error       string          `json:"error,omitempty"`
}

// Outcomes of a run.
const (
	OutcomeRunning         = "running"
	OutcomeExported        = "exported"
	OutcomeSkipped         = "skipped"
	OutcomeLost            = "lost"
	OutcomeAlreadyArchived = "already_archived"
	OutcomeClaimed         = "claimed"
	OutcomeFailed          = "failed"
)

func outcomeOf(res export.Result, err error) string {
	switch {
	case errors.Is(err, archive.ErrAlreadyArchived):
		return OutcomeAlreadyArchived
	case errors.Is(err, archive.ErrClaimed):
		return OutcomeClaimed
	case err != nil:
		return OutcomeFailed
	case res.Kind == archive.KindSkipped:
		return OutcomeSkipped
	case res.Kind == archive.KindLost:
		return OutcomeLost
	}
	return OutcomeExported
}

// scheduleState is what the daemon knows of one schedule between runs.
type scheduleState struct {
	running             bool
	paused              bool
	consecutiveFailures int
	lastRun             *RunRecord
	// freshness is the end of the last archived window (or the logical
	// time of the last snapshot).
	freshness time.Time
	lost      int
}

// historySize bounds the in-memory run history.
const historySize = 1000

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
	history []RunRecord
	nextID  int64
	// bg tracks runs started by run now without waiting.
	bg  sync.WaitGroup
	ctx context.Context

	lastReloadOK bool
	lastReload   time.Time
	onReload     func(ok bool)
	// WatchInterval is how often config files are checked for changes
	// (0: 5s; negative: never).
	WatchInterval time.Duration
}

// NewDaemon builds a daemon over a loaded App.
func NewDaemon(a *App) (*Daemon, error) {
	d := &Daemon{opts: a.opts, log: a.log, app: a, appRefs: map[*App]*sync.WaitGroup{a: {}},
		states: map[string]*scheduleState{}}
	for _, s := range a.cfg.Schedules {
		d.states[s.Name] = &scheduleState{}
	}
	sch, err := schedule.New(schedule.Options{
		Logger: a.log,
		Run: func(ctx context.Context, name string, logical time.Time) error {
			_, err := d.fire(ctx, name, logical, "cron")
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
	return d, nil
}

func entriesOf(cfg *config.Config) ([]schedule.Entry, error) {
	var entries []schedule.Entry
	for _, s := range cfg.Schedules {
		if !s.Enabled {
			continue
		}
		c, err := schedule.ParseCron(s.Cron, s.Location)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", s.Name, err)
		}
		entries = append(entries, schedule.Entry{Name: s.Name, Cron: c})
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
	st, err := d.begin(name)
	if err != nil {
		return FireResult{}, err
	}
	a, release := d.acquire()
	defer release()
	fr, err := a.Fire(ctx, name, T, func(res export.Result, err error) { d.record(name, trigger, res, err) })
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
	}
	d.mu.Unlock()
	if pause {
		d.log.Error("schedule paused after consecutive failures; resume it over the API once fixed",
			zap.String("schedule", name), zap.Int("failures", limit))
		_ = d.sched.Pause(name)
	}
}

// record adds a unit run to the history and the schedule's state.
func (d *Daemon) record(name, trigger string, res export.Result, err error) {
	r := RunRecord{Schedule: name, Unit: res.Unit.ID(), Logical: res.Unit.Logical, Trigger: trigger,
		Finished: time.Now().UTC(), Outcome: outcomeOf(res, err), ManifestKey: res.ManifestKey}
	r.Started = r.Finished.Add(-res.Duration)
	if !res.Unit.Window.IsZero() {
		w := res.Unit.Window
		r.Window = &w
	}
	if o := res.Object; o != nil {
		r.Rows, r.Bytes, r.Key = o.Rows, o.Bytes, o.Key
	}
	if err != nil && r.Outcome == OutcomeFailed {
		r.Error = err.Error()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nextID++
	r.ID = d.nextID
	d.history = append(d.history, r)
	if len(d.history) > historySize {
		d.history = d.history[len(d.history)-historySize:]
	}
	st := d.states[name]
	if st == nil {
		return
	}
	st.lastRun = &d.history[len(d.history)-1]
	if r.Outcome == OutcomeExported || r.Outcome == OutcomeSkipped || r.Outcome == OutcomeAlreadyArchived {
		end := res.Unit.Logical
		if !res.Unit.Window.IsZero() {
			end = res.Unit.Window.End
		}
		if end.After(st.freshness) && !res.Unit.Adhoc {
			st.freshness = end
		}
	}
	if r.Outcome == OutcomeLost {
		st.lost++
	}
}

// Runs returns the newest runs first, of one schedule or all ("").
func (d *Daemon) Runs(schedule string, limit int) []RunRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []RunRecord
	for i := len(d.history) - 1; i >= 0 && len(out) < limit; i-- {
		if schedule == "" || d.history[i].Schedule == schedule {
			out = append(out, d.history[i])
		}
	}
	return out
}

// Observer methods (schedule.Observer): the scheduler's view.
func (d *Daemon) RunStarted(name string, logical time.Time)             {}
func (d *Daemon) RunFinished(name string, logical time.Time, err error) {}
func (d *Daemon) Missed(name string, logical time.Time, reason schedule.MissReason) {
	d.log.Warn("missed fire", zap.String("schedule", name), zap.Time("logical", logical), zap.String("reason", string(reason)))
}

// Pause stops a schedule's fires until Resume.
func (d *Daemon) Pause(name string) error { return d.setPaused(name, true) }

// Resume restarts a paused schedule and forgets its failures.
func (d *Daemon) Resume(name string) error { return d.setPaused(name, false) }

func (d *Daemon) setPaused(name string, paused bool) error {
	d.mu.Lock()
	st := d.states[name]
	if st == nil {
		d.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownSchedule, name)
	}
	st.paused = paused
	if !paused {
		st.consecutiveFailures = 0
	}
	d.mu.Unlock()
	if paused {
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
			Outcome: OutcomeAlreadyArchived, ManifestKey: key}, fmt.Errorf("%s: %w", u.ID(), &archive.AlreadyArchivedError{Key: key})
	}
	st, err := d.begin(s.Name)
	if err != nil {
		release()
		return RunRecord{}, err
	}
	run := func(ctx context.Context) (RunRecord, error) {
		defer release()
		res, err := a.runUnit(ctx, j, s, u)
		d.record(s.Name, "api", res, err)
		fr, _ := a.account(a.log.With(zap.String("schedule", s.Name)), res, err)
		d.finish(a, s.Name, st, fr)
		recs := d.Runs(s.Name, 1)
		if len(recs) == 0 {
			return RunRecord{}, err
		}
		return recs[0], err
	}
	if req.Wait {
		return run(ctx)
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		_, _ = run(d.ctx)
	}()
	return RunRecord{Schedule: s.Name, Unit: u.ID(), Window: windowPtr(u.Window), Logical: u.Logical,
		Trigger: "api", Started: time.Now().UTC(), Outcome: OutcomeRunning}, nil
}

func windowPtr(w archive.Window) *archive.Window {
	if w.IsZero() {
		return nil
	}
	return &w
}

// ScheduleStatus is a schedule as the API shows it.
type ScheduleStatus struct {
	Name                string     `json:"name"`
	Description         string     `json:"description,omitempty"`
	Cron                string     `json:"cron"`
	Timezone            string     `json:"timezone"`
	Windowed            bool       `json:"windowed"`
	Enabled             bool       `json:"enabled"`
	Next                time.Time  `json:"next_fire,omitzero"`
	Status              string     `json:"status"`
	LastRun             *RunRecord `json:"last_run,omitempty"`
	Freshness           time.Time  `json:"freshness,omitzero"`
	LostWindows         int        `json:"lost_windows"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Paused              bool       `json:"paused"`
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
			Windowed: s.Window != nil, Enabled: s.Enabled, Next: next[s.Name], Freshness: st.freshness,
			LostWindows: st.lost, ConsecutiveFailures: st.consecutiveFailures, Paused: st.paused}
		if st.lastRun != nil {
			lr := *st.lastRun
			ss.LastRun = &lr
		}
		switch {
		case !s.Enabled:
			ss.Status = "disabled"
		case st.paused:
			ss.Status = "paused"
		case st.running:
			ss.Status = "running"
		case st.consecutiveFailures > 0:
			ss.Status = "failing"
		default:
			ss.Status = "idle"
		}
		out = append(out, ss)
	}
	return out
}

// Run catches up once, then fires schedules until ctx is done; then it
// waits for running exports (up to shutdown_timeout) and cancels the rest.
func (d *Daemon) Run(ctx context.Context) error {
	d.ctx = ctx
	a, release := d.acquire()
	for _, s := range a.cfg.Schedules {
		if !s.Enabled {
			continue
		}
		T := a.opts.Now().UTC().Truncate(time.Second)
		if s.Window == nil {
			if s.CatchUp == config.CatchUpSkip {
				continue
			}
			c, err := schedule.ParseCron(s.Cron, s.Location)
			if err != nil {
				continue
			}
			// A snapshot fire missed while the daemon was down.
			T = c.Prev(T.Add(time.Second))
			if T.IsZero() {
				continue
			}
		}
		if _, err := d.fire(ctx, s.Name, T, "catch-up"); err != nil {
			d.log.Error("catch-up at start had failures", zap.String("schedule", s.Name), zap.Error(err))
		}
	}
	release()
	d.log.Info("serving", zap.Int("schedules", len(a.cfg.Schedules)))
	if d.WatchInterval >= 0 {
		iv := d.WatchInterval
		if iv == 0 {
			iv = 5 * time.Second
		}
		var wg sync.WaitGroup
		wctx, cancel := context.WithCancel(ctx)
		wg.Go(func() { d.watch(wctx, iv) })
		defer func() { cancel(); wg.Wait() }()
	}
	err := d.sched.Run(ctx)
	d.bg.Wait()
	if errors.Is(err, schedule.ErrShutdownTimeout) {
		d.log.Warn("shutdown: runs still in progress at the timeout were cancelled; their claims were released")
		return nil
	}
	return err
}
