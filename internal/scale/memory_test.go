package scale_test

import (
	"fmt"
	"path/filepath"
	"testing"
)

// memoryBoundMiB is the peak RSS an export of any size may reach as a
// process, at the source's defaults. Before the DuckDB source set its own
// thread count and memory limit, a million-row export peaked at 400-430
// MiB and three million rows at well over 600: the order-preserving COPY
// held every batch that finished ahead of the one being written, and the
// database file's blocks stayed cached. Now the peak is about 100 MiB of
// anonymous memory (DuckDB's buffer cache, capped by its memory limit, most
// of it) plus 37-52 MiB of the binary's code, mapped as the kernel faults
// it in: more when the whole binary is in the page cache, as a freshly built
// test binary is (measured at three million rows: 143-154 MiB).
const memoryBoundMiB = 160

// sortBoundMiB bounds an export that sorts a million wide rows (337 MB of
// CSV): under the memory limit the sort spills to the spool folder instead
// of holding the rows (1,073 MiB without a limit; 156 MiB measured).
const sortBoundMiB = 200

// TestExportMemoryBound exports the rows of a database file through the
// folder store in a child process, with the source's defaults, and checks
// the child's own peak RSS (wait4's rusage) against the bound, and that the
// bytes are DuckDB's own COPY's, row for row. The table has three million
// wide rows (141 MB), more than the memory limit lets DuckDB cache, so the
// peak is the one a table of any size reaches. Then a million of them
// sorted by two text columns: the sort must work within the default limit
// (below ~81 MiB of headroom it fails to pin its blocks) and stay bounded.
func TestExportMemoryBound(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "rows.duckdb")
	rows := int64(3_000_000)
	if raceEnabled {
		rows = 200_000
	}
	makeTable(t, db, rows)

	check := func(t *testing.T, query string, want int64, bound float64) {
		got := runChild(t, job{Mode: "export", DB: db, Dest: "folder", Dir: filepath.Join(t.TempDir(), "export"), Query: query})
		t.Logf("export of %d rows: peak RSS %.0f MiB, CPU %.2fs, %d bytes", got.Rows, got.MaxRSS, got.CPU.Seconds(), got.Bytes)
		if got.Rows != want {
			t.Fatalf("exported %d rows, want %d", got.Rows, want)
		}
		if got.MaxRSS > bound {
			t.Errorf("peak RSS of a %d-row export: %.0f MiB, want < %.0f MiB", want, got.MaxRSS, bound)
		}
		ref := runChild(t, job{Mode: "copy", DB: db, File: filepath.Join(t.TempDir(), "copy.csv"), Query: query})
		if got.outcome != ref.outcome {
			t.Errorf("export %+v, DuckDB's COPY of the same SELECT %+v: not the same bytes", got.outcome, ref.outcome)
		}
	}
	t.Run("table", func(t *testing.T) { check(t, "", rows, memoryBoundMiB) })
	t.Run("sorted", func(t *testing.T) {
		// The table's first third (REQUEST_TIME grows with the row number),
		// in an order that needs a full sort; REQUEST_ID makes it total.
		n := rows / 3
		query := fmt.Sprintf("SELECT * FROM rows WHERE REQUEST_TIME < TIMESTAMP '2026-01-01' + to_microseconds(%d * 1009) "+
			"ORDER BY USER_EMAIL, REQUEST_ID", n)
		check(t, query, n, sortBoundMiB)
	})
}
