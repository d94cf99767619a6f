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

// Errors the daemon returns (the HTTP API's).
var (
	ErrRunning         = daemon.ErrRunning
	ErrUnknownSchedule = daemon.ErrUnknownSchedule
)

// DefaultPauseSyncInterval is how often a daemon checks whether the
// schedules it holds paused were resumed by another daemon.
const DefaultPauseSyncInterval = daemon.DefaultPauseSyncInterval

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

// Serve is `exportd serve`: it opens every destination store (a bad bucket
// or credentials stop it here), aborts the multipart uploads dead runs
// left, then runs the daemon until ctx is done and every goroutine it
// started has ended (daemon.Daemon.Run).
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
