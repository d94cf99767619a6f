package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/server"
)

// Backoff of the reachability check at start: doubling from
// reachRetryInitial up to reachRetryMax, each wait jittered by ±20% so
// that replicas restarted together do not knock together.
const (
	reachRetryInitial = time.Second
	reachRetryMax     = time.Minute
	// reachCheckTimeout bounds one check of one store or source.
	reachCheckTimeout = 30 * time.Second
)

// pinger is a source that can tell whether its warehouse answers
// (Snowflake: log in and SELECT 1). A source without it (DuckDB, embedded)
// is always reachable.
type pinger interface {
	Ping(ctx context.Context) error
}

// checkReachable opens the store of every enabled schedule's destination
// (the S3 store lists its prefix, and reads the bucket's versioning and
// Object Lock configuration when object_lock is configured) and pings every
// source they read. It returns the first store or source that failed, as a
// *server.NotReadyError naming it.
func checkReachable(ctx context.Context, a Loaded) error {
	seenStore, seenSource := map[string]bool{}, map[string]bool{}
	for _, s := range a.Config().Schedules {
		if !s.Enabled {
			continue
		}
		if id := s.Destination.Integration + "\x00" + s.Destination.Bucket; !seenStore[id] {
			seenStore[id] = true
			cctx, cancel := context.WithTimeout(ctx, reachCheckTimeout)
			_, _, err := a.Store(cctx, s.Destination.Integration, s.Destination.Bucket)
			cancel()
			if err != nil {
				what := "destination integration " + s.Destination.Integration
				if s.Destination.Bucket != "" {
					what += " (bucket " + s.Destination.Bucket + ")"
				}
				return &server.NotReadyError{Component: what, Err: err}
			}
		}
		if !seenSource[s.Source] {
			seenSource[s.Source] = true
			src, err := a.Source(ctx, s.Source)
			if err == nil {
				if p, ok := src.(pinger); ok {
					cctx, cancel := context.WithTimeout(ctx, reachCheckTimeout)
					err = p.Ping(cctx)
					cancel()
				}
			}
			if err != nil {
				return &server.NotReadyError{Component: "source " + s.Source, Err: err}
			}
		}
	}
	return nil
}

// awaitReachable checks the stores and sources until they are all
// reachable, waiting between attempts with a capped, jittered backoff; the
// daemon is not ready meanwhile and /readyz says what it waits for. It
// returns false when ctx ended first. An outage at start is therefore not
// an exit: a replica restarted while S3 or the warehouse is away waits
// for them instead of crash-looping.
func (d *Daemon) awaitReachable(ctx context.Context) bool {
	wait := reachRetryInitial
	for attempt := 1; ; attempt++ {
		// The current configuration at each attempt: a reload may have
		// fixed a bucket name meanwhile.
		a, release := d.acquire()
		err := checkReachable(ctx, a)
		release()
		if ctx.Err() != nil {
			d.firstCheckDone(attempt)
			return false
		}
		if err == nil {
			d.setNotReady(nil)
			d.firstCheckDone(attempt)
			if attempt > 1 {
				d.log.Info("destination stores and sources reachable; scheduling", zap.Int("attempts", attempt))
			}
			return true
		}
		var nr *server.NotReadyError
		if !errors.As(err, &nr) {
			nr = &server.NotReadyError{Component: "stores and sources", Err: err}
		}
		delay := jitter(wait)
		nr.Attempts, nr.NextRetry = attempt, time.Now().Add(delay).UTC().Truncate(time.Second)
		d.setNotReady(nr)
		d.firstCheckDone(attempt)
		log := d.log.Warn
		if errors.Is(err, s3store.ErrBucket) {
			// Not an outage but most likely the configuration or the
			// bucket (missing, credentials rejected, no Object Lock):
			// still retried, since a fix needs no restart.
			log = d.log.Error
		}
		log("not ready: cannot reach "+nr.Component+"; retrying", zap.Error(nr.Err),
			zap.Int("attempt", attempt), zap.Time("next_retry", nr.NextRetry))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, reachRetryMax)
	}
}

// waitReachable is awaitReachable, reloading the configuration meanwhile
// on SIGHUP and when its files change.
func (d *Daemon) waitReachable(ctx context.Context, hup <-chan os.Signal) bool {
	waitCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	if iv := orDefault(d.opts.WatchInterval, 5*time.Second); iv > 0 {
		wg.Go(func() { d.watch(waitCtx, iv) })
	}
	wg.Go(func() { d.reloadOnHUP(waitCtx, hup) })
	return d.awaitReachable(ctx)
}

// firstCheckDone releases the requests that wait for the first check.
func (d *Daemon) firstCheckDone(attempt int) {
	if attempt == 1 && d.firstCheck != nil {
		close(d.firstCheck)
	}
}

// jitter is d ±20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// setNotReady records what the daemon waits for (nil: ready).
func (d *Daemon) setNotReady(nr *server.NotReadyError) {
	d.mu.Lock()
	d.notReady = nr
	d.mu.Unlock()
	d.metrics.SetReady(nr == nil)
}

// unreachable is the error for a request that needs the stores and
// sources while the daemon still waits for them; nil once ready. A request
// made while the first check runs (the first moments of a start) waits
// for it rather than failing.
func (d *Daemon) unreachable(ctx context.Context) error {
	d.mu.Lock()
	nr, first := d.notReady, d.firstCheck
	d.mu.Unlock()
	if nr != nil && nr.Attempts == 0 && first != nil {
		select {
		case <-first:
		case <-ctx.Done():
		}
		d.mu.Lock()
		nr = d.notReady
		d.mu.Unlock()
	}
	if nr == nil {
		return nil
	}
	c := *nr
	return fmt.Errorf("%w: %w", server.ErrNotReady, &c)
}
