// Package notify tells people what exportd cannot fix alone: a run that
// failed after its retries, a schedule paused after consecutive failures,
// windows recorded as lost, a window missing past its lag, and data alerts
// (a condition met by an exported row).
//
// Delivery never blocks or fails an export: Notify only puts the event on a
// bounded queue (a full queue drops it and counts the drop); one worker
// sends, retrying each notifier with exponential backoff, and every attempt
// is counted in exportd_notify_attempts_total. Repeated events of the same
// cause (schedule, kind, key) are rate-limited per notifier. Payloads carry
// the event only, never a secret; logs name the notifier, never its URL.
package notify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
)

// Kinds of event.
const (
	KindRunFailed      = "run_failed"
	KindPaused         = "schedule_paused"
	KindWindowLost     = "window_lost"
	KindWindowMissing  = "window_missing"
	KindDataAlert      = "data_alert"
	defaultRateLimit   = time.Hour
	defaultQueue       = 256
	defaultAttempts    = 5
	defaultBackoff     = time.Second
	defaultMaxBackoff  = time.Minute
	defaultSendTimeout = 30 * time.Second
)

// Event is what a notifier is told. Key tells causes of the same kind
// apart (a unit, a window, an alert's name) for rate limiting.
type Event struct {
	Kind     string    `json:"kind"`
	Schedule string    `json:"schedule"`
	Key      string    `json:"key,omitempty"`
	Summary  string    `json:"summary"`
	Error    string    `json:"error,omitempty"`
	Window   string    `json:"window,omitempty"`
	Failures int       `json:"failures,omitempty"`
	Rows     int64     `json:"rows,omitempty"`
	Object   string    `json:"object,omitempty"`
	Time     time.Time `json:"time"`
	Instance string    `json:"instance,omitempty"`
}

// sender delivers one event to one destination.
type sender interface {
	send(ctx context.Context, e Event) error
}

type target struct {
	name      string
	kind      string
	rateLimit time.Duration
	s         sender
}

type job struct {
	e       Event
	targets []*target
}

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	Queue       int
	Attempts    int
	Backoff     time.Duration
	MaxBackoff  time.Duration
	SendTimeout time.Duration
	Instance    string
	Now         func() time.Time
	// RootCAs verifies SMTP servers' certificates; nil uses the system's.
	RootCAs *x509.CertPool
}

// Dispatcher sends events to the notifiers of each schedule.
type Dispatcher struct {
	opts      Options
	log       *zap.Logger
	cfgMu     sync.RWMutex
	targets   map[string]*target
	schedules map[string][]string
	queue     chan job
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu   sync.Mutex
	last map[string]time.Time // notifier|schedule|kind|key → last sent

	attempts  *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	limited   *prometheus.CounterVec
	delivered *prometheus.CounterVec
}

// New builds a Dispatcher for cfg's notifiers and schedules, registers its
// metrics on reg (when not nil) and starts its worker. Close stops it.
func New(cfg *config.Config, reg prometheus.Registerer, log *zap.Logger, opts Options) (*Dispatcher, error) {
	if opts.Queue <= 0 {
		opts.Queue = defaultQueue
	}
	if opts.Attempts <= 0 {
		opts.Attempts = defaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = defaultBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = defaultMaxBackoff
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = defaultSendTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	d := &Dispatcher{
		opts: opts, log: log, targets: map[string]*target{}, schedules: map[string][]string{},
		queue: make(chan job, opts.Queue), stop: make(chan struct{}), done: make(chan struct{}),
		last: map[string]time.Time{},
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exportd_notify_attempts_total",
			Help: "Attempts to deliver a notification, by notifier, event kind and result (ok or error)."},
			[]string{"notifier", "kind", "result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exportd_notify_dropped_total",
			Help: "Notifications dropped, by reason: queue_full or gave_up (every attempt failed)."},
			[]string{"reason"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exportd_notify_rate_limited_total",
			Help: "Notifications not sent because the same cause was notified within the notifier's rate_limit."},
			[]string{"notifier", "kind"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exportd_notify_delivered_total",
			Help: "Notifications delivered, by notifier and event kind."},
			[]string{"notifier", "kind"}),
	}
	if err := d.Update(cfg); err != nil {
		return nil, err
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{d.attempts, d.dropped, d.limited, d.delivered} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	d.dropped.WithLabelValues("queue_full")
	d.dropped.WithLabelValues("gave_up")
	go d.run()
	return d, nil
}

