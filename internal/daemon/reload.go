package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/daemonstate"
)

// Reload loads the configuration anew. A valid one replaces the running
// one (runs in progress finish on the old one); an invalid one is logged
// and the old one keeps running.
func (d *Daemon) Reload(ctx context.Context) error {
	d.mu.Lock()
	prev := d.app.Config().DecodedCache()
	d.mu.Unlock()
	na, err := d.opts.Reload(ctx, prev)
	if err != nil {
		d.reloadResult(false)
		d.log.Error("reload: the new configuration is invalid; keeping the running one", zap.Error(err))
		return err
	}
	entries, err := entriesOf(na.Config())
	if err != nil {
		na.Close()
		d.reloadResult(false)
		return err
	}
	d.mu.Lock()
	old := d.app
	oldRefs := d.appRefs[old]
	d.app = na
	d.appRefs[na] = &sync.WaitGroup{}
	d.notifyReloaded(na)
	for _, s := range na.Config().Schedules {
		st := d.states[s.Name]
		if st == nil {
			d.states[s.Name] = &scheduleState{}
			continue
		}
		// A schedule moved to another destination has another archive:
		// what the old one said no longer holds.
		if prev := old.Config().Schedule(s.Name); prev != nil && destinationOf(prev) != destinationOf(s) {
			st.archive, st.absent, st.probes, st.freshness = daemonstate.ArchiveState{}, nil, nil, time.Time{}
		}
	}
	d.mu.Unlock()
	// The new and moved schedules' state is read now, not at the next
	// refresh.
	select {
	case d.archiveChanged <- struct{}{}:
	default:
	}
	if err := d.sched.Replace(entries); err != nil {
		d.log.Error("reload: replace schedules", zap.Error(err))
	}
	// Keep paused schedules paused across reloads.
	for _, s := range na.Config().Schedules {
		d.mu.Lock()
		paused := d.states[s.Name].paused
		d.mu.Unlock()
		if paused {
			_ = d.sched.Pause(s.Name)
		}
	}
	d.reloadResult(true)
	d.log.Info("configuration reloaded", zap.Int("schedules", len(na.Config().Schedules)), zap.Int("schedule_files_unchanged", na.Config().DecodedHits()))
	d.closing.Go(func() {
		oldRefs.Wait()
		if err := old.Close(); err != nil {
			d.log.Warn("close replaced configuration", zap.Error(err))
		}
		d.mu.Lock()
		delete(d.appRefs, old)
		d.mu.Unlock()
	})
	return nil
}

// Close waits until the configurations replaced by reloads are closed (each
// once its runs have finished) and closes the one a reload made current.
// The configuration the daemon was built on belongs to its caller, who
// closes it.
func (d *Daemon) Close() error {
	d.closing.Wait()
	d.closeNotifier()
	d.mu.Lock()
	cur := d.app
	d.mu.Unlock()
	if cur != d.first {
		return cur.Close()
	}
	return nil
}

func (d *Daemon) reloadResult(ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastReloadOK = ok
	if ok {
		d.lastReload = time.Now()
	}
	if d.onReload != nil {
		d.onReload(ok)
	}
}

// fingerprint summarises the config file and the schedule files, to notice
// edits without a file-watching dependency.
func fingerprint(cfgPath, schedulesDir string) string {
	h := sha256.New()
	add := func(p string) {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	add(cfgPath)
	entries, _ := os.ReadDir(schedulesDir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		add(filepath.Join(schedulesDir, n))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// watch reloads when the config or a schedule file changes, polling every
// interval until ctx ends.
func (d *Daemon) watch(ctx context.Context, interval time.Duration) {
	d.mu.Lock()
	cfgPath, dir := d.app.Config().File, d.app.Config().SchedulesDir
	d.mu.Unlock()
	last := fingerprint(cfgPath, dir)
	every(ctx, interval, func() {
		if fp := fingerprint(cfgPath, dir); fp != last {
			last = fp
			d.log.Info("configuration files changed; reloading")
			_ = d.Reload(ctx)
		}
	})
}

// every calls fn at each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
