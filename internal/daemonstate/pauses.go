// Package daemonstate keeps the daemon's state: under state_dir, the
// operator's view of what the daemon did and was told — the run history
// (runs.jsonl) and the paused schedules (paused.json) — and, in memory,
// each schedule's state as its archive tells it (ArchiveState: the chain
// head, the newest commits, freshness, committed windows). The archive stays
// the record of what was exported; nothing under state_dir is needed to
// read it.
package daemonstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// pausesFile is where the daemon keeps which schedules are paused, under
// state_dir: a pause (by an operator, or after consecutive failures) must
// survive a restart, or a deploy would quietly resume a schedule someone
// stopped on purpose. The pause is also marked in the schedule's archive,
// for the other daemons (fleet pause sync).
const pausesFile = "paused.json"

// pausesState is the file's content.
type pausesState struct {
	Schedules map[string]Pause `json:"schedules"`
}

// Pause is why and since when a schedule is paused.
type Pause struct {
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

// PausesPath is the file of paused schedules under stateDir.
func PausesPath(stateDir string) string { return filepath.Join(stateDir, pausesFile) }

// LoadPauses reads the paused schedules; a missing file is none.
func LoadPauses(stateDir string) (map[string]Pause, error) {
	p := PausesPath(stateDir)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st pausesState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the file; it lists the paused schedules)", p, err)
	}
	return st.Schedules, nil
}

// SavePauses writes the paused schedules atomically: a crash leaves the old
// file or the new one.
func SavePauses(stateDir string, paused map[string]Pause) error {
	p := PausesPath(stateDir)
	data, _ := json.MarshalIndent(pausesState{Schedules: paused}, "", "  ")
	err := os.MkdirAll(filepath.Dir(p), 0o700)
	if err == nil {
		tmp := p + ".tmp"
		if err = os.WriteFile(tmp, append(data, '\n'), 0o644); err == nil {
			err = os.Rename(tmp, p)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}