// Update takes the notifiers and schedules of a reloaded config. Events
// already queued go to the notifiers they were queued for.
func (d *Dispatcher) Update(cfg *config.Config) error {
	targets, schedules := map[string]*target{}, map[string][]string{}
	for name, n := range cfg.Notify {
		s, err := newSender(n, d.opts.RootCAs)
		if err != nil {
			return fmt.Errorf("notify.%s: %w", name, err)
		}
		rl := time.Duration(n.RateLimit)
		if rl == 0 {
			rl = defaultRateLimit
		}
		targets[name] = &target{name: name, kind: n.Type, rateLimit: rl, s: s}
	}
	for _, s := range cfg.Schedules {
		schedules[s.Name] = s.Notify
	}
	d.cfgMu.Lock()
	d.targets, d.schedules = targets, schedules
	d.cfgMu.Unlock()
	return nil
}

// Notify queues e for the notifiers of its schedule. It never blocks: a
// full queue drops the event and counts it.
func (d *Dispatcher) Notify(e Event) {
	if d == nil {
		return
	}
	d.cfgMu.RLock()
	names, targets := d.schedules[e.Schedule], d.targets
	d.cfgMu.RUnlock()
	if len(names) == 0 {
		return
	}
	if e.Time.IsZero() {
		e.Time = d.opts.Now().UTC()
	}
	if e.Instance == "" {
		e.Instance = d.opts.Instance
	}
	var ts []*target
	for _, n := range names {
		t := targets[n]
		if t == nil || !d.allow(t, e) {
			continue
		}
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return
	}
	select {
	case <-d.stop:
		return
	default:
	}
	select {
	case d.queue <- job{e: e, targets: ts}:
	default:
		d.dropped.WithLabelValues("queue_full").Inc()
		d.log.Warn("notification dropped: queue full", zap.String("schedule", e.Schedule), zap.String("kind", e.Kind))
	}
}

// allow applies the rate limit of t to e's cause and records the send.
func (d *Dispatcher) allow(t *target, e Event) bool {
	k := t.name + "\x00" + e.Schedule + "\x00" + e.Kind + "\x00" + e.Key
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if last, ok := d.last[k]; ok && now.Sub(last) < t.rateLimit {
		d.limited.WithLabelValues(t.name, e.Kind).Inc()
		return false
	}
	d.last[k] = now
	return true
}

func (d *Dispatcher) run() {
	defer close(d.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-d.stop; cancel() }()
	for {
		select {
		case <-d.stop:
			return
		case j := <-d.queue:
			var wg sync.WaitGroup
			for _, t := range j.targets {
				wg.Add(1)
				go func() { defer wg.Done(); d.deliver(ctx, t, j.e) }()
			}
			wg.Wait()
		}
	}
}

func (d *Dispatcher) deliver(ctx context.Context, t *target, e Event) {
	wait := d.opts.Backoff
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, d.opts.SendTimeout)
		err := t.s.send(sctx, e)
		cancel()
		if err == nil {
			d.attempts.WithLabelValues(t.name, e.Kind, "ok").Inc()
			d.delivered.WithLabelValues(t.name, e.Kind).Inc()
			return
		}
		d.attempts.WithLabelValues(t.name, e.Kind, "error").Inc()
		// err never holds a secret: senders build their errors from
		// status codes and server replies, not from URLs.
		d.log.Warn("notification attempt failed", zap.String("notifier", t.name), zap.String("type", t.kind),
			zap.String("schedule", e.Schedule), zap.String("kind", e.Kind), zap.Int("attempt", attempt), zap.Error(err))
		if attempt >= d.opts.Attempts || permanent(err) {
			d.dropped.WithLabelValues("gave_up").Inc()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, d.opts.MaxBackoff)
	}
}

// Close stops the worker; queued events not yet sent are dropped.
func (d *Dispatcher) Close() {
	if d == nil {
		return
	}
	d.closeOnce.Do(func() { close(d.stop) })
	<-d.done
}

// permanentError is a failure a retry cannot fix (a 4xx other than 408 and
// 429, a rejected recipient).
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// WindowText is a unit's window as an event's Window (start/end in
// RFC 3339, UTC), or "" for a snapshot.
func WindowText(u domain.Unit) string {
	if u.Window.IsZero() {
		return ""
	}
	return u.Window.Start.UTC().Format(time.RFC3339) + "/" + u.Window.End.UTC().Format(time.RFC3339)
}
