package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// pausedFile is where the daemon keeps which schedules are paused, under
// state_dir: a pause (by an operator, or after consecutive failures) must
// survive a restart, or a deploy would quietly resume a schedule someone
// stopped on purpose. The pause is also marked in the schedule's archive,
// for the other daemons (fleetpause.go).
const pausedFile = "paused.json"

// pausedState is the file's content.
type pausedState struct {
	Schedules map[string]pausedEntry `json:"schedules"`
}

type pausedEntry struct {
	Since time.Time `json:"since"`
	// Reason is "operator" or "failures".
	Reason   string `json:"reason"`
	Failures int    `json:"consecutive_failures,omitempty"`
	// By is the instance that paused it, when another daemon did.
	By string `json:"by,omitempty"`
	// Marked: the pause marker is in the archive (written by this daemon
	// or seen there). Its absence then means a resume elsewhere; an
	// unmarked pause gets its marker written.
	Marked bool `json:"marked,omitempty"`
}

func pausedPath(a *App) string { return filepath.Join(a.cfg.StateDir, pausedFile) }

// loadPaused reads the paused schedules; a missing file is none.
func loadPaused(a *App) (map[string]pausedEntry, error) {
	data, err := os.ReadFile(pausedPath(a))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st pausedState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the file; it lists the paused schedules)", pausedPath(a), err)
	}
	return st.Schedules, nil
}

// savePaused writes the paused schedules (d.mu held by the caller)
// atomically: a crash leaves the old file or the new one.
func (d *Daemon) savePaused() {
	st := pausedState{Schedules: map[string]pausedEntry{}}
	for name, s := range d.states {
		if s.paused {
			st.Schedules[name] = s.pause
		}
	}
	p := pausedPath(d.app)
	data, _ := json.MarshalIndent(st, "", "  ")
	err := os.MkdirAll(filepath.Dir(p), 0o700)
	if err == nil {
		tmp := p + ".tmp"
		if err = os.WriteFile(tmp, append(data, '\n'), 0o644); err == nil {
			err = os.Rename(tmp, p)
		}
	}
	if err != nil {
		d.log.Error("cannot record paused schedules; a restart would resume them", zap.String("file", p), zap.Error(err))
	}
}
