package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/daemonstate"
	"github.com/exportd/exportd/internal/domain"
)

// A pause is fleet-wide: besides state_dir/paused.json, the daemon told
// to pause a schedule writes a marker in the schedule's archive
// (_paused/<schedule>), next to the claims that already coordinate
// replicas. Every daemon reads it before each cron fire and catch-up of
// the schedule, and lists the markers every PauseSyncInterval, so the
// others stop at their next fire and show the pause within the interval;
// a resume on any of them deletes it, and the others, which then hold the
// pause locally too, see it gone within PauseSyncInterval.

// DefaultPauseSyncInterval is how often a daemon checks whether the
// schedules it holds paused were resumed by another daemon.
const DefaultPauseSyncInterval = 30 * time.Second

// pauseMarkerTimeout bounds one marker read or write.
const pauseMarkerTimeout = 30 * time.Second

// pauseArchive returns the archive and layout that hold s's pause marker.
func pauseArchive(ctx context.Context, a Loaded, s *config.Schedule) (*archive.Archive, domain.Layout, error) {
	_, ar, err := a.Store(ctx, s.Destination.Integration, s.Destination.Bucket)
	return ar, s.Layout(), err
}

// pausedInArchive reads s's pause marker.
func pausedInArchive(ctx context.Context, a Loaded, s *config.Schedule) (archive.PauseRecord, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, pauseMarkerTimeout)
	defer cancel()
	ar, l, err := pauseArchive(ctx, a, s)
	if err != nil {
		return archive.PauseRecord{}, false, err
	}
	return ar.Paused(ctx, l)
}

// markPaused writes the pause marker of a schedule this daemon paused and
// records that it did (so that the marker's absence later means a resume
// elsewhere). A failure is logged: the pause then holds for this daemon,
// and the sync writes the marker once the archive answers.
func (d *Daemon) markPaused(name string, p daemonstate.Pause) {
	a, release := d.acquire()
	defer release()
	s := a.Config().Schedule(name)
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pauseMarkerTimeout)
	defer cancel()
	ar, l, err := pauseArchive(ctx, a, s)
	if err == nil {
		_, err = ar.Pause(ctx, l, archive.PauseRecord{Since: p.Since, Reason: p.Reason, Failures: p.Failures, By: ar.Instance})
	}
	if err != nil {
		d.log.Warn("cannot write the pause marker in the archive; the schedule is paused on this daemon only until it can",
			zap.String("schedule", name), zap.Error(err))
		return
	}
	d.mu.Lock()
	if st := d.states[name]; st != nil && st.paused {
		st.pause.Marked = true
		d.savePaused()
	}
	d.mu.Unlock()
}

// unmarkPaused deletes a schedule's pause marker (a resume).
func (d *Daemon) unmarkPaused(name string) error {
	a, release := d.acquire()
	defer release()
	s := a.Config().Schedule(name)
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pauseMarkerTimeout)
	defer cancel()
	ar, l, err := pauseArchive(ctx, a, s)
	if err != nil {
		return err
	}
	return ar.Resume(ctx, l)
}

// adoptPause pauses on this daemon a schedule that another one paused
// (its marker is in the archive).
func (d *Daemon) adoptPause(name string, r archive.PauseRecord) {
	d.mu.Lock()
	st := d.states[name]
	if st == nil || st.paused {
		d.mu.Unlock()
		return
	}
	st.paused = true
	st.pause = daemonstate.Pause{Since: r.Since, Reason: r.Reason, Failures: r.Failures, By: r.By, Marked: true}
	d.savePaused()
	d.mu.Unlock()
	_ = d.sched.Pause(name)
	d.metrics.SetPaused(name, true)
	d.log.Warn("schedule paused by another daemon; paused here too (resume it over the API of any daemon)",
		zap.String("schedule", name), zap.String("by", r.By), zap.String("reason", r.Reason), zap.Time("since", r.Since))
}

// pausedElsewhere reports whether a schedule this daemon does not hold
// paused has a pause marker, and adopts the pause if so. An archive that
// cannot be read does not stop the fire (the export would report it).
func (d *Daemon) pausedElsewhere(ctx context.Context, name string) bool {
	if d.isPaused(name) {
		return true
	}
	a, release := d.acquire()
	s := a.Config().Schedule(name)
	var (
		r   archive.PauseRecord
		ok  bool
		err error
	)
	if s != nil {
		r, ok, err = pausedInArchive(ctx, a, s)
	}
	release()
	if err != nil {
		d.log.Warn("cannot read the pause marker; firing", zap.String("schedule", name), zap.Error(err))
		return false
	}
	if ok {
		d.adoptPause(name, r)
	}
	return ok
}

