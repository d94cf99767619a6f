package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/daemon"
)

// The daemon, as the CLI and tests name it (internal/daemon).
type (
	Daemon         = daemon.Daemon
	DaemonOptions  = daemon.Tuning
	RunNowRequest  = daemon.RunNowRequest
	RunRecord      = daemon.RunRecord
	ScheduleStatus = daemon.ScheduleStatus
)

// ErrUnknownSchedule is the daemon's answer for a schedule it does not run.
var ErrUnknownSchedule = daemon.ErrUnknownSchedule

// NewDaemon builds a daemon over a loaded App; its reloads load the App's
// Options anew.
func NewDaemon(a *App, o DaemonOptions) (*Daemon, error) {
	return daemon.New(a, daemon.Options{
		Logger: a.log, Version: a.opts.Version, Tuning: o,
		Reload: func(ctx context.Context, prev *config.DecodedCache) (daemon.Loaded, error) {
			na, err := load(ctx, a.opts, prev)
			if err != nil {
				return nil, err // not a nil *App in the interface
			}
			return na, nil
		},
	})
}

// Run is `exportd serve`: it runs the daemon (Options.Daemon) until ctx
// is done and every goroutine it started — scheduler, catch-up, HTTP API,
// reloads on SIGHUP and file change, pause sync, the sweep of stale
// multipart uploads — has ended (daemon.Daemon.Run). A destination store
// or source that cannot be reached at start does not stop it: the daemon
// serves, says why it is not ready on /readyz, and retries until they
// answer (a replica restarted during an outage must not crash-loop).
func (a *App) Run(ctx context.Context) error {
	d, err := NewDaemon(a, a.opts.Daemon)
	if err != nil {
		return err
	}
	err = d.Run(ctx)
	if cerr := d.Close(); cerr != nil {
		a.log.Warn("close the reloaded configuration", zap.Error(cerr))
	}
	return err
}
