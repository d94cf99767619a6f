package schedule

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// RunFunc runs one fire of the named entry. logical is the scheduled
// instant (not the time the run started): it decides the run's windows and
// keys. ctx is cancelled only when shutdown has waited ShutdownTimeout, with
// ErrShutdownTimeout as its cause (context.Cause), so a run can tell that
// cancellation from its own.
type RunFunc func(ctx context.Context, name string, logical time.Time) error

// MissReason says why a fire did not start a run.
type MissReason string

// Reasons for a missed fire.
const (
	// MissOverlap: the entry's previous run (or previous fire waiting for a
	// concurrency slot) had not finished. Fires of one entry never overlap;
	// the next fire plans again from the archive, so under catch-up all or
	// latest nothing is lost, only delayed.
	MissOverlap MissReason = "overlap"
	// MissOverdue: several fire instants of the entry passed while the loop
	// could not run (a suspended host, a stalled process); only the latest
	// of them fired.
	MissOverdue MissReason = "overdue"
	// MissShutdown: the fire was waiting for a concurrency slot when the
	// scheduler began to shut down.
	MissShutdown MissReason = "shutdown"
)

// Observer receives the scheduler's events, for metrics (exportd counts
// missed fires as prometheus' rule groups count missed iterations). Methods
// are called from several goroutines, outside the scheduler's lock, and must
// be quick.
type Observer interface {
	RunStarted(name string, logical time.Time)
	RunFinished(name string, logical time.Time, err error)
	Missed(name string, logical time.Time, reason MissReason)
}

type nopObserver struct{}

func (nopObserver) RunStarted(string, time.Time)         {}
func (nopObserver) RunFinished(string, time.Time, error) {}
func (nopObserver) Missed(string, time.Time, MissReason) {}

// Options configure a Scheduler.
type Options struct {
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// Run is called for each fire. Required.
	Run RunFunc
	// Observer defaults to one that ignores events.
	Observer Observer
	// MaxConcurrent bounds the runs in progress across all entries; a fire
	// beyond it waits for a slot. 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// ShutdownTimeout is how long Run waits, once its context is done, for
	// runs in progress before cancelling their context. 0 means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultMaxConcurrent   = 4
	DefaultShutdownTimeout = 30 * time.Second
)

func (o Options) validate() error {
	var errs []error
	if o.Run == nil {
		errs = append(errs, errors.New("schedule: Options.Run: required"))
	}
	if o.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("schedule: Options.MaxConcurrent: must be >= 0, got %d", o.MaxConcurrent))
	}
	if o.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("schedule: Options.ShutdownTimeout: must be >= 0, got %s", o.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// Entry is one schedule as the fire loop sees it.
type Entry struct {
	Name   string
	Cron   *Cron
	Paused bool
}

// EntryStatus is an entry's state, for status pages.
type EntryStatus struct {
	Name string
	// Next is the next fire instant; zero when paused or when the cron
	// never fires again.
	Next   time.Time
	Paused bool
	// Running: a run is in progress or waiting for a concurrency slot.
	Running bool
}

// Sentinel errors of the Scheduler.
var (
	ErrDuplicateEntry  = errors.New("duplicate entry")
	ErrUnknownEntry    = errors.New("unknown entry")
	ErrInvalidEntry    = errors.New("invalid entry")
	ErrAlreadyStarted  = errors.New("scheduler already started")
	ErrShutdownTimeout = errors.New("runs still in progress at shutdown timeout were cancelled")
)

// maxSleep caps how long the loop sleeps. Timers run on the monotonic clock,
// which stops while a host is suspended and ignores wall-clock steps; waking
// at least once a minute re-reads the wall clock the cron is written in.
const maxSleep = time.Minute

// earlyWake: sleeps longer than this end a sixteenth early and are topped
// up by a shorter one. Timers on virtual machines and sandboxes run late by
// a share of their length (measured here: about 0.1%, 65 ms on a one-minute
// sleep); closing in on the instant keeps that share off the lateness.
const earlyWake = 50 * time.Millisecond

// Scheduler fires entries at their cron instants, driven by real time
// timers: one timer for the soonest entry of a min-heap, so a wake costs
// O(log n) in the number of entries, not a scan of 10,000 schedules.
//
// Runs of one entry never overlap: a fire that comes while the entry's
// previous run is in progress (or still waiting for a slot) is not queued or
// coalesced but missed, logged and reported to the Observer (MissOverlap).
// Coalescing would buy nothing: every run plans its windows from the archive
// at its logical time, so the next fire exports what the missed one would
// have (under catch-up all or latest). Total concurrency is bounded by
// MaxConcurrent; a fire over the bound waits for a slot and keeps its
// logical time.
type Scheduler struct {
	opts Options
	log  *zap.Logger
	obs  Observer
	sem  chan struct{}
	wake chan struct{}
	stop chan struct{} // closed when firing stops
	wg   sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*item
	queue   queue
	busy    map[string]bool // entries with a run in progress or waiting for a slot
	started bool
	runCtx  context.Context
}

// New returns a Scheduler with no entries.
func New(opts Options) (*Scheduler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	return &Scheduler{
		opts:    opts,
		log:     opts.Logger,
		obs:     opts.Observer,
		sem:     make(chan struct{}, opts.MaxConcurrent),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		entries: map[string]*item{},
		busy:    map[string]bool{},
	}, nil
}

func checkEntries(entries []Entry) error {
	var errs []error
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		switch {
		case e.Name == "":
			errs = append(errs, fmt.Errorf("entry %d: %w: empty name", i, ErrInvalidEntry))
		case e.Cron == nil:
			errs = append(errs, fmt.Errorf("entry %q: %w: nil cron", e.Name, ErrInvalidEntry))
		case seen[e.Name]:
			errs = append(errs, fmt.Errorf("entry %q: %w", e.Name, ErrDuplicateEntry))
		}
		seen[e.Name] = true
	}
	return errors.Join(errs...)
}

