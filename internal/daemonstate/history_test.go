package daemonstate

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
)

// TestHistoryFileStaysBounded records more runs than the file keeps and
// checks that it is rewritten to the newest ones, that a restart reads the
// newest HistorySize back in order, and that a torn last line (a crash in
// the middle of an append) is skipped.
func TestHistoryFileStaysBounded(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = historyFileMax + 500
	for i := range n {
		r, err := h.Add(server.RunRecord{Schedule: "s", Unit: strconv.Itoa(i), Logical: time.Unix(int64(i), 0).UTC(), Outcome: domain.OutcomeExported})
		if err != nil || r.ID != strconv.Itoa(i+1) {
			t.Fatalf("Add: %+v, %v", r, err)
		}
	}
	data, err := os.ReadFile(h.Path())
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(data, []byte("\n")); lines >= historyFileMax || lines < HistorySize {
		t.Fatalf("file has %d records after %d runs; want between %d and %d", lines, n, HistorySize, historyFileMax)
	}
	// A torn append.
	if err := os.WriteFile(h.Path(), append(data, []byte(`{"id":"99999","sched`)...), 0o644); err != nil {
		t.Fatal(err)
	}

	h2, err := OpenHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(h2.Records()) != HistorySize {
		t.Fatalf("restored %d records, want %d", len(h2.Records()), HistorySize)
	}
	for i, r := range h2.Records() {
		if want := strconv.Itoa(n - HistorySize + 1 + i); r.ID != want {
			t.Fatalf("record %d has id %s, want %s (the newest, in order)", i, r.ID, want)
		}
	}
	if r, _ := h2.Add(server.RunRecord{Schedule: "s"}); r.ID != strconv.Itoa(n+1) {
		t.Errorf("next id %s, want %d", r.ID, n+1)
	}
	if got := h2.Runs("s", 2); len(got) != 2 || got[0].ID != strconv.Itoa(n+1) || got[1].ID != strconv.Itoa(n) {
		t.Errorf("Runs(s, 2) = %+v", got)
	}
}

// TestPausesRoundTrip: the paused schedules survive a save and a load; a
// missing file is no pause, a broken one an error naming the file.
func TestPausesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if p, err := LoadPauses(dir); p != nil || err != nil {
		t.Fatalf("no file: %v, %v", p, err)
	}
	want := map[string]Pause{"a": {Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Reason: "failures", Failures: 10, Marked: true}}
	if err := SavePauses(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPauses(dir)
	if err != nil || len(got) != 1 || got["a"] != want["a"] {
		t.Fatalf("loaded %+v, %v; want %+v", got, err, want)
	}
	if err := os.WriteFile(PausesPath(dir), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPauses(dir); err == nil || !bytes.Contains([]byte(err.Error()), []byte("paused.json")) {
		t.Errorf("broken file: %v", err)
	}
}
