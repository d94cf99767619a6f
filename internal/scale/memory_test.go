package scale_test

import (
	"path/filepath"
	"testing"
)

// memoryBoundMiB is the peak RSS a one-million-row export may reach as a
// process. Before the DuckDB source set its own thread count and memory
// limit, this export peaked at 400-430 MiB: the order-preserving COPY held
// every batch that finished ahead of the one being written, and the
// database file's blocks stayed cached.
const memoryBoundMiB = 150

// TestExportMemoryBound exports a million wide rows of a database file
// through the folder store in a child process, with the source's defaults,
// and checks the child's own peak RSS (wait4's rusage) against the bound,
// and that the bytes are DuckDB's own COPY's, row for row.
func TestExportMemoryBound(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "rows.duckdb")
	rows := int64(1_000_000)
	if raceEnabled {
		rows = 200_000
	}
	makeTable(t, db, rows)

	got := runChild(t, job{Mode: "export", DB: db, Dest: "folder", Dir: filepath.Join(dir, "export")})
	t.Logf("export of %d rows: peak RSS %.0f MiB, CPU %.2fs, %d bytes", got.Rows, got.MaxRSS, got.CPU.Seconds(), got.Bytes)
	if got.Rows != rows {
		t.Fatalf("exported %d rows, want %d", got.Rows, rows)
	}
	if got.MaxRSS > memoryBoundMiB {
		t.Errorf("peak RSS of a %d-row export: %.0f MiB, want < %d MiB", rows, got.MaxRSS, memoryBoundMiB)
	}

	want := runChild(t, job{Mode: "copy", DB: db, File: filepath.Join(dir, "copy.csv")})
	if got.outcome != want.outcome {
		t.Errorf("export %+v, DuckDB's COPY of the same SELECT %+v: not the same bytes", got.outcome, want.outcome)
	}
}
