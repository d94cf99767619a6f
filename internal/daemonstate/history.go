package daemonstate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/exportd/exportd/internal/server"
)

// historyFile keeps the run history under state_dir, one JSON record per
// line, so that GET /api/v1/runs and each schedule's last run survive a
// restart. The archive's manifests stay the record of what was exported;
// this is the operator's view of what the daemon did, failures included.
const historyFile = "runs.jsonl"

// HistorySize bounds the history kept in memory and read back at start.
const HistorySize = 1000

// historyFileMax is how many records the file may grow to before it is
// rewritten with the newest HistorySize.
const historyFileMax = 4 * HistorySize

// History is the run history: the newest HistorySize records in memory,
// each appended to state_dir/runs.jsonl as it is added. It is not safe for
// concurrent use: the daemon holds its lock around every call.
type History struct {
	path    string
	records []server.RunRecord
	nextID  int64
	// inFile counts the records in the file.
	inFile int
}

// OpenHistory reads the newest HistorySize records of stateDir's history
// file (a missing file is an empty history). Lines that do not parse (a
// crash in the middle of an append) are skipped. On an error the history
// is empty and still records new runs.
func OpenHistory(stateDir string) (*History, error) {
	h := &History{path: filepath.Join(stateDir, historyFile)}
	data, err := os.ReadFile(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r server.RunRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.ID != "" {
			h.records = append(h.records, r)
		}
	}
	if len(h.records) > HistorySize {
		h.records = h.records[len(h.records)-HistorySize:]
	}
	h.inFile = len(h.records)
	for _, r := range h.records {
		if id, err := strconv.ParseInt(r.ID, 10, 64); err == nil && id > h.nextID {
			h.nextID = id
		}
	}
	return h, nil
}

// Path is the history file.
func (h *History) Path() string { return h.path }

// Records are the records in memory, oldest first. The slice is the
// history's own: read it under the daemon's lock.
func (h *History) Records() []server.RunRecord { return h.records }

// Add gives r the next run id, keeps it and appends it to the file, which
// is rewritten with the records in memory once it has grown to
// historyFileMax records. It returns the record kept (valid until the next
// Add) and the error of writing the file, if any: the record is kept
// either way.
func (h *History) Add(r server.RunRecord) (*server.RunRecord, error) {
	h.nextID++
	r.ID = strconv.FormatInt(h.nextID, 10)
	h.records = append(h.records, r)
	if len(h.records) > HistorySize {
		h.records = h.records[len(h.records)-HistorySize:]
	}
	kept := &h.records[len(h.records)-1]
	err := os.MkdirAll(filepath.Dir(h.path), 0o700)
	if err == nil && h.inFile+1 >= historyFileMax {
		var buf bytes.Buffer
		for _, r := range h.records {
			line, _ := json.Marshal(r)
			buf.Write(append(line, '\n'))
		}
		tmp := h.path + ".tmp"
		if err = os.WriteFile(tmp, buf.Bytes(), 0o644); err == nil {
			err = os.Rename(tmp, h.path)
		}
		h.inFile = len(h.records)
	} else if err == nil {
		line, _ := json.Marshal(r)
		var f *os.File
		if f, err = os.OpenFile(h.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, err = f.Write(append(line, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		h.inFile++
	}
	if err != nil {
		return kept, fmt.Errorf("%s: %w", h.path, err)
	}
	return kept, nil
}

// Runs returns the newest runs first, of one schedule or all (""), at most
// limit.
func (h *History) Runs(schedule string, limit int) []server.RunRecord {
	var out []server.RunRecord
	for i := len(h.records) - 1; i >= 0 && len(out) < limit; i-- {
		if schedule == "" || h.records[i].Schedule == schedule {
			out = append(out, h.records[i])
		}
	}
	return out
}
