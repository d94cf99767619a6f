package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"
)

// runsFile keeps the run history under state_dir, one JSON record per
// line, so that GET /api/v1/runs and each schedule's last run survive a
// restart. The archive's manifests stay the record of what was exported;
// this is the operator's view of what the daemon did, failures included.
const runsFile = "runs.jsonl"

// runsFileMax is how many records the file may grow to before it is
// rewritten with the newest historySize.
const runsFileMax = 4 * historySize

func runsPath(a *App) string { return filepath.Join(a.cfg.StateDir, runsFile) }

// loadRuns returns the newest historySize records of the file; lines that
// do not parse (a crash in the middle of an append) are skipped.
func loadRuns(a *App) ([]RunRecord, error) {
	data, err := os.ReadFile(runsPath(a))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []RunRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r RunRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.ID != "" {
			out = append(out, r)
		}
	}
	if len(out) > historySize {
		out = out[len(out)-historySize:]
	}
	return out, nil
}

// restoreRuns seeds the history, the run ids and each schedule's last run
// from the file (before the daemon runs anything).
func (d *Daemon) restoreRuns() {
	runs, err := loadRuns(d.app)
	if err != nil {
		d.log.Warn("cannot read the run history; starting without it", zap.String("file", runsPath(d.app)), zap.Error(err))
		return
	}
	d.history = runs
	d.runsInFile = len(runs)
	for i := range d.history {
		r := &d.history[i]
		if id, err := strconv.ParseInt(r.ID, 10, 64); err == nil && id > d.nextID {
			d.nextID = id
		}
		if st := d.states[r.Schedule]; st != nil {
			st.lastRun = r
		}
	}
}

// persistRun appends r to the file, and rewrites the file with the
// in-memory history once it has grown to runsFileMax records (d.mu held).
func (d *Daemon) persistRun(r RunRecord) {
	p := runsPath(d.app)
	err := os.MkdirAll(filepath.Dir(p), 0o700)
	if err == nil && d.runsInFile+1 >= runsFileMax {
		var buf bytes.Buffer
		for _, h := range d.history {
			line, _ := json.Marshal(h)
			buf.Write(append(line, '\n'))
		}
		tmp := p + ".tmp"
		if err = os.WriteFile(tmp, buf.Bytes(), 0o644); err == nil {
			err = os.Rename(tmp, p)
		}
		d.runsInFile = len(d.history)
	} else if err == nil {
		line, _ := json.Marshal(r)
		var f *os.File
		if f, err = os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, err = f.Write(append(line, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		d.runsInFile++
	}
	if err != nil {
		d.log.Warn("cannot record the run in the history file", zap.String("file", p), zap.Error(err))
	}
}