// pauseMarkers lists the pause markers under every archive prefix the
// schedules export into, one listing per prefix however many schedules
// share it, and returns the schedules whose own marker is there. A prefix
// that cannot be listed is in err; the others are still returned.
func pauseMarkers(ctx context.Context, a Loaded) (paused map[string]bool, err error) {
	type prefix struct {
		store archive.Store
		dir   string
	}
	own := map[string]string{} // store + pause key -> schedule
	var prefixes []prefix
	seen := map[string]bool{}
	var errs []error
	for _, s := range a.Config().Schedules {
		ar, l, err := pauseArchive(ctx, a, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		own[ar.Store.Describe()+"\x00"+l.PauseKey()] = s.Name
		if p := ar.Store.Describe() + "\x00" + l.PausedPrefix(); !seen[p] {
			seen[p] = true
			prefixes = append(prefixes, prefix{ar.Store, l.PausedPrefix()})
		}
	}
	paused = map[string]bool{}
	for _, p := range prefixes {
		err := p.store.List(ctx, p.dir, func(oi archive.ObjectInfo) error {
			if name, ok := own[p.store.Describe()+"\x00"+oi.Key]; ok {
				paused[name] = true
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("list the pause markers under %s: %w", p.dir, err))
		}
	}
	return paused, errors.Join(errs...)
}

// adoptListedPauses adopts the pauses made elsewhere that this daemon does
// not hold yet, so that its status shows them before its next fire of the
// schedule.
func (d *Daemon) adoptListedPauses(ctx context.Context) {
	a, release := d.acquire()
	defer release()
	paused, err := pauseMarkers(ctx, a)
	if err != nil {
		d.log.Warn("cannot list every pause marker", zap.Error(err))
	}
	for name := range paused {
		if d.isPaused(name) {
			continue
		}
		if r, ok, err := pausedInArchive(ctx, a, a.Config().Schedule(name)); err == nil && ok {
			d.adoptPause(name, r)
		}
	}
}

// syncPauses reconciles the schedules this daemon holds paused with their
// markers: a marked pause whose marker is gone was resumed elsewhere; a
// pause not yet marked (the archive was down, or it predates markers) gets
// its marker. Then it adopts the pauses made elsewhere.
func (d *Daemon) syncPauses(ctx context.Context) {
	defer d.adoptListedPauses(ctx)
	d.mu.Lock()
	held := map[string]daemonstate.Pause{}
	for name, st := range d.states {
		if st.paused {
			held[name] = st.pause
		}
	}
	d.mu.Unlock()
	for name, p := range held {
		if ctx.Err() != nil {
			return
		}
		if !p.Marked {
			d.markPaused(name, p)
			continue
		}
		a, release := d.acquire()
		s := a.Config().Schedule(name)
		var gone bool
		if s != nil {
			_, ok, err := pausedInArchive(ctx, a, s)
			gone = err == nil && !ok
		}
		release()
		if !gone {
			continue
		}
		d.mu.Lock()
		st := d.states[name]
		resumed := st != nil && st.paused && st.pause.Marked
		if resumed {
			st.paused, st.pause, st.consecutiveFailures = false, daemonstate.Pause{}, 0
			d.savePaused()
		}
		d.mu.Unlock()
		if resumed {
			_ = d.sched.Resume(name)
			d.metrics.SetPaused(name, false)
			d.log.Info("schedule resumed by another daemon; resumed here too", zap.String("schedule", name))
		}
	}
}

// savePaused records the paused schedules in state_dir (d.mu held by the
// caller).
func (d *Daemon) savePaused() {
	paused := map[string]daemonstate.Pause{}
	for name, s := range d.states {
		if s.paused {
			paused[name] = s.pause
		}
	}
	if err := daemonstate.SavePauses(d.app.Config().StateDir, paused); err != nil {
		d.log.Error("cannot record paused schedules; a restart would resume them", zap.Error(err))
	}
}