// Add adds entries, computing each one's first fire after the present.
// Nothing is added if any entry is invalid or its name is taken.
func (s *Scheduler) Add(entries []Entry) error {
	if err := checkEntries(entries); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range entries {
		if _, ok := s.entries[e.Name]; ok {
			errs = append(errs, fmt.Errorf("entry %q: %w", e.Name, ErrDuplicateEntry))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, e := range entries {
		s.put(e, now)
	}
	s.poke()
	return nil
}

// Replace makes entries the whole set, for a configuration reload. An entry
// whose name and cron (expression and zone) are unchanged keeps its next
// fire; a changed or resumed one fires next after the present; a removed or
// paused one stops firing. Runs in progress are not interrupted, and a name
// with a run in progress does not start another until it ends.
func (s *Scheduler) Replace(entries []Entry) error {
	if err := checkEntries(entries); err != nil {
		return err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := make(map[string]bool, len(entries))
	for _, e := range entries {
		keep[e.Name] = true
		old, ok := s.entries[e.Name]
		if ok && old.cron.Equal(e.Cron) && old.paused == e.Paused {
			continue
		}
		if ok {
			s.remove(old)
		}
		s.put(e, now)
	}
	for name, it := range s.entries {
		if !keep[name] {
			s.remove(it)
		}
	}
	s.poke()
	return nil
}

// Pause stops the named entry from firing; a run in progress goes on.
func (s *Scheduler) Pause(name string) error { return s.setPaused(name, true) }

// Resume makes a paused entry fire again from its next fire after the
// present. Fires that fell while it was paused are not replayed here: the
// planner's catch-up policy decides what the next fire exports.
func (s *Scheduler) Resume(name string) error { return s.setPaused(name, false) }

func (s *Scheduler) setPaused(name string, paused bool) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.entries[name]
	if !ok {
		return fmt.Errorf("entry %q: %w", name, ErrUnknownEntry)
	}
	if it.paused == paused {
		return nil
	}
	s.remove(it)
	s.put(Entry{Name: name, Cron: it.cron, Paused: paused}, now)
	s.poke()
	return nil
}

// Entries returns the state of every entry, sorted by name.
func (s *Scheduler) Entries() []EntryStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]EntryStatus, 0, len(s.entries))
	for name, it := range s.entries {
		st := EntryStatus{Name: name, Paused: it.paused, Running: s.busy[name]}
		if it.index >= 0 {
			st.Next = it.next
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b EntryStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// put adds e, queued at its first fire after now unless paused. s.mu held.
func (s *Scheduler) put(e Entry, now time.Time) {
	it := &item{name: e.Name, cron: e.Cron, paused: e.Paused, index: -1}
	s.entries[e.Name] = it
	if e.Paused {
		return
	}
	if it.next = e.Cron.Next(now); !it.next.IsZero() {
		heap.Push(&s.queue, it)
	}
}

// remove drops it from the entries and the queue. s.mu held.
func (s *Scheduler) remove(it *item) {
	delete(s.entries, it.name)
	if it.index >= 0 {
		heap.Remove(&s.queue, it.index)
	}
}

// poke wakes the loop to look at the queue's new head.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

type missed struct {
	name    string
	logical time.Time
	reason  MissReason
}

// Run fires entries until ctx is done. Then it stops firing, waits for runs
// in progress up to ShutdownTimeout, cancels the context of those still
// running and waits for them to return. It returns nil, or an error wrapping
// ErrShutdownTimeout if runs had to be cancelled. A Scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrAlreadyStarted
	}
	s.started = true
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)
	s.runCtx = runCtx
	s.mu.Unlock()

	timer := time.NewTimer(maxSleep)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		misses := s.fireDue(now)
		wait := maxSleep
		if len(s.queue) > 0 {
			wait = min(wait, s.queue[0].next.Sub(now))
		}
		if wait > earlyWake {
			wait -= wait / 16
		}
		s.mu.Unlock()
		s.report(misses)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return s.shutdown(cancelRuns)
		case <-timer.C:
		case <-s.wake:
		}
	}
}

