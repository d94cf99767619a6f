package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/server"
)

// Addr is the address the HTTP API listens on, once Run serves it (nil
// before).
func (d *Daemon) Addr() net.Addr {
	if d.opts.Listener != nil {
		return d.opts.Listener.Addr()
	}
	return nil
}

// Run serves the HTTP API, waits (not ready, retrying) until the stores
// and sources of the enabled schedules can be reached, catches up once,
// then fires schedules until ctx is done; it reloads the configuration on
// SIGHUP and when its files change. Then it stops firing (no new schedule, window or retry starts),
// waits for the exports in progress — catch-up at start, cron fires and run
// now alike — up to shutdown_timeout, and cancels those still running: a
// cancelled export publishes nothing and releases its claim. An orderly
// stop returns nil, whether or not runs had to be cancelled. Every
// goroutine it starts has ended when it returns.
func (d *Daemon) Run(ctx context.Context) error {
	// SIGHUP is caught from the start: its default would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The runs' context is not ctx: a signal must not cut the exports in
	// progress short before shutdown_timeout.
	runCtx, cancelRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRuns(nil)
	d.stop = ctx.Done()
	srvErr := make(chan error, 1)
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		stopHTTP()
		if err := <-srvErr; err != nil {
			d.log.Warn("http server", zap.Error(err))
		}
	}()
	// Not ready until the stores and sources answer (awaitReachable).
	d.mu.Lock()
	d.firstCheck = make(chan struct{})
	d.mu.Unlock()
	d.setNotReady(&server.NotReadyError{Component: "the destination stores and sources"})
	if err := d.serveHTTP(httpCtx, srvErr); err != nil {
		return err
	}
	finished := make(chan struct{})
	var cancelled atomic.Bool
	var watch sync.WaitGroup
	watch.Go(func() { d.shutdownWatch(ctx, finished, cancelRuns, &cancelled) })
	defer func() { close(finished); watch.Wait() }()

	// An outage at start is waited out, serving /healthz and a /readyz
	// that says what is missing; configuration changes are reloaded
	// meanwhile.
	if !d.waitReachable(ctx, hup) {
		d.log.Info("stopped before the destination stores and sources were reachable")
		return nil
	}

	// Pauses resumed elsewhere while this daemon was down are lifted, and
	// pauses not yet marked in the archive are marked, before anything
	// fires.
	d.syncPauses(ctx)
	// The catch-up at start runs beside the scheduler, not before it:
	// after a long outage it can take hours, and meanwhile the other
	// schedules keep their cron fires and file changes are reloaded. A cron
	// fire of a schedule still catching up is missed as an overlap (the
	// catch-up exports what it would have).
	var catchUp sync.WaitGroup
	a, release := d.acquire()
	catchUp.Go(func() {
		defer release()
		eachCatchUp(ctx, a.Config(), a.Now().UTC().Truncate(time.Second), func(s *config.Schedule, T time.Time, err error) {
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
		d.log.Info("serving", zap.Int("schedules", len(a.Config().Schedules)))
		// The pause sync and the file watcher poll until shutdown begins.
		loops, stopLoops := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() { stopLoops(); wg.Wait() }()
		if iv := orDefault(d.opts.PauseSyncInterval, DefaultPauseSyncInterval); iv > 0 {
			wg.Go(func() { every(loops, iv, func() { d.syncPauses(loops) }) })
		}
		if iv := orDefault(d.opts.WatchInterval, 5*time.Second); iv > 0 {
			wg.Go(func() { d.watch(loops, iv) })
		}
		// Each schedule's state comes from its archive: read in the
		// background at start (the API serves meanwhile), then refreshed.
		wg.Go(func() { d.followArchive(loops) })
		// Every loop of the daemon starts here with wg.Go and ends with
		// loops. The archive-wide daily digest: at start, then hourly.
		wg.Go(func() { d.dailyDigests(loops) })
		// Windows missing from the archive past their lag, for the
		// schedules with notifiers.
		wg.Go(func() { every(loops, missingEvery, func() { d.checkMissing(loops) }) })
		// Multipart uploads that dead runs left: now, then every
		// runs.sweep_uploads_every.
		wg.Go(func() { d.sweepLoop(loops) })
		wg.Go(func() { d.reloadOnHUP(loops, hup) })
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

// reloadOnHUP reloads the configuration (validated first) at each SIGHUP
// until ctx ends.
func (d *Daemon) reloadOnHUP(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = d.Reload(ctx)
		}
	}
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
		d.abortRuns(schedule.ErrShutdownTimeout)
	}
}

func (d *Daemon) shutdownTimeout() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := time.Duration(d.app.Config().Server.ShutdownTimeout); t > 0 {
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

// abortable is ctx, cancelled with the cause of abortRuns if shutdown_timeout
// passes while it runs; unregister when the run is over.
func (d *Daemon) abortable(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted {
		cancel(schedule.ErrShutdownTimeout)
		return ctx, func() {}
	}
	d.aborts[&cancel] = true
	return ctx, func() {
		d.mu.Lock()
		delete(d.aborts, &cancel)
		d.mu.Unlock()
		cancel(nil)
	}
}

// abortRuns cancels the runs that run now started, at shutdown_timeout.
func (d *Daemon) abortRuns(cause error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.aborted = true
	for c := range d.aborts {
		(*c)(cause)
	}
	clear(d.aborts)
}
