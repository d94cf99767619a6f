package daemon

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/daemonstate"
	"github.com/exportd/exportd/internal/domain"
)

// Each schedule's freshness, last runs and committed windows come from its
// archive (daemonstate.ArchiveState), kept in memory: the status, the API,
// the status page and the freshness metric read that copy, never the
// archive, per request. Run reads every schedule's head in the background
// at start (a schedule whose state is not read yet shows no archive_read
// time), then again every runs.archive_refresh_every — one small read per
// schedule whose head has not moved, plus the manifests committed since —
// so that commits by another replica, `serve --once` or `exportd run`
// show within the interval. The daemon's own commits update it at once.

// DefaultArchiveRefreshInterval is how often a daemon re-reads the heads of
// its schedules' chains.
const DefaultArchiveRefreshInterval = time.Minute

// archiveReaders bounds the heads and manifests read at once.
const archiveReaders = 16

// archiveReadTimeout bounds the read of one schedule's state.
const archiveReadTimeout = time.Minute

// LoadArchiveState reads every configured schedule's state from its
// archive, archiveReaders at a time, and brings the freshness metric up to
// it. A schedule whose archive cannot be read keeps the state it had (and
// is logged); it is read again at the next refresh. It returns how many
// schedules it read and how many failed.
func (d *Daemon) LoadArchiveState(ctx context.Context) (read, failed int) {
	a, release := d.acquire()
	defer release()
	cfg := a.Config()
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(archiveReaders)
	for _, s := range cfg.Schedules {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := d.refreshSchedule(ctx, a, s); err != nil {
				d.mu.Lock()
				failed++
				d.mu.Unlock()
				d.log.Warn("cannot read the schedule's state from its archive; retrying at the next refresh",
					zap.String("schedule", s.Name), zap.Error(err))
			}
			return nil
		})
	}
	g.Wait()
	d.log.Debug("read the schedules' state from the archive", zap.Int("schedules", len(cfg.Schedules)),
		zap.Int("failed", failed), zap.Duration("took", time.Since(start)))
	return len(cfg.Schedules) - failed, failed
}

// followArchive reads every schedule's state from its archive at start,
// then every runs.archive_refresh_every of the current configuration (or
// the ArchiveRefreshInterval option) and after each reload, until ctx ends.
func (d *Daemon) followArchive(ctx context.Context) {
	start := time.Now()
	if read, failed := d.LoadArchiveState(ctx); ctx.Err() == nil {
		d.log.Info("read the schedules' state from the archive", zap.Int("schedules", read),
			zap.Int("failed", failed), zap.Duration("took", time.Since(start)))
	}
	for {
		var tick <-chan time.Time
		var t *time.Timer
		if iv := d.archiveRefreshInterval(); iv > 0 {
			t = time.NewTimer(iv)
			tick = t.C
		}
		select {
		case <-ctx.Done():
		case <-tick:
		case <-d.archiveChanged:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		d.LoadArchiveState(ctx)
	}
}

// archiveRefreshInterval is the ArchiveRefreshInterval option when set,
// else the configuration's runs.archive_refresh_every.
func (d *Daemon) archiveRefreshInterval() time.Duration {
	if d.opts.ArchiveRefreshInterval != 0 {
		return d.opts.ArchiveRefreshInterval
	}
	a, release := d.acquire()
	defer release()
	if iv := time.Duration(a.Config().Runs.ArchiveRefreshEvery); iv > 0 {
		return iv
	}
	return DefaultArchiveRefreshInterval
}

// destinationOf names where a schedule's archive state comes from.
func destinationOf(s *config.Schedule) string {
	return s.Destination.Integration + "\x00" + s.Destination.Bucket + "\x00" + s.Layout().Prefix
}

// refreshSchedule reads the commits of s since the head read before.
func (d *Daemon) refreshSchedule(ctx context.Context, a Loaded, s *config.Schedule) error {
	ctx, cancel := context.WithTimeout(ctx, archiveReadTimeout)
	defer cancel()
	st, _, err := a.Store(ctx, s.Destination.Integration, s.Destination.Bucket)
	if err != nil {
		return err
	}
	d.mu.Lock()
	prev, depth := "", daemonstate.ArchiveRunsKept
	if ss := d.states[s.Name]; ss != nil && !ss.archive.Read.IsZero() {
		prev, depth = ss.archive.HeadKey, 0
	}
	d.mu.Unlock()
	w, err := daemonstate.ReadArchiveState(ctx, st, s.Layout(), prev, depth)
	if err != nil {
		return err
	}
	d.mu.Lock()
	ss := d.states[s.Name]
	if cur := d.app.Config().Schedule(s.Name); ss == nil || cur == nil || destinationOf(cur) != destinationOf(s) {
		d.mu.Unlock()
		return nil // removed or moved by a reload meanwhile
	}
	if !ss.archive.Apply(w) {
		ss.absent = nil
	}
	fresh := ss.archive.Freshness
	d.mu.Unlock()
	d.metrics.SetFreshness(s.Name, fresh)
	return nil
}

// committed notes in the schedule's archive state a unit this daemon
// committed; call it with d.mu held.
func (st *scheduleState) committed(u domain.Unit, kind, manifestKey, objectKey string) {
	st.archive.Committed(daemonstate.ManifestSummary{Key: manifestKey, Kind: kind, UnitID: u.ID(),
		Window: u.Window, Logical: u.Logical, Adhoc: u.Adhoc, Revision: revisionOf(manifestKey, u), ObjectKey: objectKey})
}

// revisionOf is 1 for a unit's original manifest key (the one that names
// the unit's object), 2 for a later revision's.
func revisionOf(manifestKey string, u domain.Unit) int {
	if manifestKey == "" || strings.HasSuffix(manifestKey, "/"+u.ID()+".manifest.json") {
		return 1
	}
	return 2
}