// fireDue starts a run for every entry due at now and queues its next
// fire. s.mu held.
func (s *Scheduler) fireDue(now time.Time) []missed {
	var misses []missed
	for len(s.queue) > 0 && !s.queue[0].next.After(now) {
		it := s.queue[0]
		logical := it.next
		next := it.cron.Next(logical)
		for !next.IsZero() && !next.After(now) {
			misses = append(misses, missed{it.name, logical, MissOverdue})
			logical, next = next, it.cron.Next(next)
		}
		if next.IsZero() {
			heap.Pop(&s.queue)
		} else {
			it.next = next
			heap.Fix(&s.queue, 0)
		}
		if s.busy[it.name] {
			misses = append(misses, missed{it.name, logical, MissOverlap})
			continue
		}
		s.busy[it.name] = true
		s.wg.Add(1)
		go s.run(it.name, logical)
	}
	return misses
}

// report logs misses and passes them to the Observer. A run of overdue
// misses of one entry (a day of suspension is 1,440 of a minute schedule) is
// one log line; the Observer still sees each.
func (s *Scheduler) report(misses []missed) {
	for i := 0; i < len(misses); i++ {
		m := misses[i]
		s.obs.Missed(m.name, m.logical, m.reason)
		if m.reason != MissOverdue {
			s.log.Warn("fire missed", zap.String("schedule", m.name), zap.Time("logical", m.logical), zap.String("reason", string(m.reason)))
			continue
		}
		last, n := m, 1
		for i+1 < len(misses) && misses[i+1].name == m.name && misses[i+1].reason == MissOverdue {
			i++
			last, n = misses[i], n+1
			s.obs.Missed(last.name, last.logical, last.reason)
		}
		s.log.Warn("fires missed", zap.String("schedule", m.name), zap.Int("count", n),
			zap.Time("first_logical", m.logical), zap.Time("last_logical", last.logical), zap.String("reason", string(MissOverdue)))
	}
}

// run waits for a concurrency slot and calls the RunFunc.
func (s *Scheduler) run(name string, logical time.Time) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.busy, name)
		s.mu.Unlock()
	}()
	select {
	case s.sem <- struct{}{}:
	case <-s.stop:
		s.report([]missed{{name, logical, MissShutdown}})
		return
	}
	defer func() { <-s.sem }()
	select {
	case <-s.stop: // both were ready and select chose the slot
		s.report([]missed{{name, logical, MissShutdown}})
		return
	default:
	}
	log := s.log.With(zap.String("schedule", name), zap.Time("logical", logical))
	log.Debug("run started")
	s.obs.RunStarted(name, logical)
	err := s.call(name, logical)
	s.obs.RunFinished(name, logical, err)
	if err != nil {
		log.Error("run failed", zap.Error(err))
		return
	}
	log.Debug("run finished")
}

// call runs the RunFunc, turning a panic into an error: one broken export
// must not take every other schedule down with the daemon.
func (s *Scheduler) call(name string, logical time.Time) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("run %s at %s panicked: %v\n%s", name, logical.UTC().Format(time.RFC3339), r, debug.Stack())
		}
	}()
	return s.opts.Run(s.runCtx, name, logical)
}

func (s *Scheduler) shutdown(cancelRuns context.CancelCauseFunc) error {
	close(s.stop)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.opts.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	s.mu.Lock()
	n := len(s.busy)
	s.mu.Unlock()
	s.log.Warn("cancelling runs at shutdown timeout", zap.Int("runs", n), zap.Duration("shutdown_timeout", s.opts.ShutdownTimeout))
	cancelRuns(ErrShutdownTimeout)
	<-done
	return fmt.Errorf("schedule: %d run(s): %w", n, ErrShutdownTimeout)
}

// item is an entry in the fire queue.
type item struct {
	name   string
	cron   *Cron
	paused bool
	next   time.Time
	index  int // in queue; -1 when not queued
}

// queue is a min-heap of items by next fire.
type queue []*item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].next.Equal(q[j].next) {
		return q[i].next.Before(q[j].next)
	}
	return q[i].name < q[j].name
}
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *queue) Push(x any) {
	it := x.(*item)
	it.index = len(*q)
	*q = append(*q, it)
}
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	it.index = -1
	*q = old[:len(old)-1]
	return it
}
