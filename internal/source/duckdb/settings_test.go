package duckdb

import (
	"strconv"
	"strings"
	"testing"
)

// memoryLimit reads memory_limit, which DuckDB prints rounded ("152.8 MiB").
func memoryLimit(t *testing.T, s *Source) int64 {
	t.Helper()
	var v string
	if err := s.db.QueryRow("SELECT current_setting('memory_limit')::VARCHAR").Scan(&v); err != nil {
		t.Fatal(err)
	}
	num, unit, _ := strings.Cut(v, " ")
	f, err := strconv.ParseFloat(num, 64)
	mult := map[string]float64{"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if err != nil || mult == 0 {
		t.Fatalf("memory_limit %q: cannot read it", v)
	}
	return int64(f * mult)
}

// TestExportSettingsDefaults checks what a source sets when threads and
// memory_limit are left out: one thread for exports (an order-preserving
// COPY on several threads buffers finished batches) and a memory limit of
// what the init files left in memory plus DefaultMemoryHeadroom; and that
// configured values win.
func TestExportSettingsDefaults(t *testing.T) {
	const big = "CREATE TABLE t AS SELECT i, repeat('x', 100) AS pad FROM range(500000) r(i);"
	s := openTest(t, big, func(o *Options) { o.Threads = 0 })
	if got := queryInt(t, s.db, "SELECT current_setting('threads')::BIGINT"); got != DefaultThreads {
		t.Errorf("threads = %d, want %d", got, DefaultThreads)
	}
	used := queryInt(t, s.db, "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()")
	limit := memoryLimit(t, s)
	// DuckDB rounds and prints the limit in its own units; it must be the
	// table's memory plus the headroom, far below DuckDB's default (80% of RAM).
	if limit < DefaultMemoryHeadroom || limit > used+DefaultMemoryHeadroom+(16<<20) {
		t.Errorf("memory_limit = %d bytes with %d in use, want about %d", limit, used, used+DefaultMemoryHeadroom)
	}
	if used < 20<<20 {
		t.Errorf("the init file's table uses %d bytes: the limit must keep it resident, so the test needs one that counts", used)
	}

	s2 := openTest(t, "", func(o *Options) { o.Threads, o.MemoryLimit = 2, "1GB" })
	if got := queryInt(t, s2.db, "SELECT current_setting('threads')::BIGINT"); got != 2 {
		t.Errorf("configured threads = %d, want 2", got)
	}
	if got := memoryLimit(t, s2); got < 950_000_000 || got > 1_000_000_000 {
		t.Errorf("configured memory_limit = %d, want 1GB", got)
	}
}
