package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
)

// serveHTTP starts the API on Tuning.Listener or server.listen; its result goes
// to errc when ctx ends.
func (d *Daemon) serveHTTP(ctx context.Context, errc chan<- error) error {
	cfg := d.app.Config()
	ln := d.opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", cfg.Server.Listen)
		if err != nil {
			return fmt.Errorf("server.listen %s: %w", cfg.Server.Listen, err)
		}
	}
	srv, err := server.New(server.Options{
		Listen: ln.Addr().String(), Token: cfg.Server.Token.Reveal(),
		Loopback: server.IsLoopback(ln.Addr().String()),
		Trigger:  trigger{d}, Gatherer: d.registry, Logger: d.log, Version: d.opts.Version,
		PageAccess:      cfg.Server.StatusPage,
		ShutdownTimeout: 10 * time.Second,
	})
	if err != nil {
		ln.Close()
		return err
	}
	d.log.Info("http api listening", zap.String("addr", ln.Addr().String()))
	go func() { errc <- srv.Serve(ctx, ln) }()
	return nil
}

// trigger is the daemon as the HTTP server sees it.
type trigger struct{ d *Daemon }

var _ server.Trigger = trigger{}

func (t trigger) Schedules(ctx context.Context) []server.ScheduleStatus { return t.d.Schedules() }

func (t trigger) RunNow(ctx context.Context, req server.RunRequest) (server.RunOutcome, error) {
	r := RunNowRequest{Schedule: req.Schedule, Adhoc: req.Adhoc, Wait: req.Wait}
	if req.WindowStart != nil {
		r.WindowStart = *req.WindowStart
	}
	rec, err := t.d.RunNow(ctx, r)
	var aa *archive.AlreadyArchivedError
	switch {
	case errors.As(err, &aa):
		return server.RunOutcome{Status: domain.OutcomeAlreadyArchived, Manifest: aa.Key, Run: rec},
			fmt.Errorf("%w: %s", server.ErrAlreadyArchived, aa.Key)
	case err != nil && rec.Outcome == domain.OutcomeFailed:
		// The run ran and failed: an outcome, not an API error.
		return server.RunOutcome{Status: domain.OutcomeFailed, Run: rec}, nil
	case err != nil && rec.Outcome == domain.OutcomeClaimed:
		return server.RunOutcome{Status: domain.OutcomeClaimed, Run: rec}, nil
	case err != nil:
		return server.RunOutcome{}, err
	}
	status := rec.Outcome
	if !req.Wait {
		status = domain.OutcomeAccepted
	}
	return server.RunOutcome{Status: status, Key: rec.Key, Manifest: rec.ManifestKey, Run: rec}, nil
}

func (t trigger) Runs(ctx context.Context, schedule string, limit int) []server.RunRecord {
	return t.d.Runs(schedule, limit)
}

func (t trigger) Windows(ctx context.Context, name string, n int) ([]server.WindowStatus, error) {
	return t.d.Windows(ctx, name, n)
}

func (t trigger) Pause(ctx context.Context, name string) error  { return t.d.Pause(name) }
func (t trigger) Resume(ctx context.Context, name string) error { return t.d.Resume(name) }

func (t trigger) Ready(ctx context.Context) error {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	if nr := t.d.notReady; nr != nil {
		c := *nr
		return &c
	}
	if !t.d.lastReloadOK {
		return errors.New("the last configuration reload failed; the previous configuration is running")
	}
	return nil
}
