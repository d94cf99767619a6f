package app

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
)

// TestRunHistoryFileStaysBounded records more runs than the file keeps and
// checks that it is rewritten to the newest ones, that a restart reads the
// newest historySize back in order, and that a torn last line (a crash in
// the middle of an append) is skipped.
func TestRunHistoryFileStaysBounded(t *testing.T) {
	a := &App{cfg: &config.Config{StateDir: t.TempDir()}}
	d := &Daemon{app: a, log: zap.NewNop(), states: map[string]*scheduleState{"s": {}}}
	const n = runsFileMax + 500
	for i := range n {
		u := domain.Unit{Schedule: "s", Logical: time.Unix(int64(i), 0).UTC()}
		d.record("s", "cron", export.Result{Unit: u, Kind: domain.KindExported}, nil)
	}
	data, err := os.ReadFile(runsPath(a))
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(data, []byte("\n")); lines >= runsFileMax || lines < historySize {
		t.Fatalf("file has %d records after %d runs; want between %d and %d", lines, n, historySize, runsFileMax)
	}
	// A torn append.
	if err := os.WriteFile(runsPath(a), append(data, []byte(`{"id":"99999","sched`)...), 0o644); err != nil {
		t.Fatal(err)
	}

	d2 := &Daemon{app: a, log: zap.NewNop(), states: map[string]*scheduleState{"s": {}}}
	d2.restoreRuns()
	if len(d2.history) != historySize {
		t.Fatalf("restored %d records, want %d", len(d2.history), historySize)
	}
	for i, r := range d2.history {
		if want := strconv.Itoa(n - historySize + 1 + i); r.ID != want {
			t.Fatalf("record %d has id %s, want %s (the newest, in order)", i, r.ID, want)
		}
	}
	if d2.nextID != n {
		t.Errorf("next id base %d, want %d", d2.nextID, n)
	}
	if lr := d2.states["s"].lastRun; lr == nil || lr.ID != strconv.Itoa(n) {
		t.Errorf("last run %+v, want id %d", lr, n)
	}
}
